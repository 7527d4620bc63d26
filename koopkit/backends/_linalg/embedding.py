"""Delay-embedded states of one or more trajectories, never materialised."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg as sla

from koopkit._errors import KoopkitError
from koopkit._validation import check_finite, is_lazy
from koopkit.backends._linalg.dense import (
    as_index,
    check_finite_gram,
    column_gram,
    complex_of,
    conjugate_columns,
    data_gram,
    max_abs,
    mul,
    safe_range,
    squares_safe,
    take,
)
from koopkit.backends._linalg.eigen import HermitianEig, gram_accurate
from koopkit.backends._linalg.outofcore import dask_gram, dask_lift
from koopkit.backends._linalg.rank import choose_rank

#: Frames (entries) from which :meth:`DelayEmbedding.lift` looks for conjugate columns to
#: lift once: below it, finding them costs more than the products they save.
_PAIRING_SIZE = 2**18


class DelayEmbedding:
    """Delay-embedded states of one or more trajectories, never materialised by default.

    ``data`` holds the frames of every trajectory end to end (``lengths`` frames each);
    state ``k`` stacks the frames ``starts[k] .. starts[k] + delays - 1`` (oldest first).
    Snapshot pairs are consecutive states of the same trajectory: ``x_index`` and
    ``y_index`` number them, so no pair crosses from one trajectory into the next.

    Nothing of size ``n_features * delays`` is built for the Gram products: the
    delay-embedded Gram is a sum of shifted blocks of the frames' Gram ``D^* D^T``.
    """

    def __init__(self, data: Any, delays: int, lengths: list[int] | None = None) -> None:
        self.data = data
        self.delays = d = int(delays)
        lengths = [int(data.shape[0])] if lengths is None else [int(n) for n in lengths]
        counts = [n - d + 1 for n in lengths]
        self.lengths = lengths
        if len(lengths) == 1:  # one trajectory: every index is a run
            self.starts = np.arange(counts[0])
            self.x_index = self.starts[:-1]
            self.last_states = self.starts
        else:
            frame_off = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(int)
            state_off = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int)
            self.starts = np.concatenate(
                [f + np.arange(c) for f, c in zip(frame_off, counts, strict=True)]
            )
            self.x_index = np.concatenate(
                [s + np.arange(c - 1) for s, c in zip(state_off, counts, strict=True)]
            ).astype(int)
            #: The states of the last trajectory (where forecasts start).
            self.last_states = np.arange(state_off[-1], state_off[-1] + counts[-1])
        self.y_index = self.x_index + 1
        self._gram: np.ndarray | None = None
        self._data_g: np.ndarray | None = None
        #: The frames are ``data * scale`` (see :meth:`normalize`).
        self.scale = 1.0
        #: Orthonormal rows ``(k, n)`` the frames were expressed in (see :meth:`compress`).
        self.basis: np.ndarray | None = None
        #: Whether :attr:`basis` reduced the frames (True) or only spans them (False).
        self._reduced = False
        #: A torch device for the Gram and the lift (None: NumPy); see koopkit.backends._device.
        self.device: Any = None
        self._on_device: Any = None

    def _tensor(self) -> Any:
        """The frames on :attr:`device` (moved there once)."""
        if self._on_device is None:
            from koopkit.backends._device import to_device

            self._on_device = to_device(self.data, self.device)
        return self._on_device

    def rows(self, j: int) -> slice | np.ndarray:
        """The frames at delay ``j`` of every state: a slice for one trajectory."""
        if len(self.lengths) == 1:
            return slice(j, j + len(self.starts))
        return as_index(self.starts + j)

    @property
    def x_rows(self) -> slice | np.ndarray:
        """:attr:`x_index` as a slice where it is a run (one trajectory)."""
        return slice(0, len(self.x_index)) if len(self.lengths) == 1 else as_index(self.x_index)

    @property
    def y_rows(self) -> slice | np.ndarray:
        """:attr:`y_index` as a slice where it is a run (one trajectory)."""
        return slice(1, len(self.starts)) if len(self.lengths) == 1 else as_index(self.y_index)

    @property
    def n_states(self) -> int:
        return len(self.starts)

    @property
    def n_features(self) -> int:
        """Features per state (``delays * n``): of the original frames where they were only
        re-expressed in their span (:meth:`compress`), of the coordinates where they were
        reduced (:meth:`project_frames`)."""
        n = self.data.shape[1] if self.basis is None or self._reduced else self.basis.shape[1]
        return n * self.delays

    @property
    def lazy(self) -> bool:
        return is_lazy(self.data)

    def data_gram(self) -> np.ndarray:
        """``D^* D^T`` of the frames (one pass over the data; cached).

        Data too large or too small to square in their precision (the diagonal, their
        squared norms, overflows or underflows) are normalised and the Gram recomputed;
        NaN/Inf are reported by snapshot.
        """
        if self._data_g is None:
            g = self._frames_gram()
            if not squares_safe(np.diag(g).real, self.data.dtype):
                self.normalize(gram=g)
                if self.scale != 1.0:
                    g = self._frames_gram()
            check_finite_gram(g, None if self.lazy else self.data)
            self._data_g = g
        return self._data_g

    def compress(self) -> None:
        """Express in-memory frames in their own orthonormal basis when they span at most
        half as many dimensions as they have features (rank by round-off).

        Every inner product between states is kept (the basis is orthonormal and the
        frames lie in its span to round-off), so DMD on the coordinates is DMD on the
        frames, at the cost of the span: a 64-sensor record of a 2-D state delay-embeds in
        2 dimensions per frame, not 64. :meth:`expand` maps modes back.
        """
        data = self.data
        if self.lazy or self.basis is not None or data.shape[1] < 2:
            return
        _, s, vt = sla.svd(data, full_matrices=False, check_finite=False)
        if not s.size or s[0] == 0:
            return
        k = int(np.sum(s > max(data.shape) * np.finfo(data.dtype).eps * s[0]))
        if 2 * k > data.shape[1]:
            return
        self.basis = vt[:k]
        self.data = np.ascontiguousarray(data @ vt[:k].conj().T)
        self._gram = self._data_g = self._on_device = None

    def project_frames(self, rank: Any, exact: bool = True) -> int:
        """Express the frames in their leading POD directions, as many as the rank rule
        ``rank`` keeps (an int, an energy fraction, "auto" or None: see
        :func:`~koopkit.backends._linalg.choose_rank`); returns that number. A rule that
        keeps every direction of full-rank frames leaves them as they are (a rotation
        would change nothing but the cost).

        This is the first reduction of higher-order DMD (Le Clainche & Vega 2017): the
        delays then stack ``k``-dimensional coordinates instead of whole frames, which
        removes the noise outside the frames' leading directions and shrinks the
        delay-embedded problem. The POD comes from the Gram matrix of the smaller side
        (frames or features); with ``exact``, from an SVD of in-memory frames where the
        kept directions are too small for a Gram matrix to resolve (below ``GRAM_SAFE`` of
        the largest). Dask-backed frames take the frames' Gram (one pass) and stay lazy: the
        coordinates are ``U_k S_k`` and the basis ``S_k^-1 U_k^H D`` is computed when the
        modes are.
        """
        if self.basis is not None:
            raise KoopkitError("the frames are already expressed in a basis")
        if not self.lazy:
            self.normalize()  # squares of the frames stay in range (lazy: the Gram checks)
        data = self.data
        m, n = data.shape
        floor = np.sqrt(30 * np.finfo(float).eps)  # round-off of a Gram's eigenvalues
        shape = (n, m)
        frames_side = self.lazy or m <= n
        if frames_side:  # G = conj(D) D^T = conj(U) S^2 U^T: rank <= n, the rest round-off
            eig = HermitianEig(self.data_gram())
            s_all = np.sqrt(np.clip(eig.values[: min(m, n)], 0, None))
        else:  # features side: F = D^H D = V S^2 V^H
            eig = HermitianEig(column_gram(data))
            s_all = np.sqrt(np.clip(eig.values, 0, None))
        k = choose_rank(s_all, rank, shape, floor)
        if k >= min(m, n):  # every direction of full-rank frames: a rotation, nothing gained
            return n
        if self.lazy or not exact or gram_accurate(s_all, k):
            if frames_side:
                u = eig.leading(k).conj()  # U_k
                s = s_all[:k]
                basis = (u.conj().T / s[:, None]) @ self.data  # V_k^H = S^-1 U_k^H D
                return self._use_basis(u * s, basis)  # coordinates D V_k = U_k S_k
            v = eig.leading(k)
            return self._use_basis(data @ v.astype(np.result_type(data, v)), v.conj().T)
        _, s_all, vt = sla.svd(data, full_matrices=False, check_finite=False)
        k = choose_rank(s_all, rank, shape, max(m, n) * np.finfo(data.dtype).eps)
        if k >= min(m, n):
            return n
        return self._use_basis(data @ vt[:k].conj().T, vt[:k])

    def _use_basis(self, coords: np.ndarray, basis: Any) -> int:
        """Frames become ``coords`` (rows) in the orthonormal ``basis`` rows ``(k, n)``."""
        self.basis = basis if is_lazy(basis) else np.asarray(basis)
        self._reduced = True
        # the coordinates keep the frames' precision (the round-off rules read it)
        self.data = np.ascontiguousarray(coords, dtype=self.data.dtype)
        self._gram = self._data_g = self._on_device = None
        return int(self.data.shape[1])

    def expand(self, modes: Any) -> Any:
        """Delay-stacked modes ``(r, delays, k)`` in the frames' coordinates back to
        ``(r, delays, n)`` (the identity when the frames were not compressed)."""
        if self.basis is None:
            return modes
        out = modes @ self.basis.astype(np.result_type(self.basis.dtype, modes.real.dtype))
        return out.astype(modes.dtype, copy=False)

    def project(self, frames: np.ndarray) -> np.ndarray:
        """Other frames ``(T, n)`` in this embedding's coordinates (see :meth:`compress`)."""
        if self.basis is None:
            return frames
        if is_lazy(self.basis):  # held-out frames in memory: the basis is read once, kept
            self.basis = np.asarray(self.basis.compute())
        return frames @ self.basis.conj().T

    def _frames_gram(self) -> np.ndarray:
        if self.lazy:
            return dask_gram(self.data)
        if self.device is not None:
            from koopkit.backends._device import row_gram

            return row_gram(self._tensor())
        return data_gram(self.data)

    def normalize(self, gram: np.ndarray | None = None) -> None:
        """Divide the frames by their largest ``|value|`` when squaring them in their
        precision could overflow or lose precision; ``scale`` records the factor, so the
        fit is the same for any finite data (amplitudes are multiplied back by it)."""
        m = max_abs(self.data)
        if not np.isfinite(m):
            if self.lazy and gram is not None:
                check_finite_gram(gram)
            check_finite(np.asarray(self.data))
        lo, hi = safe_range(self.data.dtype)
        if m > 0 and not lo <= m <= hi:
            self.data = self.data / np.asarray(m, dtype=self.data.dtype)
            self.scale = float(m)
            self._gram = self._data_g = self._on_device = None

    def gram(self) -> np.ndarray:
        """``Z^* Z^T`` of the states (entry ``(i, j) = z_i^H z_j``), in double precision."""
        if self._gram is None:
            g = self.data_gram()
            out = take(g, self.starts, self.starts).copy()
            for j in range(1, self.delays):
                out += take(g, self.starts + j, self.starts + j)
            self._gram = out
        return self._gram

    def pair_grams(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(X^H X, X^H Y, Y^H Y)`` in the snapshot (row) space."""
        g, x, y = self.gram(), self.x_index, self.y_index
        return take(g, x, x), take(g, x, y), take(g, y, y)

    def matrix(self) -> np.ndarray:
        """The states as rows, shape ``(n_states, delays * n_features)``."""
        blocks = [self.data[self.rows(j)] for j in range(self.delays)]
        return blocks[0] if self.delays == 1 else np.concatenate(blocks, axis=1)

    def _scatter(self, coeffs: np.ndarray, j: int) -> tuple[Any, np.ndarray]:
        """``(frames, c)`` with ``c^T frames = sum_k coeffs[k] x_{starts[k] + j}``."""
        rows = self.rows(j)
        if isinstance(rows, slice):
            return self.data[rows], coeffs
        full = np.zeros((self.data.shape[0], coeffs.shape[1]), dtype=coeffs.dtype)
        full[rows] = coeffs
        return self.data, full

    def lift(self, coeffs: np.ndarray) -> Any:
        """``Z^T C`` as rows: ``(r, delays, n)`` with block ``j = sum_k C[k] x_{starts[k]+j}``.

        Real data and real ``C`` give a real result in the data's precision.
        """
        r, d = coeffs.shape[1], self.delays
        if self.lazy:
            return self._dask_lift(coeffs)
        real = np.isrealobj(self.data) and np.isrealobj(coeffs)
        dtype = self.data.dtype if real else complex_of(self.data.dtype)
        out = np.empty((r, d, self.data.shape[1]), dtype=dtype)
        # Real data: a column whose conjugate is also a column (a conjugate pair of modes)
        # is lifted once, and its partner is the conjugate: half the work for oscillations.
        keep, partner = np.arange(r), {}
        if np.isrealobj(self.data) and not real and self.data.size >= _PAIRING_SIZE:
            partner = conjugate_columns(coeffs)
            keep = np.array([j for j in range(r) if j not in partner])
        for j in range(d):
            block, c = self._scatter(coeffs, j)
            if self.device is not None:  # the same products, on the device
                from koopkit.backends._device import matmul

                rows = self.rows(j)
                tensor = self._tensor()
                block_t = tensor[rows] if isinstance(rows, slice) else tensor
                if real:
                    out[:, j, :] = matmul(c.T.astype(dtype), block_t)
                else:
                    out[keep, j, :] = matmul(c[:, keep].T, block_t)
            elif real:
                out[:, j, :] = c.T.astype(dtype) @ block
            elif np.iscomplexobj(block):
                out[keep, j, :] = mul(c[:, keep].T, block)
            else:  # one real GEMM for both parts, written straight into the modes
                ck = c[:, keep].T
                both = np.concatenate([ck.real, ck.imag]).astype(block.dtype) @ block
                for i, k in enumerate(keep):
                    out[k, j, :].real = both[i]
                    out[k, j, :].imag = both[len(keep) + i]
                del both
        for k, j in partner.items():
            np.conjugate(out[j], out=out[k])
        return out

    def _dask_lift(self, coeffs: np.ndarray) -> Any:
        """Lazy delay-stacked modes ``(r, d, n)`` as dask arrays (nothing is computed)."""
        import dask.array as da

        blocks = []
        for j in range(self.delays):
            full = np.zeros((self.data.shape[0], coeffs.shape[1]), dtype=coeffs.dtype)
            full[self.starts + j] = coeffs
            blocks.append(dask_lift(self.data, full))
        return da.stack(blocks, axis=1)

    def adjoint(self, modes: np.ndarray) -> np.ndarray:
        """``Z^* phi``: entry ``(k, j) = z_k^H phi_j``, shape ``(n_states, r)``."""
        real = np.isrealobj(self.data) and np.isrealobj(modes)
        out = np.zeros((self.n_states, modes.shape[0]), dtype=float if real else complex)
        for j in range(self.delays):
            rows = self.rows(j)
            block = self.data[rows] if isinstance(rows, slice) else self.data
            phi = modes[:, j, :]
            if np.iscomplexobj(block):
                part = block.conj() @ phi.T
            elif real:
                part = (phi @ block.T).T
            else:
                part = mul(phi, block.T).T
            out += part if isinstance(rows, slice) else part[rows]
        return out

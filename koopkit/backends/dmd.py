"""DMD (projected modes, Schmid 2010) and exact DMD (Tu et al. 2014), one core.

The data arrive as a ``(time, feature)`` matrix ``D`` (rows are snapshots, a view of the
user's array). With ``delays = d`` the states are ``z_k = [x_k, ..., x_{k+d-1}]`` and
``X = [z_0 .. z_{M-2}]``, ``Y = [z_1 .. z_{M-1}]`` (column convention in the comments).
Nothing of size ``n_features * delays`` is ever built for the Gram solver:

* the Gram matrix ``G = D^* D^T`` is one BLAS ``syrk``/``herk`` call in the data's
  precision; the delay-embedded Gram is a sum of shifted blocks of it;
* everything else (SVD, TLS projection, forward-backward, amplitudes) happens in the
  ``M x M`` snapshot space in double precision;
* modes are lifted once at the end: ``phi = C^T D`` blockwise, real and imaginary parts
  as separate real GEMMs so float32 data stay float32.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg as sla

from koopkit._errors import KoopkitError
from koopkit._validation import (
    Snapshots,
    as_snapshots,
    check_choice,
    check_finite,
    check_int,
    check_rank,
    is_lazy,
)
from koopkit.backends.base import (
    KoopmanEstimator,
    LinearModelMixin,
    build_linear_model,
    mode_norms,
)

SOLVERS = ("auto", "svd", "gram", "randomized")
AMPLITUDES = ("optimal", "first")
#: Work (features x snapshots) below which double-precision data take the SVD solver.
_SVD_WORK_LIMIT = 5e7


class RankWarning(UserWarning):
    """The requested rank exceeds what the data resolve; a smaller one was used."""


# --------------------------------------------------------------------- operators
class DelayEmbedding:
    """The delay-embedded snapshot matrix ``Z`` (rows ``z_k``), never materialised by default."""

    def __init__(self, data: np.ndarray, delays: int) -> None:
        self.data = data
        self.delays = delays
        self.n_states = data.shape[0] - delays + 1
        self._gram: np.ndarray | None = None
        self._data_g: np.ndarray | None = None

    @property
    def n_features(self) -> int:
        return self.data.shape[1] * self.delays

    @property
    def lazy(self) -> bool:
        return is_lazy(self.data)

    def data_gram(self) -> np.ndarray:
        """``D^* D^T`` of the frames (one pass over the data; cached)."""
        if self._data_g is None:
            self._data_g = _dask_gram(self.data) if self.lazy else _data_gram(self.data)
            _check_finite_gram(self._data_g, None if self.lazy else self.data)
        return self._data_g

    def gram(self) -> np.ndarray:
        """``Z^* Z^T`` (entry ``(i, j) = z_i^H z_j``), in double precision."""
        if self._gram is None:
            g = self.data_gram()
            m, d = self.n_states, self.delays
            out = g[:m, :m].copy()
            for j in range(1, d):
                out += g[j : j + m, j : j + m]
            self._gram = out
        return self._gram

    def matrix(self) -> np.ndarray:
        """``Z`` itself, shape ``(M, delays * n_features)`` (a view when ``delays == 1``)."""
        if self.delays == 1:
            return self.data
        m = self.n_states
        return np.concatenate([self.data[j : j + m] for j in range(self.delays)], axis=1)

    def lift(self, coeffs: np.ndarray) -> np.ndarray:
        """``Z^T C`` as rows: ``(r, delays, n)`` with block ``j = C^T D[j:j+M]``.

        Real data and real ``C`` give a real result in the data's precision.
        """
        m, d = self.n_states, self.delays
        r = coeffs.shape[1]
        if self.lazy:
            return _dask_lift(coeffs, self.data, d, m)
        real = np.isrealobj(self.data) and np.isrealobj(coeffs)
        dtype = self.data.dtype if real else _complex_of(self.data.dtype)
        out = np.empty((r, d, self.data.shape[1]), dtype=dtype)
        # Real data: a column whose conjugate is also a column (a conjugate pair of modes)
        # is lifted once, and its partner is the conjugate: half the work for oscillations.
        keep, partner = np.arange(r), {}
        if np.isrealobj(self.data) and not real:
            partner = _conjugate_columns(coeffs)
            keep = np.array([j for j in range(r) if j not in partner])
        for j in range(d):
            block = self.data[j : j + m]
            if real:
                out[:, j, :] = coeffs.T.astype(dtype) @ block
            else:
                out[keep, j, :] = _mul(coeffs[:, keep].T, block)
        for k, j in partner.items():
            np.conjugate(out[j], out=out[k])
        return out

    def adjoint(self, modes: np.ndarray) -> np.ndarray:
        """``Z^* phi``: entry ``(k, j) = z_k^H phi_j``, shape ``(M, r)`` (real if both are)."""
        m, d = self.n_states, self.delays
        real = np.isrealobj(self.data) and np.isrealobj(modes)
        out = np.zeros((m, modes.shape[0]), dtype=float if real else complex)
        for j in range(d):
            block = self.data[j : j + m]
            phi = modes[:, j, :]
            if np.iscomplexobj(block):
                out += block.conj() @ phi.T
            elif real:
                out += (phi @ block.T).T
            else:
                out += _mul(phi, block.T).T
        return out


#: Bytes of data per block of the out-of-core Gram pass.
DASK_BLOCK_BYTES = 256 * 2**20


def _dask_gram(data: Any) -> np.ndarray:
    """``D^* D^T`` of a dask array in one streaming pass over feature blocks.

    Blocks hold every snapshot of a range of features (the data are rechunked so); each
    block's Gram is one BLAS call and the small ``T x T`` results are summed in a tree. Peak
    memory is a few blocks, whatever the size of the data. Runs on whatever dask scheduler
    is active (threads, or a ``dask.distributed`` Client).
    """
    import dask

    n_time, n_feat = data.shape
    width = max(1, min(n_feat, DASK_BLOCK_BYTES // max(1, n_time * data.dtype.itemsize)))
    blocks = data.rechunk({0: -1, 1: width}).to_delayed().ravel()
    parts = [dask.delayed(_data_gram)(b) for b in blocks]
    while len(parts) > 1:
        parts = [
            dask.delayed(np.add)(parts[i], parts[i + 1]) if i + 1 < len(parts) else parts[i]
            for i in range(0, len(parts), 2)
        ]
    from threadpoolctl import threadpool_limits

    # dask runs blocks in parallel threads; one BLAS thread each avoids oversubscription
    # (2x faster here). Workers of a distributed Client manage their own threads.
    with threadpool_limits(1):
        return np.asarray(dask.compute(parts[0])[0])


def _check_finite_gram(g: np.ndarray, data: np.ndarray | None = None) -> None:
    """NaN/Inf in a snapshot shows on the Gram diagonal (its squared norm).

    With the data in memory, a non-finite diagonal is re-checked on the data themselves,
    to tell NaN/Inf (named by snapshot) from finite values too large to square.
    """
    bad = ~np.isfinite(np.diag(g))
    if bad.any() and data is not None:
        check_finite(data)
        raise KoopkitError(
            "the data are too large to square in their precision (the Gram matrix "
            "overflows): rescale them, e.g. divide by their maximum"
        )
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise KoopkitError(
            f"the data contain NaN or Inf values (first in snapshot {i}): fill or drop them "
            "first (e.g. data.interpolate_na('time') or data.dropna('time'))"
        )


def _dask_lift(coeffs: np.ndarray, data: Any, d: int, m: int) -> Any:
    """Lazy delay-stacked modes ``(r, d, n)``: block ``j = C^T D[j:j+M]`` as dask arrays."""
    import dask.array as da

    real = np.dtype(data.dtype).kind == "f"
    blocks = []
    for j in range(d):
        block = data[j : j + m]
        if real:
            part = np.ascontiguousarray(coeffs.T)
            re = da.matmul(part.real.astype(data.dtype), block)
            im = da.matmul(part.imag.astype(data.dtype), block)
            blocks.append((re + 1j * im).astype(_complex_of(data.dtype)))
        else:
            blocks.append(da.matmul(coeffs.T.astype(data.dtype), block))
    return da.stack(blocks, axis=1)


def _conjugate_columns(coeffs: np.ndarray) -> dict[int, int]:
    """``{k: j}`` for columns ``k`` that are exactly the conjugate of an earlier column ``j``."""
    found: dict[int, int] = {}
    complex_cols = [j for j in range(coeffs.shape[1]) if np.any(coeffs[:, j].imag)]
    for a, j in enumerate(complex_cols):
        if j in found:
            continue
        target = coeffs[:, j].conj()
        for k in complex_cols[a + 1 :]:
            if k not in found and k not in found.values() and np.array_equal(coeffs[:, k], target):
                found[k] = j
                break
    return found


def _complex_of(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.complex64) if dtype in (np.float32, np.complex64) else np.dtype(complex)


def _mul(c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``c @ d`` for complex ``c`` and real or complex ``d`` without upcasting ``d``."""
    if np.iscomplexobj(d):
        return c.astype(d.dtype) @ d
    real = np.dtype(d.dtype)
    r = c.shape[0]
    # One real GEMM for both parts: ``d`` (the big operand) is streamed once, not twice.
    both = np.concatenate([c.real, c.imag]).astype(real) @ d
    out = np.empty((r, both.shape[1]), dtype=_complex_of(real))
    out.real = both[:r]
    out.imag = both[r:]
    return out


def _data_gram(data: np.ndarray) -> np.ndarray:
    """``D^* D^T`` with one BLAS rank-k update (no copy of ``D``), returned in double."""
    a = data.T  # Fortran-ordered view, shape (n, T)
    kind = {
        np.dtype(np.float32): (sla.blas.ssyrk, 1),
        np.dtype(np.float64): (sla.blas.dsyrk, 1),
        np.dtype(np.complex64): (sla.blas.cherk, 2),
        np.dtype(np.complex128): (sla.blas.zherk, 2),
    }
    fn, trans = kind[np.dtype(data.dtype)]
    upper = fn(1.0, a, trans=trans, lower=0)
    g = np.triu(upper).astype(np.complex128 if data.dtype.kind == "c" else np.float64)
    lower = np.triu(g, 1).conj().T
    return g + lower


# ------------------------------------------------------------------- reduced
@dataclass
class _Reduced:
    """The DMD problem in an r-dimensional POD basis ``U = X P V S^-1``.

    ``coeffs`` maps the basis onto the snapshots: ``U = X_rows^T coeffs`` (rows
    ``z_0..z_{M-2}``). ``basis`` is an explicit ``U`` (rows) when a solver has one.
    """

    s: np.ndarray  # (r,) singular values kept
    all_s: np.ndarray  # every singular value computed
    xt: np.ndarray  # (r, M-1) = S V^H
    yt: np.ndarray  # (r, M-1) = U^H Y
    coeffs: np.ndarray  # (M-1, r) = P V S^-1
    basis: np.ndarray | None = None  # (r, n*d) rows of U^T

    def operator(self) -> np.ndarray:
        """``Atilde = Yt Xt^+`` with ``Xt^+ = V S^-1``."""
        return self.yt @ (self.xt.conj().T / self.s**2)


def _choose_rank(s: np.ndarray, rank: Any, shape: tuple[int, int], floor: float) -> int:
    """Rank from singular values ``s`` (descending) and the user's rule."""
    resolvable = int(np.sum(s > floor * s[0])) if s.size and s[0] > 0 else 0
    if resolvable == 0:
        raise KoopkitError("the data are all zeros (no singular value above round-off)")
    if rank is None:
        return resolvable
    if isinstance(rank, str):  # "auto": Gavish & Donoho (2014), unknown noise level
        beta = min(shape) / max(shape)
        omega = 0.56 * beta**3 - 0.95 * beta**2 + 1.82 * beta + 1.43
        r = int(np.sum(s > omega * np.median(s)))
        return max(1, min(r, resolvable))
    if isinstance(rank, (float, np.floating)):
        energy = np.cumsum(s**2) / np.sum(s**2)
        return min(int(np.searchsorted(energy, rank) + 1), resolvable)
    limit = min(shape)
    if rank > limit:
        raise KoopkitError(
            f"rank={rank} is impossible: the (delay-embedded) data allow at most {limit} "
            f"({shape[0]} features x {shape[1]} snapshot pairs); use rank <= {limit} or 'auto'"
        )
    if rank > resolvable:
        warnings.warn(
            f"rank={rank} requested but only {resolvable} singular values rise above "
            f"round-off; using rank {resolvable}",
            RankWarning,
            stacklevel=4,
        )
        return resolvable
    return int(rank)


def _reduce_gram(op: DelayEmbedding, rank: Any, tlsq_rank: int) -> _Reduced:
    g = op.gram()
    gxx, gxy = g[:-1, :-1], g[:-1, 1:]
    m1 = gxx.shape[0]
    proj = None
    if tlsq_rank:
        gz = gxx + g[1:, 1:]
        w, v = np.linalg.eigh(gz)
        vt = v[:, ::-1][:, :tlsq_rank]
        proj = vt @ vt.conj().T
        gxx = proj @ gxx @ proj
        gxy = proj @ gxy @ proj
    # Every singular value (cheap: no vectors), then eigenvectors for the kept ones only.
    evals = sla.eigvalsh(gxx, check_finite=False)[::-1]
    s_all = np.sqrt(np.clip(evals, 0, None))
    eps = np.finfo(op.data.dtype).eps
    # G is accurate to about eps * s_max**2, so s below sqrt(eps) * s_max is round-off.
    floor = np.sqrt(30 * eps)
    r = _choose_rank(s_all, rank, (op.n_features, m1), floor)
    _, v = sla.eigh(gxx, subset_by_index=[m1 - r, m1 - 1], driver="evr", check_finite=False)
    s, v = s_all[:r], v[:, ::-1]
    coeffs = v / s
    if proj is not None:
        coeffs = proj @ coeffs
    yt = (v.conj().T @ gxy) / s[:, None]
    return _Reduced(s, s_all, s[:, None] * v.conj().T, yt, coeffs)


def _rows_svd(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SVD of a row matrix ``A = a s b`` in double precision."""
    work = rows.astype(np.complex128 if rows.dtype.kind == "c" else np.float64, copy=False)
    return sla.svd(work, full_matrices=False, lapack_driver="gesdd", check_finite=False)


def _reduce_svd(op: DelayEmbedding, rank: Any, tlsq_rank: int) -> _Reduced:
    z = op.matrix()
    xr_, yr_ = z[:-1], z[1:]
    m1 = xr_.shape[0]
    proj = None
    if tlsq_rank:
        a, _, _ = _rows_svd(np.concatenate([xr_, yr_], axis=1))
        ak = a[:, :tlsq_rank]
        proj = ak.conj() @ ak.T  # P = V_k V_k^H with V = conj(a)
        xr_ = ak @ (ak.conj().T @ xr_)
        yr_ = ak @ (ak.conj().T @ yr_)
    a, s_all, b = _rows_svd(xr_)
    floor = max(op.n_features, m1) * np.finfo(op.data.dtype).eps
    r = _choose_rank(s_all, rank, (op.n_features, m1), floor)
    s, a, b = s_all[:r], a[:, :r], b[:r]
    v = a.conj()  # X_col = U S V^H with U = b^T, V = conj(a)
    coeffs = v / s
    if proj is not None:
        coeffs = proj @ coeffs
    yt = b.conj() @ yr_.T
    return _Reduced(s, s_all, s[:, None] * v.conj().T, yt, coeffs, basis=b)


def _reduce_randomized(
    op: DelayEmbedding, rank: Any, oversample: int, power_iters: int, seed: int
) -> _Reduced:
    if not isinstance(rank, (int, np.integer)) or isinstance(rank, bool):
        raise KoopkitError(
            "solver='randomized' needs an integer rank (e.g. rank=20); use solver='gram' "
            "for rank='auto' or an energy fraction"
        )
    m, d = op.n_states, op.delays
    limit = min(op.n_features, m - 1)
    if rank > limit:
        raise KoopkitError(f"rank={rank} is impossible: the data allow at most {limit}")
    width = min(rank + oversample, limit)
    rng = np.random.default_rng(seed)
    omega = np.zeros((m, width))
    omega[:-1] = rng.standard_normal((m - 1, width))

    def orth(blocks: np.ndarray) -> np.ndarray:
        # LAPACK QR in the data's precision on the Fortran-ordered view: no copies.
        q = sla.qr(
            blocks.reshape(width, -1).T, mode="economic", overwrite_a=True, check_finite=False
        )[0]
        return q.T.reshape(width, d, -1)

    q = orth(op.lift(omega))
    for _ in range(power_iters):
        back = op.adjoint(q)
        back[-1] = 0  # X only uses z_0..z_{M-2}
        q = orth(op.lift(back.conj()))
    zq = op.adjoint(q)  # (M, l): z_k^H q_j
    bmat = zq[:-1].conj().T  # Q^H X, (l, M-1)
    ub, s_all, vh = np.linalg.svd(bmat, full_matrices=False)
    r = int(rank)
    s, ub, v = s_all[:r], ub[:, :r], vh[:r].conj().T
    qf = q.reshape(width, -1)
    # rows of U^T = (Q ub)^T, in q's precision (real for real data)
    basis = ub.T.astype(qf.dtype) @ qf if np.isrealobj(ub) else _mul(ub.T, qf)
    yt = ub.conj().T @ zq[1:].conj().T  # U^H Y
    return _Reduced(s, s_all, s[:, None] * v.conj().T, yt, v / s, basis=basis)


def _eig_forward_backward(xt: np.ndarray, yt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dawson et al. (2016): ``A = (A_f A_b^-1)^(1/2)`` with the root's sign chosen per mode."""
    a_f = yt @ np.linalg.pinv(xt)
    a_b = xt @ np.linalg.pinv(yt)
    mu, w = np.linalg.eig(a_f @ np.linalg.inv(a_b))
    lam_f = np.linalg.eigvals(a_f)
    root = np.sqrt(mu.astype(complex))
    near = np.abs(root[:, None] - lam_f[None]).min(axis=1)
    far = np.abs(-root[:, None] - lam_f[None]).min(axis=1)
    return np.where(near <= far, root, -root), w


# ------------------------------------------------------------------ estimator
class DMD(LinearModelMixin, KoopmanEstimator):
    """Dynamic mode decomposition with projected modes (Schmid 2010).

    Parameters
    ----------
    rank : int, float, "auto" or None
        Truncation: an int keeps that many POD modes; a float in (0, 1) keeps the
        fraction of energy (sum of squared singular values); "auto" uses the
        Gavish-Donoho optimal hard threshold; None keeps every singular value above
        round-off.
    tlsq_rank : int
        Total-least-squares de-biasing rank (0 = off), Hemati et al. (2017).
    forward_backward : bool
        Average forward and backward dynamics (Dawson et al. 2016) to remove noise bias.
    delays : int
        Time-delay (Hankel) embedding: each state stacks ``delays`` consecutive frames.
        A single frame cannot tell a rising ball from a falling one; a few delays can.
    amplitudes : {"optimal", "first"}
        "optimal": least squares over all snapshots (Jovanovic et al. 2014);
        "first": least squares on the first state.
    solver : {"auto", "svd", "gram", "randomized"}
        "gram" is the method of snapshots (fastest on tall data such as video);
        "svd" is the most accurate; "randomized" sketches the range (integer rank only);
        "auto" takes "svd" for small double-precision data and "gram" for tall data.
    oversample, power_iters, seed :
        Settings of the randomized solver.

    Attributes
    ----------
    spectrum_ : KoopmanSpectrum
        Eigenvalues, amplitudes and modes, sorted by RMS amplitude over the fit.
    singular_values_ : ndarray
        Every singular value the solver computed (of the delay-embedded ``X``).
    rank_ : int
    solver_ : str
        The solver actually used.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(50) * 0.1
    >>> x = np.stack([np.cos(2 * np.pi * t), np.sin(2 * np.pi * t)], axis=1)
    >>> model = DMD(rank=2).fit(x, dt=0.1)
    >>> np.round(np.sort(model.spectrum_.frequencies.values), 6)
    array([-1.,  1.])
    """

    name = "dmd"
    _exact = False

    def __init__(
        self,
        rank: int | float | str | None = "auto",
        *,
        tlsq_rank: int = 0,
        forward_backward: bool = False,
        delays: int = 1,
        amplitudes: str = "optimal",
        solver: str = "auto",
        oversample: int = 10,
        power_iters: int = 2,
        seed: int = 0,
    ) -> None:
        self.rank = rank
        self.tlsq_rank = tlsq_rank
        self.forward_backward = forward_backward
        self.delays = delays
        self.amplitudes = amplitudes
        self.solver = solver
        self.oversample = oversample
        self.power_iters = power_iters
        self.seed = seed

    def _check_params(self) -> None:
        check_rank(self.rank)
        check_int("tlsq_rank", self.tlsq_rank, 0)
        check_int("delays", self.delays, 1)
        check_choice("amplitudes", self.amplitudes, AMPLITUDES)
        check_choice("solver", self.solver, SOLVERS)
        if self.tlsq_rank and self.solver == "randomized":
            raise KoopkitError("tlsq_rank is not available with solver='randomized'")

    def _pick_solver(self, op: DelayEmbedding) -> str:
        if op.lazy:
            if self.solver not in ("auto", "gram"):
                raise KoopkitError(
                    f"solver={self.solver!r} needs the data in memory; dask-backed (out-of-core) "
                    "data use solver='gram' (or load them with data.load())"
                )
            return "gram"
        if self.solver != "auto":
            return self.solver
        n, m = op.n_features, op.n_states
        if n < m - 1:
            return "svd"
        if op.data.dtype.itemsize >= 8 and n * m <= _SVD_WORK_LIMIT:
            return "svd"
        return "gram"

    def fit(self, data: Any, *, dt: float | None = None, variable: str | None = None) -> DMD:
        """Fit to a DataArray (or Dataset variable, or array with ``dt=``); returns ``self``."""
        self._check_params()
        info = as_snapshots(data, dt=dt, variable=variable, lazy_ok=True, finite_check=False)
        d = int(self.delays)
        if info.n_time - d + 1 < 3:
            raise KoopkitError(
                f"delays={d} leaves {info.n_time - d + 1} states from {info.n_time} snapshots; "
                "DMD needs at least 3: use fewer delays or more snapshots"
            )
        op = DelayEmbedding(info.matrix, d)
        if self.tlsq_rank and self.tlsq_rank > min(2 * op.n_features, op.n_states - 1):
            raise KoopkitError(
                f"tlsq_rank={self.tlsq_rank} exceeds the {op.n_states - 1} snapshot pairs"
            )
        solver = self._pick_solver(op)
        if solver != "gram":  # the Gram solver checks its diagonal instead (no extra pass)
            check_finite(info.matrix)
        if solver == "gram":
            red = _reduce_gram(op, self.rank, self.tlsq_rank)
        elif solver == "svd":
            red = _reduce_svd(op, self.rank, self.tlsq_rank)
        else:
            red = _reduce_randomized(op, self.rank, self.oversample, self.power_iters, self.seed)
        if self.forward_backward:
            lam, w = _eig_forward_backward(red.xt, red.yt)
        else:
            lam, w = np.linalg.eig(red.operator())
        self._finish(info, op, red, lam, w, solver)
        return self

    # -------------------------------------------------------------- internals
    def _finish(
        self,
        info: Snapshots,
        op: DelayEmbedding,
        red: _Reduced,
        lam: np.ndarray,
        w: np.ndarray,
        solver: str,
    ) -> None:
        m = op.n_states
        coeffs = red.coeffs @ w  # basis coefficients of the modes over X (or Y) rows
        full = np.zeros((m, coeffs.shape[1]), dtype=complex)
        if self._exact:
            full[1:] = coeffs
        else:
            full[:-1] = coeffs
        if op.lazy:
            # Out of core: every inner product comes from the Gram matrix; the modes stay
            # lazy (computed when used or written), so the fit reads the data once.
            phi, norms, gram_phi = _lazy_modes(op, full)
            zh_phi = op.gram() @ full / norms
        else:
            if red.basis is not None and not self._exact:
                phi = _mul(w.T, red.basis).reshape(len(lam), op.delays, -1)
                phi = phi.astype(_complex_of(op.data.dtype))
                zh_phi = None
            else:
                phi = op.lift(full)
                zh_phi = op.gram() @ full if solver == "gram" else None
            norms = mode_norms(phi)
            phi /= norms[:, None, None].astype(phi.dtype)
            if zh_phi is not None:
                zh_phi = zh_phi / norms
            else:
                zh_phi = op.adjoint(phi)
            # <phi_i, phi_j> by one herk on the modes as stored (no double-precision copies)
            gram_phi = _data_gram(phi.reshape(len(lam), -1))
        b = _amplitudes(self.amplitudes, lam, gram_phi, zh_phi)
        b_last = np.linalg.lstsq(gram_phi, zh_phi[-1].conj(), rcond=None)[0]

        spectrum, self._linear = build_linear_model(
            info,
            lam,
            phi,
            b,
            b_last,
            n_states=m,
            t0=float(info.times[op.delays - 1]),
            backend=self.name,
            params={**self.get_params(), "solver_used": solver},
            mode_gram=gram_phi,
        )
        self._data_info = info
        self.spectrum_ = spectrum
        self.singular_values_ = red.all_s
        self.rank_ = len(red.s)
        self.solver_ = solver
        self.n_features_in_ = info.matrix.shape[1]


def _lazy_modes(op: DelayEmbedding, full: np.ndarray) -> tuple[Any, np.ndarray, np.ndarray]:
    """Lazy unit-norm modes, their norms and their Gram matrix, from ``G`` alone."""
    g = op.data_gram()
    m, d = op.n_states, op.delays
    newest = g[d - 1 : d - 1 + m, d - 1 : d - 1 + m]
    sq = np.einsum("kr,kl,lr->r", full.conj(), newest, full).real
    norms = np.sqrt(np.clip(sq, 0, None))
    norms = np.where(norms > 0, norms, 1.0)
    gram_phi = (full.conj().T @ op.gram() @ full) / np.outer(norms, norms)
    phi = op.lift(full / norms)
    return phi, norms, gram_phi


def _amplitudes(how: str, lam: np.ndarray, gram_phi: np.ndarray, zh_phi: np.ndarray) -> np.ndarray:
    """Mode amplitudes at the first state: first-snapshot or all-snapshot least squares."""
    if how == "first":
        return np.linalg.lstsq(gram_phi, zh_phi[0].conj(), rcond=None)[0]
    m = zh_phi.shape[0]
    with np.errstate(over="ignore", invalid="ignore"):
        vand = lam[:, None] ** np.arange(m)[None, :]  # (r, M)
    if not np.isfinite(vand).all():
        raise KoopkitError(
            "amplitudes='optimal' overflowed on strongly growing modes: use "
            "amplitudes='first' or a smaller rank"
        )
    p = gram_phi * (vand.conj() @ vand.T)
    q = np.einsum("jk,kj->j", vand, zh_phi).conj()
    return np.linalg.lstsq(p, q, rcond=None)[0]


class ExactDMD(DMD):
    """DMD with exact modes ``Y V S^-1 W`` (Tu et al. 2014); same parameters as :class:`DMD`.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(50) * 0.1
    >>> x = np.stack([np.cos(2 * np.pi * t), np.sin(2 * np.pi * t)], axis=1)
    >>> float(np.abs(ExactDMD(rank=2).fit(x, dt=0.1).spectrum_.growth_rates).max()) < 1e-9
    True
    """

    name = "exact_dmd"
    _exact = True

"""ResDMD's matrices G, A, L: residuals of eigenpairs and pseudospectra."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import scipy.linalg as sla
from threadpoolctl import threadpool_limits

from koopkit._errors import KoopkitError
from koopkit.backends._linalg.dense import column_gram, conjugate_columns, mul, qr_r
from koopkit.backends._linalg.eigen import HermitianEig
from koopkit.backends._linalg.rank import choose_rank

#: Flops below which the snapshot pairs are factored by QR (residuals to round-off)
#: rather than squared into Gram matrices (residuals to about sqrt(eps)).
QR_WORK_LIMIT = 2e9
#: Bytes of scratch per block of pseudospectrum evaluations.
_PSEUDO_BLOCK_BYTES = 32 * 2**20


# ------------------------------------------------------------------ ResDMD matrices
#: Work (vector entries times dictionary size) above which conjugate partners share one
#: residual computation instead of each being computed.
_PAIRING_WORK = 1_000_000


class ResidualMatrices:
    """ResDMD's ``G``, ``A`` and ``L`` of snapshot pairs in a dictionary of ``N`` functions.

    Held as a factor ``R = [R_X, R_Y]`` with ``R^H R = [Psi_X, Psi_Y]^H [Psi_X, Psi_Y]``
    when the pairs were small enough to factor by QR (residuals accurate to round-off),
    otherwise as the three Gram matrices (residuals accurate to about ``sqrt(eps)``).

    Parameters
    ----------
    g, a, l : (N, N) arrays
        ``Psi_X^H Psi_X``, ``Psi_X^H Psi_Y``, ``Psi_Y^H Psi_Y``.
    n_pairs : int
        Number of snapshot pairs they were summed over.
    factor : (k, 2N) array, optional
        ``R`` as above.

    Examples
    --------
    >>> x = np.array([[1.0], [0.5], [0.25]])
    >>> m = ResidualMatrices.from_values(x[:-1], x[1:])
    >>> float(m.residuals(np.array([0.5]), np.ones((1, 1)))[0])
    0.0
    """

    def __init__(
        self,
        g: np.ndarray,
        a: np.ndarray,
        l: np.ndarray,  # noqa: E741 - the paper's name
        n_pairs: int,
        factor: np.ndarray | None = None,
    ) -> None:
        self.G, self.A, self.L = g, a, l
        self.n_pairs = int(n_pairs)
        self.factor = factor

    @property
    def n_functions(self) -> int:
        return self.G.shape[0]

    @classmethod
    def from_values(
        cls, psi_x: np.ndarray, psi_y: np.ndarray, exact: bool | None = None
    ) -> ResidualMatrices:
        """From the dictionary evaluated on the pairs (rows): QR when ``exact`` (default:
        when the work is below :data:`QR_WORK_LIMIT`), else Gram products."""
        m, n = psi_x.shape
        if exact is None:
            exact = m * (2 * n) ** 2 <= QR_WORK_LIMIT
        if exact:
            both = np.concatenate([psi_x, psi_y], axis=1)
            r = qr_r(both) if m > 2 * n else both
            rx, ry = r[:, :n], r[:, n:]
            return cls(rx.conj().T @ rx, rx.conj().T @ ry, ry.conj().T @ ry, m, factor=r)
        return cls(column_gram(psi_x), psi_x.conj().T @ psi_y, column_gram(psi_y), m)

    def in_basis(self, basis: np.ndarray) -> ResidualMatrices:
        """The same pairs in the dictionary ``psi @ basis`` (``basis``: ``(N, N')``)."""
        bh = basis.conj().T
        factor = None
        if self.factor is not None:
            n = self.n_functions
            factor = np.concatenate(
                [self.factor[:, :n] @ basis, self.factor[:, n:] @ basis], axis=1
            )
        return ResidualMatrices(
            bh @ self.G @ basis, bh @ self.A @ basis, bh @ self.L @ basis, self.n_pairs, factor
        )

    def residuals(self, eigenvalues: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """``||Psi_Y v - lam Psi_X v|| / ||Psi_X v||`` for each column ``v`` of ``vectors``.

        Infinite where the function vanishes on the data (``Psi_X v = 0``). With real
        matrices, the partner of a conjugate pair (``conj(v)``, ``conj(lam)``) shares its
        residual and is not computed twice.
        """
        lam = np.asarray(eigenvalues, dtype=complex)
        v = np.asarray(vectors)
        mats = (self.G, self.A, self.L, self.factor if self.factor is not None else self.G)
        # (pairing pays only when the products are large; small ones are faster whole)
        large = v.size * self.n_functions > _PAIRING_WORK
        if large and np.iscomplexobj(v) and not any(np.iscomplexobj(m) for m in mats):
            partner = {k: j for k, j in conjugate_columns(v).items() if lam[k] == np.conj(lam[j])}
            if partner:
                keep = np.array([j for j in range(v.shape[1]) if j not in partner])
                out = np.empty(v.shape[1])
                out[keep] = self._residuals(lam[keep], v[:, keep])
                for k, j in partner.items():
                    out[k] = out[j]
                return out
        return self._residuals(lam, v)

    def _residuals(self, lam: np.ndarray, v: np.ndarray) -> np.ndarray:
        if self.factor is not None:
            n = self.n_functions
            fx, fy = self.factor[:, :n], self.factor[:, n:]
            if np.iscomplexobj(v) and not np.iscomplexobj(self.factor):
                # F v as (v^T F^T)^T: one real product for both parts of v
                rx, ry = mul(v.T, fx.T).T, mul(v.T, fy.T).T
            else:
                rx, ry = fx @ v, fy @ v
            num = np.linalg.norm(ry - rx * lam[None, :], axis=0) ** 2
            den = np.linalg.norm(rx, axis=0) ** 2
        else:
            # M v as (v^T M^T)^T: one real product for both parts of v (M real)
            gv, av, lv = (mul(v.T, m.T).T for m in (self.G, self.A, self.L))
            vh = v.conj()
            quad = np.einsum("ij,ij->j", vh, lv).real
            cross = np.einsum("ij,ij->j", vh, av)
            den = np.einsum("ij,ij->j", vh, gv).real
            num = quad - 2 * (lam.conj() * cross).real + np.abs(lam) ** 2 * den
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.sqrt(np.clip(num, 0, None) / den)
        return np.where(den > 0, out, np.inf)

    def pseudospectrum(self, z: np.ndarray) -> np.ndarray:
        """``min_g ||K g - z g|| / ||g||`` over the dictionary's span, for each point ``z``.

        The epsilon-pseudospectrum of the Koopman operator seen through the data is the
        region where this is below epsilon (Colbrook & Townsend 2024, their ``tau``).
        """
        z = np.asarray(z, dtype=complex)
        w, u = np.linalg.eigh(self.G)
        keep = w > max(w.max(), 0) * self.n_functions * np.finfo(float).eps
        if not keep.any():
            raise KoopkitError("the dictionary is zero on every snapshot pair: no pseudospectrum")
        t = u[:, keep] / np.sqrt(w[keep])
        flat = z.ravel()
        out = np.empty(flat.size)
        k = int(keep.sum())
        if self.factor is not None:
            n = self.n_functions
            bx, by = self.factor[:, :n] @ t, self.factor[:, n:] @ t
            size = bx.shape[0] * k * 16
        else:
            th = t.conj().T
            at, lt = th @ self.A @ t, th @ self.L @ t
            eye = np.eye(k)
            size = k * k * 16
        step = max(1, _PSEUDO_BLOCK_BYTES // max(size, 1))

        def block(i: int) -> None:
            zz = flat[i : i + step, None, None]
            if self.factor is not None:
                s = np.linalg.svd(by[None] - zz * bx[None], compute_uv=False)
                out[i : i + step] = s[:, -1]
            else:
                m = lt[None] - zz * at.conj().T[None] - zz.conj() * at[None]
                m = m + (np.abs(zz) ** 2) * eye[None]
                low = np.linalg.eigvalsh(m)[:, 0]
                out[i : i + step] = np.sqrt(np.clip(low, 0, None))

        # Many small problems: one BLAS thread each, the blocks spread over the cores.
        step = min(step, max(1, -(-flat.size // (4 * (os.cpu_count() or 1)))))
        with threadpool_limits(1), ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            list(pool.map(block, range(0, flat.size, step)))
        return out.reshape(z.shape)


def reduce_dictionary(
    mats: ResidualMatrices, rank: Any, floor: float, identity_ok: bool = False
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """The dictionary's leading directions: ``(basis, s_kept, s_all)``.

    ``Psi_X basis`` are orthogonal with norms ``s_kept`` (the singular values of ``Psi_X``
    that the rank rule keeps); ``basis`` is ``(N, r)``. With ``identity_ok``, a rule that
    keeps every direction returns ``basis = None`` (the dictionary itself) and computes
    no vectors.
    """
    if mats.factor is not None:
        n = mats.n_functions
        _, s_all, zh = sla.svd(mats.factor[:, :n], full_matrices=False, check_finite=False)
        z = zh.conj().T
        if s_all.size < n:  # fewer pairs than functions: the rest are exact zeros
            s_all = np.concatenate([s_all, np.zeros(n - s_all.size)])
        r = choose_rank(s_all, rank, (mats.n_functions, mats.n_pairs), floor)
        return z[:, :r], s_all[:r], s_all
    eig = HermitianEig(mats.G)
    s_all = np.sqrt(np.clip(eig.values, 0, None))
    r = choose_rank(s_all, rank, (mats.n_functions, mats.n_pairs), floor)
    if identity_ok and r == mats.n_functions:
        return None, s_all, s_all
    return eig.leading(r), s_all[:r], s_all

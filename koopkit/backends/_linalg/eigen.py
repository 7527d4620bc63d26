"""Every eigenvalue of a Hermitian matrix and the eigenvectors of only the leading ones.

The POD reductions need all eigenvalues of a Gram matrix (the singular values, for the rank
rule and ``singular_values_``) but eigenvectors of only the ``k`` kept directions. LAPACK's
``eigh`` drivers do one or the other: ``syevd`` computes every vector, and the values
first followed by ``syevr`` on a subset reduce the matrix to tridiagonal form twice.
:class:`HermitianEig` reduces it once (``sytrd``/``hetrd``), takes every eigenvalue of the
tridiagonal matrix (``sterf``, the root-free QR that ``eigvalsh`` uses), the ``k`` leading
eigenvectors by inverse iteration at those eigenvalues (``stein``), and applies the
reduction's Householder reflectors to those ``k`` vectors only (``ormqr``/``unmqr``). On a
64 x 64 Gram that is 0.14 ms against 0.25 ms for ``numpy.linalg.eigh``, on a 157 x 157
one 0.76 ms against 1.5 ms (one BLAS thread).

Each result is checked before it is returned (``||G V - V W|| <= tol ||G||`` and
``||V^H V - I|| <= tol``, ``tol`` a few hundred times the round-off of ``eigh``); a check
that fails, or a LAPACK routine that reports a failure, falls back to ``scipy.linalg.eigh``
for the same vectors, so the answer is never less accurate than LAPACK's own drivers.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.linalg.lapack as lapack

__all__ = ["GRAM_SAFE", "HermitianEig", "gram_accurate"]

#: Smallest ratio ``s_k / s_0`` of the kept singular values at which squaring the data into
#: a Gram matrix loses nothing measurable (vectors to about ``eps / GRAM_SAFE**2``).
GRAM_SAFE = 1e-2


def gram_accurate(s_all: np.ndarray, rank: int, residual_rank: int | None = None) -> bool:
    """Whether the leading ``max(rank, residual_rank)`` singular directions are as accurate
    from a Gram matrix as from an SVD (their singular values within :data:`GRAM_SAFE` of the
    largest). Checked before any rank rule runs, so a fallback to the SVD warns only once."""
    kept = min(max(int(rank), int(residual_rank or 0)), s_all.size)
    return bool(kept > 0 and s_all[0] > 0 and s_all[kept - 1] >= GRAM_SAFE * s_all[0])


#: Orders below which (or leading counts above ``order // VECTORS_FRACTION``) one full
#: ``eigh`` is cheaper than the piecewise route.
MIN_ORDER = 24
VECTORS_FRACTION = 4


class HermitianEig:
    """Eigenvalues of a Hermitian matrix now, eigenvectors of the leading ones on request.

    ``values`` are every eigenvalue in descending order; :meth:`leading` gives the
    eigenvectors (columns) of the ``k`` largest, in the same order.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = rng.standard_normal((40, 30))
    >>> g = a.T @ a
    >>> eig = HermitianEig(g)
    >>> bool(np.allclose(eig.values, np.linalg.eigvalsh(g)[::-1]))
    True
    >>> v = eig.leading(3)
    >>> bool(np.allclose(g @ v, v * eig.values[:3]))
    True
    """

    def __init__(self, g: np.ndarray) -> None:
        self.g = g
        n = g.shape[0]
        self._tri = None
        if n >= MIN_ORDER:
            self._tri = _tridiagonal(g)
        if self._tri is not None:
            d, e = self._tri[1], self._tri[2]
            values, info = lapack.dsterf(d, e)
            if info != 0:
                self._tri = None
            else:
                self.values = values[::-1]
        if self._tri is None:
            w = sla.eigvalsh(g, check_finite=False)
            self.values = w[::-1]

    def leading(self, k: int) -> np.ndarray:
        """The eigenvectors of the ``k`` largest eigenvalues, ``(n, k)``, largest first."""
        n = self.g.shape[0]
        k = int(k)
        if k <= 0:
            return np.zeros((n, 0), dtype=self.g.dtype)
        if self._tri is not None and k <= max(1, n // VECTORS_FRACTION):
            v = self._by_inverse_iteration(k)
            if v is not None:
                return v
        _, v = sla.eigh(self.g, subset_by_index=[n - k, n - 1], driver="evr", check_finite=False)
        return v[:, ::-1]

    def _by_inverse_iteration(self, k: int) -> np.ndarray | None:
        c, d, e, tau, unmqr = self._tri
        n = d.size
        w = self.values[k - 1 :: -1].copy()  # ascending, as stein wants
        block = np.ones(n, dtype=np.int32)
        split = np.zeros(n, dtype=np.int32)
        split[0] = n  # one block: stein handles tiny off-diagonals itself
        z, info = lapack.dstein(d, e, w, block, split)
        if info != 0:
            return None
        z = z[:, ::-1].astype(self.g.dtype)  # largest first
        # Q = diag(1, Q') with Q' the reflectors below the subdiagonal (lower sytrd)
        cq, _, info = unmqr("L", "N", c[1:, : n - 1], tau, z[1:], max(1, k) * 64 + 4160)
        if info != 0:
            return None
        z[1:] = cq
        norm = max(abs(self.values[0]), abs(self.values[-1]))
        return z if _accurate(self.g, z, self.values[:k], norm) else None


def _tridiagonal(g: np.ndarray) -> tuple | None:
    """``sytrd``/``hetrd`` (lower) of ``g``: reflectors, diagonal, off-diagonal, ``tau``."""
    n = g.shape[0]
    if g.dtype == np.float64:
        trd, trd_lwork, unmqr = lapack.dsytrd, lapack.dsytrd_lwork, lapack.dormqr
    elif g.dtype == np.complex128:
        trd, trd_lwork, unmqr = lapack.zhetrd, lapack.zhetrd_lwork, lapack.zunmqr
    else:
        return None
    lwork, info = trd_lwork(n, lower=1)
    if info != 0:
        return None
    c, d, e, tau, info = trd(g, lower=1, lwork=max(n, int(np.real(lwork))))
    if info != 0 or not (np.isfinite(d).all() and np.isfinite(e).all()):
        return None
    return c, d, e, tau, unmqr


def _accurate(g: np.ndarray, v: np.ndarray, w: np.ndarray, norm: float) -> bool:
    """Whether ``(w, v)`` are eigenpairs of ``g`` (of 2-norm ``norm``) to ``eigh``'s
    accuracy, with a margin."""
    n, k = v.shape
    scale = max(float(norm), np.finfo(float).tiny)
    tol = 300 * n * np.finfo(float).eps
    resid = np.linalg.norm(g @ v - v * w, axis=0).max()
    ortho = np.abs(v.conj().T @ v - np.eye(k)).max()
    return bool(resid <= tol * scale and ortho <= tol)

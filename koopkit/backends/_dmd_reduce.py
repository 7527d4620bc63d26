"""DMD's reduction to the POD basis, one function per solver, and forward-backward DMD.

Each solver (``reduce_gram``, ``reduce_svd``, ``reduce_randomized``) takes a
:class:`~koopkit.backends._linalg.DelayEmbedding` and returns a :class:`Reduced`: the
problem in the leading POD directions, with the residual dictionary's values on the pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg as sla

from koopkit._errors import KoopkitError
from koopkit.backends._linalg import (
    DelayEmbedding,
    HermitianEig,
    choose_rank,
    gram_accurate,
    mul,
    one_thread,
    qr_r,
)


@dataclass
class Reduced:
    """The DMD problem in an r-dimensional POD basis ``U = X P V S^-1``.

    ``coeffs`` maps the basis onto the pair states: ``U = X_rows^T coeffs``. ``basis`` is
    an explicit ``U`` (rows) when a solver has one. ``px``/``py`` are the residual
    dictionary ``psi(z) = U'^H z`` on the (unprojected) pairs, for the ``r' >= r`` leading
    POD directions ``U'`` (the first ``r`` rows are ``U``'s); ``residual_coeffs`` and
    ``residual_basis`` give ``U'`` like ``coeffs`` and ``basis`` give ``U``.
    """

    s: np.ndarray  # (r,) singular values kept
    all_s: np.ndarray  # every singular value computed
    xt: np.ndarray  # (r, M-1) = S V^H
    yt: np.ndarray  # (r, M-1) = U^H Y
    coeffs: np.ndarray  # (M-1, r) = P V S^-1
    px: np.ndarray  # (r', M-1) = U'^H X
    py: np.ndarray  # (r', M-1) = U'^H Y
    residual_coeffs: np.ndarray  # (M-1, r')
    basis: np.ndarray | None = None  # (r, n*d) rows of U^T
    residual_basis: np.ndarray | None = None  # (r', n*d) rows of U'^T
    solver: str = "gram"  # how it was computed: "gram", "svd" or "randomized"

    def operator(self) -> np.ndarray:
        """``Atilde = Yt Xt^+`` with ``Xt^+ = V S^-1``."""
        return self.yt @ (self.xt.conj().T / self.s**2)


def residual_rank_for(r: int, residual_rank: int | None, s_all: np.ndarray, floor: float) -> int:
    """``r' = max(r, residual_rank)``, at most the singular values above round-off."""
    if residual_rank is None or residual_rank <= r:
        return r
    resolvable = int(np.sum(s_all > floor * s_all[0]))
    return max(r, min(int(residual_rank), resolvable))


def reduce_gram(
    op: DelayEmbedding,
    rank: Any,
    tlsq_rank: int,
    residual_rank: int | None = None,
    accurate_only: bool = False,
) -> Reduced | None:
    """The POD reduction from the snapshot-space Gram matrices; with ``accurate_only`` (an
    explicit ``rank``), None where an SVD would be more accurate (:func:`gram_accurate`)."""
    gxx, gxy, gyy = op.pair_grams()
    with one_thread(gxx.shape[0]):  # the rest is snapshot-space work
        return reduce_grams(op, gxx, gxy, gyy, rank, tlsq_rank, residual_rank, accurate_only)


def reduce_grams(
    op: DelayEmbedding,
    gxx: np.ndarray,
    gxy: np.ndarray,
    gyy: np.ndarray,
    rank: Any,
    tlsq_rank: int,
    residual_rank: int | None,
    accurate_only: bool = False,
) -> Reduced | None:
    gxx0, gxy0 = gxx, gxy
    m1 = gxx.shape[0]
    proj = None
    if tlsq_rank:
        vt = HermitianEig(gxx + gyy).leading(tlsq_rank)
        proj = vt @ vt.conj().T
        gxx = proj @ gxx @ proj
        gxy = proj @ gxy @ proj
    # Every singular value (cheap: no vectors), then eigenvectors for the kept ones only.
    eig = HermitianEig(gxx)
    # X has rank at most its number of features: the other values are round-off zeros,
    # which would drag the median of Gavish & Donoho's rule down to nothing
    s_all = np.sqrt(np.clip(eig.values[: min(op.n_features, m1)], 0, None))
    if accurate_only and not gram_accurate(s_all, rank, residual_rank):
        return None
    eps = np.finfo(op.data.dtype).eps
    # G is accurate to about eps * s_max**2, so s below sqrt(eps) * s_max is round-off.
    floor = np.sqrt(30 * eps)
    r = choose_rank(s_all, rank, (op.n_features, m1), floor)
    rr = residual_rank_for(r, residual_rank, s_all, floor)
    s, v = s_all[:rr], eig.leading(rr)
    coeffs = v / s
    if proj is not None:
        coeffs = proj @ coeffs
    py = (v.conj().T @ gxy) / s[:, None]
    yt = py[:r]
    xt = s[:r, None] * v[:, :r].conj().T
    if proj is None:
        px = s[:, None] * v.conj().T
    else:  # the residual is measured on the data, not on their TLS projection
        px, py = coeffs.conj().T @ gxx0, coeffs.conj().T @ gxy0
    return Reduced(s[:r], s_all, xt, yt, coeffs[:, :r], px, py, coeffs)


def rows_svd(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SVD of a row matrix ``A = a s b`` in double precision."""
    work = rows.astype(np.complex128 if rows.dtype.kind == "c" else np.float64, copy=False)
    return sla.svd(work, full_matrices=False, lapack_driver="gesdd", check_finite=False)


def feature_gram_svd(
    rows: np.ndarray, rank: int, shape: tuple[int, int], residual_rank: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int] | None:
    """The leading SVD ``rows = a s b`` of a matrix with fewer columns than rows, from the
    eigenvectors of its ``n x n`` Gram matrix (one small ``eigh`` instead of an SVD of the
    whole matrix), for an explicit ``rank``; None where that would lose accuracy
    (:func:`gram_accurate`)."""
    work = rows.astype(np.complex128 if rows.dtype.kind == "c" else np.float64, copy=False)
    eig = HermitianEig(work.conj().T @ work)
    s_all = np.sqrt(np.clip(eig.values, 0, None))
    if not gram_accurate(s_all, rank, residual_rank):
        return None
    floor = np.sqrt(30 * np.finfo(float).eps)  # round-off of a Gram matrix's eigenvalues
    r = choose_rank(s_all, rank, shape, floor)
    rr = residual_rank_for(r, residual_rank, s_all, floor)
    e = eig.leading(rr)
    s = s_all[:rr]
    return (work @ e) / s, s_all, e.conj().T, r, rr


#: Smallest ``s_r' / s_0`` at which left vectors ``X b^H / s`` are as accurate as an SVD's
#: (errors about ``eps / TALL_SAFE``).
TALL_SAFE = 1e-3


def tall_svd(rows: np.ndarray) -> tuple[None, np.ndarray, np.ndarray]:
    """Singular values and right vectors of a tall row matrix from the SVD of its QR factor
    ``R`` (backward stable, like an SVD of the whole matrix); the left vectors are left to
    the caller (None), who needs only the kept ones."""
    work = rows.astype(np.complex128 if rows.dtype.kind == "c" else np.float64, copy=False)
    rfac = qr_r(work)
    _, s_all, b = sla.svd(rfac, full_matrices=False, lapack_driver="gesdd", check_finite=False)
    return None, s_all, b


def reduce_svd(
    op: DelayEmbedding,
    rank: Any,
    tlsq_rank: int,
    residual_rank: int | None = None,
    gram_first: bool = False,
) -> Reduced:
    """The POD reduction by an SVD of the pair rows; with ``gram_first``, from the feature
    Gram matrix where that is as accurate (:func:`feature_gram_svd`)."""
    z = op.matrix()
    xr_, yr_ = z[op.x_rows], z[op.y_rows]
    x0, y0 = xr_, yr_
    m1 = xr_.shape[0]
    proj = None
    if tlsq_rank:
        a, _, _ = rows_svd(np.concatenate([xr_, yr_], axis=1))
        ak = a[:, :tlsq_rank]
        proj = ak.conj() @ ak.T  # P = V_k V_k^H with V = conj(a)
        xr_ = ak @ (ak.conj().T @ xr_)
        yr_ = ak @ (ak.conj().T @ yr_)
    leading = None
    if gram_first and proj is None and op.basis is None and xr_.shape[1] <= m1:
        leading = feature_gram_svd(xr_, rank, (op.n_features, m1), residual_rank)
    if leading is not None:
        a, s_all, b, r, rr = leading
    else:
        # Tall rows (at least twice as many pairs as features): the SVD of the QR factor R
        # gives the same singular values and right vectors at a fraction of the cost; the
        # left vectors of the kept directions follow as X b^H / s where that is accurate.
        tall = proj is None and m1 >= 2 * xr_.shape[1]
        a, s_all, b = tall_svd(xr_) if tall else rows_svd(xr_)
        if op.basis is not None:  # compressed frames: the dropped directions are round-off
            s_all = np.concatenate([s_all, np.zeros(min(op.n_features, m1) - s_all.size)])
        floor = max(op.n_features, m1) * np.finfo(op.data.dtype).eps
        r = choose_rank(s_all, rank, (op.n_features, m1), floor)
        rr = residual_rank_for(r, residual_rank, s_all, floor)
        if a is None:
            if rr and s_all[rr - 1] >= TALL_SAFE * s_all[0]:
                a = (xr_ @ b[:rr].conj().T) / s_all[:rr]  # in double, as b is
            else:  # kept directions near round-off: their left vectors from the full SVD
                a, _, b = rows_svd(xr_)
    s, a, b = s_all[:rr], a[:, :rr], b[:rr]
    v = a.conj()  # X_col = U S V^H with U = b^T, V = conj(a)
    coeffs = v / s
    if proj is not None:
        coeffs = proj @ coeffs
    py = b.conj() @ yr_.T
    yt = py[:r]
    if proj is None:
        px = s[:, None] * v.conj().T
    else:
        px, py = b.conj() @ x0.T, b.conj() @ y0.T
    xt = s[:r, None] * v[:, :r].conj().T
    return Reduced(
        s[:r],
        s_all,
        xt,
        yt,
        coeffs[:, :r],
        px,
        py,
        coeffs,
        basis=b[:r],
        residual_basis=b,
        solver="svd" if leading is None else "gram",
    )


def reduce_randomized(
    op: DelayEmbedding,
    rank: Any,
    oversample: int,
    power_iters: int,
    seed: int,
    residual_rank: int | None = None,
) -> Reduced:
    if not isinstance(rank, (int, np.integer)) or isinstance(rank, bool):
        raise KoopkitError(
            "solver='randomized' needs an integer rank (e.g. rank=20); use solver='gram' "
            "for rank='auto' or an energy fraction"
        )
    m, d = op.n_states, op.delays
    x, y = op.x_index, op.y_index
    limit = min(op.n_features, len(x))
    if rank > limit:
        raise KoopkitError(f"rank={rank} is impossible: the data allow at most {limit}")
    width = min(max(rank, residual_rank or 0) + oversample, limit)
    rng = np.random.default_rng(seed)
    omega = np.zeros((m, width))
    omega[x] = rng.standard_normal((len(x), width))
    not_x = np.ones(m, dtype=bool)
    not_x[x] = False

    def orth(blocks: np.ndarray) -> np.ndarray:
        # LAPACK QR in the data's precision on the Fortran-ordered view: no copies.
        q = sla.qr(
            blocks.reshape(width, -1).T, mode="economic", overwrite_a=True, check_finite=False
        )[0]
        return q.T.reshape(width, d, -1)

    q = orth(op.lift(omega))
    for _ in range(power_iters):
        back = op.adjoint(q)
        back[not_x] = 0  # X only uses the first state of each pair
        q = orth(op.lift(back.conj()))
    zq = op.adjoint(q)  # (M, l): z_k^H q_j
    bmat = zq[x].conj().T  # Q^H X, (l, M-1)
    ub, s_all, vh = np.linalg.svd(bmat, full_matrices=False)
    r = int(rank)
    rr = residual_rank_for(r, residual_rank, s_all, np.finfo(float).eps * len(x))
    s, ub, v = s_all[:rr], ub[:, :rr], vh[:rr].conj().T
    qf = q.reshape(width, -1)
    # rows of U^T = (Q ub)^T, in q's precision (real for real data)
    basis = ub.T.astype(qf.dtype) @ qf if np.isrealobj(ub) else mul(ub.T, qf)
    py = ub.conj().T @ zq[y].conj().T  # U^H Y
    px = s[:, None] * v.conj().T
    return Reduced(
        s[:r], s_all, px[:r], py[:r], (v / s)[:, :r], px, py, v / s, basis[:r], basis, "randomized"
    )


def eig_forward_backward(xt: np.ndarray, yt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dawson et al. (2016): ``A = (A_f A_b^-1)^(1/2)`` with the root's sign chosen per mode."""
    a_f = yt @ np.linalg.pinv(xt)
    a_b = xt @ np.linalg.pinv(yt)
    mu, w = np.linalg.eig(a_f @ np.linalg.inv(a_b))
    lam_f = np.linalg.eigvals(a_f)
    root = np.sqrt(mu.astype(complex))
    near = np.abs(root[:, None] - lam_f[None]).min(axis=1)
    far = np.abs(-root[:, None] - lam_f[None]).min(axis=1)
    return np.where(near <= far, root, -root), w

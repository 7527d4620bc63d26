"""EDMD's reduced dictionary problem and the linear algebra around it: the fitted system,
kernel regression of the state, Gram products of the pairs, the out-of-core block sums."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg as sla

from koopkit.backends._linalg import (
    DelayEmbedding,
    ResidualMatrices,
    as_index,
    choose_rank,
    column_gram,
    mul,
)
from koopkit.observables import Observable


@dataclass
class System:
    """The fitted dictionary problem, reduced to ``r`` directions."""

    mats: ResidualMatrices  # ResDMD matrices of the pairs in the reduced dictionary
    s: np.ndarray  # kept singular values of Psi_X
    s_all: np.ndarray
    phi_basis: np.ndarray | None  # primal: Z (N, r), None when every direction is kept
    # (Z = I); kernel: Q S^-1 (M, r), the dual coefficients
    source: np.ndarray  # primal: psi on every state (n_states, N); kernel: k (n_states, n_states)
    cols: Any  # the columns of source that phi_basis maps (kernel: the pairs' first states)
    form: str
    state_gram: np.ndarray | None = None  # psi^H psi over every state (primal, Gram path)
    reduced: np.ndarray | None = None  # primal: psi Z on every state, where already formed
    independent: bool = False  # psi's columns independent on the states (rank rule kept all)

    def reduce(self, values: np.ndarray) -> np.ndarray:
        """Dictionary values ``(.., N)`` in the reduced dictionary ``(.., r)``."""
        return values if self.phi_basis is None else values @ self.phi_basis

    def values(self, rows: Any) -> np.ndarray:
        """The reduced dictionary on the states ``rows``: ``(len(rows), r)``."""
        if self.reduced is not None:
            return self.reduced[rows]
        return self.reduce(self.source[rows][:, self.cols])


def small_primal(psi: np.ndarray, states: DelayEmbedding, rank: Any) -> System:
    """The primal system of pairs few enough to factor by QR (residuals to round-off).

    The singular values of ``Psi_X`` come from ``Psi_X`` itself (or its triangular factor
    when it is tall), without vectors. When the rank rule keeps every direction the
    dictionary is its own basis and the pairs are factored as they are; otherwise the kept
    right singular vectors ``Z`` are computed and only ``psi Z`` (every state once) is
    factored: a QR of ``M x 2r`` rather than ``M x 2N``.
    """
    ix, iy = as_index(states.x_index), as_index(states.y_index)
    px = psi[ix]
    m, n = px.shape
    rx = sla.qr(px, mode="r", check_finite=False)[0][:n] if m > 2 * n else px
    s_all = sla.svd(rx, compute_uv=False, check_finite=False)
    if s_all.size < n:  # fewer pairs than functions: the rest are exact zeros
        s_all = np.concatenate([s_all, np.zeros(n - s_all.size)])
    r = choose_rank(s_all, rank, (n, m), max(n, m) * np.finfo(float).eps)
    if r == n:
        mats = ResidualMatrices.from_values(px, psi[iy])
        return System(mats, s_all, s_all, None, psi, slice(None), "primal", independent=True)
    basis = sla.svd(rx, full_matrices=False, check_finite=False)[2][:r].conj().T
    reduced = psi @ basis
    mats = ResidualMatrices.from_values(reduced[ix], reduced[iy], exact=True)
    return System(mats, s_all[:r], s_all, basis, psi, slice(None), "primal", reduced=reduced)


def lstsq_independent(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Least squares ``min ||a x - b||`` for ``a`` of independent columns: a QR without
    pivoting (Householder, backward stable); pivoted QR (gelsy) where ``R`` is singular."""
    m, n = a.shape
    if m < n or np.iscomplexobj(a) or np.iscomplexobj(b):
        return sla.lstsq(a, b, lapack_driver="gelsy", check_finite=False)[0]
    geqrf, ormqr, trtrs = sla.get_lapack_funcs(("geqrf", "ormqr", "trtrs"), (a, b))
    qr, tau, _, info = geqrf(a)
    rhs = b if b.ndim == 2 else b[:, None]
    qtb, _, info2 = ormqr("L", "T", qr, tau, rhs, lwork=max(1, 64 * rhs.shape[1]))
    x, info3 = trtrs(qr[:n], qtb[:n])
    if info or info2 or info3 or not np.isfinite(x).all():  # R singular: pivoted QR
        return sla.lstsq(a, b, lapack_driver="gelsy", check_finite=False)[0]
    return x if b.ndim == 2 else x[:, 0]


def solve_vectors(lam: np.ndarray, c: np.ndarray, b: np.ndarray, real: bool) -> np.ndarray:
    """``c^-1 b`` for the eigenvectors ``c`` of a matrix (as ``np.linalg.eig`` gives them);
    for a ``real`` matrix and a real ``b``, one real solve.

    The eigenvectors of a real matrix are real or come in conjugate pairs ``v, conj(v)``
    (``np.linalg.eig``: ``v`` first, with the eigenvalue of positive imaginary part). With
    ``V`` the real matrix holding ``Re v, Im v`` in their places, ``c = V T`` (``T`` block
    diagonal, blocks ``[[1, 1], [i, -i]]``), so ``c^-1 b = T^-1 (V^-1 b)``.
    """
    j = np.flatnonzero(lam.imag > 0)
    if not (real and j.size and j[-1] + 1 < len(lam)) or np.iscomplexobj(b):
        return solve(c, b.astype(np.result_type(c, b), copy=False))
    v = c.real.copy()
    v[:, j + 1] = c.imag[:, j]
    y = solve(v, b)
    out = y.astype(c.dtype)
    out[j] = 0.5 * (y[j] - 1j * y[j + 1])
    out[j + 1] = out[j].conj()
    return out


def times_vectors(a: np.ndarray, lam: np.ndarray, c: np.ndarray, real: bool) -> np.ndarray:
    """``a @ c`` for the eigenvectors ``c`` of a matrix (``np.linalg.eig``'s order); for a
    ``real`` matrix and a real ``a``, one real product: a conjugate pair's columns are
    ``a Re v +- i a Im v`` (see :func:`solve_vectors`)."""
    j = np.flatnonzero(lam.imag > 0)
    if not (real and j.size and j[-1] + 1 < len(lam)) or np.iscomplexobj(a):
        return mul(c.T, a.T).T  # (c^T a^T)^T: one real product for both parts of c
    v = c.real.copy()
    v[:, j + 1] = c.imag[:, j]
    y = a @ v
    out = y.astype(np.result_type(y.dtype, c.dtype))
    out[:, j] = y[:, j] + 1j * y[:, j + 1]
    out[:, j + 1] = out[:, j].conj()
    return out


def paired_residuals(
    mats: ResidualMatrices, lam: np.ndarray, c: np.ndarray, real: bool
) -> np.ndarray:
    """ResDMD residuals of the eigenpairs ``(lam, c)``; for a ``real`` Koopman matrix (real
    ResDMD matrices) each conjugate pair's second member (``np.linalg.eig``'s order) takes
    its partner's residual (``||conj(r)|| = ||r||``) instead of being computed again."""
    j = np.flatnonzero(lam.imag > 0)
    factor = mats.factor if mats.factor is not None else mats.G
    if not real or not j.size or j[-1] + 1 >= len(lam) or np.iscomplexobj(factor):
        return mats.residuals(lam, c)
    keep = np.ones(len(lam), dtype=bool)
    keep[j + 1] = False
    out = np.empty(len(lam))
    out[keep] = mats.residuals(lam[keep], c[:, keep])
    out[j + 1] = out[j]
    return out


def kernel_regression(system: System, states: DelayEmbedding, target: np.ndarray) -> Any:
    """The state regressed on the reduced dictionary over every state, in the kernel form.

    On the pairs' first states the reduced dictionary is ``Q S`` (orthogonal columns); the
    other states (each trajectory's last) add a low-rank term ``U^H U``, so the normal
    equations ``(S^2 + U^H U) coef = S Q^H T_X + U^H T_o`` solve with Woodbury's identity
    through a matrix of their number only.
    """
    x = states.x_index
    # the states that are no pair's first: each trajectory's last
    other = np.cumsum(np.asarray(states.lengths) - states.delays + 1) - 1
    s, dual = system.s, system.phi_basis
    q = dual * s
    t_x, t_o = target[as_index(x)], target[other]
    u = system.values(other)  # (n_o, r) reduced dictionary on the other states
    rhs = s[:, None] * (q.conj().T @ t_x) + u.conj().T @ t_o
    w = u / s  # (S^2 + U^H U) = S (I + W^H W) S
    y = rhs / s[:, None]
    small = np.eye(len(other)) + w @ w.conj().T
    y = y - w.conj().T @ np.linalg.solve(small, w @ y)
    return y / s[:, None]


def pair_grams(
    psi: np.ndarray, states: DelayEmbedding, device: Any = None
) -> tuple[ResidualMatrices, np.ndarray]:
    """G, A, L of the pairs and the Gram of every state, with one rank-k update.

    Every state but each trajectory's last is a pair's first state and every state but
    each trajectory's first a pair's second, so ``G`` and ``L`` are the states' Gram less a
    few rank-one terms; ``A`` is one product per trajectory on views (no gathered copy).
    With a torch ``device`` the two big products run there.
    """
    counts = np.asarray(states.lengths) - states.delays + 1
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    ends = starts + counts
    if device is not None:
        from koopkit.backends._device import row_gram, to_device

        t = to_device(psi, device)
        c_all = row_gram(t.T)  # the rows of psi^T are the functions: psi^H psi
        a = sum(t[i : j - 1].conj().T @ t[i + 1 : j] for i, j in zip(starts, ends, strict=True))
        a = np.asarray(a.cpu().numpy(), dtype=c_all.dtype)
    else:
        c_all = column_gram(psi)
        if len(counts) <= 64:
            pairs = zip(starts, ends, strict=True)
            a = sum(psi[i : j - 1].conj().T @ psi[i + 1 : j] for i, j in pairs)
        else:
            a = psi[states.x_index].conj().T @ psi[states.y_index]
    g = c_all - column_gram(np.ascontiguousarray(psi[ends - 1]))
    l_ = c_all - column_gram(np.ascontiguousarray(psi[starts]))
    return ResidualMatrices(g, a, l_, len(states.x_index)), c_all


def solve_pos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a^-1 b`` for a Hermitian positive (semi-)definite ``a``: Cholesky, else lstsq."""
    try:
        return sla.solve(a, b, assume_a="pos", check_finite=False)
    except (np.linalg.LinAlgError, sla.LinAlgWarning):
        return np.linalg.lstsq(a, b, rcond=None)[0]


def solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a^-1 b`` by LU; least squares where ``a`` is singular to working precision."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", sla.LinAlgWarning)
            return sla.solve(a, b, check_finite=False)
    except (np.linalg.LinAlgError, sla.LinAlgWarning):
        return np.linalg.lstsq(a, b, rcond=None)[0]


def floor(mats: ResidualMatrices) -> float:
    """Round-off level of the singular values: QR-based ones are accurate to ``eps``,
    Gram-based ones to about ``sqrt(eps)`` relative to the largest."""
    eps = np.finfo(float).eps
    if mats.factor is not None:
        return max(mats.n_functions, mats.n_pairs) * eps
    return np.sqrt(30 * eps)


def block_sums(obs: Observable, block: np.ndarray, lag: int, first_pair: bool) -> tuple:
    """Sums over one block of frames: G, A, L over its pairs; the states' Gram and
    ``Psi^H X`` over its own states; and the number of pairs."""
    psi = np.asarray(obs.transform(np.asarray(block)))
    psi = psi.astype(np.result_type(psi.dtype, np.float64), copy=False)
    own = psi[1:] if first_pair else psi  # states whose newest frame lies in the block
    x_own = np.asarray(block)[lag + (1 if first_pair else 0) :]
    px, py = psi[:-1], psi[1:]
    return (
        px.conj().T @ px,
        px.conj().T @ py,
        py.conj().T @ py,
        own.conj().T @ own,
        own.conj().T @ x_own.astype(psi.dtype, copy=False),
        len(px),
    )


def add_sums(a: tuple, b: tuple) -> tuple:
    return tuple(x + y for x, y in zip(a, b, strict=True))

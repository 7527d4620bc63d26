"""Rank rules: explicit ranks, energy fractions, and Gavish & Donoho's "auto"."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from koopkit._errors import KoopkitError


class RankWarning(UserWarning):
    """The requested rank exceeds what the data resolve; a smaller one was used."""


# ------------------------------------------------------------------ rank rules
#: With at least this many singular values, "auto" always uses Gavish & Donoho's rule.
GD_MIN_VALUES = 64


def _mp_median(beta: float) -> float:
    """Median of the Marchenko-Pastur law of ratio ``beta`` (noise variance 1)."""
    from scipy.integrate import quad
    from scipy.optimize import brentq

    lo, hi = (1 - np.sqrt(beta)) ** 2, (1 + np.sqrt(beta)) ** 2

    def density(t: float) -> float:
        return np.sqrt(max((hi - t) * (t - lo), 0.0)) / (2 * np.pi * beta * t)

    def mass(x: float) -> float:
        return quad(density, lo, x)[0] - 0.5

    return float(brentq(mass, lo, hi)) if beta < 1 else 1.0


def has_noise_floor(s: np.ndarray, shape: tuple[int, int]) -> bool:
    """Whether the singular values look like signal above a noise bulk.

    Gavish & Donoho estimate the noise from the median singular value, which is right when
    noise fills the lower half of the spectrum. White noise lifts every singular value of
    an ``n x m`` matrix (``beta = n/m <= 1``) to at least about the Marchenko-Pastur lower
    edge, ``(1 - sqrt(beta)) / sqrt(mu_beta)`` times the median (``mu_beta``: the law's
    median). With few singular values (below :data:`GD_MIN_VALUES`), a smallest one far
    below that edge (under half of it) means the median is signal and there is no floor.

    Examples
    --------
    >>> has_noise_floor(np.array([5.0, 3.0, 1.0, 0.9, 0.85, 0.8]), (6, 200))
    True
    >>> has_noise_floor(np.array([5.0, 3.0, 2.0, 1.5, 1.0, 0.1]), (6, 200))
    False
    """
    s = np.asarray(s, dtype=float)
    if s.size >= GD_MIN_VALUES:
        return True
    beta = min(shape) / max(shape)
    edge = (1 - np.sqrt(beta)) / np.sqrt(_mp_median(beta))
    return bool(s[-1] >= 0.5 * edge * np.median(s))


def rank_rule(s: np.ndarray, rank: Any, shape: tuple[int, int]) -> str:
    """The name of the rule :func:`choose_rank` applies: for the spectrum's params."""
    if rank is None:
        return "round-off"
    if isinstance(rank, str):
        return "gavish-donoho" if has_noise_floor(s, shape) else "round-off (no noise floor)"
    if isinstance(rank, (float, np.floating)):
        return "energy"
    return "fixed"


def choose_rank(s: np.ndarray, rank: Any, shape: tuple[int, int], floor: float) -> int:
    """Rank from singular values ``s`` (descending) and the user's rule.

    ``rank``: an int, an energy fraction in (0, 1), None (every value above
    ``floor * s[0]``, the round-off level) or "auto": Gavish & Donoho's (2014) optimal hard
    threshold for an unknown noise level where the values show a noise floor
    (:func:`has_noise_floor`), else every value above round-off (small clean sensor
    arrays). ``shape``: the matrix's (rows, columns).
    """
    resolvable = int(np.sum(s > floor * s[0])) if s.size and s[0] > 0 else 0
    if resolvable == 0:
        raise KoopkitError("the data are all zeros (no singular value above round-off)")
    if rank is None:
        return resolvable
    if isinstance(rank, str):  # "auto"
        if not has_noise_floor(s, shape):
            return resolvable
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
            f"rank={rank} is impossible: the data allow at most {limit} "
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


def left_eigenvectors(w: np.ndarray) -> np.ndarray:
    """Columns ``v_j`` with ``v_j^T A = lam_j v_j^T`` from right eigenvectors ``w`` of ``A``.

    For DMD's ``A = Yt Xt^+`` these are the coefficients of the Koopman eigenfunctions in
    the POD coordinates (EDMD's matrix in that dictionary is ``A^T``).
    """
    try:
        return np.linalg.inv(w).T
    except np.linalg.LinAlgError:
        return np.linalg.pinv(w).T

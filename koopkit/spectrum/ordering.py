"""How modes are ordered: by a key with ties broken by frequency, by RMS amplitude."""

from __future__ import annotations

from typing import Any

import numpy as np


def sort_order(key: np.ndarray, frequencies: np.ndarray, ascending: bool = False) -> np.ndarray:
    """Positions sorting ``key`` (largest first unless ``ascending``), ties broken by
    frequency, positive first, so conjugate pairs keep their order under round-off.

    Keys are rounded to 12 digits relative to the largest, so data of any magnitude sort
    alike; NaN keys go last.
    """
    key = np.asarray(key, dtype=float)
    finite = np.isfinite(key)
    if finite.all():  # the usual case, in fewer steps
        scale = np.abs(key).max() if key.size else 0.0
        key = np.round(key / (scale if scale > 0 else 1.0), 12)
    else:
        scale = np.abs(key[finite]).max() if finite.any() else 0.0
        rel = np.where(finite, key, 0.0) / (scale if scale > 0 else 1.0)
        key = np.where(finite, np.round(rel, 12), key)
    sign = 1 if ascending else -1
    return np.lexsort((-np.asarray(frequencies, dtype=float), sign * key))


def rms_order(eigenvalues: Any, amplitudes: Any, n_snapshots: int) -> np.ndarray:
    """Positions of the modes by decreasing RMS amplitude, as every spectrum is sorted.

    Examples
    --------
    >>> rms_order(np.array([0.5, 1.0]), np.array([1.0, 1.0]), n_snapshots=10)
    array([1, 0])
    """
    lam = np.asarray(eigenvalues, dtype=complex)
    rms = np.abs(np.asarray(amplitudes)) * rms_power(np.abs(lam), n_snapshots)
    return sort_order(rms, np.angle(lam))  # angle orders as frequency does (dt > 0)


def rms_power(r: np.ndarray, n: int) -> np.ndarray:
    """``sqrt(mean_k r^(2k))`` for k = 0..n-1, computed without overflow where possible."""
    n = max(int(n), 1)
    q = np.square(r, dtype=float)
    gap = 1.0 - q
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        out = (1.0 - q**n) / (n * gap)
    near = np.abs(gap) < 1e-12
    if near.any():
        out[near] = 1.0
    return np.sqrt(out)

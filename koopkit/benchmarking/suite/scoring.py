"""How a fit is scored against a case's truth: eigenvalues, frequencies and residuals.

* ``eig_error`` -- linear: max over the true eigenvalues of ``|lam_hat - lam|`` after an
  optimal pairing (:func:`koopkit.evaluation.assign`); periodic cases: max over the true
  fundamental frequencies ``f`` of ``|lam_hat - exp(2 pi i f dt)|`` for the mode
  :meth:`leading_frequencies <koopkit.KoopmanSpectrum.leading_frequencies>` picks for
  ``f`` (so it also counts a spurious growth or decay of a limit cycle);
* ``freq_error`` -- max relative error of those frequencies (the leading frequencies by
  RMS amplitude, harmonics excluded, each true one matched with the nearest found);
* ``res_true``, ``res_spurious`` -- for spectra with residuals (ResDMD's
  ``||K g - lam g|| / ||g||`` on the fitted pairs: koopkit's DMD variants and EDMD): the
  largest residual among the modes matched to the truth (those scored by ``eig_error``),
  and the smallest among the *spurious* modes, those farther than :data:`KNOWN_TOL` from
  every known Koopman eigenvalue of the case (:func:`known_eigenvalues`). The residual
  separates true from spurious eigenvalues when ``res_true < res_spurious``. Genuine
  Koopman eigenvalues that are not scored (the constant's 1, harmonics) count in neither.
  NaN where a fit has no residuals (PyDMD, deeptime, and koopkit's EDMD when the
  dictionary has at least as many functions as pairs: it could interpolate them, so they
  cannot test it) or no spurious mode.

Forecast errors over the held-out frames are :func:`koopkit.evaluation.relative_errors`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from koopkit.benchmarking.suite.cases import BenchCase
from koopkit.evaluation import assign, nearest

__all__ = [
    "KNOWN_TOL",
    "eigen_errors",
    "known_eigenvalues",
    "residual_summary",
]


def eigen_errors(case: BenchCase, spectrum: Any) -> tuple[float, float, list[int]]:
    """``(eig_error, freq_error, matched)`` of a spectrum against the case's truth.

    Errors are NaN without a truth; ``matched`` are the positions of the modes scored.

    Examples
    --------
    >>> from koopkit import KoopmanSpectrum
    >>> spec = KoopmanSpectrum(np.array([0.5, 0.91]), np.ones(2), dt=1.0)
    >>> case = BenchCase("c", None, rank=2, delays=1, eigenvalues=np.array([0.9, 0.5]))
    >>> eig_err, freq_err, matched = eigen_errors(case, spec)
    >>> round(eig_err, 6), math.isnan(freq_err), sorted(matched)
    (0.01, True, [0, 1])
    """
    lam = np.asarray(spectrum.eigenvalues.values)
    dt = spectrum.dt
    eig_err = freq_err = math.nan
    matched: list[int] = []
    if case.eigenvalues is not None and lam.size:
        rows, cols, dist = assign(lam, case.eigenvalues)
        eig_err = float(dist.max()) if cols.size == case.eigenvalues.size else math.inf
        matched = [int(i) for i in rows]
    if case.frequencies:
        lead = spectrum.leading_frequencies(len(case.frequencies))
        freqs = spectrum.frequencies.values
        errs, eig_errs, picked = [], [], []
        for f, found in zip(case.frequencies, nearest(lead, case.frequencies), strict=True):
            if found is None:
                errs.append(math.inf)
                eig_errs.append(math.inf)
                continue
            errs.append(abs(found - f) / f)
            i = int(np.argmin(np.abs(freqs - found)))
            picked.append(i)
            eig_errs.append(abs(lam[i] - np.exp(2j * np.pi * f * dt)))
        freq_err = float(max(errs))
        if case.eigenvalues is None:
            eig_err = float(max(eig_errs))
            matched = picked
    return eig_err, freq_err, matched


#: Distance in the complex plane within which a fitted eigenvalue counts as a known one.
KNOWN_TOL = 0.02


def known_eigenvalues(case: BenchCase, dt: float, order: int | None = None) -> np.ndarray:
    """Known discrete-time Koopman eigenvalues of a case (beside the scored ones).

    Every system has 1 (the constant function). A linear system also has the products of
    its eigenvalues (products of its linear eigenfunctions; pairs are listed). A periodic
    or quasi-periodic one has ``exp(2 pi i f dt)`` for every integer combination ``f =
    sum_k n_k f_k`` of its fundamental frequencies with ``sum |n_k| <= order``; default:
    every harmonic below the Nyquist frequency for one frequency (the pendulum's
    spectrum), 4 for several.

    Examples
    --------
    >>> case = BenchCase("c", None, rank=2, delays=1, frequencies=[0.1])
    >>> np.angle(known_eigenvalues(case, dt=1.0, order=2)) / (2 * np.pi)
    array([ 0. , -0.2, -0.1,  0.1,  0.2])
    """
    from itertools import product

    out = [np.array([1.0 + 0j])]
    if case.eigenvalues is not None:
        lam = np.asarray(case.eigenvalues, dtype=complex)
        out += [lam, (lam[:, None] * lam[None, :]).ravel()]
    if case.frequencies:
        f = np.asarray(case.frequencies, dtype=float)
        if order is None:
            order = max(4, int(0.5 / (f.max() * dt))) if f.size == 1 else 4
        combos = [
            n for n in product(range(-order, order + 1), repeat=f.size) if sum(map(abs, n)) <= order
        ]
        freqs = np.array([np.dot(n, f) for n in combos if any(n)])
        out.append(np.exp(2j * np.pi * freqs * dt))
    return np.concatenate(out)


def residual_summary(case: BenchCase, spectrum: Any, matched: Sequence[int]) -> tuple[float, float]:
    """``(res_true, res_spurious)``: how well a spectrum's residuals tell true from false.

    ``res_true`` is the largest residual among the ``matched`` modes (those scored against
    the truth); ``res_spurious`` the smallest among the modes farther than
    :data:`KNOWN_TOL` from every :func:`known_eigenvalues` of the case. NaN where the
    spectrum has no residuals, or there is no such mode.

    Examples
    --------
    >>> from koopkit import KoopmanSpectrum
    >>> lam = np.array([0.9, 0.5, 1.0])
    >>> spec = KoopmanSpectrum(lam, np.ones(3), dt=1.0, extras={"residuals": [1e-9, 0.3, 0.0]})
    >>> case = BenchCase("c", None, rank=1, delays=1, eigenvalues=np.array([0.9]))
    >>> residual_summary(case, spec, [0])
    (1e-09, 0.3)
    """
    if spectrum is None or not spectrum.has_residuals:
        return math.nan, math.nan
    res = np.asarray(spectrum.residuals.values, dtype=float)
    lam = np.asarray(spectrum.eigenvalues.values, dtype=complex)
    true = res[list(matched)] if len(matched) else np.array([])
    res_true = float(np.nanmax(true)) if np.isfinite(true).any() else math.nan
    known = known_eigenvalues(case, spectrum.dt)
    far = np.abs(lam[:, None] - known[None, :]).min(axis=1) > KNOWN_TOL
    far[list(matched)] = False
    other = res[far]
    res_spurious = float(np.nanmin(other)) if np.isfinite(other).any() else math.nan
    return res_true, res_spurious

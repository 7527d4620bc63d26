"""The estimators of the noise study: koopkit's DMD variants, PyDMD's, and nonlinear least
squares (the maximum-likelihood estimate) as a reference."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from koopkit.benchmarking.noise.signals import Case, DampedSinusoid
from koopkit.evaluation import match_modes

__all__ = [
    "Method",
    "default_methods",
    "hankel_rows",
    "nls_fit",
]


@dataclass
class Method:
    """One estimator of the study.

    Attributes
    ----------
    name : str
        Label in tables and plots.
    fit : callable
        ``fit(data, case) -> (frequencies, growth_rates)`` of every mode found.
    koopkit : bool
        A koopkit estimator (True), PyDMD through :class:`~koopkit.backends.PyDMDBackend`
        or a reference (False).
    note : str
        Settings, for the table.
    """

    name: str
    fit: Callable[[np.ndarray, Case], tuple[np.ndarray, np.ndarray]]
    koopkit: bool = True
    note: str = ""


def _spectrum_fg(spectrum: Any) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(spectrum.frequencies.values), np.asarray(spectrum.growth_rates.values)


def _koopkit(estimator_factory: Callable[[Case], Any]) -> Callable[..., Any]:
    def fit(data: np.ndarray, case: Case) -> tuple[np.ndarray, np.ndarray]:
        return _spectrum_fg(estimator_factory(case).fit(data, dt=case.dt).spectrum_)

    return fit


def hankel_rows(case: Case) -> int:
    """Delays (Hankel rows) ``round(N / 3)``: the near-efficient choice for subspace methods.

    For a single exponential in white noise the variance of Hankel/subspace (HTLS, matrix
    pencil) estimates is smallest near ``L = N/3`` (or ``2N/3``), within a few percent of the
    Cramér-Rao bound at moderate SNR (Hua & Sarkar 1990; Van Huffel et al. 1994).
    """
    n = case.n_samples if isinstance(case, DampedSinusoid) else case.n_snapshots
    return max(2, int(round(n / 3)))


def _hankel(data: np.ndarray, delays: int) -> np.ndarray:
    """States ``[x_k, ..., x_{k+d-1}]`` as rows, shape ``(N - d + 1, d * n)``."""
    x = data.reshape(data.shape[0], -1)
    m = x.shape[0] - delays + 1
    return np.concatenate([x[j : j + m] for j in range(delays)], axis=1)


def nls_fit(
    data: np.ndarray, dt: float, frequencies: np.ndarray, growth_rates: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Nonlinear least squares (the maximum-likelihood estimate in white Gaussian noise).

    Fits ``x_k = sum_j e^{g_j t_k} (a_j cos(2 pi f_j t_k) + b_j sin(2 pi f_j t_k))`` to
    every feature, by variable projection: the linear coefficients are solved exactly for
    each ``(f, g)`` and Levenberg-Marquardt minimises the residual over ``(f, g)`` only.

    Parameters
    ----------
    data : ndarray, shape (N,) or (N, n)
    dt : float
    frequencies, growth_rates : ndarray, shape (p,)
        The starting point (e.g. a DMD estimate).

    Returns
    -------
    frequencies, growth_rates : ndarray, shape (p,)
    """
    from scipy.optimize import least_squares

    x = np.asarray(data, dtype=float).reshape(data.shape[0], -1)
    t = np.arange(x.shape[0]) * dt

    def basis(p: np.ndarray) -> np.ndarray:
        f, g = p[0::2], p[1::2]
        env = np.exp(np.clip(g[None, :] * t[:, None], -700, 700))
        arg = 2 * np.pi * f[None, :] * t[:, None]
        return np.concatenate([env * np.cos(arg), env * np.sin(arg)], axis=1)

    def residual(p: np.ndarray) -> np.ndarray:
        b = basis(p)
        coef, *_ = np.linalg.lstsq(b, x, rcond=None)
        return (x - b @ coef).ravel()

    start = np.stack([frequencies, growth_rates], axis=1).ravel()
    scale = np.tile([1.0 / (x.shape[0] * dt), 1.0 / (x.shape[0] * dt)], len(frequencies))
    sol = least_squares(residual, start, x_scale=scale, method="lm")
    return sol.x[0::2], sol.x[1::2]


def default_methods(case: Case) -> list[Method]:
    """The estimators compared on ``case``.

    With ``L = round(N/3)`` (:func:`hankel_rows`) and ``r = 2p`` (two eigenvalues per real
    oscillation):

    * scalar series: ``DMD d=2`` (the smallest embedding that holds an oscillation: plain
      least-squares DMD, i.e. a linear-prediction fit, noise-biased), DMD / exact DMD /
      TLS DMD / forward-backward DMD with ``L`` delays, PyDMD's HODMD (``d = L``), FbDMD on
      PyDMD's Hankel pre-processing and BOPDMD on the Hankel matrix;
    * linear system: plain DMD / exact DMD / TLS DMD / forward-backward DMD without delays,
      TLS and forward-backward DMD with ``L`` delays, PyDMD's DMD, FbDMD, HODMD (``d = L``)
      and BOPDMD (conjugate-pair constraint);
    * both: nonlinear least squares started from forward-backward DMD, as a reference
      (the maximum-likelihood estimate; not a koopkit backend).

    All fix the rank at ``r``.
    """
    import pydmd
    from pydmd.preprocessing.hankel import hankel_preprocessing

    from koopkit.backends.dmd import DMD, ExactDMD
    from koopkit.backends.pydmd import PyDMDBackend

    r = 2 * case.n_pairs
    big = hankel_rows(case)

    def pydmd_fit(make: Callable[[], Any], hankel: int = 0) -> Callable[..., Any]:
        def fit(data: np.ndarray, c: Case) -> tuple[np.ndarray, np.ndarray]:
            est = make()
            if hankel:  # the adapter on the Hankel matrix: rows are states, features delays
                h = _hankel(data, hankel)
                return _spectrum_fg(PyDMDBackend(est).fit(h, dt=c.dt).spectrum_)
            return _spectrum_fg(PyDMDBackend(est).fit(data, dt=c.dt).spectrum_)

        return fit

    def bop() -> Any:
        return pydmd.BOPDMD(svd_rank=r, eig_constraints={"conjugate_pairs"})

    def reference(data: np.ndarray, c: Case) -> tuple[np.ndarray, np.ndarray]:
        f0, g0 = _koopkit(lambda cc: DMD(rank=r, delays=big, forward_backward=True))(data, c)
        f0, g0 = match_modes(f0, g0, c.true_frequencies, c.true_growth_rates, c.dt, best=True)
        return nls_fit(data, c.dt, f0, g0)

    if isinstance(case, DampedSinusoid):
        return [
            Method("DMD d=2", _koopkit(lambda c: DMD(rank=r, delays=2)), note="delays=2"),
            Method("DMD", _koopkit(lambda c: DMD(rank=r, delays=big)), note=f"delays={big}"),
            Method(
                "exact DMD", _koopkit(lambda c: ExactDMD(rank=r, delays=big)), note=f"delays={big}"
            ),
            Method(
                "TLS DMD",
                _koopkit(lambda c: DMD(rank=r, delays=big, tlsq_rank=r)),
                note=f"delays={big}, tlsq_rank={r}",
            ),
            Method(
                "FB DMD",
                _koopkit(lambda c: DMD(rank=r, delays=big, forward_backward=True)),
                note=f"delays={big}, forward_backward",
            ),
            Method(
                "pydmd HODMD",
                pydmd_fit(lambda: pydmd.HODMD(svd_rank=r, d=big)),
                koopkit=False,
                note=f"d={big}",
            ),
            Method(
                "pydmd FbDMD",
                pydmd_fit(lambda: hankel_preprocessing(pydmd.FbDMD(svd_rank=r), d=big)),
                koopkit=False,
                note=f"hankel_preprocessing d={big}",
            ),
            Method(
                "pydmd BOPDMD",
                pydmd_fit(bop, hankel=big),
                koopkit=False,
                note=f"on the {big}-row Hankel matrix",
            ),
            Method("NLS (MLE)", reference, koopkit=False, note="reference, from FB DMD"),
        ]
    return [
        Method("DMD", _koopkit(lambda c: DMD(rank=r)), note="delays=1"),
        Method("exact DMD", _koopkit(lambda c: ExactDMD(rank=r)), note="delays=1"),
        Method("TLS DMD", _koopkit(lambda c: DMD(rank=r, tlsq_rank=r)), note=f"tlsq_rank={r}"),
        Method("FB DMD", _koopkit(lambda c: DMD(rank=r, forward_backward=True)), note="FB"),
        Method(
            "TLS DMD delays",
            _koopkit(lambda c: DMD(rank=r, delays=big, tlsq_rank=r)),
            note=f"delays={big}, tlsq_rank={r}",
        ),
        Method(
            "FB DMD delays",
            _koopkit(lambda c: DMD(rank=r, delays=big, forward_backward=True)),
            note=f"delays={big}, forward_backward",
        ),
        Method("pydmd DMD", pydmd_fit(lambda: pydmd.DMD(svd_rank=r)), koopkit=False),
        Method("pydmd FbDMD", pydmd_fit(lambda: pydmd.FbDMD(svd_rank=r)), koopkit=False),
        Method(
            "pydmd HODMD",
            pydmd_fit(lambda: pydmd.HODMD(svd_rank=r, d=big)),
            koopkit=False,
            note=f"d={big}",
        ),
        Method("pydmd BOPDMD", pydmd_fit(bop), koopkit=False, note="conjugate pairs"),
        Method("NLS (MLE)", reference, koopkit=False, note="reference, from FB DMD delays"),
    ]

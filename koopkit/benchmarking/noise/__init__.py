"""Frequency and growth-rate estimation in white noise, against the Cramér-Rao bound.

Two signals with a known spectrum are observed in additive white Gaussian noise at a
prescribed signal-to-noise ratio, ``SNR = 10 log10(mean(x^2) / sigma^2)`` dB, many times
over; every estimator's frequency and growth rate are compared with the truth (bias and
RMSE) and with the Cramér-Rao lower bound (CRB) on the standard deviation of any unbiased
estimator. ``benchmarks/noise_study.py`` runs it; ``docs/benchmarks/noise.md`` gives the
signals, the bound, its assumptions and the results.

* :mod:`~koopkit.benchmarking.noise.bound` -- Fisher information and the bound;
* :mod:`~koopkit.benchmarking.noise.signals` -- the signals and their exact parameters;
* :mod:`~koopkit.benchmarking.noise.methods` -- the estimators compared;
* :mod:`~koopkit.benchmarking.noise.study` -- the runs and their summary;
* :mod:`~koopkit.benchmarking.noise.report` -- markdown tables and the figure.

Mode matching is :func:`koopkit.evaluation.match_modes`, importable from here too.
"""

from __future__ import annotations

from koopkit.benchmarking.noise.bound import (
    complex_exponential,
    cramer_rao_bound,
    fisher_information,
    noise_sigma,
    numerical_jacobian,
)
from koopkit.benchmarking.noise.methods import Method, default_methods, hankel_rows, nls_fit
from koopkit.benchmarking.noise.report import headline, markdown, plot
from koopkit.benchmarking.noise.signals import Case, DampedSinusoid, LinearModes
from koopkit.benchmarking.noise.study import run_noise_study, summarise
from koopkit.evaluation import match_modes

__all__ = [
    "Case",
    "DampedSinusoid",
    "LinearModes",
    "Method",
    "complex_exponential",
    "cramer_rao_bound",
    "default_methods",
    "fisher_information",
    "hankel_rows",
    "headline",
    "markdown",
    "match_modes",
    "nls_fit",
    "noise_sigma",
    "numerical_jacobian",
    "plot",
    "run_noise_study",
    "summarise",
]

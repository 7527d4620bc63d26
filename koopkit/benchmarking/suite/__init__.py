"""The benchmark suite: every method on every case with a known truth, scored and timed.

``koopkit benchmark`` and ``benchmarks/run_all.py`` call :func:`run`. One job per module:

* :mod:`~koopkit.benchmarking.suite.cases` -- the data sets and their truth;
* :mod:`~koopkit.benchmarking.suite.methods` -- koopkit's estimators, PyDMD's and
  deeptime's, the persistence baseline, and the method families;
* :mod:`~koopkit.benchmarking.suite.scoring` -- eigenvalue, frequency and residual scores;
* :mod:`~koopkit.benchmarking.suite.timing` -- best-of-n fit times, koopkit against the
  fastest peer of each family;
* :mod:`~koopkit.benchmarking.suite.runner` -- fit, score and time every pair; write;
* :mod:`~koopkit.benchmarking.suite.report` and :mod:`~koopkit.benchmarking.suite.plots`
  -- ``results.csv``, ``results.md`` and the figures.

Every name of these modules that was importable from ``koopkit.benchmarking.suite``
before the split still is (``__all__``).
"""

from __future__ import annotations

from koopkit.benchmarking.suite.cases import CASES, BenchCase, build_cases
from koopkit.benchmarking.suite.methods import (
    EDMD_REGULARIZATION,
    FAMILIES,
    FOURIER_FEATURES,
    QUICK_MAX_FUNCTIONS,
    RBF_CENTERS,
    BenchMethod,
    Persistence,
    build_methods,
    dmd_peers,
    edmd_methods,
)
from koopkit.benchmarking.suite.plots import plot_horizons, plot_timing
from koopkit.benchmarking.suite.report import COLUMNS, headline, markdown, peer_table, write
from koopkit.benchmarking.suite.runner import run, run_suite
from koopkit.benchmarking.suite.scoring import (
    KNOWN_TOL,
    eigen_errors,
    known_eigenvalues,
    residual_summary,
)
from koopkit.benchmarking.suite.timing import (
    MAX_REPEATS,
    MAX_SHORT_REPEATS,
    REPEAT_BUDGET_S,
    SHORT_BUDGET_S,
    time_fits,
    versus_peers,
)

__all__ = [
    "BenchCase",
    "BenchMethod",
    "CASES",
    "COLUMNS",
    "EDMD_REGULARIZATION",
    "FAMILIES",
    "FOURIER_FEATURES",
    "KNOWN_TOL",
    "MAX_REPEATS",
    "MAX_SHORT_REPEATS",
    "Persistence",
    "QUICK_MAX_FUNCTIONS",
    "RBF_CENTERS",
    "REPEAT_BUDGET_S",
    "SHORT_BUDGET_S",
    "build_cases",
    "build_methods",
    "dmd_peers",
    "edmd_methods",
    "eigen_errors",
    "headline",
    "known_eigenvalues",
    "markdown",
    "peer_table",
    "plot_horizons",
    "plot_timing",
    "residual_summary",
    "run",
    "run_suite",
    "time_fits",
    "versus_peers",
    "write",
]

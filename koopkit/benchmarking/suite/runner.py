"""Run the suite: fit and score every method on every case, time the fits, write results.

Per (case, method) one fit on the training span gives the scores
(:mod:`~koopkit.benchmarking.suite.scoring`) and the forecast error against the horizon,
``e_k = ||x_hat_k - x_k|| / rms_j ||x_j||`` over the held-out frames (``k = 1 ..``),
reported at 1 step, a quarter of the horizon, the end, and averaged. Then the fits of a
case are timed together (:mod:`~koopkit.benchmarking.suite.timing`), BLAS on one thread
(``threadpoolctl``). ``peak_mib`` is the peak of Python-visible allocations during a
second, identical fit (``tracemalloc``: NumPy arrays included; BLAS work buffers and torch
tensors are not seen).
"""

from __future__ import annotations

import math
import time
import tracemalloc
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from koopkit.benchmarking.suite.cases import BenchCase, build_cases
from koopkit.benchmarking.suite.methods import BenchMethod, build_methods
from koopkit.benchmarking.suite.report import write
from koopkit.benchmarking.suite.scoring import eigen_errors, residual_summary
from koopkit.benchmarking.suite.timing import time_fits
from koopkit.evaluation import relative_errors

__all__ = [
    "run",
    "run_suite",
]


def _measure(case: BenchCase, method: BenchMethod, memory: bool) -> dict[str, Any]:
    """Fit on the training span, score; a failure becomes a row with its message."""
    data = case.data
    n_time = data.sizes["time"]
    n_train = int(round(case.train_fraction * n_time))
    train = data.isel(time=slice(0, n_train))
    test = data.isel(time=slice(n_train, None))
    row: dict[str, Any] = {
        "case": case.name,
        "method": method.name,
        "package": method.package,
        "family": method.family,
        "rank": case.rank,
        "delays": case.delays,
        "n_train": n_train,
        "n_test": n_time - n_train,
    }
    try:
        model = method.make(case)
        t0 = time.perf_counter()
        model.fit(train)
        row["fit_s"] = time.perf_counter() - t0
        spectrum = model.spectrum_
        if spectrum is None:  # a baseline without a spectrum
            row["eig_error"] = row["freq_error"] = math.nan
            row["res_true"] = row["res_spurious"] = math.nan
        else:
            row["eig_error"], row["freq_error"], matched = eigen_errors(case, spectrum)
            row["res_true"], row["res_spurious"] = residual_summary(case, spectrum, matched)
        err = relative_errors(model.predict(steps=test.sizes["time"]), test)
        row["horizon"] = err
        row["fc_1"] = float(err[0])
        row["fc_quarter"] = float(err[max(0, len(err) // 4 - 1)])
        row["fc_end"] = float(err[-1])
        row["fc_mean"] = float(np.mean(err))
        if memory:
            del model
            tracemalloc.start()
            try:
                method.make(case).fit(train)
                row["peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
            finally:
                tracemalloc.stop()
        row["error"] = ""
    except Exception as exc:  # noqa: BLE001 -- a failed method is a result, not a crash
        row["error"] = " ".join(f"{type(exc).__name__}: {exc}".split())[:160]
    return row


def run_suite(
    cases: Sequence[BenchCase],
    methods: Sequence[BenchMethod],
    memory: bool = True,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Every available method on every available case; one row per pair.

    Each method is fitted and scored (:func:`_measure`), then the fits of a case are
    timed together (:func:`time_fits`), BLAS on one thread. Unavailable cases and
    methods give one row each with ``error`` saying why.
    """
    from threadpoolctl import threadpool_limits

    rows: list[dict[str, Any]] = []
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for case in cases:
            if case.unavailable:
                why = f"not available: {case.unavailable}"
                rows.append({"case": case.name, "method": "—", "error": why})
                continue
            measured = []
            for method in methods:
                reason = method.skip(case) if not method.unavailable else ""
                if method.unavailable or reason:
                    rows.append(
                        {
                            "case": case.name,
                            "method": method.name,
                            "package": method.package,
                            "family": method.family,
                            "error": reason or f"not available: {method.unavailable}",
                        }
                    )
                    continue
                row = _measure(case, method, memory and method.memory)
                rows.append(row)
                if not row["error"]:
                    measured.append((method, row))
                elif progress is not None:
                    progress(f"{case.name:>9} {method.name:<20} {row['error']}")
            time_fits(case, measured)
            if progress is not None:
                for _, row in measured:
                    what = (
                        f"fit {row['fit_s']:.3g} s (best of {row['fit_repeats']}), "
                        f"forecast error {row['fc_mean']:.3g}"
                        if not row["error"]
                        else row["error"]
                    )
                    progress(f"{case.name:>9} {row['method']:<20} {what}")
    return rows


def _load() -> float:
    import os

    return os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan


def run(
    out: Path,
    quick: bool = False,
    case_names: Sequence[str] | None = None,
    method_names: Sequence[str] | None = None,
    memory: bool = True,
    progress: Callable[[str], None] | None = print,
) -> tuple[list[dict[str, Any]], list[Path]]:
    """Build the cases, run the suite and write the results; the one entry point.

    Used by ``koopkit benchmark`` and ``benchmarks/run_all.py``.
    """
    import os
    import platform

    started = time.perf_counter()
    load = _load()
    methods = build_methods(quick)
    if method_names:
        unknown = set(method_names) - {m.name for m in methods}
        if unknown:
            from koopkit._errors import KoopkitError

            raise KoopkitError(
                f"unknown method(s) {sorted(unknown)}; choose from "
                + ", ".join(m.name for m in methods)
            )
        methods = [m for m in methods if m.name in method_names]
    cases = build_cases(quick, case_names, progress)
    rows = run_suite(cases, methods, memory=memory, progress=progress)
    elapsed = time.perf_counter() - started
    shown = os.path.relpath(out)
    shown = str(out) if shown.startswith("..") else shown
    header = (
        "# koopkit benchmark results\n\n"
        f"Generated by `koopkit benchmark{' --quick' if quick else ''} -o {shown}` "
        f"(equivalently `python benchmarks/run_all.py{' --quick' if quick else ''}`) in "
        f"{elapsed:.0f} s on {platform.machine()} / Python {platform.python_version()}, "
        f"numpy {np.__version__}, {os.cpu_count()} CPUs; load average (1 min) "
        f"{load:.2f} at the start, {_load():.2f} at the end (this run adds about 1)."
    )
    paths = write(rows, cases, out, header)
    return rows, paths

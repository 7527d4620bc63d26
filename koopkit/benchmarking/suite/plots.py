"""The suite's figures: forecast error against the horizon, and fit times."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from koopkit.benchmarking.suite.cases import BenchCase
from koopkit.benchmarking.suite.timing import versus_peers

__all__ = [
    "plot_horizons",
    "plot_timing",
]


def plot_horizons(rows: Sequence[dict[str, Any]], cases: Sequence[BenchCase]) -> Any:
    """Forecast error against the horizon, one panel per available case."""
    from matplotlib.figure import Figure

    shown = [c for c in cases if not c.unavailable]
    ncols = min(2, max(1, len(shown)))
    nrows = math.ceil(len(shown) / ncols) or 1
    fig = Figure(figsize=(6.5 * ncols, 4.2 * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    for ax, case in zip(axes, shown, strict=False):
        for k, r in enumerate(x for x in rows if x["case"] == case.name and "horizon" in x):
            e = np.asarray(r["horizon"], dtype=float)
            steps = np.arange(1, e.size + 1) * float(case.data.attrs.get("dt", 0) or _dt(case))
            baseline = r["package"] == "baseline"
            ax.plot(
                steps,
                np.clip(e, 1e-12, 1e6),
                ls="-" if r["package"] == "koopkit" else ("--" if baseline else ":"),
                color="k" if baseline else _colour(k),
                lw=1.3,
                label=r["method"],
            )
        ax.set_yscale("log")
        ax.set_title(f"{case.name}: forecast error vs horizon", fontsize=10)
        units = case.data.time.attrs.get("units", "time units")
        ax.set_xlabel(f"horizon ({units})")
        ax.set_ylabel("||x_hat - x|| / rms ||x||")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, ncol=2)
    for ax in axes[len(shown) :]:
        ax.set_visible(False)
    return fig


def _colour(k: int) -> Any:
    """The ``k``-th of 20 distinct colours (there are more methods than the default 10)."""
    from matplotlib import colormaps

    return colormaps["tab20"](k % 20)


def _dt(case: BenchCase) -> float:
    t = np.asarray(case.data.time.values, dtype=float)
    return float(t[1] - t[0])


def plot_timing(rows: Sequence[dict[str, Any]]) -> Any:
    """Fit time per method and case (log scale); below, koopkit's fit time over the fastest
    peer's of the same family (:func:`versus_peers`; below 1: koopkit faster)."""
    from matplotlib.figure import Figure

    ok = [r for r in rows if r.get("fit_s") is not None and not r.get("error")]
    cases = list(dict.fromkeys(r["case"] for r in ok))
    methods = list(dict.fromkeys(r["method"] for r in ok))
    entries = [e for e in versus_peers(rows) if e["holds"] is not None]
    fig = Figure(figsize=(11, 8.0 if entries else 4.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(2 if entries else 1, 1))
    ax = axes[0]
    width = 0.8 / max(1, len(methods))
    for k, m in enumerate(methods):
        vals = [
            next((r["fit_s"] for r in ok if r["case"] == c and r["method"] == m), np.nan)
            for c in cases
        ]
        ax.bar(np.arange(len(cases)) + k * width, vals, width, label=m, color=_colour(k))
    ax.set_xticks(np.arange(len(cases)) + 0.4 - width / 2, cases)
    ax.set_yscale("log")
    ax.set_ylabel("fit time (s)")
    ax.legend(fontsize=7, ncol=5)
    ax.grid(alpha=0.3, axis="y", which="both")
    if entries:
        ax = axes[1]
        names = list(dict.fromkeys(e["method"] for e in entries))
        shown = list(dict.fromkeys(e["case"] for e in entries))
        width = 0.8 / len(names)
        for k, m in enumerate(names):
            vals = [
                next((e["ratio"] for e in entries if e["case"] == c and e["method"] == m), np.nan)
                for c in shown
            ]
            ax.bar(np.arange(len(shown)) + k * width, vals, width, label=m, color=_colour(k))
        ax.axhline(1.0, color="k", lw=1)
        ax.set_xticks(np.arange(len(shown)) + 0.4 - width / 2, shown)
        ax.set_yscale("log")
        ax.set_ylabel("koopkit / fastest peer of the family")
        ax.set_title("fit time against the fastest peer (below 1: koopkit faster)", fontsize=10)
        ax.legend(fontsize=7, ncol=4, loc="upper right")
        ax.grid(alpha=0.3, axis="y", which="both")
    return fig

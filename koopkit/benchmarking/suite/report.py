"""The suite's results as ``results.csv`` and ``results.md``: tables per case, the
headline, and koopkit's fit time against the fastest peer of each method family."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from koopkit.benchmarking.suite.cases import BenchCase
from koopkit.benchmarking.suite.methods import FAMILIES
from koopkit.benchmarking.suite.plots import plot_horizons, plot_timing
from koopkit.benchmarking.suite.scoring import KNOWN_TOL
from koopkit.benchmarking.suite.timing import (
    BURST,
    MAX_REPEATS,
    MAX_SHORT_REPEATS,
    REPEAT_BUDGET_S,
    SHORT_BUDGET_S,
    versus_peers,
)

__all__ = [
    "COLUMNS",
    "headline",
    "markdown",
    "peer_table",
    "write",
]


COLUMNS = (
    "case",
    "method",
    "package",
    "family",
    "rank",
    "delays",
    "n_train",
    "n_test",
    "eig_error",
    "freq_error",
    "res_true",
    "res_spurious",
    "fc_1",
    "fc_quarter",
    "fc_end",
    "fc_mean",
    "fit_s",
    "fit_repeats",
    "peak_mib",
    "error",
)


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None or v == "":
        return "—"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "—" if math.isnan(v) else "inf"
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e4):
            return f"{v:.{digits - 1}e}"
        return f"{v:.{digits}g}"
    return str(v)


def markdown(rows: Sequence[dict[str, Any]], cases: Sequence[BenchCase], header: str) -> str:
    """``results.md``: one table per case plus the headline numbers."""
    lines = [header, "", *headline(rows, cases), "", *peer_table(rows), ""]
    for case in cases:
        mine = [r for r in rows if r["case"] == case.name]
        lines.append(f"## {case.name}")
        lines.append("")
        if case.unavailable:
            lines += [f"Not available: {case.unavailable}.", ""]
            continue
        truth = []
        if case.eigenvalues is not None:
            truth.append(f"{case.eigenvalues.size} known eigenvalues")
        if case.frequencies:
            truth.append("frequencies " + ", ".join(f"{f:.5g}" for f in case.frequencies))
        lines += [
            f"{case.description}. Rank {case.rank}, delays {case.delays} (methods marked "
            f"*delays*, and HODMD's d); truth: {'; '.join(truth) or 'none'}; fitted "
            f"{mine[0].get('n_train', '?')} steps, forecast {mine[0].get('n_test', '?')}. "
            f"Data built in {case.build_seconds:.1f} s.",
            "",
            "| method | eigenvalue error | frequency error (rel.) | residual true (max) "
            "| residual spurious (min) | forecast error 1 step "
            "| 1/4 horizon | end | mean | fit time (s) | peak MiB | note |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in mine:
            name = r["method"] if r.get("package", "koopkit") == "koopkit" else f"*{r['method']}*"
            lines.append(
                f"| {name} | {_fmt(r.get('eig_error'))} | {_fmt(r.get('freq_error'))} | "
                f"{_fmt(r.get('res_true'))} | {_fmt(r.get('res_spurious'))} | "
                f"{_fmt(r.get('fc_1'))} | {_fmt(r.get('fc_quarter'))} | {_fmt(r.get('fc_end'))} | "
                f"{_fmt(r.get('fc_mean'))} | {_fmt(r.get('fit_s'))} | "
                f"{_fmt(r.get('peak_mib'))} | {r.get('error', '')} |"
            )
        lines.append("")
    lines += [
        "Errors: *eigenvalue error* is the largest distance between a true eigenvalue and "
        "its estimate (periodic cases: `exp(2 pi i f dt)` for each true frequency `f`); "
        "*frequency error* the largest relative error of the leading frequencies. Residuals "
        "(ResDMD's `||K g - lam g|| / ||g||` on the fitted pairs, for the spectra that have "
        "them): *true* is the largest among the modes scored against the truth, *spurious* "
        f"the smallest among the modes farther than {KNOWN_TOL} from every known Koopman "
        "eigenvalue of the case (1, the truth and its products, or harmonics and "
        "combinations of the true frequencies); true < spurious means the residual tells "
        "them apart. Forecast "
        "errors are `||x_hat_k - x_k|| / rms ||x||` over the held-out frames. Fit time: the "
        f"best of up to {MAX_REPEATS} fits (as many as fit in about {REPEAT_BUDGET_S:g} s; "
        f"short fits up to {MAX_SHORT_REPEATS} within {SHORT_BUDGET_S:g} s, in bursts of "
        f"{BURST} back-to-back fits), "
        "the repeats of all methods of a case taken in turn, BLAS on one thread; koopkit's "
        "is `fit` on the DataArray (validation, spectrum and residuals included), a peer's "
        "the library's own fit on arrays (PyDMD's `fit(X)`, deeptime's `fit((X, Y))`, "
        "without the translation into a koopkit spectrum). Peak MiB: `tracemalloc` peak "
        "of another fit (NumPy allocations; not BLAS buffers or torch tensors). Methods in "
        "*italics* are peers: PyDMD's, scored through `koopkit.backends.PyDMDBackend`, and "
        "deeptime's, through `koopkit.benchmarking.peers.DeeptimeDMD` and `DeeptimeEDMD`; "
        "*copy last frame* is the persistence baseline.",
        "",
    ]
    return "\n".join(lines)


def _ratio(v: float) -> str:
    """Three significant digits, trailing zeros kept (1.00 is not 1)."""
    return format(v, "#.3g") if math.isfinite(v) else "—"


def peer_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Markdown lines: the :func:`versus_peers` table, a summary line, the families."""
    entries = versus_peers(rows)
    lines = [
        "## Fit time against the fastest peer of the same family",
        "",
        "| case | family | koopkit method | fit (s) | fastest peer | its fit (s) "
        "| koopkit / peer | koopkit at most the peer | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for e in entries:
        holds = {True: "yes", False: "**no**", None: "—"}[e["holds"]]
        peer = f"*{e['peer']}*" if e["peer"] else "—"
        lines.append(
            f"| {e['case']} | {e['family']} | {e['method'] or '—'} | {_fmt(e['fit_s'])} | "
            f"{peer} | {_fmt(e['peer_fit_s'])} | {_ratio(e['ratio'])} | {holds} | "
            f"{e['note']} |"
        )
    compared = [e for e in entries if e["holds"] is not None]
    slower = [e for e in compared if not e["holds"]]
    summary = (
        f"koopkit's fit time is at most the fastest peer's in "
        f"{len(compared) - len(slower)} of {len(compared)} comparisons"
    )
    if slower:
        summary += "; slower in " + ", ".join(
            f"{e['case']} {e['method']} ({_ratio(e['ratio'])} x {e['peer']})" for e in slower
        )
    lines += ["", summary + ".", "", "Families (the peers compared with each koopkit method):", ""]
    lines += [f"* **{name}** -- {what}" for name, what in FAMILIES.items()]
    return lines


def headline(rows: Sequence[dict[str, Any]], cases: Sequence[BenchCase]) -> list[str]:
    """Markdown lines: per case, the most accurate koopkit, PyDMD and deeptime methods.

    "Most accurate": smallest frequency error (eigenvalue error for cases without
    frequencies), ties broken by the mean forecast error.
    """

    def key(r: dict[str, Any]) -> tuple[float, float]:
        err = r.get("freq_error")
        if err is None or not math.isfinite(err):
            err = r.get("eig_error", math.inf)
        return (err if math.isfinite(err) else math.inf, r.get("fc_mean", math.inf))

    lines = [
        "## Headline",
        "",
        "| case | best koopkit method | frequency error | mean forecast error | fit (s) "
        "| best PyDMD method | frequency error | mean forecast error | fit (s) "
        "| best deeptime method | frequency error | mean forecast error | fit (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case in cases:
        ok = [r for r in rows if r["case"] == case.name and not r.get("error")]
        if not ok:
            continue
        cells = [case.name]
        for package in ("koopkit", "pydmd", "deeptime"):
            mine = [r for r in ok if r.get("package") == package]
            if not mine:
                cells += ["—"] * 4
                continue
            b = min(mine, key=key)
            cells += [b["method"], _fmt(b["freq_error"]), _fmt(b["fc_mean"]), _fmt(b["fit_s"])]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def write(
    rows: Sequence[dict[str, Any]],
    cases: Sequence[BenchCase],
    out: Path,
    header: str,
) -> list[Path]:
    """Write ``results.csv``, ``results.md``, ``results_horizon.png``, ``results_fit_time.png``."""
    from koopkit.plotting import save_figure

    out.mkdir(parents=True, exist_ok=True)
    paths = [out / n for n in ("results.csv", "results.md")]
    with open(paths[0], "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(COLUMNS), extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: r.get(k, "") for k in COLUMNS})
    paths[1].write_text(markdown(rows, cases, header))
    if any("horizon" in r for r in rows):
        paths.append(out / "results_horizon.png")
        save_figure(plot_horizons(rows, cases), paths[-1], dpi=90)
        paths.append(out / "results_fit_time.png")
        save_figure(plot_timing(rows), paths[-1], dpi=90)
    return paths

"""How the suite times fits (best of a few, the repeats of a case's methods interleaved),
and compares koopkit's fit time with the fastest peer of each method family.

After every method of a case has been fitted and scored, each is fitted again up to
:data:`MAX_REPEATS` times, as many as fit in about :data:`REPEAT_BUDGET_S` seconds (5
below 0.4 s, 1 above 1 s; fits under 5 ms up to :data:`MAX_SHORT_REPEATS` times within
:data:`SHORT_BUDGET_S`, in bursts of :data:`BURST` back-to-back fits per round), the
rounds going through all methods in turn so that a burst of load on the machine hits all
of them, and the shortest is kept. The garbage collector is
paused during each fit, and the estimator and its input are built before the clock
starts. What is timed: koopkit's ``fit`` on the training DataArray (validation, spectrum,
modes, amplitudes and residuals included); a peer's library call alone on arrays --
PyDMD's ``est.fit(X)`` with ``X`` the ``(features, snapshots)`` matrix the adapter would
give it, deeptime's ``est.fit((X, Y))`` (for the RBF and kernel rows, with the fitting of
the dictionary's centres and width, which koopkit's EDMD also does in its fit) -- not the
translation of their results into a koopkit spectrum.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Sequence
from typing import Any

from koopkit.benchmarking.suite.cases import BenchCase
from koopkit.benchmarking.suite.methods import FAMILIES, BenchMethod

__all__ = [
    "MAX_REPEATS",
    "BURST",
    "MAX_SHORT_REPEATS",
    "REPEAT_BUDGET_S",
    "SHORT_BUDGET_S",
    "SHORT_FIT_S",
    "WARM_PLAN_S",
    "time_fits",
    "versus_peers",
]


#: Fits are repeated (best kept) until about this many seconds of fitting, ...
REPEAT_BUDGET_S = 2.0


#: ... and at most this many times, ...
MAX_REPEATS = 5

#: ... except short fits: up to :data:`MAX_SHORT_REPEATS` within :data:`SHORT_BUDGET_S`
#: (a millisecond fit is timed 50 times: its best of 5 moves by several percent with the
#: machine's noise, its best of 50 by about one).
MAX_SHORT_REPEATS = 50
SHORT_BUDGET_S = 0.25


#: Fits shorter than this are timed in bursts of :data:`BURST` back-to-back fits per round:
#: a millisecond fit timed once per round runs in the cache state the method before it in
#: the table left (koopkit's linear DMD took 1.10 ms after the EDMD rows and 0.79 ms warm;
#: deeptime's 1.05 and 0.86 ms), so its time would depend on its place in the table.
SHORT_FIT_S = 0.005
BURST = 5

#: Fits shorter than this are timed once more before the repeats are planned.
WARM_PLAN_S = 1.0


def _repeats(first_s: float) -> int:
    """How many timed fits a method gets whose first fit took ``first_s`` seconds.

    Examples
    --------
    >>> [_repeats(t) for t in (0.001, 0.02, 0.5, 0.9, 1.5, 30.0)]
    [50, 12, 4, 2, 1, 1]
    """
    if not math.isfinite(first_s) or first_s <= 0:
        return MAX_REPEATS
    usual = min(MAX_REPEATS, max(1, REPEAT_BUDGET_S // first_s))
    short = min(MAX_SHORT_REPEATS, SHORT_BUDGET_S // first_s)
    return int(max(usual, short))


def _timed_call(case: BenchCase, method: BenchMethod, train: Any) -> float:
    """Seconds of one fit: the library's own fit for a peer, else ``make(case).fit``.

    The estimator and its arrays are built before the clock starts; the garbage
    collector is paused during the fit (as ``timeit`` does).
    """
    if method.library is not None:
        call = method.library(case, train)
    else:
        model = method.make(case)

        def call() -> Any:
            return model.fit(train)

    gc.disable()
    try:
        t0 = time.perf_counter()
        call()
        return time.perf_counter() - t0
    finally:
        gc.enable()


def time_fits(case: BenchCase, measured: Sequence[tuple[BenchMethod, dict[str, Any]]]) -> None:
    """Best-of-n fit times of every measured method on a case, repeats interleaved.

    Each method gets :func:`_repeats` of its scoring fit's time timed fits (up to
    :data:`MAX_REPEATS` within about :data:`REPEAT_BUDGET_S`); the rounds go through the
    methods in turn (round 1: every method once, round 2: ...), so that a burst of load
    on the machine hits all of them rather than one. ``row["fit_s"]`` becomes the
    smallest, ``row["fit_repeats"]`` the number of timed fits. A koopkit method with one
    repeat keeps its scoring fit's time (the autoencoder); a peer is always timed
    through its ``library`` call. A fit that fails here records its error.
    """
    if not measured:
        return
    n_train = int(round(case.train_fraction * case.data.sizes["time"]))
    train = case.data.isel(time=slice(0, n_train))
    plan = []
    gc.collect()  # once per case: the timed fits then start from a clean heap
    for method, row in measured:
        first, times = row["fit_s"], []
        if first < WARM_PLAN_S and not row["error"]:
            # planned on a second fit: the scoring fit may carry one-time costs (the
            # first fit of a run: imports, first calls) that would misclassify it as long
            try:
                times.append(_timed_call(case, method, train))
                first = min(first, times[-1])
            except Exception as exc:  # noqa: BLE001 -- reported in the row
                row["error"] = " ".join(f"timing: {type(exc).__name__}: {exc}".split())[:160]
        n = _repeats(first)
        if n == 1 and method.library is None and not times:
            row["fit_repeats"] = 1
            continue
        burst = min(n, BURST) if first < SHORT_FIT_S else 1
        plan.append((method, row, max(n - len(times), 0), burst, times))
    rounds = max((-(-n // burst) for _, _, n, burst, _ in plan), default=0)
    for k in range(rounds):
        for method, row, n, burst, times in plan:
            for _ in range(min(burst, n - k * burst)):
                if row["error"]:
                    break
                try:
                    times.append(_timed_call(case, method, train))
                except Exception as exc:  # noqa: BLE001 -- reported in the row
                    row["error"] = " ".join(f"timing: {type(exc).__name__}: {exc}".split())[:160]
    for _, row, _, _, times in plan:
        if times:
            row["fit_s"] = min(times)
            row["fit_repeats"] = len(times)


def versus_peers(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per case and method family: koopkit's fit time beside the fastest peer's.

    One entry per koopkit method with a family, in :data:`FAMILIES` order, with ``case``,
    ``family``, ``method``, ``fit_s``, ``peer`` (the name of the fastest peer of the
    family on that case that ran without error; "" when none did), ``peer_fit_s``,
    ``ratio`` (koopkit / peer), ``holds`` (koopkit's time at most the peer's; None when
    there is nothing to compare) and ``note``; and one entry (``method`` "") per family
    that has peers but no koopkit method. Families of which no method ran on a case are
    left out.

    Examples
    --------
    >>> rows = [
    ...     {"case": "c", "method": "DMD", "package": "koopkit", "family": "DMD", "fit_s": 0.2},
    ...     {"case": "c", "method": "p", "package": "pydmd", "family": "DMD", "fit_s": 0.4},
    ...     {"case": "c", "method": "q", "package": "deeptime", "family": "DMD", "fit_s": 0.1},
    ... ]
    >>> (e,) = versus_peers(rows)
    >>> e["peer"], e["ratio"], e["holds"]
    ('q', 2.0, False)
    """

    def timed(r: dict[str, Any]) -> bool:
        t = r.get("fit_s")
        return not r.get("error") and isinstance(t, (int, float)) and math.isfinite(t)

    out: list[dict[str, Any]] = []
    for case in dict.fromkeys(r["case"] for r in rows):
        here = [r for r in rows if r["case"] == case and r.get("family")]
        present = dict.fromkeys(r["family"] for r in here)
        for family in [f for f in FAMILIES if f in present] + [
            f for f in present if f not in FAMILIES
        ]:
            members = [r for r in here if r["family"] == family]
            if not any(timed(r) for r in members):
                continue  # nothing of this family ran on this case (e.g. EDMD on images)
            peers = [r for r in members if r.get("package") not in ("koopkit", "baseline")]
            ran = [r for r in peers if timed(r)]
            best = min(ran, key=lambda r: r["fit_s"]) if ran else None
            ours = [r for r in members if r.get("package", "koopkit") == "koopkit"]
            if not ours:
                out.append(
                    {
                        "case": case,
                        "family": family,
                        "method": "",
                        "fit_s": math.nan,
                        "peer": best["method"] if best else "",
                        "peer_fit_s": best["fit_s"] if best else math.nan,
                        "ratio": math.nan,
                        "holds": None,
                        "note": "no koopkit method in this family",
                    }
                )
                continue
            for r in ours:
                entry = {
                    "case": case,
                    "family": family,
                    "method": r["method"],
                    "fit_s": r["fit_s"] if timed(r) else math.nan,
                    "peer": best["method"] if best else "",
                    "peer_fit_s": best["fit_s"] if best else math.nan,
                    "ratio": math.nan,
                    "holds": None,
                    "note": "",
                }
                if not timed(r):
                    entry["note"] = r.get("error") or "not timed"
                elif best is None:
                    entry["note"] = (
                        "no peer ran: " + "; ".join(f"{p['method']}: {p['error']}" for p in peers)
                        if peers
                        else "no peer in this family"
                    )
                else:
                    entry["ratio"] = entry["fit_s"] / best["fit_s"]
                    entry["holds"] = bool(entry["fit_s"] <= best["fit_s"])
                out.append(entry)
    return out

"""Run the noise study (every method, case, SNR and noise draw) and summarise it as bias,
RMSE and RMSE / CRB."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from koopkit.benchmarking.noise.bound import noise_sigma
from koopkit.benchmarking.noise.methods import Method, default_methods
from koopkit.benchmarking.noise.signals import Case
from koopkit.evaluation import match_modes

__all__ = [
    "run_noise_study",
    "summarise",
]


def run_noise_study(
    cases: Iterable[Case],
    snrs_db: Sequence[float] = tuple(range(40, -1, -5)),
    n_trials: int = 100,
    seed: int = 0,
    methods: Callable[[Case], list[Method]] = default_methods,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Every method on every case at every SNR, ``n_trials`` noise draws each.

    The noise of trial ``i`` at SNR level ``l`` of case ``c`` is drawn from
    ``SeedSequence([seed, c, l, i])`` and is the same for every method (paired
    comparison).

    Returns
    -------
    list of dict
        One row per (case, method, SNR, trial, mode): the estimated and true ``f`` and
        ``g``, whether the fit failed, and the fit time. :func:`summarise` turns them into
        bias/RMSE tables.
    """
    from threadpoolctl import threadpool_limits

    rows: list[dict[str, Any]] = []
    with threadpool_limits(limits=1, user_api="blas"):
        for ci, case in enumerate(cases):
            clean = case.clean()
            tf, tg = case.true_frequencies, case.true_growth_rates
            case_methods = methods(case)
            for li, snr in enumerate(snrs_db):
                sigma = noise_sigma(clean, snr)
                crb_f, crb_g = case.crb_std(sigma)
                started = time.perf_counter()
                for trial in range(n_trials):
                    rng = np.random.default_rng(np.random.SeedSequence([seed, ci, li, trial]))
                    noisy = clean + sigma * rng.standard_normal(clean.shape)
                    for m in case_methods:
                        t0 = time.perf_counter()
                        failed = ""
                        try:
                            f, g = m.fit(noisy, case)
                            ef, eg = match_modes(f, g, tf, tg, case.dt)
                        except Exception as exc:  # noqa: BLE001 -- a failed fit is a result
                            failed = f"{type(exc).__name__}: {exc}"[:120]
                            ef, eg = np.full(len(tf), np.nan), np.full(len(tf), np.nan)
                        seconds = time.perf_counter() - t0
                        for j in range(len(tf)):
                            rows.append(
                                {
                                    "case": case.name,
                                    "method": m.name,
                                    "koopkit": m.koopkit,
                                    "settings": m.note,
                                    "snr_db": float(snr),
                                    "sigma": sigma,
                                    "trial": trial,
                                    "mode": j + 1,
                                    "f_true": float(tf[j]),
                                    "g_true": float(tg[j]),
                                    "f_hat": float(ef[j]),
                                    "g_hat": float(eg[j]),
                                    "crb_f": float(crb_f[j]),
                                    "crb_g": float(crb_g[j]),
                                    "failed": failed or ("no mode" if np.isnan(ef[j]) else ""),
                                    "fit_seconds": seconds,
                                }
                            )
                if progress is not None:
                    progress(
                        f"{case.name}: SNR {snr:g} dB, {n_trials} trials x "
                        f"{len(case_methods)} methods in {time.perf_counter() - started:.1f} s"
                    )
    return rows


def summarise(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Bias, RMSE and their ratio to the CRB per (case, mode, method, SNR).

    Failed fits (an exception, or no mode of non-negative frequency) are counted in
    ``n_failed`` and left out of the statistics.
    """
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["case"], r["mode"], r["method"], r["snr_db"]), []).append(r)
    out = []
    for (case, mode, method, snr), rs in groups.items():
        ok = [r for r in rs if not r["failed"]]
        ef = np.array([r["f_hat"] - r["f_true"] for r in ok])
        eg = np.array([r["g_hat"] - r["g_true"] for r in ok])
        first = rs[0]

        def stats(e: np.ndarray) -> tuple[float, float]:
            if e.size == 0:
                return float("nan"), float("nan")
            return float(e.mean()), float(np.sqrt(np.mean(e**2)))

        bf, rf = stats(ef)
        bg, rg = stats(eg)
        out.append(
            {
                "case": case,
                "mode": mode,
                "method": method,
                "koopkit": first["koopkit"],
                "settings": first["settings"],
                "snr_db": snr,
                "n_trials": len(rs),
                "n_failed": len(rs) - len(ok),
                "f_true": first["f_true"],
                "g_true": first["g_true"],
                "bias_f": bf,
                "rmse_f": rf,
                "crb_f": first["crb_f"],
                "rmse_f_over_crb": rf / first["crb_f"],
                "bias_g": bg,
                "rmse_g": rg,
                "crb_g": first["crb_g"],
                "rmse_g_over_crb": rg / first["crb_g"],
                "fit_ms": 1e3 * float(np.median([r["fit_seconds"] for r in rs])),
            }
        )
    return out

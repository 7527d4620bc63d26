"""EDMD fit time and peak memory of koopkit against deeptime, in one process.

Two problems from the issue, on an 8-dimensional linear map ``x' = J x`` (four rotations
with ``|lam|`` = 0.9995 .. 0.997, in a random orthogonal basis; trajectories from Gaussian
initial conditions), whose eigenvalues are known:

* **primal**: 1,000 functions on 10,000 snapshot pairs (10 trajectories of 1,001
  snapshots): ``Identity() + RandomFourier(992)``. The dictionary holds the state, whose
  linear eigenfunctions are closed under the map, so ``J``'s 8 eigenvalues must come out
  to round-off. deeptime's ``EDMD`` gets the very same 1,000 functions (koopkit's
  dictionary, fitted on the same snapshots, as its basis callable): its 1,000 eigenvalues
  are compared with koopkit's after an optimal one-to-one matching.
* **kernel**: 10,000 functions on 2,000 pairs (2 trajectories of 1,001 snapshots):
  koopkit's EDMD with ``RandomFourier(10000)`` takes its kernel form by itself. Beside it,
  deeptime's ``KernelEDMD`` with the Gaussian kernel of the same bandwidth (the kernel the
  random features approximate; different functions, so the eigenvalues agree only to the
  features' sampling error), and deeptime's ``EDMD`` with the same 10,000 explicit
  functions -- too slow to run at that size (an ``N^3`` pseudo-inverse and eigensolver of
  a 10,000 x 10,000 matrix), so it is timed at smaller ``N`` on the same pairs
  (``--explicit-sizes``) and extrapolated by ``N^3``; at the largest of those sizes its
  eigenvalues are compared with koopkit's kernel form on the same functions.

Timing: every fit is repeated ``--repeat`` times, the packages taking turns (so changes in
machine load hit both alike); the best time counts. BLAS runs on ``--threads`` threads for
both (threadpoolctl). koopkit's fit takes the trajectories as a DataArray and does more
than deeptime's: it also measures ResDMD residuals (primal) and regresses the state on the
eigenfunctions for its modes and forecasts.

Memory, per fit: ``tracemalloc`` peak of one extra, untimed fit (every NumPy allocation;
not BLAS/LAPACK work buffers), and the rise of the process's resident set size over what
it held before the fit (``VmHWM`` after resetting it through ``/proc/self/clear_refs``;
the largest over the timed repeats; 0 where the kernel does not support the reset).

Usage::

    python benchmarks/edmd_speed.py                 # the issue's sizes, BLAS on 1 thread
    python benchmarks/edmd_speed.py --quick         # small sizes, a few seconds
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from memory import peak_kib, reset_peak, rss_kib

from koopkit.evaluation import assign

#: ``(|lam|, cycles per step)`` of the four rotations of ``J``.
ROTATIONS = ((0.9995, 0.013), (0.999, 0.037), (0.998, 0.071), (0.997, 0.11))


# ------------------------------------------------------------------------ data
def linear_map(seed: int = 0) -> np.ndarray:
    """``J`` (8 x 8): the rotations of :data:`ROTATIONS` in a random orthogonal basis."""
    rng = np.random.default_rng(seed)
    d = 2 * len(ROTATIONS)
    j = np.zeros((d, d))
    for i, (r, f) in enumerate(ROTATIONS):
        c, s = r * np.cos(2 * np.pi * f), r * np.sin(2 * np.pi * f)
        j[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = [[c, -s], [s, c]]
    q = np.linalg.qr(rng.standard_normal((d, d)))[0]
    return q @ j @ q.T


def trajectories(j: np.ndarray, n_traj: int, length: int, seed: int = 1) -> np.ndarray:
    """``(n_traj, length, d)`` trajectories of ``x' = J x`` from Gaussian initial states."""
    rng = np.random.default_rng(seed)
    x = np.empty((n_traj, length, j.shape[0]))
    x[:, 0] = rng.standard_normal((n_traj, j.shape[0]))
    for k in range(1, length):
        x[:, k] = x[:, k - 1] @ j.T
    return x


def as_dataarray(x: np.ndarray) -> Any:
    import xarray as xr

    return xr.DataArray(
        x,
        dims=("trajectory", "time", "feature"),
        coords={"time": np.arange(x.shape[1], dtype=float)},
    )


def pairs_of(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """deeptime's input: the snapshot pairs of every trajectory, stacked."""
    d = x.shape[2]
    return x[:, :-1].reshape(-1, d).copy(), x[:, 1:].reshape(-1, d).copy()


# --------------------------------------------------------------------- memory
# --------------------------------------------------------------------- fitting
def matched_gap(a: np.ndarray, b: np.ndarray) -> float:
    """Largest ``|a_i - b_j|`` over an optimal one-to-one pairing of ``a`` into ``b``."""
    return float(assign(a, b)[2].max())


class Method:
    """One fit to time: ``fit()`` returns the discrete-time eigenvalues."""

    def __init__(self, name: str, fit: Callable[[], np.ndarray], note: str = "") -> None:
        self.name, self.fit, self.note = name, fit, note
        self.times: list[float] = []
        self.rss_mib = 0.0
        self.traced_mib = math_nan()
        self.eigenvalues: np.ndarray | None = None

    def run_timed(self) -> None:
        gc.collect()
        before = rss_kib()
        reset = reset_peak()
        t0 = time.perf_counter()
        lam = self.fit()
        self.times.append(time.perf_counter() - t0)
        if reset:
            self.rss_mib = max(self.rss_mib, (peak_kib() - before) / 1024)
        self.eigenvalues = np.asarray(lam)

    def run_traced(self) -> None:
        gc.collect()
        tracemalloc.start()
        try:
            self.fit()
            self.traced_mib = tracemalloc.get_traced_memory()[1] / 2**20
        finally:
            tracemalloc.stop()


def math_nan() -> float:
    return float("nan")


def koopkit_fit(data: Any, observables: Any) -> Callable[[], np.ndarray]:
    from koopkit import EDMD

    def fit() -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the kernel form's ResidualWarning
            model = EDMD(observables).fit(data)
        fit.model = model  # type: ignore[attr-defined]
        return model.spectrum_.eigenvalues.values

    return fit


def deeptime_edmd_fit(pairs: tuple, basis: Callable) -> Callable[[], np.ndarray]:
    from deeptime.decomposition import EDMD

    def fit() -> np.ndarray:
        return EDMD(basis).fit(pairs).fetch_model().eigenvalues

    return fit


def deeptime_kernel_fit(pairs: tuple, sigma: float) -> Callable[[], np.ndarray]:
    from deeptime.decomposition import KernelEDMD
    from deeptime.kernels import GaussianKernel

    def fit() -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy's ill-conditioned solve warning
            return KernelEDMD(GaussianKernel(sigma)).fit(pairs).fetch_model().eigenvalues

    return fit


def race(methods: list[Method], repeat: int, progress: Callable[[str], None]) -> None:
    """Every method once per round, in turn; then one traced fit each."""
    for k in range(repeat):
        for m in methods:
            m.run_timed()
            progress(f"  round {k + 1}: {m.name} {m.times[-1]:.2f} s")
    for m in methods:
        m.run_traced()
        progress(f"  traced: {m.name} {m.traced_mib:.0f} MiB")


# --------------------------------------------------------------------- report
def _f(v: float, digits: int = 3) -> str:
    if v != v:
        return "—"
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}g}"


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| case | method | fit (s) | deeptime / koopkit time | tracemalloc peak (MiB) "
        "| RSS rise (MiB) | error of J's 8 eigenvalues | eigenvalues vs koopkit's |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['method']} | {r['time']} | {r['ratio']} | {r['traced']} "
            f"| {r['rss']} | {r['truth']} | {r['gap']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pairs", type=int, default=10_000, help="primal: snapshot pairs")
    p.add_argument("--functions", type=int, default=1_000, help="primal: functions")
    p.add_argument("--kernel-pairs", type=int, default=2_000)
    p.add_argument("--kernel-functions", type=int, default=10_000)
    p.add_argument(
        "--explicit-sizes",
        default="1500,2500",
        help="deeptime EDMD with N explicit functions on the kernel case's pairs, timed at "
        "these N and extrapolated by N^3 ('' to skip)",
    )
    p.add_argument("--trajectories", type=int, default=10, help="primal: trajectories")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="BLAS threads for every fit")
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    args = p.parse_args(argv)
    if args.quick:
        args.pairs, args.functions, args.trajectories = 1000, 200, 4
        args.kernel_pairs, args.kernel_functions, args.explicit_sizes = 300, 1000, "400,600"
        args.repeat = min(args.repeat, 2)

    from threadpoolctl import threadpool_info, threadpool_limits

    import koopkit
    from koopkit.benchmarking.peers import deeptime_status
    from koopkit.observables import Identity, RandomFourier

    missing = deeptime_status()
    if missing:
        print(f"deeptime is not available: {missing}", file=sys.stderr)
        return 1
    import deeptime

    def progress(s: str) -> None:
        print(s, file=sys.stderr, flush=True)

    j = linear_map()
    truth = np.linalg.eigvals(j)
    d = j.shape[0]
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    with threadpool_limits(limits=args.threads, user_api="blas"):
        # ---------------------------------------------------------------- primal
        n_traj = args.trajectories
        length = args.pairs // n_traj + 1
        x = trajectories(j, n_traj, length)
        data, pairs = as_dataarray(x), pairs_of(x)
        obs = Identity() + RandomFourier(args.functions - d, seed=1)
        basis = obs.clone().fit(x.reshape(-1, d)).transform  # the same fitted functions
        progress(f"primal: {args.functions} functions, {len(pairs[0])} pairs")
        kk = Method("koopkit EDMD", koopkit_fit(data, obs))
        dt = Method("deeptime EDMD", deeptime_edmd_fit(pairs, basis))
        race([kk, dt], args.repeat, progress)
        model = kk.fit.model  # type: ignore[attr-defined]
        kk.note = f"{model.form_} form, rank {model.rank_}"
        gap_all = matched_gap(kk.eigenvalues, dt.eigenvalues)
        for m in (kk, dt):
            rows.append(
                {
                    "case": f"primal: {args.functions} functions, {len(pairs[0])} pairs",
                    "method": f"{m.name} ({m.note})" if m.note else m.name,
                    "time": _f(min(m.times)),
                    "ratio": "" if m is kk else _f(min(dt.times) / min(kk.times)),
                    "traced": _f(m.traced_mib),
                    "rss": _f(m.rss_mib),
                    "truth": _f(matched_gap(truth, m.eigenvalues)),
                    "gap": "" if m is kk else f"{_f(gap_all)} (all {len(m.eigenvalues)})",
                }
            )
        del kk, dt, model, data, pairs, x
        gc.collect()

        # ---------------------------------------------------------------- kernel
        half = args.kernel_pairs // 2
        x = trajectories(j, 2, half + 1, seed=2)
        data, pairs = as_dataarray(x), pairs_of(x)
        obs = RandomFourier(args.kernel_functions, seed=1)
        fitted = obs.clone().fit(x.reshape(-1, d))
        sigma = fitted.bandwidth_
        progress(f"kernel: {args.kernel_functions} functions, {len(pairs[0])} pairs")
        kk = Method("koopkit EDMD", koopkit_fit(data, obs))
        kd = Method("deeptime KernelEDMD", deeptime_kernel_fit(pairs, sigma))
        kd.note = f"Gaussian kernel, sigma {sigma:.3g}"
        race([kk, kd], args.repeat, progress)
        model = kk.fit.model  # type: ignore[attr-defined]
        kk.note = f"RandomFourier, {model.form_} form, rank {model.rank_}"
        case = f"kernel: {args.kernel_functions} functions, {len(pairs[0])} pairs"
        true_k = [matched_gap(truth, m.eigenvalues) for m in (kk, kd)]
        near_k = [m.eigenvalues[_nearest(m.eigenvalues, truth)] for m in (kk, kd)]
        for m, err, near in zip((kk, kd), true_k, near_k, strict=True):
            rows.append(
                {
                    "case": case,
                    "method": f"{m.name} ({m.note})",
                    "time": _f(min(m.times)),
                    "ratio": "" if m is kk else _f(min(kd.times) / min(kk.times)),
                    "traced": _f(m.traced_mib),
                    "rss": _f(m.rss_mib),
                    "truth": _f(err),
                    "gap": ""
                    if m is kk
                    else f"{_f(float(np.abs(near - near_k[0]).max()))} (the 8 nearest J's)",
                }
            )
        # deeptime's EDMD with the same explicit functions: smaller N, extrapolated
        sizes = [int(v) for v in args.explicit_sizes.split(",") if v.strip()]
        timed = []
        for n in sizes:
            obs_n = RandomFourier(n, seed=1)
            basis_n = obs_n.clone().fit(x.reshape(-1, d)).transform
            progress(f"explicit: deeptime EDMD and koopkit EDMD with {n} functions (one fit)")
            dn = Method("deeptime EDMD", deeptime_edmd_fit(pairs, basis_n))
            dn.run_timed()
            kn = Method("koopkit EDMD", koopkit_fit(data, obs_n))
            kn.run_timed()
            timed.append((n, dn, kn))
        if timed:
            n, dn, kn = timed[-1]
            est = min(dn.times) * (args.kernel_functions / n) ** 3
            kk_n = kn.eigenvalues[_nearest(kn.eigenvalues, truth)]
            dt_n = dn.eigenvalues[_nearest(dn.eigenvalues, truth)]
            rows.append(
                {
                    "case": case,
                    "method": f"deeptime EDMD (the same {args.kernel_functions} functions, "
                    f"explicit): **estimated** from N = {n} by N^3",
                    "time": f"~{_f(est)}",
                    "ratio": f"~{_f(est / min(kk.times))}",
                    "traced": "—",
                    "rss": "—",
                    "truth": f"{_f(matched_gap(truth, dn.eigenvalues))} (N = {n})",
                    "gap": f"{_f(float(np.abs(kk_n - dt_n).max()))} (the 8 nearest J's, N = {n})",
                }
            )
            notes.append(
                "deeptime EDMD with N explicit functions on the same "
                f"{len(pairs[0])} pairs, one fit each: "
                + "; ".join(
                    f"N = {m}: {_f(min(a.times))} s (koopkit: {_f(min(b.times))} s, "
                    f"{b.fit.model.form_} form)"  # type: ignore[attr-defined]
                    for m, a, b in timed
                )
                + f". At N = {n} koopkit keeps {kn.eigenvalues.size} directions (the rest "
                "lie below its round-off floor) and deeptime's pinv its own: only the "
                "well-resolved eigenvalues (J's) are comparable; koopkit's error on them "
                f"{_f(matched_gap(truth, kn.eigenvalues))}, deeptime's "
                f"{_f(matched_gap(truth, dn.eigenvalues))}."
            )

    load = os.getloadavg() if hasattr(os, "getloadavg") else (math_nan(),) * 3
    blas = ", ".join(
        f"{i.get('internal_api')} {i.get('version')}"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    )
    header = (
        f"`python benchmarks/edmd_speed.py{' --quick' if args.quick else ''}` "
        f"(--repeat {args.repeat}, --threads {args.threads}): koopkit {koopkit.__version__}, "
        f"deeptime {deeptime.__version__}, numpy {np.__version__}, {blas}; "
        f"{platform.machine()}, {os.cpu_count()} CPUs, load average {load[0]:.1f} at the end."
    )
    print(header + "\n")
    print(table(rows))
    for note in notes:
        print("\n* " + note)
    return 0


def _nearest(lam: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Positions of the eigenvalues matched one-to-one to ``truth``, in ``truth``'s order."""
    rows, cols, _ = assign(lam, truth)
    return rows[np.argsort(cols)]


if __name__ == "__main__":
    sys.exit(main())

"""Fit time and peak memory of koopkit DMD against PyDMD on a video-sized matrix.

The data are a seeded ``(time, y, x, channel)`` float32 DataArray of smooth moving
structure (drifting Gaussian blobs, travelling waves) plus small noise. Every fit runs in
a fresh Python process that builds the data, imports everything and starts BLAS with a
tiny warm-up fit, then fits once. ``--repeat`` rounds run every method once each, in
turn, so that changes in machine load hit all methods alike. Reported per method:

* fit time: the best round (wall clock, ``time.perf_counter``);
* peak memory: the rise of the process's resident set size during the fit above what it
  held just before (the data are in that baseline), the largest over the rounds. The
  kernel's high-water mark is reset right before the fit (``/proc/self/clear_refs``), so
  the peak is the fit's own; where that is unavailable ``resource.getrusage`` is used (the
  data are built in place, so no earlier peak exceeds the baseline). A ``tracemalloc``
  peak of one extra fit is a cross-check of NumPy's allocations (BLAS's own buffers are
  invisible to it);
* eigenvalue agreement with PyDMD: max ``|lam_koopkit - lam_pydmd|`` after pairing each
  PyDMD eigenvalue with the nearest koopkit one.

Usage::

    python benchmarks/dmd_speed.py --frames 300 --height 224 --width 224 --channels 3 \\
        --rank 20 --repeat 3

On a shared or busy machine pass ``--threads 1``: multi-threaded BLAS under CPU
oversubscription slows down erratically (10x and more), which swamps every comparison.

Methods: koopkit's DMD (default solver and each solver), ``pydmd.DMD(svd_rank=rank)``,
deeptime's exact DMD (``deeptime.decomposition.DMD(mode="exact", rank=rank)`` on the
snapshot pairs), and ``bare``: the floor, a plain float32 method-of-snapshots DMD (one
Gram of all snapshots by a matmul, ``eigh``, one real product for the modes).

Targets (issue 13): koopkit at least 30x faster than PyDMD and 8x faster than deeptime,
within 1.25x of the bare Gram DMD, eigenvalues equal to PyDMD's to 1e-4, and a peak of at
most 1.3x the data (data plus the fit's rise).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import tracemalloc
from typing import Any

import numpy as np
from memory import peak_kib, reset_peak, rss_kib

#: Environment variables that set the BLAS/LAPACK thread count of the worker processes.
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
METHODS = (
    "koopkit",
    "koopkit-gram",
    "koopkit-svd",
    "koopkit-randomized",
    "pydmd",
    "deeptime",
    "bare",
    "koopkit-device",
)


# ------------------------------------------------------------------------ data
def make_video(frames: int, height: int, width: int, channels: int, seed: int = 0) -> Any:
    """Seeded float32 video: drifting Gaussian blobs and travelling waves plus noise.

    Built frame by frame into one preallocated array, so building it never holds more
    than the data plus one frame.
    """
    import xarray as xr

    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    n_blobs = 4
    centre = rng.uniform(0.3, 0.7, (n_blobs, 2))
    radius = rng.uniform(0.1, 0.25, n_blobs)
    speed = rng.uniform(0.02, 0.08, n_blobs)  # radians per frame on their orbits
    width_b = rng.uniform(0.05, 0.12, n_blobs)
    colour = rng.uniform(0.2, 1.0, (n_blobs, channels)).astype(np.float32)
    waves = [(rng.uniform(2, 8), rng.uniform(2, 8), rng.uniform(0.05, 0.3)) for _ in range(2)]
    wave_colour = rng.uniform(0.1, 0.4, (len(waves), channels)).astype(np.float32)
    data = np.empty((frames, height, width, channels), dtype=np.float32)
    for k in range(frames):
        frame = data[k]
        frame[...] = 0
        for j in range(n_blobs):
            cy = centre[j, 0] + radius[j] * np.sin(speed[j] * k)
            cx = centre[j, 1] + radius[j] * np.cos(speed[j] * k)
            g = np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / np.float32(2 * width_b[j] ** 2))
            frame += g[:, :, None] * colour[j]
        for j, (ky, kx, w) in enumerate(waves):
            s = np.sin(np.float32(2 * np.pi) * (ky * y + kx * x) - np.float32(w * k))
            frame += s[:, :, None] * wave_colour[j]
        frame += np.float32(0.01) * rng.standard_normal(frame.shape, dtype=np.float32)
    dt = 1 / 30
    return xr.DataArray(
        data,
        dims=("time", "y", "x", "channel"),
        coords={"time": ("time", np.arange(frames) * dt, {"units": "s"})},
        name="video",
    )


# --------------------------------------------------------------------- memory
# ---------------------------------------------------------------------- worker
def _fitter(method: str, rank: int, device: str = "cpu"):
    """A function fitting the DataArray and returning discrete-time eigenvalues."""
    if method == "pydmd":
        import pydmd

        def fit(da):
            matrix = da.values.reshape(da.sizes["time"], -1).T  # (features, time) view
            return np.asarray(pydmd.DMD(svd_rank=rank).fit(matrix).eigs)

        return fit
    if method == "deeptime":
        from deeptime.decomposition import DMD as DeeptimeDMD

        def fit(da):
            rows = da.values.reshape(da.sizes["time"], -1)  # (time, features) view
            model = DeeptimeDMD(mode="exact", rank=rank).fit((rows[:-1], rows[1:]))
            return np.asarray(model.fetch_model().eigenvalues)

        return fit
    if method == "bare":

        def fit(da):
            # the floor: float32 method of snapshots, written plainly -- one Gram of all
            # snapshots by a matmul, eigh of its X block, one real product for the modes
            x = da.values.reshape(da.sizes["time"], -1)
            g = (x @ x.T).astype(np.float64)
            w, v = np.linalg.eigh(g[:-1, :-1])
            w, v = w[::-1][:rank], v[:, ::-1][:, :rank]
            s = np.sqrt(w)
            atilde = (v.T @ g[:-1, 1:] @ v) / np.outer(s, s)
            lam, vecs = np.linalg.eig(atilde)
            coef = (v / s) @ vecs  # modes = Y^T coef (exact DMD)
            both = np.concatenate([coef.real, coef.imag], axis=1).T.astype(np.float32)
            fit.modes = both @ x[1:]
            return lam

        return fit
    from koopkit import DMD

    if method == "koopkit-device":  # the torch path on --device (a GPU: "cuda")
        solver, where = "auto", device
    else:
        solver = "auto" if method == "koopkit" else method.split("-", 1)[1]
        where = "cpu"

    def fit(da):
        model = DMD(rank=rank, solver=solver, device=where).fit(da)
        fit.solver_used = model.solver_
        return model.spectrum_.eigenvalues.values

    return fit


def worker(args: argparse.Namespace) -> dict[str, Any]:
    """One fresh process: build the data, warm up, fit once (timed, memory), report."""
    import warnings

    warnings.filterwarnings("ignore", message="Input data condition number")
    da = make_video(args.frames, args.height, args.width, args.channels, args.seed)
    fit = _fitter(args.worker, args.rank, args.device)
    # Import everything and start BLAS threads/buffers outside the measurement.
    small = make_video(args.rank + 12, 16, 16, args.channels, args.seed + 1)
    fit(small)

    reset_ok = reset_peak()
    before = rss_kib()
    start = time.perf_counter()
    lam = fit(da)
    elapsed = time.perf_counter() - start
    peak_delta_mb = (peak_kib(reset_ok) - before) / 1024
    traced = None
    if args.trace:
        tracemalloc.start()
        fit(da)
        traced = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return {
        "method": args.worker,
        "solver": getattr(fit, "solver_used", ""),
        "time": elapsed,
        "peak_rss_delta_mb": peak_delta_mb,
        "peak_source": "VmHWM reset" if reset_ok else "getrusage",
        "tracemalloc_peak_mb": traced,
        "data_mb": da.nbytes / 2**20,
        "shape": [int(da.sizes["time"]), int(da.size // da.sizes["time"])],
        "eigenvalues": [[float(z.real), float(z.imag)] for z in np.asarray(lam, dtype=complex)],
        "threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
        "cpus": os.cpu_count(),
    }


# ----------------------------------------------------------------------- main
def run_method(method: str, args: argparse.Namespace, trace: bool) -> dict[str, Any]:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", method]
    for key in ("frames", "height", "width", "channels", "rank", "seed", "device"):
        cmd += [f"--{key}", str(getattr(args, key))]
    if trace:
        cmd.append("--trace")
    env = dict(os.environ)
    if args.threads:
        for var in _THREAD_VARS:
            env[var] = str(args.threads)
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if out.returncode:
        raise SystemExit(f"{method} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def max_pair_distance(found: np.ndarray, reference: np.ndarray) -> float:
    """Max over reference eigenvalues of the distance to the nearest found one."""
    if found.size == 0 or reference.size == 0:
        return float("nan")
    return float(np.abs(reference[:, None] - found[None, :]).min(axis=1).max())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--height", type=int, default=224)
    parser.add_argument("--width", type=int, default=224)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--rank", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--methods",
        default=",".join(METHODS),
        help=f"comma-separated subset of {', '.join(METHODS)} (default: all but "
        "koopkit-device, which --device adds)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="BLAS threads for every method (0: library default); the same for all methods",
    )
    parser.add_argument(
        "--device",
        default="cuda",
        help="device of the koopkit-device method (torch path): cuda, cuda:N, torch:cpu",
    )
    parser.add_argument("--json", help="also write the raw results to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if args.methods == ",".join(METHODS):  # the default: the device method only if asked
        methods = [m for m in methods if m != "koopkit-device"]
        if "--device" in (argv if argv is not None else sys.argv):
            methods.append("koopkit-device")
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        parser.error(f"unknown methods {unknown}; choose from {', '.join(METHODS)}")
    # Round robin: every round runs each method once in a fresh process, so a change in
    # machine load during the benchmark hits all methods alike.
    results: dict[str, dict[str, Any]] = {}
    for round_ in range(args.repeat):
        for m in methods:
            print(f"round {round_ + 1}/{args.repeat}: {m} ...", file=sys.stderr, flush=True)
            r = run_method(m, args, trace=round_ == 0)
            if m not in results:
                results[m] = {**r, "times": [], "peaks": []}
            results[m]["times"].append(r["time"])
            results[m]["peaks"].append(r["peak_rss_delta_mb"])
    for r in results.values():
        r["peak_rss_delta_mb"] = max(r["peaks"])  # the worst round, not the best

    first = next(iter(results.values()))
    data_mb = first["data_mb"]
    n_time, n_feat = first["shape"]
    ref = results.get("pydmd")
    ref_time = min(ref["times"]) if ref else None
    ref_lam = np.array([complex(*z) for z in ref["eigenvalues"]]) if ref else np.array([], complex)
    print(
        f"\nData: {n_feat:,} features x {n_time} snapshots float32 "
        f"({data_mb:.1f} MiB), rank {args.rank}; time: best of {args.repeat} rounds; "
        f"{first['cpus']} CPUs, BLAS threads: {first['threads']}; "
        f"peak: largest RSS rise during a fit over the rounds ({first['peak_source']})\n"
    )
    print(
        "| method | solver | fit time [s] | speed-up vs pydmd | peak rise [MiB] "
        "| rise / data | (data + rise) / data | tracemalloc peak [MiB] "
        "| max abs(lam - lam_pydmd) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for m, r in results.items():
        best = min(r["times"])
        lam = np.array([complex(*z) for z in r["eigenvalues"]])
        speed = f"{ref_time / best:.1f}x" if ref_time else "-"
        agree = "-" if m == "pydmd" or not ref else f"{max_pair_distance(lam, ref_lam):.2e}"
        print(
            f"| {m} | {r['solver'] or '-'} | {best:.3f} | {speed} | "
            f"{r['peak_rss_delta_mb']:.0f} | {r['peak_rss_delta_mb'] / data_mb:.2f}x | "
            f"{1 + r['peak_rss_delta_mb'] / data_mb:.2f}x | "
            f"{r['tracemalloc_peak_mb'] or float('nan'):.0f} | {agree} |"
        )
    if "koopkit" in results:
        k = results["koopkit"]
        best_k = min(k["times"])
        lines = []
        for peer, target in (("pydmd", 30.0), ("deeptime", 8.0)):
            if peer in results:
                ratio = min(results[peer]["times"]) / best_k
                verdict = "met" if ratio >= target else "MISSED"
                lines.append(f"{ratio:.1f}x faster than {peer} (target >= {target:g}x: {verdict})")
        if "bare" in results:
            ratio = best_k / min(results["bare"]["times"])
            verdict = "met" if ratio <= 1.25 else "MISSED"
            lines.append(f"{ratio:.2f}x the bare Gram DMD's time (target <= 1.25x: {verdict})")
        total = 1 + k["peak_rss_delta_mb"] / data_mb
        lines.append(
            f"peak with data {total:.2f}x the data (target <= 1.3x: "
            f"{'met' if total <= 1.3 else 'MISSED'})"
        )
        print("\nkoopkit default: " + "; ".join(lines))
    if "koopkit-device" in results:
        dev = min(results["koopkit-device"]["times"])
        parts = [
            f"{min(results[m]['times']) / dev:.1f}x faster than {m}"
            for m in ("koopkit", "pydmd")
            if m in results
        ]
        print(f"koopkit on --device {args.device}: " + "; ".join(parts))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()

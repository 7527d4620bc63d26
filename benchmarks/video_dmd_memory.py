"""Peak memory of DMD on video frames read with :func:`koopkit.open_video`.

A child Python process reads ``--frames`` frames of a clip at ``--size`` (224x224 RGB by
default: 300 x 224 x 224 x 3 float32 = 172 MiB), fits DMD once and forecasts 20 frames.
It reports its resident set size (``VmRSS``/``VmHWM`` from ``/proc/self/status``):

* ``imports``: after importing numpy, xarray, PyAV and koopkit (before any frame);
* ``load peak`` / ``loaded``: the high-water mark while decoding and the RSS after it;
* ``fit peak``: the high-water mark during ``fit`` + ``predict``; the kernel's mark is
  reset right before (``/proc/self/clear_refs``), so it is the fit's own.

The ratios divide by the frames' size: ``(fit peak - imports) / frames`` is the memory
that the frames and the DMD need together (2x means DMD's work space equals the data);
``fit peak / frames`` also counts the interpreter and libraries. The parent process
cross-checks with ``getrusage(RUSAGE_CHILDREN).ru_maxrss``, the kernel's peak RSS of the
child over its whole life, measured from outside.

Usage::

    python benchmarks/video_dmd_memory.py                      # vtest.avi, 300 frames
    python benchmarks/video_dmd_memory.py --clip clip.mp4 --rank 40 --solver randomized
    python benchmarks/video_dmd_memory.py --synthetic          # no clip needed

Target (issue 5): peak memory at most 2x the frames' size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from memory import reset_peak, status_kib

OPENCV_DATA = Path("/tmp/opencv-doc/usr/share/doc/opencv-doc/examples/data")
DEFAULT_CLIP = OPENCV_DATA / "vtest.avi"
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _status(key: str) -> float:
    """A ``/proc/self/status`` memory line in MiB."""
    kib = status_kib(key)
    if kib is None:
        raise RuntimeError(f"{key} not in /proc/self/status")
    return kib / 1024


def child(args: argparse.Namespace) -> dict:
    import numpy as np
    import xarray as xr

    import koopkit
    from koopkit.video import open_video

    if not args.synthetic:
        import av  # noqa: F401  (counted in the import baseline)
    rss_imports = _status("VmRSS")
    reset_peak()
    t0 = time.perf_counter()
    h, w = args.size
    if args.synthetic:
        from koopkit.datasets import bouncing_balls

        gray = bouncing_balls(n_snapshots=args.frames, size=h).values  # (t, h, h), float32
        values = np.empty((args.frames, h, h, 3), np.float32)
        for c in range(3):
            values[..., c] = gray
        del gray
        frames = xr.DataArray(
            values,
            dims=("time", "y", "x", "channel"),
            coords={"time": np.arange(args.frames) * 0.05},
        )
        source = f"bouncing balls (synthetic), {h}x{h}x3"
    else:
        frames = open_video(args.clip, size=(h, w), frames=args.frames)
        source = f"{Path(args.clip).name} resized to {h}x{w}x3"
    load_s = time.perf_counter() - t0
    load_peak = _status("VmHWM")
    rss_loaded = _status("VmRSS")
    frames_mb = frames.nbytes / 2**20
    assert frames.dtype == np.float32 and frames.values.flags["C_CONTIGUOUS"]

    reset = reset_peak()
    t0 = time.perf_counter()
    rank = args.rank if args.rank is None or args.rank == "auto" else int(args.rank)
    model = koopkit.DMD(rank=rank, solver=args.solver, delays=args.delays).fit(frames)
    forecast = model.predict(steps=20)
    fit_s = time.perf_counter() - t0
    fit_peak = _status("VmHWM")
    return {
        "source": source,
        "frames": int(frames.sizes["time"]),
        "frames_mb": frames_mb,
        "rank": int(model.rank_),
        "solver": model.solver_,
        "delays": args.delays,
        "forecast_dtype": str(forecast.dtype),
        "imports_mb": rss_imports,
        "load_peak_mb": load_peak,
        "loaded_mb": rss_loaded,
        "fit_peak_mb": fit_peak,
        "peak_reset": reset,
        "load_s": load_s,
        "fit_s": fit_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    parser.add_argument("--synthetic", action="store_true", help="Bouncing balls, no clip.")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--size", type=int, nargs=2, default=(224, 224), metavar=("H", "W"))
    parser.add_argument("--rank", default="20", help="int, 'auto' (default 20)")
    parser.add_argument("--solver", default="gram", choices=("gram", "randomized", "auto"))
    parser.add_argument("--delays", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads (default: all)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    if not args.synthetic and not args.clip.exists():
        sys.exit(
            f"{args.clip} not found: run examples/fetch_debian_clips.sh, pass --clip, "
            "or use --synthetic"
        )
    env = dict(os.environ)
    if args.threads:
        env.update({k: str(args.threads) for k in _THREAD_VARS})
    cmd = [sys.executable, __file__, "--child", *sys.argv[1:]]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"child failed:\n{done.stderr}")
    r = json.loads(done.stdout.strip().splitlines()[-1])
    outside = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    f = r["frames_mb"]
    print(
        f"{r['source']}: {r['frames']} frames = {f:.1f} MiB float32; DMD rank {r['rank']} "
        f"({r['solver']} solver, delays={r['delays']}), forecast {r['forecast_dtype']}"
    )
    print(f"  imports (numpy, xarray, PyAV, koopkit): {r['imports_mb']:8.1f} MiB RSS")
    print(
        f"  reading the clip ({r['load_s']:.2f} s):     peak {r['load_peak_mb']:8.1f} MiB, "
        f"after {r['loaded_mb']:.1f} MiB  -> (peak - imports) / frames = "
        f"{(r['load_peak_mb'] - r['imports_mb']) / f:.2f}"
    )
    print(
        f"  DMD fit + 20-step forecast ({r['fit_s']:.2f} s): peak {r['fit_peak_mb']:8.1f} MiB "
        f"-> (peak - imports) / frames = {(r['fit_peak_mb'] - r['imports_mb']) / f:.2f}, "
        f"peak / frames = {r['fit_peak_mb'] / f:.2f}"
    )
    print(
        f"  whole child, measured by the parent (ru_maxrss): {outside:.1f} MiB "
        f"= {outside / f:.2f} x frames"
        + ("" if r["peak_reset"] else " (peak reset unavailable: fit peak includes loading)")
    )


if __name__ == "__main__":
    main()

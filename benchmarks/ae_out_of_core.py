"""The Koopman autoencoder trained out of core: a netCDF4/HDF5 file of frames read lazily.

Writes a float32 netCDF4 file ``frames(time, y, x)`` of clips of moving blobs (chunks of
``--chunk`` whole frames, the layout that reads windows cheaply), then, each in a child
process:

1. reads the whole file once with h5py, chunk by chunk (the I/O floor);
2. fits a conv :class:`~koopkit.backends.autoencoder.KoopmanAutoencoder` on the clips opened
   with ``xr.open_dataset(path, engine="h5netcdf", chunks={"time": chunk})`` for a fixed
   number of steps: statistics with the fingerprint, DMD start (on the first clip), training,
   validation and the encoding of every frame all stream from the file;

and prints a markdown table: file size, each child's peak resident memory, wall times,
training steps/s and the time the training steps spent reading their windows. The file is
freshly written, so it is read from the page cache unless the machine's memory is smaller.

Usage::

    python benchmarks/ae_out_of_core.py                 # 0.25 GB, a minute or two
    python benchmarks/ae_out_of_core.py --gb 2 --path /tmp/koopkit-frames.nc
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np


def write_frames(path: str, gb: float, size: int, clip: int, chunk: int, seed: int = 0) -> int:
    """Clips of Gaussian blobs on circular orbits, written block by block; returns n_time."""
    import h5netcdf

    frame_bytes = 4 * size * size
    n_clips = max(1, int(round(gb * 2**30 / (frame_bytes * clip))))
    n_time = n_clips * clip
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    omega = np.array([0.21, 0.55])  # rad per step of the two blobs
    tmp = path + ".tmp"
    with h5netcdf.File(tmp, "w") as f:
        f.dimensions = {"time": n_time, "y": size, "x": size}
        t = f.create_variable("time", ("time",), "f8")
        t[:] = np.arange(n_time) * 0.05
        t.attrs["units"] = "s"
        v = f.create_variable(
            "frames", ("time", "y", "x"), "f4", chunks=(chunk, size, size), fillvalue=None
        )
        block = max(chunk, (32 * 2**20 // frame_bytes) // chunk * chunk)
        for a in range(0, n_time, block):
            b = min(n_time, a + block)
            k = np.arange(a, b) % clip  # step within its clip
            c = np.arange(a, b) // clip  # clip number: another start phase
            out = np.zeros((b - a, size, size), dtype=np.float32)
            for j, w in enumerate(omega):
                phase = w * k + 0.7 * c + j
                cy = size / 2 + size / 4 * np.sin(phase)
                cx = size / 2 + size / 4 * np.cos(phase)
                r2 = (yy - cy[:, None, None].astype(np.float32)) ** 2
                r2 += (xx - cx[:, None, None].astype(np.float32)) ** 2
                out += np.exp(-r2 / (2 * (size / 12) ** 2)) * (1.0 - 0.4 * j)
            out += 0.01 * rng.standard_normal(out.shape, dtype=np.float32)
            v[a:b] = out
    os.replace(tmp, path)
    return n_time


CHILD = r"""
import json, resource, sys, time
args = json.loads(sys.argv[1])
def peak_mib():
    # VmHWM: this process's peak resident memory (ru_maxrss would carry the parent's peak
    # over fork and exec on Linux)
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out = {}
t0 = time.perf_counter()
if args["mode"] == "read":
    import h5py, numpy as np
    with h5py.File(args["path"], "r") as f:
        d = f["frames"]; step = d.chunks[0] * 16; total = 0.0
        for s in range(0, d.shape[0], step):
            total += float(d[s:s + step].sum(dtype=np.float64))
    out["checksum"] = total
else:
    import numpy as np, xarray as xr
    from koopkit.backends.autoencoder import KoopmanAutoencoder
    from koopkit.backends.autoencoder import data as data_mod, estimator as est, train as tr
    out["rss_after_imports_mib"] = peak_mib()
    times, peaks = {}, {}
    def timed(owner, name, key):
        fn = getattr(owner, name)
        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                times[key] = times.get(key, 0.0) + time.perf_counter() - t
                peaks.setdefault(key, peak_mib())  # peak RSS so far, after its first call
        setattr(owner, name, wrapper)
    timed(est, "streaming_stats", "statistics")
    timed(est.KoopmanAutoencoder, "_init_from_dmd", "dmd_start")
    timed(est, "train", "train")
    timed(tr, "evaluate", "validation")
    timed(data_mod.LazyFrames, "gather", "gather")
    timed(est.KoopmanAutoencoder, "_encode_sequence", "encode")
    t_fit = time.perf_counter()
    with xr.open_dataset(args["path"], engine="h5netcdf", chunks={"time": args["chunk"]}) as ds:
        x = ds["frames"]
        clip = args["clip"]
        clips = [x.isel(time=slice(i, i + clip)) for i in range(0, x.sizes["time"], clip)]
        model = KoopmanAutoencoder(
            encoder="conv", latent_pairs=2, delays=2, horizon=args["horizon"], epochs=1,
            steps_per_epoch=args["steps"], batch_size=args["batch"], warmup_epochs=0,
            ramp_epochs=0, val_fraction=0.02, threads=1, device="cpu", progress=False, seed=0,
        ).fit(clips)
    out["fit_s"] = time.perf_counter() - t_fit
    out["phases"] = times
    out["peaks"] = peaks
    out["frames_read"] = model.data_reads_["frames"]
    out["train_loss"] = model.history_["train"]
    out["steps"] = args["steps"]
out["seconds"] = time.perf_counter() - t0
out["peak_rss_mib"] = peak_mib()
print("RESULT " + json.dumps(out))
"""


def child(mode: str, **kw: object) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")])
    res = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps({"mode": mode, **kw})],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if res.returncode != 0:
        raise SystemExit(f"{mode} child failed:\n{res.stderr[-3000:]}")
    line = [ln for ln in res.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[7:])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gb", type=float, default=0.25, help="size of the file of frames, GiB")
    p.add_argument("--size", type=int, default=128, help="frame height and width")
    p.add_argument("--clip", type=int, default=1024, help="frames per sequence (clip)")
    p.add_argument("--chunk", type=int, default=16, help="frames per HDF5 chunk and dask chunk")
    p.add_argument("--steps", type=int, default=40, help="training steps")
    p.add_argument("--batch", type=int, default=16, help="windows per batch")
    p.add_argument("--horizon", type=int, default=8)
    p.add_argument("--path", default=None, help="file to write (default: a temporary one)")
    p.add_argument("--keep", action="store_true", help="keep the file")
    args = p.parse_args(argv)
    path = args.path or os.path.join(
        os.environ.get("TMPDIR", "/tmp"), f"koopkit-ae-ooc-{os.getpid()}.nc"
    )
    t = time.perf_counter()
    n_time = write_frames(path, args.gb, args.size, args.clip, args.chunk)
    write_s = time.perf_counter() - t
    try:
        size = os.path.getsize(path)
        read = child("read", path=path)
        fit = child(
            "fit",
            path=path,
            chunk=args.chunk,
            clip=args.clip,
            steps=args.steps,
            batch=args.batch,
            horizon=args.horizon,
        )
    finally:
        if not args.keep:
            os.remove(path)
    ph = fit["phases"]
    train_s = ph["train"] - ph.get("validation", 0.0)
    gib = size / 2**30
    print(
        f"\n{n_time} frames of {args.size} x {args.size} float32 in clips of {args.clip}, "
        f"chunks of {args.chunk} frames; conv autoencoder, delays 2, horizon {args.horizon}, "
        f"batch {args.batch}, {args.steps} steps, 1 torch thread (written in {write_s:.0f} s)\n"
    )
    rate = gib / read["seconds"]
    per_step = args.steps / train_s
    ratio = size / 2**20 / fit["peak_rss_mib"]
    rows = [
        ("file size", f"{gib:.2f} GiB"),
        ("read once with h5py: time", f"{read['seconds']:.1f} s ({rate:.2f} GiB/s)"),
        ("read once with h5py: peak RSS", f"{read['peak_rss_mib']:.0f} MiB"),
        ("lazy fit: wall time", f"{fit['fit_s']:.1f} s"),
        (
            "lazy fit: peak RSS",
            f"{fit['peak_rss_mib']:.0f} MiB (file / peak RSS = {ratio:.1f}; "
            f"{fit['rss_after_imports_mib']:.0f} MiB after imports)",
        ),
        (
            "statistics pass (mean, scale, NaN check, fingerprint)",
            f"{ph.get('statistics', 0):.1f} s",
        ),
        ("DMD start (first clip)", f"{ph.get('dmd_start', 0):.1f} s"),
        (f"training: {args.steps} steps", f"{train_s:.1f} s ({per_step:.2f} steps/s)"),
        ("reading windows (training and validation batches)", f"{ph.get('gather', 0):.1f} s"),
        ("validation", f"{ph.get('validation', 0):.1f} s"),
        ("encoding every frame", f"{ph.get('encode', 0):.1f} s"),
        (
            "frames read (statistics, batches, encoding)",
            f"{fit['frames_read']} ({fit['frames_read'] / n_time:.1f}x the file)",
        ),
    ]
    print(
        "peak RSS after the first call of each phase (MiB):",
        {k: round(v) for k, v in fit["peaks"].items()},
    )
    print("| what | value |")
    print("| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

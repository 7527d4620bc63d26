"""Out-of-core DMD on a netCDF file larger than memory, against reading the file once.

Writes a float32 netCDF variable ``field(time, y, x)`` holding a low-rank linear system plus
noise, in one of two layouts:

* ``--layout frames`` (time-major, the way simulations append output): chunks of
  ``--frames-per-chunk`` whole frames, written chunk by chunk;
* ``--layout features``: chunks holding every snapshot of a band of rows (``y``), written
  band by band.

Then, each in a fresh child process (peak resident memory from the kernel's high-water
mark, reset after the imports, whose footprint is reported apart):

1. reads the whole file once with h5py, chunk by chunk (the I/O floor);
2. opens it with ``xr.open_dataset(path, chunks={})`` (dask chunks = the stored chunks;
   ``--open`` to choose others) and fits koopkit's DMD out of core; reports the plan
   (``GramPlan``: slabs or panels, predicted passes), the bytes read (``/proc/self/io``
   ``rchar``: passes over the file measured), time, GiB/s and peak memory; then computes
   the lazy modes (``spectrum_.modes.values``: the lift, one more pass) and reports the
   same for it;
3. with ``--check``, loads the file and fits DMD in memory, and prints the largest
   relative eigenvalue difference.

Usage::

    python benchmarks/dmd_out_of_core.py --gb 1.2 --frames-per-chunk 1 --check
    python benchmarks/dmd_out_of_core.py --gb 1.2 --frames-per-chunk 50 --check
    python benchmarks/dmd_out_of_core.py --gb 1.2 --frames-per-chunk 1 --check \
        --open '{"time": -1, "y": 64}' --no-chunk-cache
    python benchmarks/dmd_out_of_core.py --gb 30 --frames-per-chunk 1 --path /tmp/big.nc \
        --open '{"time": -1, "y": 64}'
    python benchmarks/dmd_out_of_core.py --gb 30 --layout features --path /tmp/big.nc
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

EIGS = np.array([1.0, 0.99 * np.exp(0.2j), 0.99 * np.exp(-0.2j), np.exp(0.9j), np.exp(-0.9j)])
NX = 1000  # the fast (last) axis of each frame


def write_file(
    path: str, gb: float, n_time: int, rank: int, layout: str, per_chunk: int, seed: int = 0
) -> tuple[int, int, tuple[int, ...]]:
    """The low-rank system plus noise, written chunk by chunk (never all in memory)."""
    import h5netcdf

    ny = max(1, int(gb * 1e9 / (4 * n_time * NX)))
    n_feat = ny * NX
    rng = np.random.default_rng(seed)
    k = np.arange(n_time)
    basis = []  # one real column per real eigenvalue, a cos and a sin column per pair
    for lam in EIGS[:rank]:
        if lam.imag >= 0:
            basis.append((np.abs(lam) ** k) * np.cos(np.angle(lam) * k))
        if lam.imag > 0:
            basis.append((np.abs(lam) ** k) * np.sin(np.angle(lam) * k))
    basis = np.stack(basis, axis=1).astype(np.float32)  # (T, rank)
    if layout == "frames":
        chunks = (per_chunk, ny, NX)
    else:  # bands of rows holding every snapshot, about 64 MiB each
        chunks = (n_time, max(1, min(ny, 64 * 2**20 // (4 * n_time * NX))), NX)
    tmp = path + ".tmp"
    with h5netcdf.File(tmp, "w") as f:
        f.dimensions = {"time": n_time, "y": ny, "x": NX}
        f.create_variable("time", ("time",), "f8", data=k * 0.1)
        var = f.create_variable("field", ("time", "y", "x"), "f4", chunks=chunks)
        if layout == "frames":
            w = rng.standard_normal((basis.shape[1], n_feat), dtype=np.float32)
            for t0 in range(0, n_time, per_chunk):
                t1 = min(n_time, t0 + per_chunk)
                block = basis[t0:t1] @ w
                block += 2e-3 * (rng.random(block.shape, dtype=np.float32) - 0.5)
                var[t0:t1] = block.reshape(t1 - t0, ny, NX)
        else:
            step = chunks[1]
            for y0 in range(0, ny, step):
                y1 = min(ny, y0 + step)
                w = rng.standard_normal((basis.shape[1], (y1 - y0) * NX), dtype=np.float32)
                block = basis @ w
                block += 2e-3 * (rng.random(block.shape, dtype=np.float32) - 0.5)
                var[:, y0:y1] = block.reshape(n_time, y1 - y0, NX)
    os.replace(tmp, path)
    return n_time, n_feat, chunks


CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[4])
import numpy as np
from memory import peak_kib, reset_peak, rss_kib
mode, path, rank, open_chunks = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[5]
open_kwargs = json.loads(sys.argv[6])

def rchar():
    with open("/proc/self/io") as fh:
        for line in fh:
            if line.startswith("rchar"):
                return int(line.split()[1])

out = {}
if mode == "read":
    import h5py
    out["import_mib"] = rss_kib() / 1024
    ok = reset_peak(); r0 = rchar(); t = time.perf_counter()
    with h5py.File(path, "r") as f:
        d = f["field"]; total = 0.0
        for idx in d.iter_chunks():
            total += float(d[idx].sum(dtype=np.float64))
    out["checksum"] = total
else:
    import dask, xarray as xr, koopkit
    from koopkit.backends._linalg import GramPlan, memory_limit
    out["import_mib"] = rss_kib() / 1024
    chunks = json.loads(open_chunks)
    ok = reset_peak(); r0 = rchar(); t = time.perf_counter()
    ds = xr.open_dataset(path, engine="h5netcdf", chunks=chunks, **open_kwargs)
    arr = ds["field"]
    flat = arr.data.reshape(arr.shape[0], -1)
    plan = GramPlan(flat.chunks, flat.dtype.itemsize, memory_limit())
    out["plan"] = repr(plan)
    out["plan_passes"] = plan.passes
    if mode == "memory":
        arr = arr.load()
    model = koopkit.DMD(rank=rank).fit(arr)
    lam = model.spectrum_.eigenvalues.values
    out["eigenvalues"] = [[float(z.real), float(z.imag)] for z in lam]
    if mode == "lazy":
        out["seconds"] = time.perf_counter() - t
        out["read_bytes"] = rchar() - r0
        out["peak_mib"] = peak_kib(ok) / 1024
        ok = reset_peak(); r0 = rchar(); t = time.perf_counter()
        # the lift: the lazy modes computed (``to_netcdf`` of the spectrum computes them too,
        # but koopkit.io splits complex variables with ``.values``: twice, and in memory)
        out["modes_mib"] = model.spectrum_.modes.values.nbytes / 2**20
        out["lift_seconds"] = time.perf_counter() - t
        out["lift_read_bytes"] = rchar() - r0
        out["lift_peak_mib"] = peak_kib(ok) / 1024
        print(json.dumps(out))
        sys.exit()
out["seconds"] = time.perf_counter() - t
out["read_bytes"] = rchar() - r0
out["peak_mib"] = peak_kib(ok) / 1024
print(json.dumps(out))
"""


def child(mode: str, path: str, rank: int, open_chunks: dict, kwargs: dict, env: dict) -> dict:
    here = os.path.dirname(os.path.abspath(__file__))
    args = [mode, path, str(rank), here, json.dumps(open_chunks), json.dumps(kwargs)]
    res = subprocess.run(
        [sys.executable, "-c", CHILD, *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )
    if res.returncode:
        sys.exit(f"the {mode} child failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def drop_caches() -> bool:
    try:
        subprocess.run(["sync"], check=True)
        with open("/proc/sys/vm/drop_caches", "w") as fh:
            fh.write("3\n")
        return True
    except OSError:
        return False


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gb", type=float, default=1.2, help="file size in GB (1e9 bytes)")
    p.add_argument("--snapshots", type=int, default=400)
    p.add_argument("--rank", type=int, default=5)
    p.add_argument("--layout", choices=["frames", "features"], default="frames")
    p.add_argument("--frames-per-chunk", type=int, default=1)
    p.add_argument(
        "--open", default="{}", help='xr.open_dataset chunks= as JSON (default "{}": as stored)'
    )
    p.add_argument(
        "--no-chunk-cache",
        action="store_true",
        help="open with driver_kwds={'rdcc_nbytes': 0}: HDF5 reads only the selected part "
        "of each (uncompressed) chunk",
    )
    p.add_argument("--memory-limit", default=None, help='koopkit.memory-limit, e.g. "300MiB"')
    p.add_argument("--write-only", action="store_true", help="write the file and stop")
    p.add_argument("--path", default="/tmp/koopkit-out-of-core.nc")
    p.add_argument("--check", action="store_true", help="also fit in memory and compare")
    p.add_argument("--cold", action="store_true", help="drop the page cache before each step")
    p.add_argument("--keep", action="store_true", help="keep the file afterwards")
    args = p.parse_args()

    if not os.path.exists(args.path):
        t = time.perf_counter()
        n_time, n_feat, chunks = write_file(
            args.path, args.gb, args.snapshots, args.rank, args.layout, args.frames_per_chunk
        )
        print(
            f"wrote {args.path}: {n_time} x {n_feat} float32, chunks {chunks}, "
            f"in {time.perf_counter() - t:.1f} s"
        )
    if args.write_only:
        return
    size = os.path.getsize(args.path)
    kwargs = {"driver_kwds": {"rdcc_nbytes": 0}} if args.no_chunk_cache else {}
    env = dict(os.environ)
    if args.memory_limit:
        env["DASK_KOOPKIT__MEMORY_LIMIT"] = args.memory_limit
    open_chunks = json.loads(args.open)
    rows = {}
    for mode in ["read", "lazy"] + (["memory"] if args.check else []):
        cold = drop_caches() if args.cold else False
        rows[mode] = child(mode, args.path, args.rank, open_chunks, kwargs, env)
        rows[mode]["cold"] = cold
    lazy = rows["lazy"]
    print(
        f"\nfile: {size / 1e9:.2f} GB ({size / 2**30:.2f} GiB); opened with chunks="
        f"{json.dumps(open_chunks)}{' ' + json.dumps(kwargs) if kwargs else ''}; machine memory "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.1f} GiB; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(f"plan: {lazy['plan']}")
    print(
        f"imports: {rows['read']['import_mib']:.0f} MiB (h5py), "
        f"{lazy['import_mib']:.0f} MiB (koopkit, xarray, dask); peaks below exclude nothing\n"
    )
    print("| step | seconds | GB/s | passes (bytes read / file) | peak RSS [MiB] | cold cache |")
    print("|---|---:|---:|---:|---:|---|")
    steps = [
        ("read the file once (h5py)", rows["read"], ""),
        ("koopkit DMD fit, out of core", lazy, ""),
        ("the lazy modes computed (lift)", lazy, "lift_"),
    ]
    if args.check:
        steps.append(("koopkit DMD fit, in memory (load + fit)", rows["memory"], ""))
    for name, r, pre in steps:
        sec, nbytes = r[pre + "seconds"], r[pre + "read_bytes"]
        print(
            f"| {name} | {sec:.1f} | {size / 1e9 / sec:.2f} | {nbytes / size:.2f} | "
            f"{r[pre + 'peak_mib']:.0f} | {r['cold']} |"
        )
    print(
        f"\nplanned passes of the Gram: {lazy['plan_passes']:.2f}; "
        f"modes: {lazy['modes_mib']:.0f} MiB"
    )
    lam = np.array([complex(*z) for z in lazy["eigenvalues"]])
    if args.check:
        ref = np.array([complex(*z) for z in rows["memory"]["eigenvalues"]])
        diff = max(np.min(np.abs(ref - z)) / abs(z) for z in lam)
        print(f"max relative eigenvalue difference, out of core vs in memory: {diff:.2e}")
    err = max(np.min(np.abs(lam - z)) / abs(z) for z in EIGS[: args.rank])
    print(f"max relative error of the prescribed eigenvalues: {err:.2e}")
    if not args.keep:
        os.remove(args.path)


if __name__ == "__main__":
    main()

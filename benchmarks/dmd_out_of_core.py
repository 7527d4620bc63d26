"""Out-of-core DMD on an HDF5 stack larger than memory, against reading the file once.

Writes a float32 HDF5 dataset ``(time, feature)`` (chunked as feature slabs holding every
snapshot, the layout the one-pass Gram solver streams), then in child processes:

1. reads the whole file once with h5py (the I/O floor);
2. fits koopkit's DMD on the dask-backed DataArray (``solver="gram"``: one pass);

and reports wall time, throughput (GB/s) and each child's peak resident memory. With
``--check-gb`` it also fits a smaller case both in memory and out of core and prints the
largest relative eigenvalue difference.

Usage::

    python benchmarks/dmd_out_of_core.py --gb 30 --path /tmp/koopkit-big.h5
    python benchmarks/dmd_out_of_core.py --gb 1 --check
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


def write_stack(path: str, gb: float, n_time: int, rank: int, seed: int = 0) -> tuple[int, int]:
    """A low-rank linear system plus noise, written slab by slab (never all in memory)."""
    import h5py
    from tqdm import tqdm

    n_feat = int(gb * 2**30 / (4 * n_time))
    rng = np.random.default_rng(seed)
    k = np.arange(n_time)
    # one real column per real eigenvalue, a cos and a sin column per conjugate pair
    basis = []
    for lam in EIGS[:rank]:
        if lam.imag >= 0:
            basis.append((np.abs(lam) ** k) * np.cos(np.angle(lam) * k))
        if lam.imag > 0:
            basis.append((np.abs(lam) ** k) * np.sin(np.angle(lam) * k))
    basis = np.stack(basis, axis=1).astype(np.float32)  # (T, rank)
    slab = max(1, (256 * 2**20) // (4 * n_time))
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        dset = f.create_dataset(
            "x", shape=(n_time, n_feat), dtype="f4", chunks=(n_time, min(slab, n_feat))
        )
        f.create_dataset("time", data=k * 0.1)
        for start in tqdm(range(0, n_feat, slab), desc="writing", unit="slab"):
            stop = min(n_feat, start + slab)
            w = rng.standard_normal((basis.shape[1], stop - start), dtype=np.float32)
            block = basis @ w
            block += 1e-3 * rng.standard_normal(block.shape, dtype=np.float32)
            dset[:, start:stop] = block
    os.replace(tmp, path)
    return n_time, n_feat


CHILD = r"""
import json, resource, sys, time
import numpy as np, h5py
mode, path = sys.argv[1], sys.argv[2]
t = time.perf_counter()
out = {}
if mode == "read":
    with h5py.File(path, "r") as f:
        d = f["x"]; step = d.chunks[1]; total = 0.0
        for s in range(0, d.shape[1], step):
            total += float(d[:, s:s + step].sum(dtype=np.float64))
    out["checksum"] = total
else:
    import dask.array as da, xarray as xr, koopkit
    f = h5py.File(path, "r")
    d = f["x"]
    lazy = da.from_array(d, chunks=d.chunks)
    if mode == "memory":
        lazy = lazy.compute()
    arr = xr.DataArray(lazy, dims=("time", "feature"), coords={"time": f["time"][:]})
    model = koopkit.DMD(rank=int(sys.argv[3]), solver="gram").fit(arr)
    lam = model.spectrum_.eigenvalues.values
    out["eigenvalues"] = [[float(z.real), float(z.imag)] for z in lam]
out["seconds"] = time.perf_counter() - t
out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(json.dumps(out))
"""


def child(mode: str, path: str, rank: int) -> dict:
    res = subprocess.run(
        [sys.executable, "-c", CHILD, mode, path, str(rank)],
        check=True,
        capture_output=True,
        text=True,
    )
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
    p.add_argument("--gb", type=float, default=30.0)
    p.add_argument("--snapshots", type=int, default=400)
    p.add_argument("--rank", type=int, default=5)
    p.add_argument("--path", default="/tmp/koopkit-out-of-core.h5")
    p.add_argument("--check", action="store_true", help="also fit in memory and compare")
    p.add_argument("--keep", action="store_true", help="keep the file afterwards")
    args = p.parse_args()

    if not os.path.exists(args.path):
        t = time.perf_counter()
        n_time, n_feat = write_stack(args.path, args.gb, args.snapshots, args.rank)
        print(f"wrote {args.path}: {n_time} x {n_feat} float32 in {time.perf_counter() - t:.1f} s")
    size_gb = os.path.getsize(args.path) / 2**30
    rows = []
    for mode in ["read", "dask"] + (["memory"] if args.check else []):
        cold = drop_caches()
        r = child(mode, args.path, args.rank)
        r["mode"], r["cold_cache"] = mode, cold
        rows.append(r)
    print(
        f"\nfile: {size_gb:.2f} GiB, machine memory: "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.1f} GiB\n"
    )
    print("| step | seconds | GiB/s | peak RSS [GiB] | cold page cache |")
    print("|---|---:|---:|---:|---|")
    names = {
        "read": "read the file once (h5py)",
        "dask": "koopkit DMD, out of core (dask)",
        "memory": "koopkit DMD, in memory",
    }
    for r in rows:
        print(
            f"| {names[r['mode']]} | {r['seconds']:.1f} | {size_gb / r['seconds']:.2f} | "
            f"{r['peak_rss_gb']:.2f} | {r['cold_cache']} |"
        )
    if args.check:
        a = np.array([complex(*z) for z in rows[1]["eigenvalues"]])
        b = np.array([complex(*z) for z in rows[2]["eigenvalues"]])
        diff = max(np.min(np.abs(b - z)) / abs(z) for z in a)
        print(f"\nmax relative eigenvalue difference, out of core vs in memory: {diff:.2e}")
    lam = np.array([complex(*z) for z in rows[1]["eigenvalues"]])
    err = max(np.min(np.abs(lam - z)) / abs(z) for z in EIGS[: args.rank])
    print(f"max relative error of the prescribed eigenvalues: {err:.2e}")
    if not args.keep:
        os.remove(args.path)


if __name__ == "__main__":
    main()

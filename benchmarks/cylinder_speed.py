"""Wall time of the default cylinder-wake data set, and the speed of its time loop.

Runs :func:`koopkit.datasets.cylinder_flow` with its defaults (Re = 100, D = 10 cells,
300 x 200 grid, 150 snapshots every 0.25 D/U, i.e. over six shedding periods, after the
transient detected from the lift coefficient) and reports:

* the total wall time (target: under 5 minutes on 2 cores);
* the steps taken (transient + sampling), steps per second and MLUPS (million lattice-node
  updates per second) of the whole run, boundary conditions, force and snapshot read-outs
  included;
* the bare kernel's speed on the same grid (``--kernel-steps`` steps, no read-outs), for
  the numpy back end in float32 and float64 and, where importable, torch;
* the numpy kernel with its collision in cache-sized blocks on one BLAS thread (the
  default, :data:`~koopkit.datasets.cylinder.backend.BLOCK` cells per block) against the
  same kernel on whole arrays with BLAS's default threads, as a ratio measured in the same
  process: the reason the kernel works in blocks.

Usage::

    python benchmarks/cylinder_speed.py                 # the default data set
    python benchmarks/cylinder_speed.py --reynolds 150 --resolution 12
    python benchmarks/cylinder_speed.py --skip-dataset  # kernel speeds only

Measured on the 2-core development machine (shared, so loaded): see the numbers the script
prints; the default data set takes well under a minute there.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from koopkit.datasets.cylinder import LatticeBoltzmann, cylinder_flow
from koopkit.datasets.cylinder.backend import NumpyOps, make_ops, torch_status

TARGET_SECONDS = 300.0


class WholeArrayOps(NumpyOps):
    """The numpy back end without blocks: one product over all cells, BLAS threads as set."""

    block = 0

    def limits(self):  # type: ignore[override]
        import contextlib

        return contextlib.nullcontext()


def kernel_speed(
    nx: int, ny: int, resolution: int, tau: float, ops: object, steps: int
) -> tuple[float, float]:
    """Seconds per step and MLUPS of the bare time loop (after a warm-up)."""
    lb = LatticeBoltzmann(
        nx,
        ny,
        tau=tau,
        u_inflow=0.1,
        cylinder=(6.0 * resolution, (ny - 1) / 2, resolution / 2),
        ops=ops,  # type: ignore[arg-type]
    )
    lb.initialise(np.full((ny, nx), 0.1), np.zeros((ny, nx)))
    lb.run(20)
    start = time.perf_counter()
    lb.run(steps)
    _ = lb.moments()  # waits for an asynchronous device
    per_step = (time.perf_counter() - start) / steps
    return per_step, nx * ny / per_step / 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reynolds", type=float, default=100.0)
    p.add_argument("--resolution", type=int, default=10)
    p.add_argument("--n-snapshots", "--snapshots", dest="n_snapshots", type=int, default=150)
    p.add_argument("--backend", default="numpy", choices=["numpy", "torch", "auto"])
    p.add_argument("--kernel-steps", type=int, default=1000)
    p.add_argument("--skip-dataset", action="store_true")
    args = p.parse_args()

    d = args.resolution
    nx, ny = 30 * d, 20 * d
    tau = 0.5 + 3 * 0.1 * d / args.reynolds
    print(f"bare kernel on {nx} x {ny} ({nx * ny} nodes), {args.kernel_steps} steps:")
    backends = [("numpy", np.float32, None), ("numpy", np.float64, None)]
    has_torch, has_cuda = torch_status()
    if has_torch:
        backends.append(("torch", np.float32, "cuda" if has_cuda else "cpu"))
    for name, dtype, device in backends:
        ops = make_ops(name, np.dtype(dtype), device)
        with ops.limits():
            per_step, mlups = kernel_speed(nx, ny, d, tau, ops, args.kernel_steps)
        where = f" ({device})" if device else ""
        print(
            f"  {name}{where} {np.dtype(dtype).name}: {per_step * 1e3:.3f} ms/step, "
            f"{1 / per_step:.0f} steps/s, {mlups:.1f} MLUPS"
        )
    for dtype in (np.float32, np.float64):
        blocked = NumpyOps(np.dtype(dtype))
        with blocked.limits():
            per_block, _ = kernel_speed(nx, ny, d, tau, blocked, args.kernel_steps)
        per_whole, _ = kernel_speed(
            nx, ny, d, tau, WholeArrayOps(np.dtype(dtype)), args.kernel_steps
        )
        print(
            f"  numpy {np.dtype(dtype).name}, blocks of {blocked.block} cells on one BLAS "
            f"thread vs whole arrays: {per_whole / per_block:.2f}x faster"
        )

    if args.skip_dataset:
        return
    print(f"\ncylinder_flow(reynolds={args.reynolds:g}, resolution={d}, backend={args.backend!r})")
    start = time.perf_counter()
    ds = cylinder_flow(
        reynolds=args.reynolds,
        resolution=d,
        n_snapshots=args.n_snapshots,
        backend=args.backend,
        progress=False,
    )
    total = time.perf_counter() - start
    a = ds.attrs
    steps = a["steps_total"]
    span = float(ds.time[-1] - ds.time[0])
    print(f"  grid {a['grid']}, blockage {a['blockage']:.3f}, tau {a['tau']:.4f}")
    print(
        f"  transient: {a['transient_steps']} steps ({a['transient_time']:.1f} D/U, "
        f"{a['transient_cycles']} lift cycles)"
    )
    print(
        f"  sampling: {ds.sizes['time']} snapshots over {span:.1f} D/U = "
        f"{span * a['strouhal']:.1f} shedding periods (St = {a['strouhal']:.4f})"
    )
    mlups = a["nx"] * a["ny"] * steps / total / 1e6
    print(f"  {steps} steps: {steps / total:.0f} steps/s, {mlups:.1f} MLUPS")
    verdict = "PASS" if total < TARGET_SECONDS else "FAIL"
    print(f"  total {total:.1f} s (target < {TARGET_SECONDS:.0f} s): {verdict}")


if __name__ == "__main__":
    main()

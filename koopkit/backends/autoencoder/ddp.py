"""Distributed (DDP) training of the Koopman autoencoder under ``torchrun``.

When :mod:`torch.distributed` is initialised with ``W > 1`` processes, training wraps the
loss in :class:`~torch.nn.parallel.DistributedDataParallel` (:func:`wrap_ddp`). Every rank
draws the same global batch of ``batch_size`` windows from the same seeded generator and
trains on its own contiguous share of ``batch_size // W`` of them, so the global batch is
the single-process one; each rank's loss is the mean over its share and DDP averages the
gradients, so the step is the single-process step up to floating-point summation order.
The logged losses are averaged over ranks (:func:`mean_over_ranks`), the progress bar runs
on rank 0 only, and checkpoints are written by rank 0 while the others wait at a
:func:`barrier`.

:func:`init_distributed` joins the process group that ``torchrun`` describes in the
environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``):
backend ``"nccl"`` on CUDA, ``"gloo"`` on the CPU. Once it is initialised,
:meth:`KoopmanAutoencoder.fit` trains with DistributedDataParallel (see
:mod:`koopkit.backends.autoencoder.train`): the same global batch as one process, split
across the ranks.

Run as a script it trains a small MLP autoencoder on the pendulum and writes the per-epoch
training-loss curve as JSON (from rank 0)::

    torchrun --standalone --nproc_per_node=2 -m koopkit.backends.autoencoder.ddp --out ddp.json
    python -m koopkit.backends.autoencoder.ddp --out single.json   # the same run, 1 process

Both runs see the same global batches, so the two curves agree to floating-point
summation order (``tests/test_ddp.py``).

With ``--data FILE`` it trains on a series read from a netCDF4/HDF5 file instead, lazily
(dask chunks of ``--chunks`` time steps; each rank reads only the windows of its share of
every batch) or, with ``--chunks 0``, loaded into memory::

    koopkit generate pendulum -o pendulum.nc
    torchrun --standalone --nproc_per_node=2 -m koopkit.backends.autoencoder.ddp \
        --data pendulum.nc --chunks 32 --out ddp.json

The JSON then also lists, per rank, what it read (``reads``: frames read and the
``(windows, frames)`` of each batch; ``tests/test_ae_lazy.py``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import time
from collections.abc import Sequence

import torch
import xarray as xr
from torch import nn

__all__ = [
    "barrier",
    "distributed_world",
    "init_distributed",
    "main",
    "mean_over_ranks",
    "wrap_ddp",
]


def distributed_world() -> tuple[int, int]:
    """``(rank, world_size)`` of the initialised process group, ``(0, 1)`` without one.

    Examples
    --------
    >>> import os
    >>> "WORLD_SIZE" in os.environ or distributed_world() == (0, 1)
    True
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return int(dist.get_rank()), int(dist.get_world_size())
    return 0, 1


def barrier(world: int) -> None:
    """Wait for every rank (nothing to do with one process)."""
    if world > 1:
        import torch.distributed as dist

        dist.barrier()


def mean_over_ranks(values: torch.Tensor, world: int) -> torch.Tensor:
    """The mean of ``values`` over the ranks (``values`` itself with one process)."""
    if world <= 1:
        return values
    import torch.distributed as dist

    values = values.float()
    dist.all_reduce(values)
    return values / world


def wrap_ddp(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` in :class:`~torch.nn.parallel.DistributedDataParallel` on ``device``.

    Empty parameters (a Koopman layer without real eigenvalues) never receive a gradient,
    so DDP is told to ignore them.
    """
    from torch.nn.parallel import DistributedDataParallel

    empty = [n for n, p in module.named_parameters() if p.numel() == 0]
    if empty:
        DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(module, empty)
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids)


def init_distributed(backend: str | None = None) -> tuple[int, int]:
    """Join the ``torchrun`` process group when ``WORLD_SIZE > 1``; ``(rank, world_size)``.

    Does nothing (and returns the current group's rank and size, or ``(0, 1)``) when the
    group is already initialised, ``WORLD_SIZE`` is unset or 1, or torch.distributed is
    unavailable.

    Examples
    --------
    >>> import os
    >>> "WORLD_SIZE" in os.environ or init_distributed() == (0, 1)
    True
    """
    import torch.distributed as dist

    if not dist.is_available() or dist.is_initialized():
        return distributed_world()
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return 0, 1
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend, init_method="env://")
    return distributed_world()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m koopkit.backends.autoencoder.ddp",
        description="Train a small Koopman autoencoder on the pendulum (DDP under torchrun).",
    )
    p.add_argument("--out", required=True, help="JSON file for the loss curve (rank 0)")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--steps", type=int, default=20, help="steps per epoch")
    p.add_argument("--batch-size", type=int, default=32, help="global batch size")
    p.add_argument("--snapshots", type=int, default=200)
    p.add_argument("--theta0", type=float, default=0.8)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--horizon", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr-decay", type=float, default=1.0, help="lr factor over the epochs")
    p.add_argument("--device", default="cpu")
    p.add_argument("--checkpoint-dir", default=None, help="checkpoint folder (rank 0 writes)")
    p.add_argument("--resume", action="store_true", help="resume from --checkpoint-dir")
    p.add_argument("--data", default=None, help="netCDF4/HDF5 file to train on (not the pendulum)")
    p.add_argument("--variable", default=None, help="variable of --data")
    p.add_argument(
        "--chunks",
        type=int,
        default=64,
        help="time steps per dask chunk when reading --data lazily; 0 loads it into memory",
    )
    return p


def _open(args: argparse.Namespace) -> xr.DataArray:
    """The training series of ``--data``: dask-backed (lazy) unless ``--chunks 0``."""
    from koopkit._validation import TIME, select_variable
    from koopkit.io import open_timeseries

    if args.chunks <= 0:
        return open_timeseries(args.data, variable=args.variable)
    ds = xr.open_dataset(args.data, engine="h5netcdf", chunks={TIME: args.chunks})
    return select_variable(ds, args.variable)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry; returns the exit status."""
    from koopkit.backends.autoencoder import KoopmanAutoencoder
    from koopkit.datasets import pendulum

    args = _parser().parse_args(argv)
    backend = "nccl" if args.device.startswith("cuda") else "gloo"
    rank, world = init_distributed(backend)
    try:
        if args.data:
            data = _open(args)
        else:
            data = pendulum(theta0=args.theta0, n_snapshots=args.snapshots)
        ae = KoopmanAutoencoder(
            latent_pairs=1,
            hidden=(args.hidden, args.hidden),
            horizon=args.horizon,
            epochs=args.epochs,
            steps_per_epoch=args.steps,
            batch_size=args.batch_size,
            warmup_epochs=1,
            ramp_epochs=1,
            lr_decay=args.lr_decay,
            refine=False,
            seed=args.seed,
            threads=1,
            device=args.device,
            progress=False,
            checkpoint_dir=args.checkpoint_dir,
            resume=args.resume,
        )
        t0 = time.perf_counter()
        ae.fit(data)
        seconds = time.perf_counter() - t0
        reads = [ae.data_reads_]
        if world > 1:
            import torch.distributed as dist

            reads = [None] * world
            dist.all_gather_object(reads, ae.data_reads_)
        if rank == 0:
            out = {
                "world_size": world,
                "global_batch": args.batch_size,
                "epochs": args.epochs,
                "steps_per_epoch": args.steps,
                "seed": args.seed,
                "seconds": seconds,
                "train": ae.history_["train"],
                "train_recon": ae.history_["train_recon"],
                "train_pred": ae.history_["train_pred"],
                "val": ae.history_["val"],
                "lazy": ae.data_reads_ is not None,
                "reads": reads,
                "eigenvalues": [[z.real, z.imag] for z in ae.spectrum_.eigenvalues.values],
            }
            with open(args.out, "w", encoding="utf-8") as fh:
                json.dump(out, fh, indent=2)
        if world > 1:
            # free the DDP wrapper (reference cycles keep it, and its reducer's hold on the
            # group, alive until a GC pass), and have every rank past its last collective
            # before any rank tears the group down: otherwise a rank can abort at exit
            # ("terminate called without an active exception")
            gc.collect()
            dist.barrier()
    finally:
        if world > 1:
            import torch.distributed as dist

            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The training loop of the Koopman autoencoder: plan, resume, epochs, validation, checkpoints.

:func:`train` runs in named phases: :func:`_plan` (windows, ranks and device),
:func:`_resume` (the checkpoint's state, or a fresh one), :func:`_start_folder` (the run's
configuration beside the checkpoint), then per epoch :func:`_train_epoch` (the optimizer
steps) and :func:`_end_epoch` (validation, report, early stopping, checkpoint). The loss
and its alpha schedule are in :mod:`~koopkit.backends.autoencoder.loss`, checkpoint files
in :mod:`~koopkit.backends.autoencoder.checkpoint`, the distributed pieces in
:mod:`~koopkit.backends.autoencoder.ddp`.

After every epoch whose losses are finite a checkpoint is written; a NaN or Inf loss stops
training with a :class:`~koopkit.KoopkitError` and leaves the last good checkpoint in place.

**Determinism.** On the CPU, with a fixed seed, training runs with
``torch.use_deterministic_algorithms(True)`` and draws its batches from its own
``torch.Generator``, so resuming from epoch ``k`` reproduces the uninterrupted run exactly.
On CUDA the forward pass runs under bf16 autocast and convolutional models use
``channels_last``.

The names this module has always exported (the network, the config, the loss, the
checkpoint files, :func:`distributed_world`) are imported from there and still importable
from here.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from koopkit._errors import KoopkitError
from koopkit.backends.autoencoder.checkpoint import (
    TrainState,
    check_fingerprint,
    checkpoint_files,
    checkpoint_paths,
    checkpoint_tensors,
    find_checkpoint,
    load_checkpoint,
    read_tensors,
    restore_checkpoint,
    write_json,
    write_tensors,
)
from koopkit.backends.autoencoder.data import FrameSource, as_source, make_windows
from koopkit.backends.autoencoder.ddp import (
    barrier,
    distributed_world,
    mean_over_ranks,
    wrap_ddp,
)
from koopkit.backends.autoencoder.loss import alpha_schedule, frame_mse, window_losses
from koopkit.backends.autoencoder.model import HISTORY_COLUMNS, KoopmanAE, TrainConfig, TrainResult

__all__ = [
    "HISTORY_COLUMNS",
    "KoopmanAE",
    "TrainConfig",
    "TrainResult",
    "alpha_schedule",
    "checkpoint_paths",
    "deterministic",
    "distributed_world",
    "evaluate",
    "frame_mse",
    "load_checkpoint",
    "make_windows",
    "read_tensors",
    "train",
    "window_losses",
    "write_json",
    "write_tensors",
]


# ------------------------------------------------------------------ pieces
@contextmanager
def deterministic(enabled: bool, threads: int | None = None) -> Iterator[None]:
    """Deterministic algorithms (and ``threads`` CPU threads) inside the block, then restored."""
    previous = torch.are_deterministic_algorithms_enabled()
    previous_threads = torch.get_num_threads()
    if enabled:
        torch.use_deterministic_algorithms(True)
    if threads:
        torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)
        if threads:
            torch.set_num_threads(previous_threads)


def _make_optimizer(model: KoopmanAE, cfg: TrainConfig) -> torch.optim.Adam:
    koop = list(model.koopman.parameters())
    koop_ids = {id(p) for p in koop}
    rest = [p for p in model.parameters() if id(p) not in koop_ids and p.requires_grad]
    groups = [{"params": rest, "lr": cfg.lr}]
    groups.append({"params": koop, "lr": cfg.koopman_lr if cfg.koopman_lr else cfg.lr})
    return torch.optim.Adam(groups, lr=cfg.lr, betas=tuple(cfg.betas))


def _set_lr(opt: torch.optim.Optimizer, cfg: TrainConfig, epoch: int) -> None:
    factor = cfg.lr_decay ** (epoch / max(cfg.epochs, 1))
    base = (cfg.lr, cfg.koopman_lr if cfg.koopman_lr else cfg.lr)
    for group, lr in zip(opt.param_groups, base, strict=True):
        group["lr"] = lr * factor


@torch.no_grad()
def evaluate(
    model: KoopmanAE,
    frames: torch.Tensor | FrameSource,
    starts: np.ndarray,
    cfg: TrainConfig,
    batch: int = 256,
    autocast: bool = False,
) -> float:
    """Mean loss (at the target alpha) over the windows starting at ``starts``.

    ``frames``: the concatenated frames, or a :class:`FrameSource` (read batch by batch).
    """
    if starts.size == 0:
        return float("nan")
    source = as_source(frames)
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    span = cfg.delays + cfg.horizon
    batch = min(batch, source.batch_limit(span) or batch)  # lazily read frames: bounded
    for i in range(0, starts.size, batch):
        s = torch.as_tensor(starts[i : i + batch], device=source.device)
        w = source.gather(s, span)
        loss, _, _ = window_losses(
            model, w, cfg.alpha, cfg.linearity_weight, cfg.backward_weight, autocast
        )
        total += float(loss) * len(s)
        count += len(s)
    model.train(was_training)
    return total / count


def _diverged(epoch: int, step: int, cfg: TrainConfig, value: float, good: int | None) -> str:
    where = (
        f"the last good checkpoint (epoch {good}) is in {cfg.checkpoint_dir!r}"
        if cfg.checkpoint_dir and good
        else "no checkpoint was written"
    )
    return (
        f"the training loss became {value} at epoch {epoch + 1}, step {step + 1}: lower lr= "
        f"(now {cfg.lr:g}) or set max_grad_norm=; {where}"
    )


class _WindowLoss(nn.Module):
    """``forward(windows, alpha)`` is :func:`window_losses`: what DDP wraps (it hooks forward)."""

    def __init__(self, model: KoopmanAE, cfg: TrainConfig, autocast: bool) -> None:
        super().__init__()
        self.model = model
        self.weights = (cfg.linearity_weight, cfg.backward_weight)
        self.autocast = autocast

    def forward(
        self, windows: torch.Tensor, alpha: float
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return window_losses(self.model, windows, alpha, *self.weights, autocast=self.autocast)


# ------------------------------------------------------------------ phases
@dataclass
class _Plan:
    """Where a run trains and on what: its windows, this rank's share, the device."""

    train_starts: np.ndarray
    val_starts: np.ndarray
    rank: int
    world: int
    share: int
    device: torch.device
    span: int

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"


def _plan(source: FrameSource, cfg: TrainConfig, device: torch.device) -> _Plan:
    """Training and validation windows, this process's rank and share, and its device."""
    lengths = list(source.lengths)
    train_starts, val_starts = make_windows(lengths, cfg.delays, cfg.horizon, cfg.val_fraction)
    span = cfg.delays + cfg.horizon
    if train_starts.size == 0:
        raise KoopkitError(
            f"no training window: horizon={cfg.horizon} and delays={cfg.delays} need "
            f"{span} consecutive snapshots before the validation split (val_fraction="
            f"{cfg.val_fraction:g}), but the sequences have {lengths}: lower horizon= or "
            "val_fraction=, or pass longer sequences"
        )
    rank, world = distributed_world()
    if cfg.batch_size % world:
        raise KoopkitError(
            f"batch_size={cfg.batch_size} must be divisible by the {world} distributed "
            f"processes (each trains on batch_size // {world} windows of the global batch)"
        )
    if world > 1 and device.type == "cuda" and device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return _Plan(train_starts, val_starts, rank, world, cfg.batch_size // world, device, span)


def _resume(
    model: KoopmanAE, opt: torch.optim.Optimizer, sampler: torch.Generator, cfg: TrainConfig
) -> TrainState:
    """The state of the checkpoint in ``cfg.checkpoint_dir`` when resuming, else a fresh one."""
    if not cfg.resume:
        return TrainState()
    if not cfg.checkpoint_dir:
        raise KoopkitError("resume=True needs checkpoint_dir=: the folder of the checkpoint")
    if find_checkpoint(os.fspath(cfg.checkpoint_dir)) is None:
        warnings.warn(
            f"resume=True but {os.fspath(cfg.checkpoint_dir)!r} holds no checkpoint yet: "
            "training from the start",
            stacklevel=4,
        )
        return TrainState()
    tensors, saved = load_checkpoint(cfg.checkpoint_dir)
    check_fingerprint(saved.get("fingerprint", {}), cfg.fingerprint, cfg.checkpoint_dir)
    return restore_checkpoint(tensors, model, opt, sampler)


def _start_folder(cfg: TrainConfig, state: TrainState) -> None:
    """Write the run's configuration; a fresh run first removes an older run's tensors."""
    if state.epoch == 0:
        for stale in checkpoint_files(os.fspath(cfg.checkpoint_dir)):
            os.remove(stale)
    _, config_path = checkpoint_paths(cfg.checkpoint_dir)
    write_json(
        config_path, {"fingerprint": cfg.fingerprint, "train_config": asdict(cfg), "format": 1}
    )


def _progress_bar(cfg: TrainConfig, start_epoch: int) -> Any:
    from tqdm.auto import tqdm

    total_steps = cfg.epochs * cfg.steps_per_epoch
    return tqdm(
        total=total_steps,
        initial=min(start_epoch * cfg.steps_per_epoch, total_steps),
        desc="koopman autoencoder",
        unit="step",
        disable=None,
        leave=False,
    )


def _train_epoch(
    epoch: int,
    alpha: float,
    step_model: nn.Module,
    model: KoopmanAE,
    opt: torch.optim.Optimizer,
    sampler: torch.Generator,
    source: FrameSource,
    train_idx: torch.Tensor,
    plan: _Plan,
    cfg: TrainConfig,
    last_good: int | None,
    bar: Any,
) -> np.ndarray:
    """The optimizer steps of one epoch; the mean ``(total, recon, pred)`` losses."""
    sums = np.zeros(3)
    for step in range(cfg.steps_per_epoch):
        pick = torch.randint(len(train_idx), (cfg.batch_size,), generator=sampler)
        pick = pick[plan.rank * plan.share : (plan.rank + 1) * plan.share]  # this rank's share
        windows = source.gather(train_idx[pick.to(plan.device)], plan.span)
        total, recon, pred = step_model(windows, alpha)
        logged = torch.stack([total.detach(), recon.detach(), pred.detach()])
        logged = mean_over_ranks(logged, plan.world)
        value, recon_value, pred_value = (float(v) for v in logged.cpu())
        if not math.isfinite(value):
            raise KoopkitError(_diverged(epoch, step, cfg, value, last_good))
        opt.zero_grad(set_to_none=True)
        total.backward()
        if cfg.max_grad_norm:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
        opt.step()
        sums += (value, recon_value, pred_value)
        if bar is not None:
            bar.update(1)
            if step % 10 == 0:
                bar.set_postfix(
                    epoch=epoch + 1,
                    loss=f"{value:.3g}",
                    recon=f"{recon_value:.3g}",
                    pred=f"{pred_value:.3g}",
                    alpha=f"{alpha:.2f}",
                )
    return sums / cfg.steps_per_epoch


def _end_epoch(
    epoch: int,
    alpha: float,
    means: np.ndarray,
    model: KoopmanAE,
    opt: torch.optim.Optimizer,
    sampler: torch.Generator,
    source: FrameSource,
    plan: _Plan,
    cfg: TrainConfig,
    state: TrainState,
    report: Callable[[str], None] | None,
    bar: Any,
) -> None:
    """Validation, the report line, early stopping and the checkpoint after one epoch."""
    val = evaluate(model, source, plan.val_starts, cfg, autocast=plan.cuda)
    state.history.append([*means.tolist(), val, alpha])
    state.epoch = epoch + 1
    every = max(1, cfg.epochs // 10)
    shown = epoch == 0 or (epoch + 1) % every == 0 or epoch + 1 == cfg.epochs
    if report is not None and plan.rank == 0 and shown:
        checked = f", validation {val:.3g}" if math.isfinite(val) else ""
        report(
            f"epoch {epoch + 1}/{cfg.epochs}: loss {means[0]:.3g} (reconstruction "
            f"{means[1]:.3g}, prediction {means[2]:.3g}, alpha {alpha:.2f}){checked}"
        )
    if bar is not None:
        bar.set_postfix(
            epoch=epoch + 1, loss=f"{means[0]:.3g}", val=f"{val:.3g}", alpha=f"{alpha:.2f}"
        )
    if cfg.patience and epoch + 1 >= cfg.warmup_epochs + cfg.ramp_epochs:
        score = val if math.isfinite(val) else means[0]
        if score < state.best_val:
            state.best_val, state.bad_epochs, state.best_epoch = score, 0, epoch + 1
            state.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            state.bad_epochs += 1
            state.stopped = state.bad_epochs >= cfg.patience
    if cfg.checkpoint_dir:
        if plan.rank == 0:
            tensors = checkpoint_tensors(model, opt, sampler, state)
            write_tensors(checkpoint_paths(cfg.checkpoint_dir)[0], tensors)
        barrier(plan.world)  # the others wait for rank 0's checkpoint


# ------------------------------------------------------------------ the loop
def train(
    model: KoopmanAE,
    sequences: Sequence[torch.Tensor] | FrameSource,
    cfg: TrainConfig,
    device: torch.device,
    report: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train ``model`` in place on normalised ``sequences`` (each ``(time, *frame_shape)``).

    ``sequences`` may also be a :class:`~koopkit.backends.autoencoder.data.FrameSource`
    (e.g. frames read lazily from a file): each step then reads only its windows.
    ``report``, when given, gets a line with the plan and one after the first epoch, every
    ``max(1, epochs // 10)``-th and the last (their losses and alpha).

    Returns
    -------
    TrainResult
        The per-epoch history (columns :data:`HISTORY_COLUMNS`) of every epoch so far,
        checkpointed ones included.

    Raises
    ------
    KoopkitError
        On too-short sequences, a checkpoint written with other settings, or a NaN/Inf loss.
    """
    source = as_source(sequences)
    plan = _plan(source, cfg, device)
    source = source.to(plan.device)
    model.to(plan.device)
    if plan.cuda and len(model.frame_shape) == 3:
        model.to(memory_format=torch.channels_last)
    opt = _make_optimizer(model, cfg)
    sampler = torch.Generator().manual_seed(int(cfg.seed) + 1)
    state = _resume(model, opt, sampler, cfg)
    resumed_from = state.epoch
    barrier(plan.world)  # every rank has read the checkpoint before rank 0 touches it
    if cfg.checkpoint_dir and plan.rank == 0:
        _start_folder(cfg, state)
    barrier(plan.world)
    bar = _progress_bar(cfg, state.epoch) if cfg.progress and plan.rank == 0 else None
    if report is not None and plan.rank == 0:
        threads = cfg.threads or torch.get_num_threads()
        where = "CUDA" if plan.cuda else f"{threads} CPU thread{'s' if threads > 1 else ''}"
        report(
            f"training {cfg.epochs} epochs x {cfg.steps_per_epoch} steps x batch "
            f"{cfg.batch_size} from {plan.train_starts.size} windows of {plan.span} frames "
            f"({plan.val_starts.size} for validation) on {where}"
        )
    train_idx = torch.tensor(plan.train_starts, device=plan.device)
    step_model: nn.Module = _WindowLoss(model, cfg, plan.cuda)
    if plan.world > 1:
        step_model = wrap_ddp(step_model, plan.device)
    last_good = state.epoch or None
    stop = state.epoch if state.stopped else cfg.epochs  # an early-stopped run stays stopped
    with deterministic(not plan.cuda, None if plan.cuda else cfg.threads):
        model.train()
        try:
            for epoch in range(state.epoch, stop):
                alpha = alpha_schedule(epoch, cfg.alpha, cfg.warmup_epochs, cfg.ramp_epochs)
                _set_lr(opt, cfg, epoch)
                means = _train_epoch(
                    epoch,
                    alpha,
                    step_model,
                    model,
                    opt,
                    sampler,
                    source,
                    train_idx,
                    plan,
                    cfg,
                    last_good,
                    bar,
                )
                _end_epoch(
                    epoch, alpha, means, model, opt, sampler, source, plan, cfg, state, report, bar
                )
                if cfg.checkpoint_dir:
                    last_good = epoch + 1
                if state.stopped:
                    break
        finally:
            if bar is not None:
                bar.close()
    if state.stopped and state.best_state is not None:
        model.load_state_dict(state.best_state)
    model.eval()
    history = state.history
    return TrainResult(
        history=np.asarray(history, dtype=float).reshape(-1, len(HISTORY_COLUMNS)),
        epochs_run=len(history),
        stopped_early=state.stopped,
        resumed_from=resumed_from,
        best_epoch=state.best_epoch,
    )

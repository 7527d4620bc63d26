"""Training the Koopman autoencoder: windows, the loss schedule, checkpoints and resuming.

A training window starting at frame ``i`` holds the history ``h_i = [x_{i-d+1}, ..., x_i]``
(``d = delays`` frames, stacked as the encoder's input) and the targets
``x_{i+1}, ..., x_{i+T}`` (``T = horizon``). With ``z = E(h_i)`` the losses are
(Sanayei, section 4.3)

    L_recon = MSE(D(z), x_i)
    L_pred  = (1/T) sum_{m=1..T} MSE(D(K^m z), x_{i+m})
    L       = alpha L_recon + (1 - alpha) L_pred
              + w_lin (1/T) sum_m MSE(K^m z, E(h_{i+m}))            (Lusch et al. 2018)
              + w_back (1/T) sum_m MSE(D(K^-m E(h_{i+T})), x_{i+T-m}) (Azencot et al. 2020)

All ``K^m z`` of a batch come from one call of :meth:`KoopmanLayer.advance`, and the
``B (T + 1)`` frames are decoded in one batch.

**Loss schedule.** The paper's text contradicts itself: it trains "with an alpha value of
zero for the first 10 epochs" to "ensure a competent encoder and decoder", yet by its own
definition ``alpha = 0`` drops the reconstruction term and ``alpha = 1`` is "a regular
autoencoder". We follow the stated intent: for ``warmup_epochs`` the loss is reconstruction
only (``alpha = 1``), then alpha falls linearly **from 1** to its target over
``ramp_epochs`` epochs and stays there.

**Checkpoints.** After every epoch whose losses are finite, ``checkpoint.pt`` (or
``checkpoint.safetensors`` when safetensors is installed) is written to a temporary file and
moved into place with :func:`os.replace`. It is one flat dict of tensors: the model's state
dict, Adam's moments, the sampler's and torch's random states, the epoch and the loss
history, so a checkpoint is either the old one or the new one, never half of each. It is
read back with ``torch.load(weights_only=True)``. ``checkpoint.json`` holds the
configuration, written once the same way. A NaN or Inf loss stops training with a
:class:`~koopkit.KoopkitError` and leaves the last good checkpoint in place.

**Determinism.** On the CPU, with a fixed seed, training runs with
``torch.use_deterministic_algorithms(True)`` and draws its batches from its own
``torch.Generator``, so resuming from epoch ``k`` reproduces the uninterrupted run exactly.
On CUDA the forward pass runs under bf16 autocast and convolutional models use
``channels_last``.

**Distributed training.** When :mod:`torch.distributed` is initialised (under ``torchrun``,
see :mod:`koopkit.backends.autoencoder.ddp`) with ``W > 1`` processes, the model is wrapped
in :class:`~torch.nn.parallel.DistributedDataParallel`. Every rank draws the same global
batch of ``batch_size`` windows from the same seeded generator and trains on its own
contiguous share of ``batch_size // W`` of them (``batch_size`` must be divisible by
``W``), so the global batch is the single-process one. Each rank's loss is the mean over
its share and DDP averages the gradients over ranks, so the step is the single-process
step up to floating-point summation order. The logged losses are averaged over ranks
(an all-reduce per step), the progress bar runs on rank 0 only, and checkpoints are
written by rank 0 while the others wait at a barrier.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from koopkit._errors import KoopkitError
from koopkit.backends.autoencoder.data import FrameSource, as_source
from koopkit.backends.autoencoder.layers import KoopmanLayer
from koopkit.spectrum import json_default

__all__ = [
    "KoopmanAE",
    "TrainConfig",
    "TrainResult",
    "alpha_schedule",
    "distributed_world",
    "load_checkpoint",
    "make_windows",
    "read_tensors",
    "train",
    "write_tensors",
]

HISTORY_COLUMNS = ("train", "train_recon", "train_pred", "val", "alpha")


# ------------------------------------------------------------------ the network
class KoopmanAE(nn.Module):
    """Encoder, Koopman layer and decoder, with the history stacking done here.

    Parameters
    ----------
    encoder : nn.Module
        Maps a stacked history ``(B, delays * C, *rest)`` (frames ``(C, *rest)``; for
        vectors ``(B, delays * n)``) to ``(B, latent_dim)``.
    koopman : KoopmanLayer
    decoder : nn.Module
        Maps ``(B, latent_dim)`` to frames ``(B, *frame_shape)``.
    frame_shape : tuple of int
        ``(n,)`` for vectors, ``(C, H, W)`` for images.
    delays : int

    Examples
    --------
    >>> import torch
    >>> from koopkit.backends.autoencoder.layers import MLP, KoopmanLayer
    >>> ae = KoopmanAE(MLP(6, (8,), 2), KoopmanLayer(1, 0.1), MLP(2, (8,), 3), (3,), 2)
    >>> ae.encode(torch.zeros(5, 2, 3)).shape, ae.decode(torch.zeros(5, 4, 2)).shape
    (torch.Size([5, 2]), torch.Size([5, 4, 3]))
    """

    def __init__(
        self,
        encoder: nn.Module,
        koopman: KoopmanLayer,
        decoder: nn.Module,
        frame_shape: Sequence[int],
        delays: int,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.koopman = koopman
        self.decoder = decoder
        self.frame_shape = tuple(int(s) for s in frame_shape)
        self.delays = int(delays)

    def encode(self, history: torch.Tensor) -> torch.Tensor:
        """``(..., delays, *frame_shape)`` histories to ``(..., latent_dim)``."""
        lead = history.shape[: -1 - len(self.frame_shape)]
        flat = history.reshape(-1, self.delays * self.frame_shape[0], *self.frame_shape[1:])
        if flat.is_cuda and flat.ndim == 4:
            flat = flat.contiguous(memory_format=torch.channels_last)
        return self.encoder(flat).reshape(*lead, -1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(..., latent_dim)`` to frames ``(..., *frame_shape)``."""
        lead = z.shape[:-1]
        out = self.decoder(z.reshape(-1, z.shape[-1]))
        return out.reshape(*lead, *self.frame_shape)


# ------------------------------------------------------------------ configuration
@dataclass
class TrainConfig:
    """Everything that shapes a training run (see :class:`KoopmanAutoencoder` for meanings).

    Examples
    --------
    >>> TrainConfig(horizon=5, epochs=2).steps_per_epoch
    100
    """

    horizon: int = 20
    delays: int = 1
    alpha: float = 0.5
    warmup_epochs: int = 5
    ramp_epochs: int = 5
    epochs: int = 60
    steps_per_epoch: int = 100
    batch_size: int = 64
    lr: float = 1e-3
    koopman_lr: float | None = None
    betas: tuple[float, float] = (0.9, 0.999)
    lr_decay: float = 1.0
    linearity_weight: float = 0.0
    backward_weight: float = 0.0
    val_fraction: float = 0.1
    patience: int | None = None
    max_grad_norm: float | None = None
    seed: int = 0
    threads: int | None = None
    progress: bool = True
    checkpoint_dir: str | None = None
    resume: bool = False
    fingerprint: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainResult:
    """What :func:`train` reports: per-epoch history and how the run ended."""

    history: np.ndarray  # (epochs_run, len(HISTORY_COLUMNS))
    epochs_run: int
    stopped_early: bool
    resumed_from: int  # epochs already done in the checkpoint (0 for a fresh run)
    best_epoch: int | None


def alpha_schedule(epoch: int, target: float, warmup: int, ramp: int) -> float:
    """Weight of the reconstruction loss at ``epoch`` (0-based).

    ``1`` (reconstruction only) for the first ``warmup`` epochs, then linearly down to
    ``target`` over ``ramp`` epochs, then ``target``.

    Examples
    --------
    >>> [alpha_schedule(e, 0.5, 2, 2) for e in range(6)]
    [1.0, 1.0, 0.75, 0.5, 0.5, 0.5]
    """
    if epoch < warmup:
        return 1.0
    if ramp <= 0:
        return float(target)
    frac = min(1.0, (epoch - warmup + 1) / ramp)
    return float(1.0 + (target - 1.0) * frac)


# ------------------------------------------------------------------ windows
def make_windows(
    lengths: Sequence[int], delays: int, horizon: int, val_fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    """Start indices of training and validation windows in the concatenated sequences.

    A window holds ``delays + horizon`` consecutive frames of one sequence (its history and
    its targets). The last ``round(val_fraction * length)`` frames of each sequence are
    held out: training windows lie entirely before them, and validation windows predict
    only held-out frames (their history ends on the last training frame or later).

    Returns
    -------
    train, val : int arrays
        Index of each window's first frame in the concatenation of the sequences.

    Examples
    --------
    >>> tr, va = make_windows([10], delays=2, horizon=3, val_fraction=0.3)
    >>> tr.tolist(), va.tolist()
    ([0, 1, 2], [5])
    """
    train, val = [], []
    offset = 0
    span = delays + horizon
    for length in lengths:
        n_val = int(round(val_fraction * length)) if val_fraction > 0 else 0
        n_train = length - n_val
        train.extend(range(offset, offset + n_train - span + 1))
        if n_val:
            # window frames s .. s+span-1; newest history frame s+delays-1 >= n_train-1
            first = max(0, n_train - delays)
            val.extend(range(offset + first, offset + length - span + 1))
        offset += length
    return np.asarray(train, dtype=np.int64), np.asarray(val, dtype=np.int64)


# ------------------------------------------------------------------ losses
class _FrameMSE(torch.autograd.Function):
    """Mean squared error of each frame position of a batch of windows, in one pass.

    ``x, target`` of shape ``(B, F, *frame)`` give ``(F,)``: the mean over the batch and the
    pixels of position ``f``. Equivalent to ``F.mse_loss`` on each ``x[:, f]`` but the
    difference is formed once, the squares are never stored (a norm reduction), and the
    backward pass scales the saved difference in place instead of zero-filling a full-size
    gradient for every slice: at 224 x 224 with ``B (T + 1) = 168`` frames this halves the
    loss's cost on a CPU, where each full-size pass is tens of milliseconds. Differentiable
    once (the saved difference is consumed by the backward pass).
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        diff = x - target
        ctx.diff = diff
        flat = diff.reshape(diff.shape[0], diff.shape[1], -1)
        per = torch.linalg.vector_norm(flat, dim=2).square().sum(0)
        return per / (flat.shape[0] * flat.shape[2])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        diff = ctx.diff
        if diff is None:
            raise RuntimeError("the window loss can be differentiated only once")
        ctx.diff = None
        b, f = diff.shape[:2]
        scale = grad * (2.0 / (b * diff[0, 0].numel()))
        return diff.mul_(scale.to(diff.dtype).view(1, f, *[1] * (diff.dim() - 2))), None


def frame_mse(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``(F,)`` mean squared error per frame position of ``(B, F, *frame)`` windows."""
    return _FrameMSE.apply(x, target)


def window_losses(
    model: KoopmanAE,
    windows: torch.Tensor,
    alpha: float,
    linearity_weight: float = 0.0,
    backward_weight: float = 0.0,
    autocast: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(total, recon, pred)`` losses of a batch of windows ``(B, delays + T, *frame)``."""
    d = model.delays
    t = windows.shape[1] - d
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
        need_all = linearity_weight > 0
        if need_all:
            idx = torch.arange(t + 1, device=windows.device)[:, None] + torch.arange(
                d, device=windows.device
            )
            z_all = model.encode(windows[:, idx])  # (B, T+1, L)
            z0 = z_all[:, 0]
        else:
            z0 = model.encode(windows[:, :d])
        steps = torch.arange(t + 1, device=windows.device, dtype=torch.float64)
        zs = model.koopman.advance(z0.float(), steps)  # (B, T+1, L)
        xs = model.decode(zs)
    target = windows[:, d - 1 :]
    per_frame = frame_mse(xs.float(), target)  # (T + 1,)
    recon = per_frame[0]
    pred = per_frame[1:].mean() if t > 0 else torch.zeros_like(recon)
    total = alpha * recon + (1 - alpha) * pred
    if linearity_weight > 0:
        total = total + linearity_weight * F.mse_loss(zs[:, 1:], z_all[:, 1:].float())
    if backward_weight > 0 and t > 0:
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
            z_end = z_all[:, t] if need_all else model.encode(windows[:, t : t + d])
            back_steps = -torch.arange(1, t + 1, device=windows.device, dtype=torch.float64)
            xb = model.decode(model.koopman.advance(z_end.float(), back_steps))
        # x_{i+T-m} for m = 1..T is target[:, T-1], ..., target[:, 0]
        total = total + backward_weight * F.mse_loss(xb.float(), target[:, :t].flip(1))
    return total, recon, pred


# ------------------------------------------------------------------ files
def _safetensors() -> Any:
    try:
        import safetensors.torch as st
    except ImportError:
        return None
    return st


def checkpoint_paths(directory: str | os.PathLike[str]) -> tuple[str, str]:
    """``(tensors, config)`` file names in ``directory`` (safetensors when installed)."""
    ext = ".safetensors" if _safetensors() is not None else ".pt"
    d = os.fspath(directory)
    return os.path.join(d, "checkpoint" + ext), os.path.join(d, "checkpoint.json")


@contextmanager
def _atomic(path: str) -> Iterator[str]:
    """Yield a temporary name beside ``path``; move it onto ``path`` when the block succeeds."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=directory)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_tensors(path: str, tensors: dict[str, torch.Tensor]) -> None:
    """Write a flat dict of tensors atomically (safetensors for ``.safetensors`` names).

    Examples
    --------
    >>> import tempfile, os, torch
    >>> p = os.path.join(tempfile.mkdtemp(), "t.pt")
    >>> write_tensors(p, {"a": torch.ones(2)})
    >>> read_tensors(p)["a"].tolist()
    [1.0, 1.0]
    """
    clean = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    with _atomic(path) as tmp:
        if path.endswith(".safetensors"):
            _safetensors().save_file(clean, tmp)
        else:
            torch.save(clean, tmp)


def read_tensors(path: str) -> dict[str, torch.Tensor]:
    """Read a file written by :func:`write_tensors` (``weights_only=True``; no pickled objects)."""
    if path.endswith(".safetensors"):
        st = _safetensors()
        if st is None:
            raise KoopkitError(f"{path} is a safetensors file: pip install safetensors")
        return dict(st.load_file(path))
    return dict(torch.load(path, map_location="cpu", weights_only=True))


def write_json(path: str, obj: Any) -> None:
    """Write JSON atomically."""
    with _atomic(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=2, sort_keys=True, default=json_default)


def _checkpoint_files(directory: str) -> list[str]:
    names = ("checkpoint.safetensors", "checkpoint.pt")
    return [p for p in (os.path.join(directory, n) for n in names) if os.path.isfile(p)]


def _find_checkpoint(directory: str) -> str | None:
    for ext in (".safetensors", ".pt"):
        path = os.path.join(directory, "checkpoint" + ext)
        if os.path.isfile(path):
            return path
    return None


def _optimizer_tensors(opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    out = {}
    for idx, state in opt.state_dict()["state"].items():
        for name, value in state.items():
            out[f"optim/{idx}/{name}"] = torch.as_tensor(value)
    return out


def _load_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim/"):
            _, idx, name = key.split("/", 2)
            state.setdefault(int(idx), {})[name] = value
    opt.load_state_dict({"state": state, "param_groups": opt.state_dict()["param_groups"]})


def _prefixed(prefix: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {prefix + k: v for k, v in state.items()}


def _unprefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def load_checkpoint(directory: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict]:
    """The tensors and configuration of the checkpoint in ``directory``.

    Raises
    ------
    KoopkitError
        If there is none.
    """
    directory = os.fspath(directory)
    path = _find_checkpoint(directory)
    cfg_path = os.path.join(directory, "checkpoint.json")
    if path is None or not os.path.isfile(cfg_path):
        raise KoopkitError(
            f"no checkpoint in {directory!r}: train with checkpoint_dir= first, or drop resume="
        )
    with open(cfg_path, encoding="utf-8") as fh:
        config = json.load(fh)
    return read_tensors(path), config


# ------------------------------------------------------------------ determinism
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


# ------------------------------------------------------------------ training
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


def distributed_world() -> tuple[int, int]:
    """``(rank, world_size)`` of the initialised process group, ``(0, 1)`` without one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return int(dist.get_rank()), int(dist.get_world_size())
    return 0, 1


def _barrier(world: int) -> None:
    if world > 1:
        import torch.distributed as dist

        dist.barrier()


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


def _wrap_ddp(step_model: _WindowLoss, device: torch.device) -> nn.Module:
    from torch.nn.parallel import DistributedDataParallel

    # empty parameters (a Koopman layer without real eigenvalues) never receive a gradient
    empty = [n for n, p in step_model.named_parameters() if p.numel() == 0]
    if empty:
        DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(step_model, empty)
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(step_model, device_ids=ids)


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
    lengths = list(source.lengths)
    train_starts, val_starts = make_windows(lengths, cfg.delays, cfg.horizon, cfg.val_fraction)
    if train_starts.size == 0:
        need = cfg.delays + cfg.horizon
        raise KoopkitError(
            f"no training window: horizon={cfg.horizon} and delays={cfg.delays} need "
            f"{need} consecutive snapshots before the validation split (val_fraction="
            f"{cfg.val_fraction:g}), but the sequences have {lengths}: lower horizon= or "
            "val_fraction=, or pass longer sequences"
        )
    rank, world = distributed_world()
    if cfg.batch_size % world:
        raise KoopkitError(
            f"batch_size={cfg.batch_size} must be divisible by the {world} distributed "
            f"processes (each trains on batch_size // {world} windows of the global batch)"
        )
    share = cfg.batch_size // world
    if world > 1 and device.type == "cuda" and device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    source = source.to(device)
    span = cfg.delays + cfg.horizon
    cuda = device.type == "cuda"
    model.to(device)
    if cuda and len(model.frame_shape) == 3:
        model.to(memory_format=torch.channels_last)
    opt = _make_optimizer(model, cfg)
    sampler = torch.Generator().manual_seed(int(cfg.seed) + 1)
    history: list[list[float]] = []
    start_epoch, best_val, bad_epochs, best_epoch = 0, math.inf, 0, None
    already_stopped = False
    best_state: dict[str, torch.Tensor] | None = None
    paths = checkpoint_paths(cfg.checkpoint_dir) if cfg.checkpoint_dir else None

    if cfg.resume:
        if not cfg.checkpoint_dir:
            raise KoopkitError("resume=True needs checkpoint_dir=: the folder of the checkpoint")
        if _find_checkpoint(os.fspath(cfg.checkpoint_dir)) is not None:
            tensors, saved = load_checkpoint(cfg.checkpoint_dir)
            _check_fingerprint(saved.get("fingerprint", {}), cfg.fingerprint, cfg.checkpoint_dir)
            model.load_state_dict(_unprefixed("model/", tensors))
            _load_optimizer(opt, tensors)
            sampler.set_state(tensors["rng/sampler"])
            start_epoch = int(tensors["train/epoch"])
            history = tensors["train/history"].double().tolist()
            best_val = float(tensors["train/best_val"])
            bad_epochs = int(tensors["train/bad_epochs"])
            be = int(tensors["train/best_epoch"])
            best_epoch = be if be >= 0 else None
            if "best/" + next(iter(model.state_dict())) in tensors:
                best_state = _unprefixed("best/", tensors)
            already_stopped = bool(int(tensors.get("train/stopped", torch.tensor(0))))
        else:
            warnings.warn(
                f"resume=True but {os.fspath(cfg.checkpoint_dir)!r} holds no checkpoint yet: "
                "training from the start",
                stacklevel=3,
            )
    resumed_from = start_epoch
    _barrier(world)  # every rank has read the checkpoint before rank 0 touches it
    if paths is not None and rank == 0:
        if start_epoch == 0:  # a fresh run: never leave an older run's tensors beside it
            for stale in _checkpoint_files(os.fspath(cfg.checkpoint_dir)):
                os.remove(stale)
        write_json(
            paths[1],
            {"fingerprint": cfg.fingerprint, "train_config": asdict(cfg), "format": 1},
        )

    stopped = already_stopped  # an early-stopped run stays stopped
    last_good = start_epoch if start_epoch else None
    schedule_end = cfg.warmup_epochs + cfg.ramp_epochs
    total_steps = cfg.epochs * cfg.steps_per_epoch
    _barrier(world)
    bar = None
    if cfg.progress and rank == 0:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=total_steps,
            initial=min(start_epoch * cfg.steps_per_epoch, total_steps),
            desc="koopman autoencoder",
            unit="step",
            disable=None,
            leave=False,
        )
    train_idx = torch.tensor(train_starts, device=device)
    every = max(1, cfg.epochs // 10)
    if report is not None and rank == 0:
        threads = cfg.threads or torch.get_num_threads()
        where = "CUDA" if cuda else f"{threads} CPU thread{'s' if threads > 1 else ''}"
        report(
            f"training {cfg.epochs} epochs x {cfg.steps_per_epoch} steps x batch "
            f"{cfg.batch_size} from {train_starts.size} windows of {span} frames "
            f"({val_starts.size} for validation) on {where}"
        )
    step_model: nn.Module = _WindowLoss(model, cfg, cuda)
    if world > 1:
        import torch.distributed as dist

        step_model = _wrap_ddp(step_model, device)
    with deterministic(not cuda, None if cuda else cfg.threads):
        model.train()
        try:
            for epoch in range(start_epoch, start_epoch if stopped else cfg.epochs):
                alpha = alpha_schedule(epoch, cfg.alpha, cfg.warmup_epochs, cfg.ramp_epochs)
                _set_lr(opt, cfg, epoch)
                sums = np.zeros(3)
                for step in range(cfg.steps_per_epoch):
                    pick = torch.randint(len(train_idx), (cfg.batch_size,), generator=sampler)
                    pick = pick[rank * share : (rank + 1) * share]  # this rank's share
                    windows = source.gather(train_idx[pick.to(device)], span)
                    total, recon, pred = step_model(windows, alpha)
                    logged = torch.stack([total.detach(), recon.detach(), pred.detach()])
                    if world > 1:
                        logged = logged.float()
                        dist.all_reduce(logged)
                        logged = logged / world
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
                means = sums / cfg.steps_per_epoch
                val = evaluate(model, source, val_starts, cfg, autocast=cuda)
                history.append([*means.tolist(), val, alpha])
                shown = epoch == 0 or (epoch + 1) % every == 0 or epoch + 1 == cfg.epochs
                if report is not None and rank == 0 and shown:
                    checked = f", validation {val:.3g}" if math.isfinite(val) else ""
                    report(
                        f"epoch {epoch + 1}/{cfg.epochs}: loss {means[0]:.3g} (reconstruction "
                        f"{means[1]:.3g}, prediction {means[2]:.3g}, alpha {alpha:.2f}){checked}"
                    )
                if bar is not None:
                    bar.set_postfix(
                        epoch=epoch + 1,
                        loss=f"{means[0]:.3g}",
                        val=f"{val:.3g}",
                        alpha=f"{alpha:.2f}",
                    )
                if cfg.patience and epoch + 1 >= schedule_end:
                    score = val if math.isfinite(val) else means[0]
                    if score < best_val:
                        best_val, bad_epochs, best_epoch = score, 0, epoch + 1
                        best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                    else:
                        bad_epochs += 1
                        stopped = bad_epochs >= cfg.patience
                if paths is not None and rank == 0:
                    tensors = {
                        **_prefixed("model/", model.state_dict()),
                        **_optimizer_tensors(opt),
                        "rng/sampler": sampler.get_state(),
                        "train/epoch": torch.tensor(epoch + 1),
                        "train/history": torch.tensor(history, dtype=torch.float64),
                        "train/best_val": torch.tensor(best_val, dtype=torch.float64),
                        "train/bad_epochs": torch.tensor(bad_epochs),
                        "train/best_epoch": torch.tensor(-1 if best_epoch is None else best_epoch),
                        "train/stopped": torch.tensor(int(stopped)),
                    }
                    if best_state is not None:
                        tensors.update(_prefixed("best/", best_state))
                    write_tensors(paths[0], tensors)
                if paths is not None:
                    _barrier(world)  # the others wait for rank 0's checkpoint
                    last_good = epoch + 1
                if stopped:
                    break
        finally:
            if bar is not None:
                bar.close()
    if stopped and best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return TrainResult(
        history=np.asarray(history, dtype=float).reshape(-1, len(HISTORY_COLUMNS)),
        epochs_run=len(history),
        stopped_early=stopped,
        resumed_from=resumed_from,
        best_epoch=best_epoch,
    )


def _same(a: Any, b: Any) -> bool:
    """Equal JSON values, floats to 1e-9 relative (data sums formed in another order)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def _check_fingerprint(saved: dict, current: dict, directory: Any) -> None:
    saved, current = json.loads(json.dumps(saved)), json.loads(json.dumps(current, default=str))
    keys = set(saved) | set(current)
    diff = sorted(k for k in keys if not _same(saved.get(k), current.get(k)))
    if diff:
        key = diff[0]
        raise KoopkitError(
            f"the checkpoint in {os.fspath(directory)!r} was written with {key}="
            f"{saved.get(key)!r}, not {current.get(key)!r} ({len(diff)} setting(s) differ): "
            "resume with the same data and settings, or use a fresh checkpoint_dir"
        )

"""The estimator's options: their checks, and what they turn into for a training run.

:func:`check_options` raises a one-line :class:`~koopkit.KoopkitError` for a bad option
before any data is read, :func:`check_windows` and :func:`held_out_sequences` those that
do not fit the data, before any training; :func:`choose_device`, :func:`choose_threads` and
:func:`train_config` turn the options into the device, the CPU threads and the
:class:`~koopkit.backends.autoencoder.model.TrainConfig` of a run.
"""

from __future__ import annotations

import math
import os
from typing import Any

import torch
from torch import nn

from koopkit._errors import KoopkitError
from koopkit._validation import Snapshots, as_trajectories, check_choice, check_int
from koopkit.backends.autoencoder.model import TrainConfig
from koopkit.backends.autoencoder.persist import jsonable

__all__ = [
    "DECODERS",
    "ENCODERS",
    "INITS",
    "RUN_ONLY",
    "SMALL_NETWORK",
    "check_options",
    "check_windows",
    "choose_device",
    "choose_threads",
    "held_out_sequences",
    "train_config",
]

ENCODERS = ("auto", "mlp", "conv", "vision")
DECODERS = ("auto", "mlp", "conv", "paper")
INITS = ("dmd", "random")
#: Options that do not change what a training run computes (ignored on resume).
RUN_ONLY = ("epochs", "resume", "checkpoint_dir", "progress", "device", "threads", "patience")
#: Networks smaller than this train on one CPU thread with threads="auto": thread
#: synchronisation costs them more than it gains.
SMALL_NETWORK = 1_000_000


def check_options(est: Any) -> None:
    """Raise a one-line :class:`~koopkit.KoopkitError` for the first bad option of ``est``."""
    if isinstance(est.encoder, str):
        check_choice("encoder", est.encoder, ENCODERS)
    elif not isinstance(est.encoder, nn.Module):
        raise KoopkitError(f"encoder= must be one of {ENCODERS} or an nn.Module")
    if isinstance(est.decoder, str):
        check_choice("decoder", est.decoder, DECODERS)
    elif not isinstance(est.decoder, nn.Module):
        raise KoopkitError(f"decoder= must be one of {DECODERS} or an nn.Module")
    check_int("latent_pairs", est.latent_pairs, 0)
    check_int("n_real", est.n_real, 0)
    if est.latent_pairs + est.n_real == 0:
        raise KoopkitError("latent_pairs=0 and n_real=0 leave no latent space: use latent_pairs>=1")
    check_int("horizon", est.horizon, 1)
    check_int("delays", est.delays, 1)
    check_int("epochs", est.epochs, 0)
    check_int("steps_per_epoch", est.steps_per_epoch, 1)
    check_int("batch_size", est.batch_size, 1)
    check_int("warmup_epochs", est.warmup_epochs, 0)
    check_int("ramp_epochs", est.ramp_epochs, 0)
    check_int("seed", est.seed, 0)
    check_choice("init", est.init, INITS)
    if est.init_delays is not None:
        check_int("init_delays", est.init_delays, 1)
    if est.patience is not None:
        check_int("patience", est.patience, 1)
    for name in ("lr", "lr_decay"):
        value = getattr(est, name)
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise KoopkitError(f"{name}={value!r} must be a positive number")
    if est.koopman_lr is not None and not est.koopman_lr > 0:
        raise KoopkitError(f"koopman_lr={est.koopman_lr!r} must be positive (or None)")
    if not 0 <= est.alpha <= 1:
        raise KoopkitError(f"alpha={est.alpha!r} must lie in [0, 1] (0.5 is the paper's)")
    if not 0 <= est.val_fraction < 1:
        raise KoopkitError(f"val_fraction={est.val_fraction!r} must lie in [0, 1)")
    betas = tuple(est.betas)
    if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
        raise KoopkitError(f"betas={est.betas!r} must be two numbers in [0, 1)")
    for name in ("linearity_weight", "backward_weight"):
        if getattr(est, name) < 0:
            raise KoopkitError(f"{name} must be >= 0")
    if est.resume and not est.checkpoint_dir:
        raise KoopkitError("resume=True needs checkpoint_dir=: the folder of the checkpoint")


def choose_device(device: str) -> torch.device:
    """The torch device of the ``device`` option ("auto": CUDA when available)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError):
        raise KoopkitError(
            f"device={device!r} is not a torch device: use 'auto', 'cpu' or 'cuda'"
        ) from None


def check_windows(horizon: int, delays: int, lengths: list[int]) -> None:
    """A training window (``delays`` frames of history, ``horizon`` targets) fits in the
    shortest sequence, or a one-line error naming what to lower."""
    shortest = min(lengths)
    if horizon >= shortest:
        raise KoopkitError(
            f"horizon={horizon} must be shorter than the number of snapshots ({shortest}): "
            f"use horizon <= {shortest - delays} or a longer series"
        )
    if horizon + delays > shortest:
        raise KoopkitError(
            f"horizon={horizon} plus delays={delays} exceed the {shortest} snapshots: a "
            f"window needs {horizon + delays}; lower horizon= or delays="
        )


def held_out_sequences(residual_data: Any, ref: Snapshots, delays: int) -> list[Snapshots]:
    """The held-out sequences of ``residual_data``, validated against the fitted data
    ``ref`` (same frames, at least ``delays + 1`` snapshots each)."""
    held = as_trajectories(residual_data, dt=ref.dt, lazy_ok=True, noun="residual_data sequence")
    for i, h in enumerate(held):
        if h.space_shape != ref.space_shape:
            raise KoopkitError(
                f"residual_data has frames of shape {h.space_shape} but the model is "
                f"fitted on {ref.space_shape}: pass held-out data of the same system"
            )
        if h.n_time < delays + 1:
            raise KoopkitError(
                f"residual_data sequence {i} has {h.n_time} snapshots; with "
                f"delays={delays} each needs at least {delays + 1}"
            )
    return held


def choose_threads(threads: int | str | None, model: nn.Module) -> int | None:
    """CPU threads for training: "auto" is one thread for small networks, None torch's."""
    if threads is None:
        return None
    if threads == "auto":
        size = sum(p.numel() for p in model.parameters())
        return 1 if size < SMALL_NETWORK else None
    return check_int("threads", threads, 1)


def train_config(est: Any, data_sig: list[list[Any]], info: Snapshots) -> TrainConfig:
    """The training configuration; ``data_sig``: the fingerprint of ``streaming_stats``."""
    params = {k: jsonable(v) for k, v in est.get_params().items() if k not in RUN_ONLY}
    if est.koopman_lr is not None:
        koop_lr = est.koopman_lr
    else:
        koop_lr = est.lr / 100 if est.init == "dmd" else est.lr
    return TrainConfig(
        horizon=int(est.horizon),
        delays=int(est.delays),
        alpha=float(est.alpha),
        warmup_epochs=int(est.warmup_epochs),
        ramp_epochs=int(est.ramp_epochs),
        epochs=int(est.epochs),
        steps_per_epoch=int(est.steps_per_epoch),
        batch_size=int(est.batch_size),
        lr=float(est.lr),
        koopman_lr=float(koop_lr),
        betas=tuple(float(b) for b in est.betas),
        lr_decay=float(est.lr_decay),
        linearity_weight=float(est.linearity_weight),
        backward_weight=float(est.backward_weight),
        val_fraction=float(est.val_fraction),
        patience=est.patience,
        max_grad_norm=est.max_grad_norm,
        seed=int(est.seed),
        progress=bool(est.progress),
        checkpoint_dir=os.fspath(est.checkpoint_dir) if est.checkpoint_dir else None,
        resume=bool(est.resume),
        fingerprint={"params": params, "data": data_sig, "dt": info.dt},
    )

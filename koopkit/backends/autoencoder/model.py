"""The network ``D(K^m E(h))``, the settings of a training run, and building one from options.

:class:`KoopmanAE` holds an encoder ``E`` of a history ``h`` of ``delays`` frames, the
Koopman layer ``K`` (:mod:`~koopkit.backends.autoencoder.koopman`) and a decoder ``D`` of
single frames (Sanayei, *Koopman Autoencoder for Videos*, section 4). :func:`build_model`
makes one from the estimator's options and :func:`check_shapes` turns a custom module's
shape mismatch into a one-line error before any training. :class:`TrainConfig` is
everything that shapes a training run, :class:`TrainResult` what it reports.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from koopkit._errors import KoopkitError
from koopkit.backends.autoencoder.data import FrameSource
from koopkit.backends.autoencoder.koopman import KoopmanLayer
from koopkit.backends.autoencoder.networks import MLP, ConvDecoder, ConvEncoder, PaperDecoder
from koopkit.backends.autoencoder.vision import VisionEncoder

__all__ = [
    "HISTORY_COLUMNS",
    "KoopmanAE",
    "TrainConfig",
    "TrainResult",
    "build_model",
    "check_shapes",
]

HISTORY_COLUMNS = ("train", "train_recon", "train_pred", "val", "alpha")


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
    >>> from koopkit.backends.autoencoder.koopman import KoopmanLayer
    >>> from koopkit.backends.autoencoder.networks import MLP
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

    @torch.no_grad()
    def encode_series(
        self, source: FrameSource, seq: int, device: torch.device, batch: int = 512
    ) -> np.ndarray:
        """Latent state of every full history of sequence ``seq`` of ``source``, float64
        ``(T - delays + 1, latent_dim)``, read and encoded block by block."""
        self.eval()
        d = self.delays
        batch = min(batch, source.batch_limit(d) or batch)
        n = source.lengths[seq] - d + 1
        out = []
        for i in range(0, n, batch):
            stop = min(n, i + batch)
            block = source.frames(seq, i, stop + d - 1)
            idx = torch.arange(stop - i)[:, None] + torch.arange(d)[None, :]
            out.append(self.encode(block[idx].to(device)).double().cpu())
        return torch.cat(out).numpy()

    @torch.no_grad()
    def decode_states(self, z: np.ndarray, device: torch.device, batch: int = 512) -> np.ndarray:
        """Frames of latent states ``z`` ``(N, latent_dim)`` as float64 ``(N, *frame_shape)``."""
        out = []
        for i in range(0, len(z), batch):
            zi = torch.as_tensor(z[i : i + batch], dtype=torch.float32, device=device)
            out.append(self.decode(zi).double().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, *self.frame_shape))

    @torch.no_grad()
    def decode_powers(
        self, z0: np.ndarray, steps: np.ndarray, device: torch.device, batch: int = 512
    ) -> np.ndarray:
        """Frames of ``K^s z0`` for every (real) power ``s``, float64 ``(S, *frame_shape)``."""
        z = torch.as_tensor(z0, dtype=torch.float32, device=device)
        out = []
        for i in range(0, len(steps), batch):
            s = torch.as_tensor(np.asarray(steps[i : i + batch], dtype=np.float64))
            out.append(self.decode(self.koopman.advance(z, s.to(device))).double().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, *self.frame_shape))


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


# ------------------------------------------------------------------ building
class _FlatMLP(MLP):
    """An :class:`MLP` whose keyword is ``hidden`` (as the estimator's parameter)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden: Sequence[int] = (80, 80),
        activation_name: str = "tanh",
    ) -> None:
        super().__init__(in_features, hidden, out_features, activation_name)


def build_model(
    encoder: str | nn.Module,
    decoder: str | nn.Module,
    frame_shape: tuple[int, ...],
    dt: float,
    *,
    latent_pairs: int,
    n_real: int = 0,
    delays: int = 1,
    stable: bool = True,
    hidden: Sequence[int] = (80, 80),
    activation: str = "tanh",
    encoder_options: dict[str, Any] | None = None,
    decoder_options: dict[str, Any] | None = None,
) -> KoopmanAE:
    """A fresh :class:`KoopmanAE` from the estimator's options (see ``KoopmanAutoencoder``).

    ``"auto"`` picks the MLPs for vectors (``frame_shape`` of one entry) and the conv
    networks for frames ``(C, H, W)``; a module given as encoder or decoder is copied, so
    every fit starts from it as given.

    Examples
    --------
    >>> ae = build_model("auto", "auto", (3,), 0.1, latent_pairs=2, hidden=(8,))
    >>> ae.koopman.latent_dim, type(ae.encoder).__name__
    (4, '_FlatMLP')
    """
    d = int(delays)
    latent = 2 * int(latent_pairs) + int(n_real)
    vector = len(frame_shape) == 1
    enc_opts = dict(encoder_options or {})
    dec_opts = dict(decoder_options or {})
    kind = encoder
    if isinstance(kind, str) and kind == "auto":
        kind = "mlp" if vector else "conv"
    dkind = decoder
    if isinstance(dkind, str) and dkind == "auto":
        dkind = "mlp" if (vector or kind == "mlp") else "conv"
    n_in = d * int(np.prod(frame_shape)) if kind == "mlp" else None
    n_out = int(np.prod(frame_shape))
    try:
        if isinstance(kind, nn.Module):
            enc = copy.deepcopy(kind)
        elif kind == "mlp":
            opts = {"hidden": hidden, "activation_name": activation, **enc_opts}
            enc = _FlatMLP(n_in, latent, **opts)
        elif vector:
            raise KoopkitError(
                f"encoder={kind!r} needs frames (2 or 3 space dims): use encoder='mlp'"
            )
        elif kind == "conv":
            enc = ConvEncoder(d * frame_shape[0], frame_shape[1:], latent, **enc_opts)
        else:
            enc = VisionEncoder(d * frame_shape[0], frame_shape[1:], latent, **enc_opts)
        if isinstance(dkind, nn.Module):
            dec = copy.deepcopy(dkind)
        elif dkind == "mlp":
            opts = {
                "hidden": tuple(reversed(tuple(hidden))),
                "activation_name": activation,
                **dec_opts,
            }
            dec = _FlatMLP(latent, n_out, **opts)
        elif vector:
            raise KoopkitError(
                f"decoder={dkind!r} needs frames (2 or 3 space dims): use decoder='mlp'"
            )
        elif dkind == "conv":
            dec = ConvDecoder(latent, frame_shape[0], frame_shape[1:], **dec_opts)
        else:
            dec = PaperDecoder(latent, frame_shape[0], frame_shape[1:], **dec_opts)
    except TypeError as exc:
        raise KoopkitError(
            f"bad encoder_options/decoder_options ({exc}): check the option names"
        ) from None
    koopman = KoopmanLayer(int(latent_pairs), dt, int(n_real), bool(stable))
    return KoopmanAE(enc, koopman, dec, frame_shape, d)


def check_shapes(model: KoopmanAE, history: torch.Tensor) -> None:
    """Pass one history through the encoder and decoder: one-line errors for custom modules.

    Raises
    ------
    KoopkitError
        If the encoder fails or gives other than ``latent_dim`` values, or the decoder fails
        or gives other than ``frame_shape`` frames.
    """
    latent = model.koopman.latent_dim
    was_training = model.training
    model.eval()  # batch norm cannot train on one sample
    try:
        _check_shapes_eval(model, history, latent)
    finally:
        model.train(was_training)


def _check_shapes_eval(model: KoopmanAE, history: torch.Tensor, latent: int) -> None:
    with torch.no_grad():
        try:
            z = model.encode(history[None])
        except Exception as exc:  # noqa: BLE001 - any failure here is a shape mismatch
            raise KoopkitError(
                f"the encoder fails on a history of shape {tuple(history.shape)} "
                f"({type(exc).__name__}: {' '.join(str(exc).split())[:120]})"
            ) from None
        if tuple(z.shape) != (1, latent):
            raise KoopkitError(
                f"the encoder returns shape {tuple(z.shape)[1:]} but latent_pairs and n_real "
                f"need ({latent},): make it output 2 * latent_pairs + n_real values"
            )
        try:
            x = model.decode(torch.zeros(1, latent))
        except Exception as exc:  # noqa: BLE001
            raise KoopkitError(
                f"the decoder fails on a latent of size {latent} "
                f"({type(exc).__name__}: {' '.join(str(exc).split())[:120]})"
            ) from None
        if tuple(x.shape[1:]) != model.frame_shape:
            raise KoopkitError(
                f"the decoder returns frames of shape {tuple(x.shape[1:])} but the data's are "
                f"{model.frame_shape}: make it return exactly the frame size"
            )

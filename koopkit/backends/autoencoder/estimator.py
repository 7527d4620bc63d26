"""KoopmanAutoencoder: the estimator (fit / predict / reconstruct / spectrum_ / save / load).

The network is ``D(K^m E(h))`` (Sanayei, *Koopman Autoencoder for Videos*, section 4):
an encoder ``E`` of a short history ``h`` of ``delays`` frames, the block-diagonal Koopman
layer of :mod:`~koopkit.backends.autoencoder.layers` and a decoder ``D`` of single frames.

What ``fit`` does, in order:

1. validates the data (NaN/Inf, frame sizes, ``horizon`` shorter than the series) with
   :class:`~koopkit.KoopkitError` before any training;
2. normalises: ``(x - mean) / scale`` with the per-feature mean and one scalar scale (with
   ``weights=``: ``sqrt(w) (x - mean) / scale``, the scale the weighted RMS, so the losses
   are weighted mean squared errors; outputs are divided by ``sqrt(w)`` on the way back);
3. initialises the Koopman layer from a delay-embedded DMD of the (normalised) training
   data (``init="dmd"``): its leading oscillatory eigenvalues give the pairs' frequencies
   and growth rates, so the encoder learns coordinates that rotate at the data's
   frequencies instead of the Koopman layer hunting for them (with an arbitrary start a
   pair can drift into growth);
4. trains (see :mod:`~koopkit.backends.autoencoder.train`);
5. refines (``refine=True``): each pair's frequency is re-estimated from the phase of the
   encoded training trajectory over lags 1, 2, 4, ... (up to half the series). A training
   loss over ``horizon`` steps cannot resolve a frequency error of 1e-5, but a forecast
   1000 steps ahead feels it; the encoded trajectory resolves it. Only small corrections
   (under 0.01 rad over the horizon) of pairs whose encoded trajectory is a clean rotation
   (coherence above 0.9 at long lags) are accepted;
6. builds ``spectrum_`` with a residual per eigenvalue (below).

The spectrum: eigenvalues ``exp((mu +- i omega) dt)`` per pair (and ``exp(mu dt)`` per real
coordinate). Amplitudes are the latent energy of each pair: ``|b|`` is set so that
``spectrum_.rms_amplitudes`` equals the RMS of ``|a + ib|`` over the fitted states, with the
phase of the first state. Modes are **approximate**: the decoder's linear response to each
pair (its Jacobian at the mean latent state, ``dD/da - i dD/db``, in data units, scaled to
unit norm); a nonlinear decoder has no exact modes.

Residuals (ResDMD, the encoder as the dictionary): ``Psi_X``, ``Psi_Y`` are the latent states
of consecutive histories of every fitted sequence (or of ``residual_data``), never across
sequences, used as they are (an offset included). The eigenfunction of a pair is
``g(z) = a + i b`` (``KoopmanLayer.eigenfunctions``), and its residual is
``||g(Psi_Y) - lam g(Psi_X)|| / ||g(Psi_X)||``: small only when the encoded coordinates
really advance by the layer's eigenvalue on the data. ``residual_matrices_`` keeps ResDMD's
matrices for :func:`koopkit.pseudospectrum`.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import nn

from koopkit._errors import KoopkitError
from koopkit._validation import (
    TIME,
    Snapshots,
    as_snapshots,
    as_trajectories,
    as_weights,
    check_choice,
    check_finite,
    check_int,
    is_lazy,
)
from koopkit.backends._linalg import ResidualMatrices
from koopkit.backends.autoencoder.data import (
    FrameSource,
    LazyFrames,
    TensorFrames,
    as_source,
    streaming_stats,
)
from koopkit.backends.autoencoder.layers import (
    MLP,
    ConvDecoder,
    ConvEncoder,
    KoopmanLayer,
    PaperDecoder,
    VisionEncoder,
)
from koopkit.backends.autoencoder.persist import jsonable, load_estimator, save_estimator
from koopkit.backends.autoencoder.train import (
    HISTORY_COLUMNS,
    KoopmanAE,
    TrainConfig,
    train,
)
from koopkit.backends.base import KoopmanEstimator, history_from
from koopkit.spectrum import MODE, KoopmanSpectrum, rms_power

__all__ = ["KoopmanAutoencoder"]

ENCODERS = ("auto", "mlp", "conv", "vision")
DECODERS = ("auto", "mlp", "conv", "paper")
INITS = ("dmd", "random")
_CHANNEL_NAMES = ("channel", "channels", "band", "bands", "color", "colour", "rgb", "c")
#: Parameters that do not change what a training run computes (ignored on resume).
_RUN_ONLY = ("epochs", "resume", "checkpoint_dir", "progress", "device", "threads", "patience")
#: Networks smaller than this train on one CPU thread with threads="auto".
_SMALL_NETWORK = 1_000_000


class KoopmanAutoencoder(KoopmanEstimator):
    """Koopman autoencoder: a learned embedding in which the dynamics are linear.

    Parameters
    ----------
    encoder : {"auto", "mlp", "conv", "vision"} or nn.Module
        "auto": an MLP for vector series (one space dim), the conv encoder for frames.
        "vision": the paper's ResNet18 + segmentation encoder (see
        :class:`~koopkit.backends.autoencoder.layers.VisionEncoder`; its options, e.g.
        ``trunk``, ``segmentation``, ``pretrained``, ``freeze``, go in
        ``encoder_options``). A module maps ``(B, delays * C, H, W)`` (frames) or
        ``(B, delays * n)`` (vectors) to ``(B, 2 * latent_pairs + n_real)``.
    decoder : {"auto", "mlp", "conv", "paper"} or nn.Module
        "auto": MLP for vectors, the lean conv decoder for frames. "paper": the paper's
        decoder layer list (its output is resized to the frame size). A module maps
        ``(B, latent_dim)`` to frames ``(B, C, H, W)`` (or ``(B, n)``).
    latent_pairs : int, default 3
        Number of complex-conjugate eigenvalue pairs (2-D Koopman blocks).
    n_real : int, default 0
        Number of real eigenvalues.
    horizon : int, default 20
        ``T``: steps predicted from each window in the loss.
    alpha : float, default 0.5
        Target weight of the reconstruction loss: ``alpha L_recon + (1 - alpha) L_pred``.
    warmup_epochs : int, default 5
        Reconstruction-only epochs (``alpha = 1``) at the start.
    ramp_epochs : int, default 5
        Epochs over which alpha then falls linearly from 1 to ``alpha``.
    epochs : int, default 60
    steps_per_epoch : int, default 100
        Optimizer steps per epoch (batches drawn at random from all windows).
    batch_size : int, default 64
    lr : float, default 1e-3
    koopman_lr : float, optional
        Learning rate of the Koopman layer. Default ``lr / 100`` with ``init="dmd"`` (the
        start is close; while the autoencoder is still poor, a fast Koopman layer lets the
        prediction loss damp its growth rates, biasing them), ``lr`` with
        ``init="random"``.
    betas : (float, float), default (0.9, 0.999)
        Adam's betas.
    lr_decay : float, default 0.1
        The learning rate falls geometrically to ``lr * lr_decay`` over the epochs.
    delays : int, default 1
        Frames of history stacked as the encoder's input (a single frame of a bouncing
        ball cannot tell rising from falling; two or more can). Forecasts then need the
        last ``delays`` frames.
    hidden : sequence of int, default (80, 80)
        Hidden widths of the MLP encoder (the decoder mirrors them).
    activation : str, default "tanh"
        Activation of the MLPs.
    stable : bool, default True
        Constrain growth rates to ``mu <= 0`` (``mu = -softplus(raw)``).
    init : {"dmd", "random"}, default "dmd"
        Initialise the Koopman layer from a delay-embedded DMD of the training data, or
        spread the frequencies evenly below Nyquist.
    init_delays : int, optional
        Delays of that DMD (default ``max(delays, min(16, n // 4))``).
    refine : bool, default True
        Re-estimate the pairs' frequencies from the encoded training trajectory after
        training (see the module notes).
    linearity_weight : float, default 0
        Weight of the latent-linearity loss ``MSE(K^m E(h_i), E(h_{i+m}))`` (Lusch et al.).
    backward_weight : float, default 0
        Weight of the backward prediction loss with ``K^{-m}`` (Azencot et al.).
    val_fraction : float, default 0.1
        Last fraction of each sequence held out for validation.
    patience : int, optional
        Early stopping: stop after this many epochs without a better validation loss
        (counted once alpha reaches its target) and keep the best weights.
    max_grad_norm : float, optional
        Clip the gradient norm.
    encoder_options, decoder_options : dict, optional
        Keyword arguments of the built-in encoder / decoder.
    device : str, default "auto"
        "auto" picks CUDA when available. On CUDA the forward pass runs under bf16 autocast
        and conv models use channels_last.
    threads : int, "auto" or None, default "auto"
        CPU threads while training (torch's setting is restored afterwards). "auto" uses
        one thread for networks under a million parameters, where thread synchronisation
        costs more than it gains (about 4x slower on a loaded 2-core machine); None keeps
        torch's setting.
    seed : int, default 0
        Seeds initialisation and batch order; CPU training is then deterministic.
    checkpoint_dir : str, optional
        Folder for a checkpoint written atomically after every epoch.
    resume : bool, default False
        Continue from the checkpoint in ``checkpoint_dir`` (same data and settings;
        ``epochs`` may grow).
    progress : bool or callable, default True
        True: a tqdm progress bar with the losses (only on a terminal). A callable taking
        a string (e.g. ``print``) gets one line per stage instead: the statistics, the DMD
        initialisation, the training plan, about ten epochs with their losses, the
        encoding and the spectrum, each with the seconds since ``fit`` began (what
        ``koopkit fit`` writes to stderr). False: nothing.

    Attributes
    ----------
    spectrum_ : KoopmanSpectrum
        With per-mode ``residuals`` measured through the encoder (module notes).
    residual_matrices_ : ResidualMatrices
        ResDMD's ``G``, ``A``, ``L`` of the latent pairs (on ``residual_data`` when given).
    n_features_in_ : int
        Features per snapshot (the product of the frame shape).
    model_ : KoopmanAE
    train_losses_, val_losses_ : list of float
        Mean training loss and validation loss (at the target alpha; NaN without
        validation windows) of each epoch.
    history_ : dict of list
        Per-epoch ``train``, ``train_recon``, ``train_pred``, ``val`` and ``alpha``.
    data_reads_ : dict or None
        For dask-backed data (read lazily, see :mod:`~koopkit.backends.autoencoder.data`):
        ``frames``, the frames read by this process, and ``batches``, the
        ``(windows, frames read)`` of each batch it gathered (training and validation).
        None for data in memory.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(60) * 0.1
    >>> x = np.stack([np.cos(2 * t), np.sin(2 * t)], axis=1)
    >>> model = KoopmanAutoencoder(latent_pairs=1, horizon=5, epochs=2, steps_per_epoch=5,
    ...                            progress=False).fit(x, dt=0.1)
    >>> model.predict(steps=3).shape
    (3, 2)
    """

    name = "autoencoder"

    def __init__(
        self,
        encoder: str | nn.Module = "auto",
        decoder: str | nn.Module = "auto",
        latent_pairs: int = 3,
        *,
        n_real: int = 0,
        horizon: int = 20,
        alpha: float = 0.5,
        warmup_epochs: int = 5,
        ramp_epochs: int = 5,
        epochs: int = 60,
        steps_per_epoch: int = 100,
        batch_size: int = 64,
        lr: float = 1e-3,
        koopman_lr: float | None = None,
        betas: tuple[float, float] = (0.9, 0.999),
        lr_decay: float = 0.1,
        delays: int = 1,
        hidden: Sequence[int] = (80, 80),
        activation: str = "tanh",
        stable: bool = True,
        init: str = "dmd",
        init_delays: int | None = None,
        refine: bool = True,
        linearity_weight: float = 0.0,
        backward_weight: float = 0.0,
        val_fraction: float = 0.1,
        patience: int | None = None,
        max_grad_norm: float | None = None,
        encoder_options: dict[str, Any] | None = None,
        decoder_options: dict[str, Any] | None = None,
        device: str = "auto",
        threads: int | str | None = "auto",
        seed: int = 0,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        resume: bool = False,
        progress: bool | Callable[[str], None] = True,
    ) -> None:
        self.encoder = encoder
        self.decoder = decoder
        self.latent_pairs = latent_pairs
        self.n_real = n_real
        self.horizon = horizon
        self.alpha = alpha
        self.warmup_epochs = warmup_epochs
        self.ramp_epochs = ramp_epochs
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.batch_size = batch_size
        self.lr = lr
        self.koopman_lr = koopman_lr
        self.betas = betas
        self.lr_decay = lr_decay
        self.delays = delays
        self.hidden = hidden
        self.activation = activation
        self.stable = stable
        self.init = init
        self.init_delays = init_delays
        self.refine = refine
        self.linearity_weight = linearity_weight
        self.backward_weight = backward_weight
        self.val_fraction = val_fraction
        self.patience = patience
        self.max_grad_norm = max_grad_norm
        self.encoder_options = encoder_options
        self.decoder_options = decoder_options
        self.device = device
        self.threads = threads
        self.seed = seed
        self.checkpoint_dir = checkpoint_dir
        self.resume = resume
        self.progress = progress

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        if isinstance(self.encoder, str):
            check_choice("encoder", self.encoder, ENCODERS)
        elif not isinstance(self.encoder, nn.Module):
            raise KoopkitError(f"encoder= must be one of {ENCODERS} or an nn.Module")
        if isinstance(self.decoder, str):
            check_choice("decoder", self.decoder, DECODERS)
        elif not isinstance(self.decoder, nn.Module):
            raise KoopkitError(f"decoder= must be one of {DECODERS} or an nn.Module")
        check_int("latent_pairs", self.latent_pairs, 0)
        check_int("n_real", self.n_real, 0)
        if self.latent_pairs + self.n_real == 0:
            raise KoopkitError(
                "latent_pairs=0 and n_real=0 leave no latent space: use latent_pairs>=1"
            )
        check_int("horizon", self.horizon, 1)
        check_int("delays", self.delays, 1)
        check_int("epochs", self.epochs, 0)
        check_int("steps_per_epoch", self.steps_per_epoch, 1)
        check_int("batch_size", self.batch_size, 1)
        check_int("warmup_epochs", self.warmup_epochs, 0)
        check_int("ramp_epochs", self.ramp_epochs, 0)
        check_int("seed", self.seed, 0)
        check_choice("init", self.init, INITS)
        if self.init_delays is not None:
            check_int("init_delays", self.init_delays, 1)
        if self.patience is not None:
            check_int("patience", self.patience, 1)
        for name in ("lr", "lr_decay"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise KoopkitError(f"{name}={value!r} must be a positive number")
        if self.koopman_lr is not None and not self.koopman_lr > 0:
            raise KoopkitError(f"koopman_lr={self.koopman_lr!r} must be positive (or None)")
        if not 0 <= self.alpha <= 1:
            raise KoopkitError(f"alpha={self.alpha!r} must lie in [0, 1] (0.5 is the paper's)")
        if not 0 <= self.val_fraction < 1:
            raise KoopkitError(f"val_fraction={self.val_fraction!r} must lie in [0, 1)")
        betas = tuple(self.betas)
        if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise KoopkitError(f"betas={self.betas!r} must be two numbers in [0, 1)")
        for name in ("linearity_weight", "backward_weight"):
            if getattr(self, name) < 0:
                raise KoopkitError(f"{name} must be >= 0")
        if self.resume and not self.checkpoint_dir:
            raise KoopkitError("resume=True needs checkpoint_dir=: the folder of the checkpoint")

    def _device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            return torch.device(self.device)
        except (RuntimeError, TypeError):
            raise KoopkitError(
                f"device={self.device!r} is not a torch device: use 'auto', 'cpu' or 'cuda'"
            ) from None

    def _threads(self, model: nn.Module) -> int | None:
        if self.threads is None:
            return None
        if self.threads == "auto":
            size = sum(p.numel() for p in model.parameters())
            return 1 if size < _SMALL_NETWORK else None
        return check_int("threads", self.threads, 1)

    # ------------------------------------------------------------------ data
    def _sequences(
        self, data: Any, dt: float | None, variable: str | None, time_unit: str | None = None
    ) -> list[Snapshots]:
        return as_trajectories(
            data, dt=dt, variable=variable, lazy_ok=True, noun="sequence", time_unit=time_unit
        )

    def _source(self, infos: list[Snapshots]) -> FrameSource:
        """Normalised frames of validated sequences: in memory, or read lazily from dask."""
        if any(is_lazy(i.matrix) for i in infos):
            matrices = [i.matrix for i in infos]
            return LazyFrames(
                matrices,
                self._to_frames,
                self._mean,
                self._scale,
                self._frame_shape,
                self._root_weights,
            )
        return TensorFrames([torch.from_numpy(self._to_frames(i.matrix)) for i in infos])

    @staticmethod
    def _layout(info: Snapshots) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """``(frame_shape, perm)``: frames as ``(n,)`` or ``(C, H, W)`` and the axis order."""
        shape, dims = info.space_shape, info.space_dims
        if len(shape) == 1:
            return (shape[0],), (0,)
        if len(shape) == 2:
            return (1, *shape), (0, 1)
        if len(shape) == 3:
            named = [i for i, d in enumerate(dims) if str(d).lower() in _CHANNEL_NAMES]
            c = named[0] if named else (2 if shape[2] <= 4 and shape[0] > 4 else 0)
            perm = (c, *[i for i in range(3) if i != c])
            return tuple(shape[i] for i in perm), perm
        raise KoopkitError(
            f"frames with {len(shape)} space dims {dims} are not supported: use vectors, "
            "(y, x) or (channel, y, x) frames"
        )

    @property
    def _root_weights(self) -> np.ndarray | None:
        """``sqrt(w / max(w))`` per feature (data order), or None without weights."""
        return getattr(self, "_root_w", None)

    def _to_frames(self, matrix: np.ndarray) -> np.ndarray:
        """Rows in the data's layout to ``(T, *frame_shape)`` normalised float32 frames:
        ``sqrt(w) (x - mean) / scale``."""
        x = (np.asarray(matrix, dtype=np.float64) - self._mean) / self._scale
        if self._root_weights is not None:
            x = x * self._root_weights
        x = x.reshape(-1, *self._space_shape)
        if len(self._perm) == 3:
            x = x.transpose(0, *(p + 1 for p in self._perm))
        return np.ascontiguousarray(x.reshape(-1, *self._frame_shape), dtype=np.float32)

    def _from_frames(self, frames: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`_to_frames`, as rows ``(T, n_features)`` in data units."""
        x = np.asarray(frames, dtype=np.float64)
        if len(self._perm) == 3:
            inv = np.argsort(self._perm)
            x = x.transpose(0, *(p + 1 for p in inv))
        x = x.reshape(x.shape[0], -1)
        if self._root_weights is not None:
            x = x / self._root_weights
        return x * self._scale + self._mean

    # ------------------------------------------------------------------ network
    @property
    def _latent_dim(self) -> int:
        return 2 * int(self.latent_pairs) + int(self.n_real)

    def _build(self, frame_shape: tuple[int, ...], dt: float) -> KoopmanAE:
        d, latent = int(self.delays), self._latent_dim
        vector = len(frame_shape) == 1
        enc_opts = dict(self.encoder_options or {})
        dec_opts = dict(self.decoder_options or {})
        kind = self.encoder
        if isinstance(kind, str) and kind == "auto":
            kind = "mlp" if vector else "conv"
        dkind = self.decoder
        if isinstance(dkind, str) and dkind == "auto":
            dkind = "mlp" if (vector or kind == "mlp") else "conv"
        n_in = d * int(np.prod(frame_shape)) if kind == "mlp" else None
        n_out = int(np.prod(frame_shape))
        try:
            if isinstance(kind, nn.Module):
                encoder = copy.deepcopy(kind)  # every fit starts from the module as given
            elif kind == "mlp":
                opts = {"hidden": self.hidden, "activation_name": self.activation, **enc_opts}
                encoder = _FlatMLP(n_in, latent, **opts)
            elif vector:
                raise KoopkitError(
                    f"encoder={kind!r} needs frames (2 or 3 space dims): use encoder='mlp'"
                )
            elif kind == "conv":
                encoder = ConvEncoder(d * frame_shape[0], frame_shape[1:], latent, **enc_opts)
            else:
                encoder = VisionEncoder(d * frame_shape[0], frame_shape[1:], latent, **enc_opts)
            if isinstance(dkind, nn.Module):
                decoder = copy.deepcopy(dkind)
            elif dkind == "mlp":
                opts = {
                    "hidden": tuple(reversed(tuple(self.hidden))),
                    "activation_name": self.activation,
                    **dec_opts,
                }
                decoder = _FlatMLP(latent, n_out, **opts)
            elif vector:
                raise KoopkitError(
                    f"decoder={dkind!r} needs frames (2 or 3 space dims): use decoder='mlp'"
                )
            elif dkind == "conv":
                decoder = ConvDecoder(latent, frame_shape[0], frame_shape[1:], **dec_opts)
            else:
                decoder = PaperDecoder(latent, frame_shape[0], frame_shape[1:], **dec_opts)
        except TypeError as exc:
            raise KoopkitError(
                f"bad encoder_options/decoder_options ({exc}): check the option names"
            ) from None
        koopman = KoopmanLayer(int(self.latent_pairs), dt, int(self.n_real), bool(self.stable))
        return KoopmanAE(encoder, koopman, decoder, frame_shape, d)

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        data: Any,
        *,
        dt: float | None = None,
        variable: str | None = None,
        weights: Any = None,
        residual_data: Any = None,
        time_unit: str | None = None,
    ) -> KoopmanAutoencoder:
        """Train on a time series (or a list of sequences of the same frames); returns ``self``.

        Parameters
        ----------
        data : xr.DataArray, xr.Dataset, array_like, or a list of them
            A series with a ``time`` dimension (arrays: time on axis 0 plus ``dt``). A
            list or tuple, or a DataArray with a ``trajectory`` dimension, is several
            independent sequences (windows never cross from one to the next);
            ``predict()`` and ``reconstruct()`` then refer to the last one.
            Dask-backed data (e.g. ``xr.open_dataset(path, chunks={"time": 64})``) are
            read lazily, block by block and batch by batch, never whole.
        dt : float, optional
        variable : str, optional
        weights : xr.DataArray or array_like, optional
            Positive weights of the inner product over the space dims (cell areas or
            volumes, cos(latitude)), as for :meth:`koopkit.DMD.fit`. The network is trained
            on ``sqrt(w) x`` (normalised), so its reconstruction and prediction losses are
            the weighted mean squared errors; its outputs are divided by ``sqrt(w)``, so
            forecasts, reconstructions and modes are in the data's units (the modes with
            unit weighted norm), and the inputs of ``encode``, ``encode_matrix`` and
            ``predict(initial=...)`` are scaled the same way. Only their ratios matter:
            constant weights give the unweighted model exactly.
        residual_data : optional
            Held-out sequences (same forms as ``data``) on which the residuals are
            measured instead of the fitted sequences.
        time_unit : str, optional
            For a datetime time axis, the unit of times and frequencies (see
            :meth:`koopkit.DMD.fit`).

        Raises
        ------
        KoopkitError
            Before any training, for NaN/Inf values, frames of mismatched size, a
            ``horizon`` not shorter than the series, or bad parameters.
        """
        self._check_params()
        started = time.perf_counter()
        report = self.progress if callable(self.progress) else None

        def note(message: str) -> None:
            if report is not None:
                report(f"autoencoder: {message} ({time.perf_counter() - started:.1f} s)")

        infos = self._sequences(data, dt, variable, time_unit)
        d, horizon = int(self.delays), int(self.horizon)
        shortest = min(info.n_time for info in infos)
        if horizon >= shortest:
            raise KoopkitError(
                f"horizon={horizon} must be shorter than the number of snapshots ({shortest}): "
                f"use horizon <= {shortest - d} or a longer series"
            )
        if horizon + d > shortest:
            raise KoopkitError(
                f"horizon={horizon} plus delays={d} exceed the {shortest} snapshots: a "
                f"window needs {horizon + d}; lower horizon= or delays="
            )
        info = infos[-1]
        self._space_shape = info.space_shape
        self._frame_shape, self._perm = self._layout(info)
        w = as_weights(weights, info)
        self._weights = w
        # only ratios matter (the scale below absorbs a constant): divided by the largest,
        # constant weights are exactly 1 and change no bit of the fit
        self._root_w = None if w is None else np.sqrt(w / w.max())
        # one pass in blocks (in memory or read lazily): statistics, NaN/Inf check, fingerprint
        self._mean, scale, data_sig = streaming_stats(
            [i.matrix for i in infos], None if w is None else self._root_w**2
        )
        if not scale > 0:
            raise KoopkitError("the data are constant in time: there are no dynamics to learn")
        self._scale = scale
        if w is not None:
            data_sig = [*data_sig, ["weights", float(w.sum()), float(np.abs(np.diff(w)).sum())]]
        n_frames = sum(i.n_time for i in infos)
        note(f"statistics of {n_frames} frames of {'x'.join(map(str, self._frame_shape))}")
        held = None if residual_data is None else self._held_out(residual_data, info)
        device = self._device()
        source = self._source(infos)

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.seed))
            model = self._build(self._frame_shape, info.dt)
        _check_shapes(model, source.frames(0, 0, int(self.delays)))
        if self.init == "dmd":
            self._init_from_dmd(model.koopman, source, info.dt)
            note("Koopman layer initialised from a delay-embedded DMD")
        cfg = self._train_config(data_sig, info)
        cfg.threads = self._threads(model)
        if report is not None:
            cfg.progress = False
        result = train(model, source, cfg, device, report=None if report is None else note)
        self.model_ = model
        self._device_ = device
        hist = result.history
        self.history_ = {c: hist[:, j].tolist() for j, c in enumerate(HISTORY_COLUMNS)}
        self.train_losses_ = self.history_["train"]
        self.val_losses_ = self.history_["val"]
        self.stopped_early_ = result.stopped_early
        self.resumed_from_ = result.resumed_from

        latents = [self._encode_sequence(source, seq=k) for k in range(len(infos))]
        if self.refine:
            self._refine(model.koopman, latents, info.dt)
        note(f"encoded {n_frames} frames")
        self.data_reads_ = None
        if isinstance(source, LazyFrames):
            self.data_reads_ = {"frames": source.frames_read, "batches": list(source.gathers)}
            # keep the labels, not the lazy matrix (nor the file behind it)
            empty = np.zeros((0, info.matrix.shape[1]), dtype=info.matrix.dtype)
            info = dataclasses.replace(info, matrix=empty)
        self._data_info = info
        self.n_features_in_ = int(np.prod(info.space_shape))
        self._latents = latents[-1]
        latents_res = latents
        if held is not None:
            source = self._source(held)
            latents_res = [self._encode_sequence(source, seq=k) for k in range(len(held))]
            if not all(np.isfinite(z).all() for z in latents_res):
                raise KoopkitError(
                    "residual_data holds NaN or Inf values: drop or fill them before fitting"
                )
        self.residual_matrices_ = ResidualMatrices.from_values(
            np.concatenate([z[:-1] for z in latents_res]),
            np.concatenate([z[1:] for z in latents_res]),
        )
        self._set_spectrum(np.concatenate(latents), latents[-1][0], info)
        note(f"spectrum of {self._latent_dim} eigenvalues with residuals")
        return self

    def _held_out(self, residual_data: Any, ref: Snapshots) -> list[Snapshots]:
        """Validate held-out sequences for the residuals (before any training)."""
        held = as_trajectories(
            residual_data, dt=ref.dt, lazy_ok=True, noun="residual_data sequence"
        )
        for i, h in enumerate(held):
            if h.space_shape != ref.space_shape:
                raise KoopkitError(
                    f"residual_data has frames of shape {h.space_shape} but the model is "
                    f"fitted on {ref.space_shape}: pass held-out data of the same system"
                )
            if h.n_time < int(self.delays) + 1:
                raise KoopkitError(
                    f"residual_data sequence {i} has {h.n_time} snapshots; with "
                    f"delays={self.delays} each needs at least {int(self.delays) + 1}"
                )
        return held

    def _train_config(self, data_sig: list[list[Any]], info: Snapshots) -> TrainConfig:
        """The training configuration; ``data_sig``: the fingerprint of ``streaming_stats``."""
        params = {k: jsonable(v) for k, v in self.get_params().items() if k not in _RUN_ONLY}
        if self.koopman_lr is not None:
            koop_lr = self.koopman_lr
        else:
            koop_lr = self.lr / 100 if self.init == "dmd" else self.lr
        return TrainConfig(
            horizon=int(self.horizon),
            delays=int(self.delays),
            alpha=float(self.alpha),
            warmup_epochs=int(self.warmup_epochs),
            ramp_epochs=int(self.ramp_epochs),
            epochs=int(self.epochs),
            steps_per_epoch=int(self.steps_per_epoch),
            batch_size=int(self.batch_size),
            lr=float(self.lr),
            koopman_lr=float(koop_lr),
            betas=tuple(float(b) for b in self.betas),
            lr_decay=float(self.lr_decay),
            linearity_weight=float(self.linearity_weight),
            backward_weight=float(self.backward_weight),
            val_fraction=float(self.val_fraction),
            patience=self.patience,
            max_grad_norm=self.max_grad_norm,
            seed=int(self.seed),
            progress=bool(self.progress),
            checkpoint_dir=os.fspath(self.checkpoint_dir) if self.checkpoint_dir else None,
            resume=bool(self.resume),
            fingerprint={"params": params, "data": data_sig, "dt": info.dt},
        )

    def _init_from_dmd(self, koopman: KoopmanLayer, source: FrameSource, dt: float) -> None:
        """Frequencies and growth rates from a delay-embedded DMD of the training frames.

        Lazily read frames reach DMD as a dask array (its Gram pass streams them).
        """
        from koopkit.backends.dmd import DMD

        lengths = source.lengths
        k = max(range(len(lengths)), key=lambda i: lengths[i])  # the first longest
        n_train = lengths[k] - int(round(self.val_fraction * lengths[k]))
        x = source.dmd_rows(k, n_train)
        if is_lazy(x):
            x = xr.DataArray(x, dims=("time", "feature"))
        d = self.init_delays or max(int(self.delays), min(16, n_train // 4))
        d = max(1, min(d, n_train - 3))
        # frames: the Gram solver. On a 120-frame 52x64 RGB clip with 16 delays (160k
        # features) it took 0.8 s where the SVD the auto rule picks took 4-8 s, with the same
        # rank and eigenvalues equal to 5e-14: far closer than training needs
        solver = "gram" if len(self._frame_shape) == 3 else "auto"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            spec = DMD(rank="auto", delays=d, solver=solver).fit(x, dt=dt).spectrum_
        lam = spec.eigenvalues.values
        rms = spec.rms_amplitudes.values
        order = np.argsort(-rms)
        koopman.init_from_eigenvalues(lam[order])

    # ------------------------------------------------------------------ latents
    @torch.no_grad()
    def _encode_sequence(
        self, frames: torch.Tensor | FrameSource, batch: int = 512, seq: int = 0
    ) -> np.ndarray:
        """Latent state of every full history in ``frames`` (T - delays + 1, L), float64.

        ``frames``: one sequence's frames, or a source and the sequence ``seq`` to encode
        (read block by block).
        """
        model, d = self.model_, int(self.delays)
        model.eval()
        source = as_source(frames)
        batch = min(batch, source.batch_limit(d) or batch)
        n = source.lengths[seq] - d + 1
        out = []
        for i in range(0, n, batch):
            stop = min(n, i + batch)
            block = source.frames(seq, i, stop + d - 1)
            idx = torch.arange(stop - i)[:, None] + torch.arange(d)[None, :]
            out.append(model.encode(block[idx].to(self._device_)).double().cpu())
        return torch.cat(out).numpy()

    def encode_matrix(self, x: Any) -> np.ndarray:
        """Latent state of every full history in snapshots ``x`` given as rows.

        What :class:`koopkit.observables.Encoder` evaluates.

        Parameters
        ----------
        x : array_like, shape (T, n_features)
            Consecutive snapshots of one sequence in the data's own units, each flattened
            as the fitted frames (``n_features_in_`` values); ``T >= delays``.

        Returns
        -------
        ndarray, shape (T - delays + 1, latent_dim), float64
            Row ``k``: the encoder on the history ending at ``x[k + delays - 1]``.

        Examples
        --------
        >>> import numpy as np
        >>> t = np.arange(60) * 0.1
        >>> x = np.stack([np.cos(2 * t), np.sin(2 * t)], axis=1)
        >>> model = KoopmanAutoencoder(latent_pairs=1, horizon=5, epochs=1, steps_per_epoch=2,
        ...                            delays=2, progress=False).fit(x, dt=0.1)
        >>> model.encode_matrix(x[:10]).shape
        (9, 2)
        """
        self._check_fitted()
        x = np.asarray(x)
        d = int(self.delays)
        if x.ndim != 2 or x.shape[1] != self.n_features_in_:
            raise KoopkitError(
                f"the autoencoder was fitted on {self.n_features_in_} features per snapshot but "
                f"got an array of shape {x.shape}: pass snapshots as rows (time, feature)"
            )
        if x.shape[0] < d:
            raise KoopkitError(
                f"delays={d} needs {d} snapshots per history but got {x.shape[0]}: "
                "pass a longer stretch of the series"
            )
        check_finite(x)
        return self._encode_rows(x)

    def encode(
        self, data: Any, *, dt: float | None = None, variable: str | None = None
    ) -> xr.DataArray:
        """Latent states of a series, labelled: one per full history, dims ``(time, latent)``.

        Parameters
        ----------
        data : xr.DataArray, xr.Dataset or array_like
            One series of the fitted system, as :meth:`fit` takes it, at least 2 snapshots
            and ``delays`` long (an array's time step defaults to the fitted one).
            Dask-backed data are read block by block.
        dt, variable : optional
            As for :meth:`fit`.

        Returns
        -------
        xr.DataArray
            Dims ``("time", "latent")``; ``time`` is the newest frame of each history.
            Columns ``2j, 2j + 1`` hold pair ``j`` (``a + i b`` advances by the pair's
            eigenvalue), then the real coordinates.

        Examples
        --------
        >>> import numpy as np
        >>> t = np.arange(60) * 0.1
        >>> x = np.stack([np.cos(2 * t), np.sin(2 * t)], axis=1)
        >>> model = KoopmanAutoencoder(latent_pairs=1, horizon=5, epochs=1, steps_per_epoch=2,
        ...                            progress=False).fit(x, dt=0.1)
        >>> model.encode(x).dims
        ('time', 'latent')
        """
        self._check_fitted()
        info, d = self._data_info, int(self.delays)
        labelled = isinstance(data, (xr.DataArray, xr.Dataset))
        n_time = data.sizes.get(TIME, 0) if labelled else (np.shape(data) or (0,))[0]
        if n_time < max(2, d):
            raise KoopkitError(
                f"encode needs a series of at least {max(2, d)} snapshots (delays={d}) but got "
                f"{n_time}: for a single history use encode_matrix(x)"
            )
        if dt is None and not labelled:
            dt = info.dt
        new = as_snapshots(data, dt=dt, variable=variable, min_snapshots=2, lazy_ok=True)
        if new.space_shape != info.space_shape:
            raise KoopkitError(
                f"the data have frames of shape {new.space_shape} but the model was fitted on "
                f"{info.space_shape}: pass data of the same system"
            )
        latents = self._encode_sequence(self._source([new]))
        time = xr.Variable(TIME, new.times[d - 1 :], attrs=dict(new.time_attrs))
        return xr.DataArray(
            latents,
            dims=(TIME, "latent"),
            coords={TIME: time, "latent": np.arange(latents.shape[1])},
            name="latent",
            attrs={"long_name": "latent state of each history", "delays": d},
        )

    def _encode_rows(self, matrix: np.ndarray) -> np.ndarray:
        """:meth:`_encode_sequence` of rows in the data's units (no checks)."""
        return self._encode_sequence(torch.from_numpy(self._to_frames(matrix)))

    def _refine(self, koopman: KoopmanLayer, latents: list[np.ndarray], dt: float) -> None:
        """Re-estimate each pair's frequency from the phase of the encoded trajectories.

        Growth rates are left as trained: ``|z|`` of an encoded trajectory also carries the
        encoder's offsets and cross-talk between pairs, which bias a growth estimate.
        """
        mu, omega, rmu = (t.detach().double().cpu().numpy().copy() for t in koopman.rates())
        energy = np.array(
            [
                sum(np.sum(z[:, 2 * j] ** 2 + z[:, 2 * j + 1] ** 2) for z in latents)
                for j in range(koopman.n_pairs)
            ]
        )
        # Only what the training loss could not see: a change of over 0.01 rad across the
        # horizon, or a trajectory that is not a clean rotation (coherence below 0.9 at long
        # lags), keeps the trained value.
        tol = 0.01 / (int(self.horizon) * dt)
        for j in range(koopman.n_pairs):
            if energy[j] <= 1e-6 * energy.max():
                continue
            c = [z[:, 2 * j] + 1j * z[:, 2 * j + 1] for z in latents]
            new_omega, coherence = _refine_frequency(c, omega[j], dt)
            if abs(new_omega - omega[j]) < tol and coherence > 0.9:
                omega[j] = new_omega
        koopman.set_rates(mu, omega, rmu)

    # ------------------------------------------------------------------ spectrum
    def _set_spectrum(self, latents: np.ndarray, first: np.ndarray, info: Snapshots) -> None:
        """Spectrum from all fitted latent states; phases from ``first`` (the state at t0)."""
        koop = self.model_.koopman
        lam = koop.eigenvalues()
        p, r = koop.n_pairs, koop.n_real
        n_states = latents.shape[0]
        mean_latent = latents.mean(axis=0)
        jac = self._decoder_jacobian(mean_latent)  # (L, n_features) in data units
        modes = np.empty((len(lam), jac.shape[1]), dtype=complex)
        amps = np.empty(len(lam), dtype=complex)
        for j in range(p):
            c = latents[:, 2 * j] + 1j * latents[:, 2 * j + 1]
            phi = jac[2 * j] - 1j * jac[2 * j + 1]
            rms = float(np.sqrt(np.mean(np.abs(c) ** 2)))
            c0 = first[2 * j] + 1j * first[2 * j + 1]
            phase = np.exp(1j * np.angle(c0)) if c0 != 0 else 1.0
            for k, (mode, ph) in enumerate(((phi, phase), (phi.conj(), np.conj(phase)))):
                idx = 2 * j + k
                modes[idx] = mode
                amps[idx] = rms / rms_power(np.array([abs(lam[idx])]), n_states)[0] * ph
        for j in range(r):
            v = latents[:, 2 * p + j]
            idx = 2 * p + j
            modes[idx] = jac[idx]
            rms = float(np.sqrt(np.mean(v**2)))
            amps[idx] = (
                rms / rms_power(np.array([abs(lam[idx])]), n_states)[0] * np.sign(first[idx] or 1)
            )
        w = getattr(self, "_weights", None)
        if w is None:
            norms = np.linalg.norm(modes, axis=1)
        else:  # unit weighted norm, as DMD's modes
            norms = np.sqrt(np.sum(np.abs(modes) ** 2 * w, axis=1))
        modes = modes / np.where(norms > 0, norms, 1.0)[:, None]
        residuals = self.residual_matrices_.residuals(lam, koop.eigenfunctions())
        modes_da = xr.DataArray(
            modes.reshape((len(lam), *info.space_shape)),
            dims=(MODE, *info.space_dims),
            coords={k: v for k, v in info.template.coords.items()},
            name="modes",
            attrs={"note": "approximate: the decoder's linear response to each latent pair"},
        )
        params = {k: jsonable(v) for k, v in self.get_params().items()}
        if callable(self.progress):  # a callback is no setting of the model
            params["progress"] = True
        spectrum = KoopmanSpectrum(
            lam,
            amps,
            modes_da,
            dt=info.dt,
            time_units=info.time_units,
            n_snapshots=n_states,
            t0=float(info.times[int(self.delays) - 1]),
            backend=self.name,
            params=params,
            extras={"residuals": residuals},
        ).sort("rms_amplitude")
        self.spectrum_ = KoopmanSpectrum._wrap(
            spectrum._ds.assign_coords({MODE: np.arange(len(lam))})
        )

    def _decoder_jacobian(self, z0: np.ndarray) -> np.ndarray:
        """``dD/dz_k`` at ``z0`` for every latent coordinate, rows in data units."""
        model = self.model_
        z = torch.as_tensor(z0, dtype=torch.float32, device=self._device_)[None]
        eye = torch.eye(z.shape[1], dtype=torch.float32, device=self._device_)
        try:
            with warnings.catch_warnings():
                # torch.func's first import scripts decompositions with torch.jit (deprecated)
                warnings.simplefilter("ignore", FutureWarning)
                from torch.func import jvp, vmap

                def one(v: torch.Tensor) -> torch.Tensor:
                    return jvp(model.decode, (z,), (v[None],))[1][0]

                with torch.no_grad():
                    cols = vmap(one)(eye)
        except Exception:  # noqa: BLE001 - modules without forward-mode AD: finite differences
            eps = 1e-3 * max(float(z.abs().max()), 1.0)
            with torch.no_grad():
                plus = model.decode(z + eps * eye)
                minus = model.decode(z - eps * eye)
            cols = (plus - minus) / (2 * eps)
        cols = cols.double().cpu().numpy()
        out = self._from_frames(cols) - self._mean  # remove the offset; keep the scale
        return out

    # ------------------------------------------------------------------ forecasting
    def _encode_history(self, history: np.ndarray) -> np.ndarray:
        return self._encode_rows(history)[-1]

    def _initial_state(self, initial: Any) -> tuple[np.ndarray, float]:
        info = self._data_info
        if initial is None:
            return self._latents[-1], float(info.times[-1])
        history, t_ref = history_from(initial, info, int(self.delays))
        return self._encode_history(history), t_ref

    @torch.no_grad()
    def _decode_powers(self, z0: np.ndarray, s: np.ndarray, batch: int = 512) -> np.ndarray:
        model = self.model_
        z = torch.as_tensor(z0, dtype=torch.float32, device=self._device_)
        out = []
        for i in range(0, len(s), batch):
            steps = torch.as_tensor(np.asarray(s[i : i + batch], dtype=np.float64))
            zs = model.koopman.advance(z, steps.to(self._device_))
            out.append(model.decode(zs).double().cpu().numpy())
        frames = np.concatenate(out) if out else np.zeros((0, *self._frame_shape))
        dtype = self._data_info.matrix.dtype
        return self._from_frames(frames).astype(dtype, copy=False)

    def _forecast(self, state: np.ndarray, s: np.ndarray) -> np.ndarray:
        return self._decode_powers(state, np.asarray(s, dtype=float))

    def _reconstruct(self) -> np.ndarray:
        """Each fitted frame decoded from its own encoded history; the first ``delays - 1``
        frames (which have no full history) are predicted backwards from the first state."""
        d = int(self.delays)
        body = self._decode_many(self._latents)
        if d == 1:
            return body
        head = self._decode_powers(self._latents[0], -np.arange(d - 1, 0, -1, dtype=float))
        return np.concatenate([head, body])

    @torch.no_grad()
    def _decode_many(self, latents: np.ndarray, batch: int = 512) -> np.ndarray:
        model = self.model_
        out = []
        for i in range(0, len(latents), batch):
            z = torch.as_tensor(latents[i : i + batch], dtype=torch.float32, device=self._device_)
            out.append(model.decode(z).double().cpu().numpy())
        return self._from_frames(np.concatenate(out)).astype(self._data_info.matrix.dtype)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the fitted model to the folder ``path``: ``model.safetensors`` holding
        tensors only, and ``config.json`` (parameters, data labels, losses).

        :func:`koopkit.load_model` or :meth:`load` read it back; ``predict`` gives the same
        numbers. A custom encoder/decoder module is saved by its weights; pass the same
        architecture to :meth:`load`. No pickled Python objects are written. A model fitted
        with ``weights=`` keeps the square roots of its inner-product weights (which scale
        its inputs and outputs) in the same tensor file.
        """
        self._check_fitted()
        save_estimator(self, path)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        encoder: nn.Module | None = None,
        decoder: nn.Module | None = None,
        device: str = "cpu",
    ) -> KoopmanAutoencoder:
        """Read a model written by :meth:`save` (tensors with ``weights_only=True``).

        Parameters
        ----------
        path : str or os.PathLike
            The folder given to :meth:`save`.
        encoder, decoder : nn.Module, optional
            The architectures of custom modules (their weights come from the file).
        device : str, default "cpu"

        Examples
        --------
        >>> import numpy as np, tempfile
        >>> x = np.sin(np.arange(40) * 0.3)[:, None] * [1.0, 2.0]
        >>> m = KoopmanAutoencoder(latent_pairs=1, horizon=3, epochs=1, steps_per_epoch=2,
        ...                        progress=False).fit(x, dt=1.0)
        >>> d = tempfile.mkdtemp(); m.save(d)
        >>> KoopmanAutoencoder.load(d).predict(steps=2).shape
        (2, 2)
        """
        return load_estimator(cls, path, encoder, decoder, device)


# ---------------------------------------------------------------------- helpers
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


def _check_shapes(model: KoopmanAE, history: torch.Tensor) -> None:
    """One history through the encoder and decoder: clear errors for custom modules."""
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


def _refine_frequency(c: list[np.ndarray], omega0: float, dt: float) -> tuple[float, float]:
    """Mean angular velocity of complex trajectories from phase advances over doubling lags.

    Returns ``(omega, coherence)`` where ``coherence = |sum z_{k+L} conj(z_k)| / sum |z_k|^2``
    at the longest lag ``L`` used: 1 for a clean rotation, smaller when the amplitude or the
    phase speed wanders.
    """

    def advance(lag: int) -> tuple[complex, float]:
        num = sum(np.sum(z[lag:] * np.conj(z[:-lag])) for z in c if len(z) > lag)
        den = sum(np.sum(np.abs(z[:-lag]) ** 2) for z in c if len(z) > lag)
        return complex(num), float(den)

    n = min(len(z) for z in c)
    if n < 3:
        return omega0, 0.0
    a, den = advance(1)
    if a == 0 or den == 0:
        return omega0, 0.0
    omega = float(np.angle(a)) / dt
    coherence = abs(a) / den
    lag = 2
    while lag <= n // 2:
        a, den = advance(lag)
        if a == 0:
            break
        ang = float(np.angle(a))
        turns = np.round((omega * lag * dt - ang) / (2 * np.pi))
        omega = (ang + 2 * np.pi * turns) / (lag * dt)
        coherence = abs(a) / den
        lag *= 2
    return float(omega), float(coherence)

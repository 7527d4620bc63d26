"""KoopmanAutoencoder: the estimator (fit / predict / reconstruct / encode / save / load).

The network is ``D(K^m E(h))`` (Sanayei, *Koopman Autoencoder for Videos*, section 4; see
:mod:`~koopkit.backends.autoencoder.model`). What ``fit`` does, in order:

1. validates the data (NaN/Inf, frame sizes, ``horizon`` shorter than the series) with
   :class:`~koopkit.KoopkitError` before any training;
2. normalises: ``(x - mean) / scale`` with the per-feature mean and one scalar scale (with
   ``weights=``: ``sqrt(w) (x - mean) / scale``, the scale the weighted RMS, so the losses
   are weighted mean squared errors; outputs are divided by ``sqrt(w)`` on the way back);
3. initialises the Koopman layer from a delay-embedded DMD of the training data
   (``init="dmd"``);
4. trains (:mod:`~koopkit.backends.autoencoder.train`);
5. refines the pairs' frequencies from the encoded training trajectory (``refine=True``);
6. builds ``spectrum_`` with a residual per eigenvalue, the encoder as ResDMD's dictionary.

Steps 3, 5 and 6 are in :mod:`~koopkit.backends.autoencoder.spectral`, which says why.
``residual_matrices_`` keeps ResDMD's matrices for :func:`koopkit.pseudospectrum`.
"""

from __future__ import annotations

import dataclasses
import os
import time
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
    check_finite,
)
from koopkit.backends._linalg import ResidualMatrices
from koopkit.backends.autoencoder.data import FrameSource, LazyFrames, as_source
from koopkit.backends.autoencoder.model import (
    HISTORY_COLUMNS,
    KoopmanAE,
    build_model,
    check_shapes,
)
from koopkit.backends.autoencoder.options import (
    check_options,
    check_windows,
    choose_device,
    choose_threads,
    held_out_sequences,
    train_config,
)
from koopkit.backends.autoencoder.persist import jsonable, load_estimator, save_estimator
from koopkit.backends.autoencoder.scaling import FrameScaling
from koopkit.backends.autoencoder.spectral import (
    decoder_jacobian,
    init_from_dmd,
    latent_modes,
    modes_dataarray,
    refine_frequencies,
)
from koopkit.backends.autoencoder.train import train
from koopkit.backends.base import KoopmanEstimator, history_from
from koopkit.spectrum import KoopmanSpectrum, rms_order

__all__ = ["KoopmanAutoencoder"]


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
        Learning rate of the Koopman layer. Default ``lr / 100`` with ``init="dmd"`` (a
        close start that a fast layer would bias while the autoencoder is poor), else ``lr``.
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
        CPU threads while training (torch's setting is restored afterwards). "auto": one
        thread for networks under a million parameters; None keeps torch's setting.
    seed : int, default 0
        Seeds initialisation and batch order; CPU training is then deterministic.
    checkpoint_dir : str, optional
        Folder for a checkpoint written atomically after every epoch.
    resume : bool, default False
        Continue from the checkpoint in ``checkpoint_dir`` (same data and settings;
        ``epochs`` may grow).
    progress : bool or callable, default True
        True: a tqdm progress bar with the losses (only on a terminal). A callable taking
        a string (e.g. ``print``) gets one line per stage (statistics, DMD start, about ten
        epochs, encoding, spectrum) with the seconds since ``fit`` began. False: nothing.

    Attributes
    ----------
    spectrum_ : KoopmanSpectrum
        With per-mode ``residuals`` measured through the encoder (module notes).
    residual_matrices_ : ResidualMatrices
        ResDMD's ``G``, ``A``, ``L`` of the latent pairs (on ``residual_data`` when given).
    n_features_in_ : int
        Features per snapshot (the product of the frame shape).
    model_ : KoopmanAE
    scaling_ : FrameScaling
        How data rows become the network's frames and back (mean, scale, weights, layout).
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
        check_options(self)

    def _device(self) -> torch.device:
        return choose_device(self.device)

    # ------------------------------------------------------------------ data
    def _source(self, infos: list[Snapshots]) -> FrameSource:
        """Normalised frames of validated sequences: in memory, or read lazily from dask."""
        return self.scaling_.source([i.matrix for i in infos])

    # ------------------------------------------------------------------ network
    @property
    def _latent_dim(self) -> int:
        return 2 * int(self.latent_pairs) + int(self.n_real)

    def _build(self, frame_shape: tuple[int, ...], dt: float) -> KoopmanAE:
        return build_model(
            self.encoder,
            self.decoder,
            frame_shape,
            dt,
            latent_pairs=int(self.latent_pairs),
            n_real=int(self.n_real),
            delays=int(self.delays),
            stable=bool(self.stable),
            hidden=self.hidden,
            activation=self.activation,
            encoder_options=self.encoder_options,
            decoder_options=self.decoder_options,
        )

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
            volumes, cos(latitude)), as for :meth:`koopkit.DMD.fit`: the network sees
            ``sqrt(w) x`` normalised (``scaling_``), so its losses are weighted mean squared
            errors, while all inputs and outputs stay in the data's units. Only ratios
            matter: constant weights give the unweighted model exactly.
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

        infos = as_trajectories(
            data, dt=dt, variable=variable, lazy_ok=True, noun="sequence", time_unit=time_unit
        )
        d = int(self.delays)
        check_windows(int(self.horizon), d, [i.n_time for i in infos])
        info = infos[-1]
        w = as_weights(weights, info)
        self._weights = w
        self.scaling_, data_sig = FrameScaling.fit(infos, w)
        frame_shape = self.scaling_.frame_shape
        if w is not None:
            data_sig = [*data_sig, ["weights", float(w.sum()), float(np.abs(np.diff(w)).sum())]]
        n_frames = sum(i.n_time for i in infos)
        note(f"statistics of {n_frames} frames of {'x'.join(map(str, frame_shape))}")
        held = None if residual_data is None else held_out_sequences(residual_data, info, d)
        device = self._device()
        source = self._source(infos)

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.seed))
            model = self._build(frame_shape, info.dt)
        check_shapes(model, source.frames(0, 0, d))
        if self.init == "dmd":  # the Gram solver for frames: many more pixels than snapshots
            solver = "gram" if len(frame_shape) == 3 else "auto"
            init_from_dmd(
                model.koopman,
                source,
                info.dt,
                val_fraction=self.val_fraction,
                delays=d,
                init_delays=self.init_delays,
                solver=solver,
            )
            note("Koopman layer initialised from a delay-embedded DMD")
        cfg = train_config(self, data_sig, info)
        cfg.threads = choose_threads(self.threads, model)
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
            refine_frequencies(model.koopman, latents, info.dt, int(self.horizon))
        note(f"encoded {n_frames} frames")
        self.data_reads_ = None
        if isinstance(source, LazyFrames):
            self.data_reads_ = {"frames": source.frames_read, "batches": list(source.gathers)}
            # keep the labels, not the lazy matrix (nor the file behind it)
            empty = np.zeros((0, info.matrix.shape[1]), dtype=info.matrix.dtype)
            info = dataclasses.replace(info, matrix=empty, frame=info.template)
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

    # ------------------------------------------------------------------ latents
    def _encode_sequence(self, frames: torch.Tensor | FrameSource, seq: int = 0) -> np.ndarray:
        """Latent state of every full history in ``frames`` (T - delays + 1, L), float64:
        one sequence's frames, or a source and the sequence ``seq`` to encode."""
        return self.model_.encode_series(as_source(frames), seq, self._device_)

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
        return self._encode_sequence(torch.from_numpy(self.scaling_.to_frames(matrix)))

    # ------------------------------------------------------------------ spectrum
    def _set_spectrum(self, latents: np.ndarray, first: np.ndarray, info: Snapshots) -> None:
        """Spectrum from all fitted latent states; phases from ``first`` (the state at t0)."""
        koop = self.model_.koopman
        lam = koop.eigenvalues()
        jac = decoder_jacobian(self.model_.decode, latents.mean(axis=0), self._device_)
        jac = self.scaling_.from_frames(jac) - self.scaling_.mean  # data units, no offset
        modes, amps = latent_modes(
            latents, first, jac, lam, koop.n_pairs, getattr(self, "_weights", None)
        )
        residuals = self.residual_matrices_.residuals(lam, koop.eigenfunctions())
        params = {k: jsonable(v) for k, v in self.get_params().items()}
        if callable(self.progress):  # a callback is no setting of the model
            params["progress"] = True
        n_states = latents.shape[0]
        order = rms_order(lam, amps, n_states)  # every spectrum's order; modes renumbered
        self.spectrum_ = KoopmanSpectrum(
            lam[order],
            amps[order],
            modes_dataarray(modes[order], info),
            dt=info.dt,
            time_units=info.time_units,
            n_snapshots=n_states,
            t0=float(info.times[int(self.delays) - 1]),
            backend=self.name,
            params=params,
            extras={"residuals": residuals[order]},
        )

    # ------------------------------------------------------------------ forecasting
    def _encode_history(self, history: np.ndarray) -> np.ndarray:
        return self._encode_rows(history)[-1]

    def _initial_state(self, initial: Any) -> tuple[np.ndarray, float]:
        info = self._data_info
        if initial is None:
            return self._latents[-1], float(info.times[-1])
        history, t_ref = history_from(initial, info, int(self.delays))
        return self._encode_history(history), t_ref

    def _decode_powers(self, z0: np.ndarray, s: np.ndarray) -> np.ndarray:
        frames = self.model_.decode_powers(z0, s, self._device_)
        return self.scaling_.from_frames(frames).astype(self._data_info.matrix.dtype, copy=False)

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

    def _decode_many(self, latents: np.ndarray) -> np.ndarray:
        frames = self.model_.decode_states(latents, self._device_)
        return self.scaling_.from_frames(frames).astype(self._data_info.matrix.dtype)

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

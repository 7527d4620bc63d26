"""The contract every backend keeps, written once; forecasting from a spectrum (here only).

Writing a backend
-----------------
A backend is **one class plus one registry line** (``_REGISTRY`` in
:mod:`koopkit.backends`, or the :func:`~koopkit.backends.register` decorator); its
registry name is its class attribute ``name`` and appears nowhere else. The class:

1. subclasses :class:`KoopmanEstimator` (and :class:`LinearModelMixin` when it builds a
   :class:`LinearForecast` through :func:`build_linear_model`);
2. stores its constructor arguments under their own names in ``__init__`` and does
   nothing else there (``get_params``/``set_params``/``repr`` read the signature);
3. implements ``fit(data, *, dt=None, variable=None, **options) -> self``, which
   validates the input through :mod:`koopkit._validation` (``as_snapshots`` or
   ``as_trajectories``), raises :class:`~koopkit.KoopkitError` with a one-line fix for
   bad input, and sets:

   ============================  ======================================================
   ``spectrum_``                 a :class:`~koopkit.spectrum.KoopmanSpectrum`
   ``_data_info``                the :class:`~koopkit._validation.Snapshots` whose labels
                                 (space dims and coords, ``dt``, times) forecasts carry
   ``rank_``                     number of modes, where a rank applies
   ``n_features_in_``            features per snapshot (product of the space shape)
   ``residual_matrices_``        ResDMD's matrices (:class:`~koopkit.backends._linalg.
                                 ResidualMatrices`), where the backend measures residuals
   ============================  ======================================================

4. provides the hooks ``_initial_state``, ``_forecast`` and ``_reconstruct`` (the mixin
   does for linear models), so :meth:`KoopmanEstimator.predict` and
   :meth:`KoopmanEstimator.reconstruct` work unchanged.

``tests/test_contract.py`` runs every name in :func:`koopkit.backends.available` through
this contract: a fit on a small system with known eigenvalues, ``predict``'s shape and
time coordinate, the ``get_params``/``set_params`` round trip, and a one-line error for
bad input.

Saving
------
``model.save(path)`` writes a fitted estimator to one netCDF4 file and
:func:`koopkit.load_model` reads it back, with no pickle
(:mod:`koopkit.backends.saving`): the constructor arguments and every fitted attribute
(arrays, :class:`LinearForecast`, the spectrum, the data's labels, observables). A
backend whose state holds other objects overrides the hooks ``_saved``/``_restored``
(the PyDMD adapter) or ``save``/``load`` (the autoencoder, a folder with safetensors).

Forecasting
-----------
Linear backends (DMD and friends) forecast with :class:`LinearForecast`: a state is a
history of ``delays`` frames ``z = [x_{k-d+1}, ..., x_k]`` and

    z(t_ref + s dt) = sum_j b_j lam_j ** s phi_j,   lam ** s = exp(s log lam)

with the principal branch of the logarithm, so non-integer ``s`` interpolates between
frames.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from koopkit._errors import KoopkitError
from koopkit._util import ParamsMixin
from koopkit._validation import TIME, Snapshots, as_snapshots
from koopkit.spectrum import MODE, KoopmanSpectrum
from koopkit.spectrum import rms_order as spectrum_rms_order


class KoopmanEstimator(ParamsMixin):
    """Base class: scikit-learn style parameters plus the predict/reconstruct contract."""

    #: Registry name; set by each backend.
    name: str = ""

    # --------------------------------------------------------------- contract
    def fit(self, data: Any, *, dt: float | None = None, variable: str | None = None):
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if not hasattr(self, "spectrum_"):
            raise KoopkitError(
                f"this {type(self).__name__} is not fitted yet: call fit(data) first"
            )

    def predict(
        self,
        steps: int | None = None,
        *,
        times: Any = None,
        initial: Any = None,
    ) -> xr.DataArray:
        """Forecast with the fitted model.

        Parameters
        ----------
        steps : int, optional
            Forecast ``steps`` frames after the reference frame (``s = 1 .. steps``).
        times : array_like, optional
            Absolute times to evaluate, like the fitted time coordinate (numbers, or
            datetimes for a datetime axis); non-integer multiples of ``dt`` interpolate.
        initial : xr.DataArray or array_like, optional
            Start state: a frame, or a history of frames along ``time`` (the last
            ``delays`` are used). Default: the last fitted state.

        Returns
        -------
        xr.DataArray
            Dims ``("time", *space_dims)`` with the input's coords and a time coordinate.
        """
        self._check_fitted()
        info = self._data_info
        if (steps is None) == (times is None):
            raise KoopkitError("give exactly one of steps= or times=")
        state, t_ref = self._initial_state(initial)
        if steps is not None:
            if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
                raise KoopkitError(f"steps={steps!r} must be a positive integer")
            s = np.arange(1, int(steps) + 1, dtype=float)
        else:
            t = info.float_times(np.atleast_1d(np.asarray(times)))
            if t.ndim != 1 or not np.isfinite(t).all():
                raise KoopkitError(
                    "times= must be a 1-D list of finite times (numbers, or datetimes for "
                    "a datetime axis)"
                )
            s = (t - t_ref) / info.dt
        values = self._forecast(state, s)
        return info.frames(
            values,
            t_ref + s * info.dt,
            koopkit_backend=self.name,
            forecast_from=float(t_ref),
        )

    def reconstruct(self) -> xr.DataArray:
        """The model's version of the fitted span, labelled like the input."""
        self._check_fitted()
        info = self._data_info
        return info.frames(self._reconstruct(), info.times, koopkit_backend=self.name)

    # saving -----------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the fitted model to a netCDF4 file (atomically, without pickle).

        :func:`koopkit.load_model` (or ``type(model).load``) reads it back: ``predict``
        (also from ``initial=`` or at ``times=``), ``reconstruct``, ``spectrum_`` and
        ``residual_matrices_`` equal this model's, bit for bit. The data themselves are
        not saved (only their labels and times). See :mod:`koopkit.backends.saving`.

        Examples
        --------
        >>> import numpy as np, os, tempfile, koopkit
        >>> t = np.arange(40) * 0.1
        >>> model = koopkit.DMD(rank=2).fit(np.stack([np.cos(t), np.sin(t)], 1), dt=0.1)
        >>> path = os.path.join(tempfile.mkdtemp(), "dmd.nc")
        >>> model.save(path)
        >>> loaded = koopkit.load_model(path)
        >>> bool((loaded.predict(steps=5) == model.predict(steps=5)).all())
        True
        """
        from koopkit.backends.saving import save_model

        save_model(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> KoopmanEstimator:
        """Read a model written by :meth:`save` (see :func:`koopkit.load_model`)."""
        from koopkit.backends.saving import load_model

        model = load_model(path)
        if not isinstance(model, cls):
            raise KoopkitError(
                f"{path} holds a {type(model).__name__} model, not a {cls.__name__}: "
                "read it with koopkit.load_model(path)"
            )
        return model

    def _saved(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Hook: the constructor arguments and the fitted state :meth:`save` writes (by
        default ``get_params()`` and every other attribute)."""
        params = self.get_params()
        return params, {k: v for k, v in vars(self).items() if k not in params}

    @classmethod
    def _restored(cls, params: dict[str, Any], state: dict[str, Any]) -> KoopmanEstimator:
        """Hook: the estimator that :meth:`_saved` described."""
        model = cls(**params)
        vars(model).update(state)
        return model

    # hooks ------------------------------------------------------------------
    def _initial_state(self, initial: Any) -> tuple[Any, float]:
        raise NotImplementedError

    def _forecast(self, state: Any, s: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _reconstruct(self) -> np.ndarray:
        raise NotImplementedError


def history_from(initial: Any, info: Snapshots, delays: int) -> tuple[np.ndarray, float]:
    """Validate a user's initial state: returns ``(delays, n_features)`` and its time.

    A DataArray with a ``time`` dim gives its last ``delays`` frames and the time of the
    newest; a frame without time (or a bare array) is a single state at time 0.
    """
    n = int(np.prod(info.space_shape))
    t_ref = 0.0
    if isinstance(initial, xr.DataArray):
        if TIME in initial.dims:
            if TIME in initial.coords:
                t_ref = float(info.float_times(initial[TIME].values[-1:])[0])
            arr = initial.transpose(TIME, ...)
            dims = tuple(arr.dims[1:])
            values = arr.values
        else:
            dims = tuple(initial.dims)
            values = initial.values[None]
        if dims != info.space_dims:
            raise KoopkitError(
                f"initial= has space dims {dims} but the model was fitted on {info.space_dims}"
            )
    else:
        values = np.asarray(initial)
        if values.shape == info.space_shape or values.size == n and values.ndim == 1:
            values = values.reshape(1, n)
    values = np.asarray(values)
    if values.size % n or values.reshape(-1, n).shape[1] != n:
        raise KoopkitError(
            f"initial= has shape {values.shape}, which does not hold frames of shape "
            f"{info.space_shape}"
        )
    values = values.reshape(-1, n)
    if values.shape[0] < delays:
        raise KoopkitError(
            f"the model uses delays={delays}, so initial= needs the last {delays} frames "
            f"along 'time'; got {values.shape[0]}"
        )
    if not np.isfinite(values).all():
        raise KoopkitError("initial= contains NaN or Inf values: pass finite frames")
    return values[-delays:], t_ref


@dataclass
class LinearForecast:
    """Everything a linear model needs to forecast: ``z(s) = sum_j b_j lam_j^s phi_j``.

    Attributes
    ----------
    eigenvalues : (r,) complex
    modes : (r, delays, n_features) complex, full delay-stacked modes
    amplitudes : (r,) complex, at the first fitted state
    last_amplitudes : (r,) complex, least-squares fit of the last fitted state
    n_states : int, number of fitted (delay-embedded) states
    """

    eigenvalues: np.ndarray
    modes: np.ndarray
    amplitudes: np.ndarray
    last_amplitudes: np.ndarray
    n_states: int
    real_output: bool
    dtype: np.dtype
    mode_gram: np.ndarray | None = None  # <phi_i, phi_j>, when known without touching modes
    weights: np.ndarray | None = None  # per feature (n_features,): the inner product's weights

    @property
    def delays(self) -> int:
        return self.modes.shape[1]

    def powers(self, s: np.ndarray) -> np.ndarray:
        """``lam_j ** s_i`` (principal branch), shape (len(s), r)."""
        lam = self.eigenvalues.astype(complex)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            logs = np.log(np.where(lam == 0, 1.0, lam))
            out = np.exp(np.outer(s, logs))
        zero = lam == 0
        if zero.any():
            out[:, zero] = (np.asarray(s)[:, None] == 0).astype(float)
        return out

    def evaluate(self, coeffs: np.ndarray, block: int = -1) -> np.ndarray:
        """Frames ``coeffs @ modes[:, block]`` with shape (len, n), in the data's dtype."""
        phi = self.modes[:, block, :]
        if self.real_output:
            out = coeffs.real @ phi.real - coeffs.imag @ phi.imag
        else:
            out = coeffs @ phi
        return out.astype(self.dtype, copy=False)

    def amplitudes_of(self, history: np.ndarray) -> np.ndarray:
        """Least-squares amplitudes of a state ``(delays, n)`` on the modes (in the
        weighted inner product when the fit had weights)."""
        return state_amplitudes(self.modes, history, gram=self.mode_gram, weights=self.weights)

    def forecast(self, amplitudes: np.ndarray, s: np.ndarray) -> np.ndarray:
        return self.evaluate(self.powers(s) * amplitudes)

    def reconstruct(self) -> np.ndarray:
        """Frames of the fitted span: the first ``delays - 1`` from the first state's blocks."""
        head = [self.evaluate(self.amplitudes[None, :], block=j) for j in range(self.delays - 1)]
        s = np.arange(self.n_states, dtype=float)
        body = self.forecast(self.amplitudes, s)
        return np.concatenate([*head, body]) if head else body


def mode_norms(modes: np.ndarray) -> np.ndarray:
    """Norms of the newest block of each delay-stacked mode ``(r, delays, n)``; 0 becomes 1.

    Dividing ``modes`` by these (and multiplying amplitudes by them) gives the unit-norm
    modes that :class:`~koopkit.spectrum.KoopmanSpectrum` reports.

    Examples
    --------
    >>> mode_norms(np.array([[[3.0, 4.0]], [[0.0, 0.0]]]))
    array([5., 1.])
    """
    newest = modes[:, -1, :]
    parts = (newest.real, newest.imag) if np.iscomplexobj(newest) else (newest,)
    # sums of squares on the parts as stored: no complex or double-precision temporaries
    sq = sum(np.einsum("ij,ij->i", p, p, dtype=float) for p in parts)
    norms = np.sqrt(sq)
    return np.where(norms > 0, norms, 1.0)


def build_linear_model(
    info: Snapshots,
    eigenvalues: np.ndarray,
    modes: np.ndarray,
    amplitudes: np.ndarray,
    last_amplitudes: np.ndarray,
    *,
    n_states: int,
    t0: float,
    backend: str,
    params: dict[str, Any],
    mode_gram: np.ndarray | None = None,
    extras: dict[str, np.ndarray] | None = None,
    order: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> tuple[KoopmanSpectrum, LinearForecast]:
    """The spectrum and forecast state of a fitted linear model, sorted by RMS amplitude.

    Every linear backend ends here, so ordering, labelling and units are the same for all.

    Parameters
    ----------
    info : Snapshots
        The validated data (labels, ``dt``, dtype).
    eigenvalues : (r,) complex
        Discrete-time eigenvalues (one step of ``info.dt``).
    modes : (r, delays, n_features) complex
        Delay-stacked modes, oldest frame first; the newest block should have unit norm
        (see :func:`mode_norms`) and is what the spectrum reports. A NumPy array is
        reordered in place (no copy of the largest array is made).
    amplitudes : (r,) complex
        Amplitudes at the first fitted state (time ``t0``).
    last_amplitudes : (r,) complex
        Amplitudes of the last fitted state, where forecasts start.
    n_states : int
        Number of fitted (delay-embedded) states.
    t0 : float
        Time of the newest frame of the first state.
    backend, params :
        Recorded in the spectrum.
    mode_gram : (r, r) complex, optional
        ``<phi_i, phi_j>`` of the full modes, when known (saves a pass over lazy modes).
    extras : dict, optional
        Optional per-mode quantities for the spectrum (e.g. ``residuals``), unsorted.
    order : (r,) int, optional
        The order of the modes, when the caller computed it with :func:`rms_order`.
    weights : (n_features,) float, optional
        Weights of the inner product the modes were fitted in (their norm is 1 in it).

    Returns
    -------
    spectrum : KoopmanSpectrum
        Modes labelled ``0 .. r-1`` in order of decreasing RMS amplitude.
    linear : LinearForecast
        The same modes, in the same order.

    Examples
    --------
    >>> from koopkit._validation import as_snapshots
    >>> info = as_snapshots(np.ones((4, 1)), dt=0.5)
    >>> lam, phi, b = np.array([1.0 + 0j]), np.ones((1, 1, 1), complex), np.array([1.0 + 0j])
    >>> spec, lin = build_linear_model(
    ...     info, lam, phi, b, b, n_states=4, t0=0.0, backend="demo", params={}
    ... )
    >>> float(spec.growth_rates[0]), lin.delays
    (0.0, 1)
    """
    lam = np.asarray(eigenvalues)
    b = np.asarray(amplitudes)
    r = len(lam)
    meta = dict(
        dt=info.dt,
        time_units=info.time_units,
        n_snapshots=n_states,
        t0=t0,
        backend=backend,
        params=params,
    )
    # The order comes from a spectrum without modes; the modes (the one big array) are
    # then permuted in place, so no sorted copy of them is ever made.
    if order is None:
        order = rms_order(lam, b, n_states, info.dt)
    if isinstance(modes, np.ndarray):
        _permute_rows(modes, order)
    else:  # lazy (dask) modes: reorder the graph, nothing is computed
        modes = modes[order]
    modes_da = (  # labelled by the spectrum on first use
        modes[:, -1, :].reshape((r, *info.space_shape)),
        (MODE, *info.space_dims),
        lambda: info.template.coords,  # read when the spectrum is labelled
    )
    extras = {k: np.asarray(v)[order] for k, v in (extras or {}).items()}
    attrs = {}
    if info.clock is not None:  # t0 counts time_units from the first snapshot's datetime
        attrs["time_origin"] = str(info.clock.origin)
        if info.clock.calendar:
            attrs["calendar_step"] = info.clock.calendar
    spectrum = KoopmanSpectrum(lam[order], b[order], modes_da, extras=extras, attrs=attrs, **meta)
    linear = LinearForecast(
        eigenvalues=lam[order],
        modes=modes,
        amplitudes=b[order],
        last_amplitudes=np.asarray(last_amplitudes)[order],
        n_states=n_states,
        real_output=info.matrix.dtype.kind != "c",
        dtype=info.matrix.dtype,
        mode_gram=None if mode_gram is None else mode_gram[np.ix_(order, order)],
        weights=weights,
    )
    return spectrum, linear


def rms_order(eigenvalues: np.ndarray, amplitudes: np.ndarray, n_states: int, dt: float) -> Any:
    """Positions of the modes by decreasing RMS amplitude (see
    :func:`koopkit.spectrum.rms_order`; ``dt`` does not change the order)."""
    return spectrum_rms_order(eigenvalues, amplitudes, n_states)


class LinearModelMixin:
    """``predict``/``reconstruct`` hooks for backends that produce a :class:`LinearForecast`."""

    _linear: LinearForecast

    def _initial_state(self, initial: Any) -> tuple[np.ndarray, float]:
        info = self._data_info
        if initial is None:
            return self._linear.last_amplitudes, float(info.times[-1])
        history, t_ref = history_from(initial, info, self._linear.delays)
        return self._linear.amplitudes_of(history), t_ref

    def _forecast(self, state: np.ndarray, s: np.ndarray) -> np.ndarray:
        return self._linear.forecast(state, s)

    def _reconstruct(self) -> np.ndarray:
        return self._linear.reconstruct()


#: Arrays up to this size are permuted through one sorted copy.
_PERMUTE_COPY_BYTES = 2**24


def _permute_rows(a: Any, order: np.ndarray) -> None:
    """``a[:] = a[order]`` along the first axis, in place, one row of scratch at a time.

    Examples
    --------
    >>> a = np.arange(4.0)
    >>> _permute_rows(a, np.array([2, 0, 3, 1])); a
    array([2., 0., 3., 1.])
    """
    if a.nbytes <= _PERMUTE_COPY_BYTES:  # small: one fancy-indexed copy is faster
        a[:] = a[order]
        return
    done = np.zeros(len(order), dtype=bool)
    for start in range(len(order)):
        if done[start] or order[start] == start:
            done[start] = True
            continue
        scratch = a[start].copy()
        i = start
        while True:
            j = order[i]
            done[i] = True
            if j == start:
                a[i] = scratch
                break
            a[i] = a[j]
            i = j


def state_amplitudes(
    modes: Any, history: np.ndarray, gram: Any = None, weights: np.ndarray | None = None
) -> np.ndarray:
    """Least-squares amplitudes of a state ``(delays, n)`` on modes ``(r, delays, n)``.

    ``gram`` is the modes' ``<phi_i, phi_j>`` when known; ``weights`` (per feature) give the
    inner product. Real states meet complex modes as two real products (no upcast copy).

    Examples
    --------
    >>> phi = np.array([[[1.0, 0.0]], [[0.0, 1.0j]]])
    >>> state_amplitudes(phi, np.array([[2.0, 3.0]])).round(12).tolist()
    [(2+0j), -3j]
    """
    flat = modes.reshape(modes.shape[0], -1)
    z = np.asarray(history).reshape(-1)
    if weights is not None:
        w = np.tile(weights, z.size // len(weights))
        z = z * w
        if gram is None:
            gram = (flat.conj() * w) @ flat.T
    elif gram is None:
        gram = flat.conj() @ flat.T
    if np.iscomplexobj(z) or not np.iscomplexobj(flat):
        rhs = flat.conj() @ z.astype(flat.dtype, copy=False)
    else:
        zr = z.astype(flat.real.dtype, copy=False)
        rhs = flat.real @ zr - 1j * (flat.imag @ zr)
    gram = np.asarray(gram).astype(complex, copy=False)
    return np.linalg.lstsq(gram, np.asarray(rhs).astype(complex), rcond=None)[0]


__all__ = [
    "KoopmanEstimator",
    "LinearForecast",
    "LinearModelMixin",
    "as_snapshots",
    "build_linear_model",
    "mode_norms",
    "rms_order",
]

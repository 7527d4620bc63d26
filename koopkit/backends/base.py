"""The small contract every backend shares, and forecasting from a spectrum (here only).

A backend subclasses :class:`KoopmanEstimator`, stores its arguments in ``__init__``
(nothing else), and implements ``fit(data) -> self`` setting ``spectrum_`` and the
private state used by :meth:`predict` and :meth:`reconstruct`.

Linear backends (DMD and friends) forecast with :class:`LinearForecast`: a state is a
history of ``delays`` frames ``z = [x_{k-d+1}, ..., x_k]`` and

    z(t_ref + s dt) = sum_j b_j lam_j ** s phi_j,   lam ** s = exp(s log lam)

with the principal branch of the logarithm, so non-integer ``s`` interpolates between
frames.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from koopkit._errors import KoopkitError
from koopkit._validation import TIME, Snapshots, as_snapshots
from koopkit.spectrum import MODE, KoopmanSpectrum


class KoopmanEstimator:
    """Base class: scikit-learn style parameters plus the predict/reconstruct contract."""

    #: Registry name; set by each backend.
    name: str = ""

    # ---------------------------------------------------------------- params
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments, as stored."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> KoopmanEstimator:
        """Set constructor arguments (takes effect at the next ``fit``)."""
        valid = self._param_names()
        for key, value in params.items():
            if key not in valid:
                raise KoopkitError(
                    f"{type(self).__name__} has no parameter {key!r}; valid: {', '.join(valid)}"
                )
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        sig = inspect.signature(type(self).__init__)
        changed = [
            f"{k}={v!r}"
            for k, v in self.get_params().items()
            if sig.parameters[k].default is inspect.Parameter.empty
            or not _same(v, sig.parameters[k].default)
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

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
            Absolute times to evaluate (non-integer multiples of ``dt`` interpolate).
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
            t = np.atleast_1d(np.asarray(times, dtype=float))
            if t.ndim != 1 or not np.isfinite(t).all():
                raise KoopkitError("times= must be a 1-D list of finite numbers")
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
                t_ref = float(np.asarray(initial[TIME].values[-1], dtype=float))
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
        """Least-squares amplitudes of a state ``(delays, n)`` on the modes."""
        phi = self.modes.reshape(len(self.eigenvalues), -1)
        gram = self.mode_gram if self.mode_gram is not None else phi.conj() @ phi.T
        rhs = np.asarray(phi.conj() @ history.reshape(-1).astype(phi.dtype))
        return _solve_psd(np.asarray(gram), rhs)

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
    norms = np.linalg.norm(modes[:, -1, :], axis=1).astype(float)
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
    order = KoopmanSpectrum(lam, b, **meta).sort("rms_amplitude")._ds[MODE].values
    if isinstance(modes, np.ndarray):
        _permute_rows(modes, order)
    else:  # lazy (dask) modes: reorder the graph, nothing is computed
        modes = modes[order]
    modes_da = xr.DataArray(
        modes[:, -1, :].reshape((r, *info.space_shape)),
        dims=(MODE, *info.space_dims),
        coords={k: v for k, v in info.template.coords.items()},
        name="modes",
    )
    spectrum = KoopmanSpectrum(lam[order], b[order], modes_da, **meta)
    linear = LinearForecast(
        eigenvalues=lam[order],
        modes=modes,
        amplitudes=b[order],
        last_amplitudes=np.asarray(last_amplitudes)[order],
        n_states=n_states,
        real_output=info.matrix.dtype.kind != "c",
        dtype=info.matrix.dtype,
        mode_gram=None if mode_gram is None else mode_gram[np.ix_(order, order)],
    )
    return spectrum, linear


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


def _permute_rows(a: Any, order: np.ndarray) -> None:
    """``a[:] = a[order]`` along the first axis, in place, one row of scratch at a time.

    Examples
    --------
    >>> a = np.arange(4.0)
    >>> _permute_rows(a, np.array([2, 0, 3, 1])); a
    array([2., 0., 3., 1.])
    """
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


def _solve_psd(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve a Hermitian positive semi-definite system robustly (least squares)."""
    return np.linalg.lstsq(gram, rhs, rcond=None)[0]


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return a is b


__all__ = [
    "KoopmanEstimator",
    "LinearForecast",
    "LinearModelMixin",
    "as_snapshots",
    "build_linear_model",
    "mode_norms",
]

"""Any PyDMD estimator behind koopkit's contract: labelled spectra in koopkit's units.

PyDMD works on ``(features, snapshots)`` matrices with a time step of one sample and
reports, among other things, ``growth_rate = Re(lam) / dt``. The adapter hands PyDMD a
transposed *view* of the validated data, then translates what comes back:

* eigenvalues become discrete-time ``lam`` for one step of the data's ``dt``
  (continuous-time fits such as BOPDMD and VarProDMD: ``lam = exp(omega dt)``), so every
  derived quantity comes from :class:`~koopkit.spectrum.KoopmanSpectrum`
  (growth rate ``ln|lam| / dt``, frequency ``Im(log lam) / (2 pi dt)``);
* modes are lifted back to the data's space (through PyDMD's SVD/randomized projections),
  split into delay blocks for Hankel/HODMD fits, and scaled to unit norm, with the
  amplitudes scaled the other way and moved to the first fitted state;
* the result is sorted by RMS amplitude and forecasts with the same
  :class:`~koopkit.backends.base.LinearForecast` as koopkit's own DMD.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

import numpy as np
import pydmd
from pydmd.preprocessing import PrePostProcessingDMD
from pydmd.preprocessing.hankel import _HankelPrePostProcessing
from pydmd.preprocessing.randomized import _RandomizedPrePostProcessing
from pydmd.preprocessing.svd_projection import _SvdProjectionPrePostProcessing

from koopkit._errors import KoopkitError, one_line
from koopkit._validation import Snapshots, as_snapshots, as_weights
from koopkit.backends._linalg import complex_of, max_abs, safe_range
from koopkit.backends.base import (
    KoopmanEstimator,
    LinearModelMixin,
    build_linear_model,
    mode_norms,
    state_amplitudes,
)

#: PyDMD estimators whose ``fit(X, t)`` returns continuous-time eigenvalues.
_CONTINUOUS = (pydmd.BOPDMD, pydmd.VarProDMD)
#: PyDMD pre-processings whose post-processing is a linear map of the reduced coordinates.
_PROJECTIONS = (_SvdProjectionPrePostProcessing, _RandomizedPrePostProcessing)
#: Estimators that need more than snapshots (control inputs, parameters, ...).
_UNSUPPORTED = (pydmd.DMDc, pydmd.MrDMD, pydmd.ParametricDMD, pydmd.HAVOK, pydmd.LANDO)


class PyDMDBackend(LinearModelMixin, KoopmanEstimator):
    """A PyDMD estimator wrapped as a koopkit backend.

    Parameters
    ----------
    estimator : pydmd estimator instance or class, optional
        What to fit, e.g. ``pydmd.HODMD(svd_rank=8, d=10)`` or ``pydmd.BOPDMD``. An
        instance is copied at every ``fit`` where it can be (so it is not changed); a class
        is built with ``**kwargs``. Default: ``pydmd.DMD(**kwargs)``. Supported: DMD and its
        subclasses (FbDMD, CDMD, RDMD, SpDMD, ...), HankelDMD, HODMD, BOPDMD, VarProDMD and
        DMDs wrapped in PyDMD's Hankel, SVD-projection or randomized pre-processing.
    **kwargs :
        Constructor arguments of the PyDMD class (only with a class or no ``estimator``).

    Attributes
    ----------
    spectrum_ : KoopmanSpectrum
        Backend ``"pydmd:<Class>"``; growth rates ``ln|lam| / dt`` (not PyDMD's
        ``Re(lam) / dt``), frequencies in cycles per time unit.
    estimator_ : pydmd estimator
        The fitted copy (None in a model read by :func:`koopkit.load_model`: the PyDMD
        object is not saved. The loaded model forecasts as before; its ``estimator`` is
        rebuilt from the class name and arguments where PyDMD keeps them all as plain
        values, e.g. DMD or BOPDMD, and is otherwise a description string, so a refit
        needs ``set_params(estimator=...)``, e.g. for HODMD).
    rank_ : int
        Number of modes.
    delays_ : int
        Frames per state (``d`` of HankelDMD/HODMD, else 1).

    Examples
    --------
    >>> import numpy as np, pydmd
    >>> t = np.arange(40) * 0.1
    >>> x = np.stack([np.cos(2 * np.pi * t), np.sin(2 * np.pi * t)], axis=1)
    >>> model = PyDMDBackend(pydmd.DMD(svd_rank=2)).fit(x, dt=0.1)
    >>> np.round(np.sort(model.spectrum_.frequencies.values), 6)
    array([-1.,  1.])
    >>> model.spectrum_.backend
    'pydmd:DMD'
    """

    name = "pydmd"

    def __init__(self, estimator: Any = None, **kwargs: Any) -> None:
        self.estimator = estimator
        self.kwargs = kwargs

    # ------------------------------------------------------------------ params
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """``estimator`` plus the PyDMD constructor keywords."""
        return {"estimator": self.estimator, **self.kwargs}

    def set_params(self, **params: Any) -> PyDMDBackend:
        """Set ``estimator`` or PyDMD constructor keywords (used at the next ``fit``)."""
        if "estimator" in params:
            self.estimator = params.pop("estimator")
        self.kwargs = {**self.kwargs, **params}
        return self

    def __repr__(self) -> str:
        args = [] if self.estimator is None else [_short(self.estimator)]
        args += [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{type(self).__name__}({', '.join(args)})"

    # ------------------------------------------------------------------ saving
    def _saved(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """``estimator`` as its class name and constructor arguments (never the object);
        the fitted PyDMD object ``estimator_`` is not saved."""
        params = {"estimator": _estimator_spec(self.estimator), **self.kwargs}
        skip = ("estimator", "kwargs", "estimator_")
        return params, {k: v for k, v in vars(self).items() if k not in skip}

    @classmethod
    def _restored(cls, params: dict[str, Any], state: dict[str, Any]) -> PyDMDBackend:
        """A loaded adapter forecasts as before. Its ``estimator`` is rebuilt from the
        class name and arguments where PyDMD keeps all of them as plain values (DMD and
        most of its kin, BOPDMD); otherwise it is a description, and a refit needs
        ``set_params(estimator=...)``. ``estimator_`` is None."""
        params = dict(params)
        model = cls(_estimator_from_spec(params.pop("estimator")), **params)
        vars(model).update(state)
        model.estimator_ = None
        return model

    # --------------------------------------------------------------------- fit
    def _make_estimator(self) -> Any:
        est, kwargs = self.estimator, self.kwargs
        if isinstance(est, str):
            raise KoopkitError(
                f"this model was loaded from a file and its estimator {est} could not be "
                "rebuilt from it: set_params(estimator=pydmd....) to refit"
            )
        if est is None:
            est = pydmd.DMD
        if isinstance(est, type):
            try:
                est = est(**kwargs)
            except TypeError as err:
                raise KoopkitError(
                    f"pydmd.{est.__name__} does not accept {sorted(kwargs)}: {err}"
                ) from None
        elif kwargs:
            raise KoopkitError(
                f"keyword arguments {sorted(kwargs)} only apply when estimator= is a PyDMD "
                "class or omitted: set them on the instance instead"
            )
        else:
            try:
                est = copy.deepcopy(est)
            except (TypeError, copy.Error):
                pass  # not copyable (e.g. VarProDMD): PyDMD resets it at fit
        duck = all(hasattr(type(est), a) for a in ("fit", "eigs", "modes"))
        if not (isinstance(est, (pydmd.DMDBase, PrePostProcessingDMD)) or duck):
            raise KoopkitError(
                f"estimator={_short(est)} is not a PyDMD estimator: pass e.g. "
                "pydmd.DMD(svd_rank=10)"
            )
        if isinstance(est, _UNSUPPORTED):
            raise KoopkitError(
                f"pydmd.{type(est).__name__} needs more than snapshots (or has no single "
                "spectrum) and is not supported: use DMD, FbDMD, HODMD, BOPDMD or similar"
            )
        return est

    def fit(
        self,
        data: Any,
        *,
        dt: float | None = None,
        variable: str | None = None,
        weights: Any = None,
        time_unit: str | None = None,
    ) -> PyDMDBackend:
        """Fit to a DataArray (or Dataset variable, or array with ``dt=``); returns ``self``.

        ``weights`` (over the space dims) make PyDMD fit ``sqrt(w) x``, as koopkit's DMD
        does; modes come back in the data's units with unit weighted norm.
        """
        info = as_snapshots(data, dt=dt, variable=variable, time_unit=time_unit)
        w = as_weights(weights, info)
        matrix = (
            info.matrix if w is None else info.matrix * np.sqrt(w).astype(info.matrix.real.dtype)
        )
        est = self._make_estimator()
        params = {"estimator": type(est).__name__, **_estimator_params(est)}
        x = matrix.T  # (features, snapshots): a view, no copy
        # data too large or small to square in their precision go to PyDMD normalised
        scale = max_abs(matrix)
        lo, hi = safe_range(matrix.dtype)
        scale = scale if scale > 0 and not lo <= scale <= hi else 1.0
        if scale != 1.0:
            x = x / scale
        continuous = isinstance(est, _CONTINUOUS)
        try:
            if continuous:
                est.fit(x, info.times - info.times[0])
            else:
                est.fit(x)
        except (ValueError, np.linalg.LinAlgError) as err:
            msg = one_line(err)
            raise KoopkitError(
                f"pydmd.{type(est).__name__} failed on these data ({msg}); check its settings "
                "(e.g. svd_rank, d) against the data's shape"
            ) from err

        try:
            eigs = np.asarray(est.eigs, dtype=complex).ravel()
            raw_modes = np.asarray(est.modes, dtype=complex)
        except (ValueError, TypeError, AttributeError) as err:
            raise KoopkitError(
                f"pydmd.{type(est).__name__} gave no eigenvalues and modes after fit ({err}): "
                "this estimator is not supported"
            ) from err
        if raw_modes.ndim != 2 or raw_modes.shape[1] != eigs.size:
            raise KoopkitError(
                f"pydmd.{type(est).__name__} returned modes of shape {raw_modes.shape} for "
                f"{eigs.size} eigenvalues: this estimator is not supported"
            )
        phi, delays, inner = _lift_modes(est, raw_modes, info.matrix.shape[1])
        n_states = info.n_time - delays + 1
        lam = np.exp(eigs * info.dt) if continuous else eigs
        phi = phi.astype(complex_of(info.matrix.dtype), copy=False)
        norms = mode_norms(phi)
        phi = phi / norms[:, None, None].astype(phi.dtype)

        raw_b = _amplitudes_of(est, eigs.size)
        if raw_b is None:  # e.g. OptDMD: least squares on the first state, as PyDMD does
            b = state_amplitudes(phi, matrix[:delays])
        else:
            b = (
                raw_b
                if continuous
                else _to_first_state(raw_b, lam, _amplitude_index(inner, n_states))
            )
            b = b * norms * scale
        b_last = state_amplitudes(phi, matrix[-delays:])
        if w is not None:  # back to the data's units (unit weighted norm)
            phi = phi / np.sqrt(w).astype(phi.real.dtype)

        self.spectrum_, self._linear = build_linear_model(
            info,
            lam,
            phi,
            b,
            b_last,
            n_states=n_states,
            t0=float(info.times[delays - 1]),
            backend=f"{self.name}:{type(est).__name__}",
            params=params,
            weights=w,
        )
        self._data_info: Snapshots = info
        self.estimator_ = est
        self.rank_ = int(eigs.size)
        self.delays_ = delays
        self.n_features_in_ = info.matrix.shape[1]
        return self


# ----------------------------------------------------------------- translation
def _lift_modes(est: Any, modes: np.ndarray, n_features: int) -> tuple[np.ndarray, int, Any]:
    """PyDMD modes ``(m, r)`` as koopkit modes ``(r, delays, n_features)``.

    Walks PyDMD's pre-processing chain (HankelDMD/HODMD keep theirs in ``_sub_dmd``) and
    undoes it from the inside out: a Hankel step splits each mode into ``d`` frames
    (oldest first, as koopkit stores them); an SVD or randomized projection maps every
    frame back to the data's space. Returns the modes, the delays and the innermost DMD.
    """
    steps: list[tuple[Any, Any]] = []
    node = est
    for _ in range(32):
        if isinstance(node, PrePostProcessingDMD):
            steps.append((node._pre_post_processing, node._pre_processing_output))
            node = node._dmd
        elif isinstance(node, pydmd.HankelDMD):
            node = node._sub_dmd
        else:
            break
    r = modes.shape[1]
    out = modes.T[:, None, :]  # (r, 1, m)
    for processing, state in reversed(steps):
        if isinstance(processing, _HankelPrePostProcessing):
            d = int(processing._d)
            if out.shape[1] != 1 or out.shape[2] % d:
                raise KoopkitError(
                    f"pydmd.{type(est).__name__}: nested or uneven Hankel embeddings are not "
                    "supported; use a single d"
                )
            out = out.reshape(r, d, out.shape[2] // d)
        elif isinstance(processing, _PROJECTIONS):
            blocks = [processing.post_processing(state, out[:, j].T).T for j in range(out.shape[1])]
            out = np.stack(blocks, axis=1)
        else:
            raise KoopkitError(
                f"pydmd pre-processing {type(processing).__name__} is not linear in the data "
                "(e.g. zero-mean), so its modes cannot forecast: fit without it"
            )
    if out.shape[2] != n_features:
        raise KoopkitError(
            f"pydmd.{type(est).__name__} returned modes of length {modes.shape[0]}, which do "
            f"not map onto the {n_features} features: this estimator is not supported"
        )
    return out, out.shape[1], node


def _amplitudes_of(est: Any, r: int) -> np.ndarray | None:
    """PyDMD's amplitudes, or None where the estimator computes none."""
    try:
        b = est.amplitudes
    except (ValueError, TypeError, AttributeError):
        return None
    if b is None:
        return None
    b = np.asarray(b, dtype=complex).ravel()
    return b if b.size == r else None


def _amplitude_index(inner: Any, n_states: int) -> int:
    """The state PyDMD fitted the amplitudes to (its ``opt`` as an int; else the first)."""
    opt = getattr(inner, "_opt", False)
    if isinstance(opt, (bool, np.bool_)) or not isinstance(opt, (int, np.integer)):
        return 0
    return int(opt) % n_states


def _to_first_state(b: np.ndarray, lam: np.ndarray, index: int) -> np.ndarray:
    """Amplitudes at state ``index`` moved back to state 0: ``b / lam ** index``."""
    if index == 0:
        return b
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = b / lam**index
    return np.where(np.isfinite(out), out, 0)


# ----------------------------------------------------------------- saving
def _estimator_spec(est: Any) -> Any:
    """``estimator`` as plain values: None, ``{"class": name}`` for a class, and for an
    instance its class with the constructor arguments (``"params"``, when PyDMD keeps all of
    them as plain values) or a description (``"text"``)."""
    if est is None:
        return None
    cls = est if isinstance(est, type) else type(est)
    spec: dict[str, Any] = {"class": cls.__name__}
    known = getattr(pydmd, cls.__name__, None) is cls
    if isinstance(est, type):
        return spec if known else {**spec, "text": _short(est)}
    try:
        names = list(inspect.signature(cls.__init__).parameters)[1:]
    except (TypeError, ValueError):
        names = []
    raw = _estimator_params(est, describe=False)
    if known and names and set(raw) == set(names) and all(map(_plain, raw.values())):
        return {**spec, "params": raw}
    args = ", ".join(f"{k}={v!r}" for k, v in _estimator_params(est).items())
    return {**spec, "text": f"pydmd.{cls.__name__}({args})"}


def _estimator_from_spec(spec: Any) -> Any:
    """The inverse of :func:`_estimator_spec`: a class, an instance or a description."""
    if spec is None:
        return None
    cls = getattr(pydmd, spec["class"], None)
    if "text" in spec or not isinstance(cls, type):
        return spec.get("text", f"pydmd.{spec['class']}")
    if "params" not in spec:
        return cls
    try:
        return cls(**spec["params"])
    except Exception:  # noqa: BLE001 - another PyDMD version: keep the description
        args = ", ".join(f"{k}={v!r}" for k, v in spec["params"].items())
        return f"pydmd.{spec['class']}({args})"


def _plain(value: Any) -> bool:
    """Numbers, strings, None, numeric arrays and containers of them (savable as they are)."""
    if value is None or isinstance(value, (bool, int, float, complex, str, np.generic)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "biufc"
    if isinstance(value, (list, tuple, set, frozenset)):
        return all(map(_plain, value))
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


# ----------------------------------------------------------------- reporting
def _estimator_params(est: Any, describe: bool = True) -> dict[str, Any]:
    """Constructor arguments of a PyDMD estimator, read back from where PyDMD keeps them
    (as small JSON-friendly stand-ins unless ``describe=False``)."""
    holders = [est]
    node = est
    for _ in range(32):  # HODMD/HankelDMD keep svd_rank etc. on the inner DMD's operator
        if isinstance(node, PrePostProcessingDMD):
            node = node._dmd
        elif isinstance(node, pydmd.HankelDMD):
            node = node._sub_dmd
        else:
            break
    holders += [node, vars(node).get("_Atilde")]
    out: dict[str, Any] = {}
    try:
        names = list(inspect.signature(type(est).__init__).parameters)[1:]
    except (TypeError, ValueError):
        names = []
    for name in names:
        for holder in holders:
            found = vars(holder) if hasattr(holder, "__dict__") else {}
            key = f"_{name}" if f"_{name}" in found else name if name in found else None
            if key is not None:
                out[name] = _describe(found[key]) if describe else found[key]
                break
    return out


def _describe(value: Any) -> Any:
    """A small JSON-friendly stand-in for a parameter value."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist() if value.size <= 16 else f"array{value.shape}"
    if isinstance(value, (set, frozenset, list, tuple)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [_describe(v) for v in items]
    if isinstance(value, dict):
        return {str(k): _describe(v) for k, v in value.items()}
    return getattr(value, "__name__", type(value).__name__)


def _short(est: Any) -> str:
    if isinstance(est, type):
        return f"pydmd.{est.__name__}"
    return f"pydmd.{type(est).__name__}(...)"


__all__ = ["PyDMDBackend"]

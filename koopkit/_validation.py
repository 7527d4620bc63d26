"""Turning any input into a snapshot matrix, with one-line errors.

Every estimator calls :func:`as_snapshots` and nothing else to read its input, so the
rules (a named ``time`` dimension, uniform steps, finite values, enough snapshots) live
here once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from koopkit._errors import KoopkitError
from koopkit._time import (
    BUSINESS_DAY,
    TIME,
    UNIFORM_RTOL,
    UNIT_SECONDS,
    Clock,
    calendar_of,
    check_increasing,
    check_uniform,
    natural_unit,
    pd_offset_n,
    time_values,
)

# calendar time lives in koopkit._time; its names stay importable from here too
__all__ = [
    "BUSINESS_DAY",
    "TIME",
    "TRAJECTORY",
    "UNIFORM_RTOL",
    "UNIT_SECONDS",
    "Clock",
    "Snapshots",
    "as_snapshots",
    "as_trajectories",
    "as_weights",
    "calendar_of",
    "check_choice",
    "check_finite",
    "check_increasing",
    "check_int",
    "check_rank",
    "check_uniform",
    "choose_variable",
    "is_lazy",
    "natural_unit",
    "pd_offset_n",
    "select_variable",
    "stack_trajectories",
    "time_values",
]


@dataclass
class Snapshots:
    """A validated time series: a ``(time, feature)`` matrix plus what is needed to label results.

    Attributes
    ----------
    matrix : ndarray or dask array, shape (n_time, n_features)
        C-contiguous; a view of the input where possible (no copy). Stays a lazy dask
        array for dask-backed input (only the Gram-solver DMD streams it).
    times : ndarray of float, shape (n_time,)
    dt : float
    time_units : str
    frame : xr.DataArray
        What labels modes and forecasts (its values are not used): one frame (no ``time``
        dim) carrying the space dims and coords, or the series itself with ``time`` first,
        whose first frame :attr:`template` takes on first use.
    clock : Clock, optional
        For a datetime (or timedelta) time axis: how ``times`` (floats in ``time_units``
        since the first snapshot) map back to it.
    """

    matrix: np.ndarray
    times: np.ndarray
    dt: float
    time_units: str
    frame: xr.DataArray
    name: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    time_attrs: dict[str, Any] = field(default_factory=dict)
    clock: Clock | None = None

    @property
    def n_time(self) -> int:
        return self.matrix.shape[0]

    @property
    def template(self) -> xr.DataArray:
        """One frame (no ``time`` dim, no attrs): the space dims and coords of the input."""
        frame = self.frame
        if TIME in frame.dims:  # taken now (an xarray selection per fit costs 30 us)
            frame = frame.isel({TIME: 0}, drop=True)
            frame.attrs = {}
            self.frame = frame  # the series itself is not kept
        return frame

    @property
    def space_shape(self) -> tuple[int, ...]:
        f = self.frame
        return tuple(n for d, n in zip(f.dims, f.shape, strict=True) if d != TIME)

    @property
    def space_dims(self) -> tuple[str, ...]:
        return tuple(str(d) for d in self.frame.dims if d != TIME)

    def frames(self, values: np.ndarray, times: np.ndarray, **attrs: Any) -> xr.DataArray:
        """Label a ``(len(times), n_features)`` array as a DataArray like the input."""
        values = np.asarray(values).reshape((len(times), *self.space_shape))
        coords = {k: v for k, v in self.template.coords.items() if TIME not in v.dims}
        time = self.time_coord(times)
        out = xr.DataArray(values, dims=(TIME, *self.space_dims), coords=coords, name=self.name)
        out = out.assign_coords({TIME: time})
        out.attrs.update(self.attrs)
        out.attrs.update(attrs)
        return out

    def time_coord(self, times: np.ndarray) -> xr.Variable:
        """The ``time`` coordinate of float times, in the input's own kind (datetimes too)."""
        values = np.asarray(times, dtype=float)
        if self.clock is not None:
            values = self.clock.to_coord(values, self.dt)
        return xr.Variable(TIME, values, attrs=dict(self.time_attrs))

    def float_times(self, values: Any) -> np.ndarray:
        """Float times (in ``time_units``) of times given like the input's coordinate."""
        if self.clock is not None:
            return self.clock.from_coord(values, self.dt)
        v = np.asarray(values)
        if v.dtype.kind in "Mm":
            raise KoopkitError(
                "times are datetimes but the model was fitted on a numeric time axis: give "
                "numbers in the data's time units"
            )
        return v.astype(float)


def is_lazy(values: Any) -> bool:
    """True for dask arrays (without importing dask)."""
    return type(values).__module__.split(".")[0] == "dask"


def _working_dtype(dtype: np.dtype) -> np.dtype:
    if dtype.kind == "c":
        return np.dtype(np.complex64) if dtype == np.complex64 else np.dtype(np.complex128)
    if dtype.kind == "f":
        return np.dtype(np.float32) if dtype.itemsize <= 4 else np.dtype(np.float64)
    if dtype.kind in "biu":
        return np.dtype(np.float32) if dtype.itemsize <= 2 else np.dtype(np.float64)
    raise KoopkitError(f"data of dtype {dtype} is not numeric: pass real or complex numbers")


def choose_variable(
    names: list[str], candidates: list[str], variable: str | None, where: str, kind: str = "file"
) -> str:
    """Pick a variable by name, or the only one with a time axis, else a one-line error.

    ``names`` are all variables; ``candidates`` those with a time axis; ``where`` names the
    source in messages (a path, "the dataset"); ``kind`` is the noun for the source.
    """
    listing = ", ".join(names) if names else "none"
    if variable is not None:
        if variable not in names:
            raise KoopkitError(
                f"no variable {variable!r} in {where}: available variables are {listing}"
            )
        return variable
    if len(candidates) == 1:
        return candidates[0]
    if not names:
        raise KoopkitError(f"{where} has no data variables: pass a {kind} that holds a time series")
    if not candidates:
        raise KoopkitError(
            f"no variable in {where} has a 'time' dimension (variables: {listing}): "
            "save the data with a 'time' dimension"
        )
    raise KoopkitError(
        f"{kind} has variables {', '.join(candidates)}: pass variable=... to pick one "
        f"(--variable on the command line; {where})"
    )


def select_variable(data: xr.Dataset, variable: str | None) -> xr.DataArray:
    """Pick one variable of a Dataset, with an error that lists the choices."""
    names = [str(k) for k in data.data_vars]
    timed = [k for k in names if TIME in data[k].dims]
    return data[choose_variable(names, timed, variable, "the dataset", kind="dataset")]


def check_finite(matrix: np.ndarray, offset: int = 0) -> None:
    """Raise naming the first non-finite snapshot; one cheap reduction when all is well.

    ``offset`` is the index of the matrix's first row in the series (for blocks of it).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(matrix.sum()):
            return
    finite_rows = np.isfinite(matrix).all(axis=1)
    if finite_rows.all():
        return  # the sum overflowed; the data are finite
    i = int(np.flatnonzero(~finite_rows)[0])
    kind = "NaN" if np.isnan(matrix[i]).any() else "Inf"
    raise KoopkitError(
        f"the data contain {kind} values (first in snapshot {i + offset}): fill or drop them "
        "first (e.g. data.interpolate_na('time') or data.dropna('time'))"
    )


def as_snapshots(
    data: Any,
    *,
    dt: float | None = None,
    variable: str | None = None,
    min_snapshots: int = 3,
    lazy_ok: bool = False,
    finite_check: bool = True,
    time_unit: str | None = None,
    uniform: bool = True,
) -> Snapshots:
    """Validate ``data`` and return it as a :class:`Snapshots` matrix.

    Parameters
    ----------
    data : xr.DataArray, xr.Dataset or array_like
        A DataArray (or a Dataset plus ``variable``) with a ``time`` dimension and coordinate,
        or an array with time on axis 0 plus ``dt``.
    dt : float, optional
        Time step for arrays (or DataArrays without a time coordinate).
    variable : str, optional
        Which variable of a Dataset to use.
    min_snapshots : int
        Fewest snapshots accepted.
    lazy_ok : bool
        Keep dask-backed data lazy (the caller streams them); otherwise they are loaded.
    finite_check : bool
        Check for NaN/Inf here; a caller that computes the Gram matrix anyway may pass False
        and check its diagonal instead (one pass over the data fewer).
    time_unit : str, optional
        For a datetime (or timedelta) time axis, the unit times are counted in: one of
        :data:`UNIT_SECONDS` ("s", "minute", "hour", "day", "week", "year"). Default: years
        for monthly and longer steps, days for daily and weekly ones, hours for hourly
        ones (:func:`natural_unit`). Steps that follow a calendar frequency pandas infers
        (months, quarters, years, business days) count as uniform steps of their nominal
        length (a month is a twelfth of a year); business-day series count in business days.
    uniform : bool
        Require uniform time steps (every DMD-type backend). False accepts any strictly
        increasing times (optimized DMD fits them as they are); ``dt`` is then the median
        step.

    Examples
    --------
    >>> import numpy as np
    >>> s = as_snapshots(np.ones((5, 3)), dt=0.1)
    >>> s.matrix.shape, s.dt
    ((5, 3), 0.1)
    """
    if isinstance(data, xr.Dataset):
        data = select_variable(data, variable)
    elif variable is not None and isinstance(data, xr.DataArray) and data.name != variable:
        raise KoopkitError(
            f"variable={variable!r} was given but the data is the DataArray {data.name!r}: "
            "pass the Dataset, or drop variable="
        )
    if isinstance(data, xr.DataArray):
        da = data
        if TIME not in da.dims:
            raise KoopkitError(
                f"the data have dims {tuple(da.dims)} but no 'time' dimension: rename the "
                "time axis, e.g. data.rename({'t': 'time'})"
            )
        if da.dims[0] != TIME:
            da = da.transpose(TIME, ...)
        if TIME in da.coords:
            coord = da.coords.variables[TIME]  # the Variable: no DataArray is built for it
            times, units, calendar_step, clock = time_values(coord, time_unit)
            time_attrs = dict(coord.attrs)
            if clock is not None:
                time_attrs.pop("units", None)  # the coordinate comes back as datetimes
            if dt is not None and len(times) > 1:
                given = times[1] - times[0] if uniform else float(np.median(np.diff(times)))
                if not np.isclose(dt, given):
                    raise KoopkitError(
                        f"dt={dt:g} disagrees with the time coordinate's step "
                        f"{given:g}: drop dt= or fix the coordinate"
                    )
        else:
            if dt is None:
                raise KoopkitError(
                    "the 'time' dimension has no coordinate: add one "
                    "(data.assign_coords(time=...)) or pass dt="
                )
            times = np.arange(da.sizes[TIME]) * float(dt)
            units, time_attrs, calendar_step, clock = "", {}, None, None
            if time_unit is not None:
                raise KoopkitError("time_unit= converts datetime time coordinates; these have none")
        name = None if da.name is None else str(da.name)
        attrs = dict(da.attrs)
        # dask-backed data stay lazy: DMD's Gram solver streams them (out of core)
        values = da.data if lazy_ok and is_lazy(da.data) else da.values
        space_dims = tuple(str(d) for d in da.dims[1:])
        coords = {}
        # the input labels the results (its first frame's space dims and coords, no copy)
        frame = da
    else:
        values = np.asarray(data)
        if values.ndim < 1:
            raise KoopkitError("the data are a scalar: pass an array with time on axis 0")
        if dt is None:
            raise KoopkitError(
                "a plain array has no time coordinate: pass dt= (time runs along axis 0)"
            )
        if not (np.isfinite(dt) and dt > 0):
            raise KoopkitError(f"dt must be a positive number, got {dt!r}")
        times = np.arange(values.shape[0]) * float(dt)
        units, time_attrs, name, attrs, coords = "", {}, None, {}, {}
        calendar_step, clock = None, None
        if time_unit is not None:
            raise KoopkitError("time_unit= converts datetime time coordinates; arrays have none")
        space_dims = tuple(f"dim_{i}" for i in range(1, values.ndim))
        frame = None

    n_time = values.shape[0]
    if n_time < min_snapshots:
        raise KoopkitError(
            f"only {n_time} snapshot(s) along time; at least {min_snapshots} are needed: "
            "pass a longer time series"
        )
    space_shape = values.shape[1:]
    if math.prod(space_shape) == 0:
        raise KoopkitError(f"each snapshot is empty (space shape {space_shape}): check the data")
    dtype = _working_dtype(values.dtype)
    if is_lazy(values):
        # Finiteness is checked on the Gram diagonal during the one streaming pass.
        matrix = values.reshape(n_time, -1).astype(dtype)
    else:
        matrix = np.ascontiguousarray(values.reshape(n_time, -1), dtype=dtype)
        if finite_check:
            check_finite(matrix)
    # a single snapshot (accepted only where min_snapshots=1) has no step of its own
    if calendar_step is not None:
        step = calendar_step  # uniform in calendar steps (months, quarters, ...)
    elif n_time > 1:
        step = check_uniform(times) if uniform else check_increasing(times)
    else:
        step = float(dt) if dt is not None else np.nan
    if frame is None:
        frame = xr.DataArray(
            np.zeros(space_shape, dtype=dtype), dims=space_dims, coords=coords, name=name
        )
    return Snapshots(matrix, times, step, units, frame, name, attrs, time_attrs, clock)


def check_rank(rank: Any, name: str = "rank") -> None:
    """Validate a rank argument's type and range (its fit to the data is checked later)."""
    if rank is None or (isinstance(rank, str) and rank == "auto"):
        return
    if isinstance(rank, bool):
        raise KoopkitError(
            f"{name}={rank!r} is not valid: use an int, a float in (0, 1), 'auto' or None"
        )
    if isinstance(rank, (int, np.integer)):
        if rank < 1:
            raise KoopkitError(f"{name}={rank} is not positive: use {name} >= 1, 'auto' or None")
        return
    if isinstance(rank, (float, np.floating)):
        if not 0 < rank < 1:
            raise KoopkitError(
                f"{name}={rank} as a float must be an energy fraction in (0, 1), e.g. 0.99"
            )
        return
    raise KoopkitError(
        f"{name}={rank!r} is not valid: use an int, a float in (0, 1), 'auto' or None"
    )


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise KoopkitError(f"{name}={value!r} is not one of {', '.join(map(repr, choices))}")


def check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise KoopkitError(f"{name}={value!r} must be an integer >= {minimum}")
    return int(value)


TRAJECTORY = "trajectory"


def as_trajectories(
    data: Any,
    *,
    dt: float | None = None,
    variable: str | None = None,
    lazy_ok: bool = False,
    finite_check: bool = True,
    noun: str = "trajectory",
    time_unit: str | None = None,
    uniform: bool = True,
) -> list[Snapshots]:
    """Validate one series or several trajectories of the same system.

    Several trajectories come as a list or tuple (each as :func:`as_snapshots` takes it)
    or as one DataArray with a ``trajectory`` dimension. They must share space dims,
    shape and coords, the time step and its units; each needs at least 2 snapshots. A
    single series is returned as a one-element list with the usual rules (``finite_check``
    applies to it; several trajectories in memory are always checked, so an error names
    the trajectory). ``uniform=False`` accepts any strictly increasing times (see
    :func:`as_snapshots`); the trajectories' median steps may then differ.

    Examples
    --------
    >>> import numpy as np
    >>> parts = as_trajectories([np.ones((2, 3)), np.ones((5, 3))], dt=0.1)
    >>> [p.n_time for p in parts]
    [2, 5]
    """
    if isinstance(data, xr.Dataset):
        data = select_variable(data, variable)
        variable = None
    if isinstance(data, xr.DataArray) and TRAJECTORY in data.dims:
        n = data.sizes[TRAJECTORY]
        items: list[Any] = [data.isel({TRAJECTORY: i}, drop=True) for i in range(n)]
    elif isinstance(data, (list, tuple)):
        items = list(data)
    else:
        return [
            as_snapshots(
                data,
                dt=dt,
                variable=variable,
                lazy_ok=lazy_ok,
                finite_check=finite_check,
                time_unit=time_unit,
                uniform=uniform,
            )
        ]
    if not items:
        raise KoopkitError(f"no data: pass a time series or a non-empty list of {noun}s")
    out: list[Snapshots] = []
    for i, item in enumerate(items):
        try:
            info = as_snapshots(
                item,
                dt=dt,
                variable=variable,
                min_snapshots=2,
                lazy_ok=lazy_ok,
                finite_check=True,  # so an error names the trajectory and its snapshot
                time_unit=time_unit,
                uniform=uniform,
            )
        except KoopkitError as exc:
            if len(items) == 1:
                raise
            raise KoopkitError(f"{noun} {i}: {exc}") from None
        except ValueError as exc:  # ragged nested lists
            raise KoopkitError(
                f"{noun} {i} is not a regular array ({exc}): frames of mismatched size? "
                "resize or crop all frames to one shape"
            ) from None
        if out:
            _check_same_system(info, out[0], f"{noun} {i}", f"{noun} 0", same_step=uniform)
        out.append(info)
    return out


def _check_same_system(
    info: Snapshots, ref: Snapshots, name: str, ref_name: str, same_step: bool = True
) -> None:
    if info.space_shape != ref.space_shape:
        raise KoopkitError(
            f"{name} has frames of shape {info.space_shape} but {ref_name} has "
            f"{ref.space_shape}: resize or crop all frames to one size"
        )
    if info.space_dims != ref.space_dims:
        raise KoopkitError(
            f"{name} has dims {info.space_dims} but {ref_name} has {ref.space_dims}: "
            "rename or transpose to match"
        )
    if same_step and not np.isclose(info.dt, ref.dt, rtol=1e-6):
        raise KoopkitError(
            f"{name} has time step {info.dt:g} but {ref_name} has {ref.dt:g}: "
            "resample to one time step"
        )
    if info.time_units != ref.time_units:
        raise KoopkitError(
            f"{name} has time units {info.time_units!r} but {ref_name} has "
            f"{ref.time_units!r}: convert to one unit"
        )
    for key, coord in ref.template.coords.items():
        other = info.template.coords.get(key)
        same = (
            other is not None
            and other.shape == coord.shape
            and np.array_equal(np.asarray(other.values), np.asarray(coord.values))
        )
        if not same:
            raise KoopkitError(
                f"{name} has other values of the coordinate {key!r} than {ref_name}: "
                "give every trajectory the same space coordinates"
            )


def stack_trajectories(trajs: list[Snapshots]) -> tuple[Any, list[int]]:
    """The frames of all trajectories end to end and their lengths.

    One trajectory: its matrix itself (no copy). Several: one concatenated matrix (a
    lazy dask concatenation if any of them is lazy).
    """
    lengths = [t.n_time for t in trajs]
    if len(trajs) == 1:
        return trajs[0].matrix, lengths
    dtype = np.result_type(*[t.matrix.dtype for t in trajs])
    if any(is_lazy(t.matrix) for t in trajs):
        import dask.array as da

        parts = [t.matrix if is_lazy(t.matrix) else da.from_array(t.matrix) for t in trajs]
        return da.concatenate([p.astype(dtype) for p in parts], axis=0), lengths
    return np.concatenate([t.matrix for t in trajs], axis=0, dtype=dtype), lengths


def as_weights(weights: Any, info: Snapshots) -> np.ndarray | None:
    """Per-feature weights ``(n_features,)`` of the inner product, from a DataArray over
    (some of) the space dims, broadcast to all of them, or an array of the frame's shape.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> info = as_snapshots(xr.DataArray(np.ones((3, 2, 2)), dims=("time", "lat", "lon"),
    ...                     coords={"time": [0.0, 1.0, 2.0]}))
    >>> as_weights(xr.DataArray([1.0, 0.5], dims="lat"), info)
    array([1. , 1. , 0.5, 0.5])
    """
    if weights is None:
        return None
    if isinstance(weights, xr.DataArray):
        extra = [d for d in weights.dims if d not in info.space_dims]
        if extra:
            raise KoopkitError(
                f"weights have dims {tuple(weights.dims)} but the data's space dims are "
                f"{info.space_dims}: give weights over (some of) the space dims, e.g. cell areas"
            )
        try:
            aligned = xr.align(weights, info.template, join="exact")[0]
        except ValueError as err:
            raise KoopkitError(
                f"the weights' coordinates differ from the data's ({' '.join(str(err).split())}):"
                " build them on the data's own coordinates"
            ) from None
        values = aligned.broadcast_like(info.template).transpose(*info.space_dims).values
    else:
        values = np.asarray(weights)
        if values.shape != info.space_shape and values.size != int(np.prod(info.space_shape)):
            raise KoopkitError(
                f"weights of shape {values.shape} do not match frames of shape "
                f"{info.space_shape}: give one weight per feature (or a DataArray)"
            )
    w = np.asarray(values, dtype=float).ravel()
    if not (np.isfinite(w).all() and (w > 0).all()):
        raise KoopkitError(
            "weights must be positive and finite (cell areas, volumes, cos(latitude)): "
            "drop the cells with zero weight from the data instead"
        )
    return w

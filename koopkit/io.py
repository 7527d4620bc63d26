"""Reading and writing labelled time series as netCDF4/HDF5 files.

Two kinds of file are read by :func:`open_timeseries`:

* netCDF4 files written by xarray (or any netCDF4 writer), read with the ``h5netcdf`` engine;
* plain HDF5 files written with h5py, where a dataset's first axis is time and the times come
  from a sibling ``time`` dataset or from a ``dt`` attribute.

:func:`save_timeseries` writes netCDF4 through a temporary file that replaces the target only
once it is complete (see :func:`atomic_path`), so an interrupted write never leaves a partial
file behind. netCDF4 has no complex type, so complex variables are stored as two real variables
``<name>__real`` and ``<name>__imag`` and put back together by :func:`open_timeseries` (and
:func:`open_dataset`, which reads every variable of a netCDF4 file into a Dataset).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import xarray as xr
from h5netcdf import CompatibilityError

from koopkit._errors import KoopkitError, one_line
from koopkit._util import atomic_path  # re-exported: koopkit.io.atomic_path stays public
from koopkit._validation import choose_variable, is_lazy

__all__ = ["atomic_path", "open_dataset", "open_timeseries", "save_timeseries"]

PathLike = str | os.PathLike[str]

# Marker attributes written by save_timeseries and removed again by open_timeseries.
_COMPLEX_ATTR = "koopkit_split_complex"
_ATTR_TYPES = "koopkit_attr_types"
_DATETIME_ATTR = "koopkit_datetime_dtype"
_RESERVED = (_COMPLEX_ATTR, _ATTR_TYPES, _DATETIME_ATTR)
_REAL_SUFFIX = "__real"
_IMAG_SUFFIX = "__imag"

# Attributes of a plain-HDF5 dataset that describe its time axis rather than its values.
_TIME_KEYS = ("dims", "dt", "t0", "time_units")

_CHUNK_BYTES = 4 * 2**20  # target size of one compressed chunk


# --------------------------------------------------------------------------------------------
# writing


def _attrs_for_netcdf(attrs: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
    """Copy ``attrs`` for netCDF, recording the Python types that netCDF would lose.

    Lists (and tuples) would read back as arrays, or as scalars when of length one; arrays of
    length one as scalars; booleans cannot be stored at all (they are stored as int8). The
    original kinds are kept as JSON in the attribute ``koopkit_attr_types``.
    """
    out = dict(attrs)
    reserved = [key for key in _RESERVED if key in out]
    if reserved:
        raise KoopkitError(
            f"attribute name {reserved[0]!r} is reserved by koopkit: rename the attribute"
        )
    kinds: dict[str, list[Any]] = {}
    for key, value in attrs.items():
        name = str(key)
        if isinstance(value, bool | np.bool_):
            out[key] = np.int8(value)
            kinds[name] = ["bool", []]
        elif isinstance(value, list | tuple):
            if len(value) == 0:
                raise KoopkitError(
                    f"attribute {name!r} is an empty list, which netCDF cannot store: drop it"
                )
            n_str = sum(isinstance(v, str) for v in value)
            if n_str == len(value):
                out[key] = list(value)
                kinds[name] = ["list", []]
                continue
            array = np.asarray(value)
            if n_str or array.dtype.kind not in "biufc" or array.ndim != 1:
                raise KoopkitError(
                    f"attribute {name!r} = {value!r} cannot be stored in netCDF: use a flat "
                    "list of numbers or a list of strings"
                )
            is_bool = array.dtype.kind == "b"
            out[key] = array.astype(np.int8) if is_bool else array
            kinds[name] = ["bool_list" if is_bool else "list", []]
        elif isinstance(value, np.ndarray):
            is_bool = value.dtype.kind == "b"
            out[key] = value.astype(np.int8) if is_bool else value
            kinds[name] = ["bool_array" if is_bool else "array", list(value.shape)]
    if kinds:
        out[_ATTR_TYPES] = json.dumps(kinds)
    return out


def _split_complex(ds: xr.Dataset) -> xr.Dataset:
    """Replace each complex variable (data or coordinate) by its real and imaginary parts."""
    complex_names = [name for name, var in ds.variables.items() if var.dtype.kind == "c"]
    if not complex_names:
        return ds
    new_coords: dict[Hashable, xr.Variable] = {}
    new_data: dict[Hashable, xr.Variable] = {}
    for name in complex_names:
        var = ds.variables[name]
        part_dtype = np.real(np.zeros((), dtype=var.dtype)).dtype
        for suffix, part, kind in (
            (_REAL_SUFFIX, np.real(var.data), "real"),  # lazy data stay lazy
            (_IMAG_SUFFIX, np.imag(var.data), "imag"),
        ):
            part_name = f"{name}{suffix}"
            if part_name in ds.variables:
                raise KoopkitError(
                    f"cannot store complex variable {name!r}: {part_name!r} already exists: "
                    "rename one of them"
                )
            attrs = dict(var.attrs) if kind == "real" else {}
            attrs[_COMPLEX_ATTR] = kind
            part_var = xr.Variable(var.dims, part.astype(part_dtype, copy=False), attrs)
            (new_coords if name in ds.coords else new_data)[part_name] = part_var
    ds = ds.drop_vars(complex_names)
    return ds.assign_coords(new_coords).assign(new_data)


def _join_complex(ds: xr.Dataset) -> xr.Dataset:
    """Undo :func:`_split_complex`: put ``<name>__real``/``<name>__imag`` pairs back together."""
    pairs = []
    for name, var in ds.variables.items():
        sname = str(name)
        if var.attrs.get(_COMPLEX_ATTR) == "real" and sname.endswith(_REAL_SUFFIX):
            base = sname[: -len(_REAL_SUFFIX)]
            imag_name = base + _IMAG_SUFFIX
            if imag_name in ds.variables:
                pairs.append((base, name, imag_name))
    if not pairs:
        return ds
    coords: dict[Hashable, xr.Variable] = {}
    data: dict[Hashable, xr.Variable] = {}
    for base, real_name, imag_name in pairs:
        real = ds.variables[real_name]
        imag = ds.variables[imag_name]
        dtype = np.result_type(real.dtype, np.complex64)
        if is_lazy(real.data):  # a lazily opened store stays lazy
            values = (real.data + 1j * imag.data).astype(dtype)
        else:
            values = np.empty(real.shape, dtype=dtype)
            values.real = real.values
            values.imag = imag.values
        attrs = {k: v for k, v in real.attrs.items() if k != _COMPLEX_ATTR}
        joined = xr.Variable(real.dims, values, attrs)
        (coords if real_name in ds.coords else data)[base] = joined
    ds = ds.drop_vars([name for _, r, i in pairs for name in (r, i)])
    return ds.assign_coords(coords).assign(data)


def _time_chunks(var: xr.Variable, chunks: Mapping[Hashable, int] | None) -> tuple[int, ...]:
    """Chunk shape for ``var``: whole along space, a few MiB along time, or as requested."""
    shape = dict(zip(var.dims, var.shape, strict=True))
    out = dict(shape)
    if "time" in shape:
        frame_bytes = var.dtype.itemsize * int(
            np.prod([n for d, n in shape.items() if d != "time"])
        )
        out["time"] = max(1, min(shape["time"], _CHUNK_BYTES // max(frame_bytes, 1)))
    if chunks is not None:
        for dim, size in chunks.items():
            if dim in out:
                out[dim] = min(size, shape[dim])
    return tuple(max(1, out[d]) for d in var.dims)


def _check_chunks(chunks: int | Mapping[Hashable, int] | None) -> Mapping[Hashable, int] | None:
    """Normalise the ``chunks`` argument of :func:`save_timeseries` to a dim -> size mapping."""
    if chunks is None:
        return None
    if isinstance(chunks, int | np.integer) and not isinstance(chunks, bool):
        chunks = {"time": int(chunks)}
    if not isinstance(chunks, Mapping):
        raise KoopkitError(
            f"chunks must be an int (time steps per chunk) or a dict of dim -> size, "
            f"got {type(chunks).__name__}: pass e.g. chunks=100"
        )
    out = {}
    for dim, size in chunks.items():
        if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
            raise KoopkitError(
                f"chunk size for dim {dim!r} must be a positive int, got {size!r}: "
                "pass e.g. chunks={'time': 100}"
            )
        out[dim] = int(size)
    return out


def _encoding(
    ds: xr.Dataset, compression: bool, chunks: Mapping[Hashable, int] | None
) -> dict[Hashable, dict[str, Any]]:
    """Per-variable netCDF encoding: gzip level 4, chunked along time."""
    encoding: dict[Hashable, dict[str, Any]] = {}
    if not compression and chunks is None:
        return encoding
    for name, var in ds.data_vars.items():
        if var.ndim == 0 or var.size == 0 or var.dtype.kind not in "biuf":
            continue
        enc: dict[str, Any] = {"chunksizes": _time_chunks(var.variable, chunks)}
        if compression:
            enc.update(zlib=True, complevel=4)
        encoding[name] = enc
    return encoding


def _to_dataset(data: xr.DataArray | xr.Dataset) -> xr.Dataset:
    """Turn ``data`` into a Dataset ready for netCDF: no stale encoding, markers added."""
    if isinstance(data, xr.DataArray):
        name = "data" if data.name is None else data.name
        if name in data.coords:
            raise KoopkitError(
                f"DataArray name {name!r} is also one of its coordinates: rename it, "
                "e.g. data.rename('values')"
            )
        ds = data.to_dataset(name=name).copy(deep=False)
    elif isinstance(data, xr.Dataset):
        ds = data.copy(deep=False)
    else:
        raise KoopkitError(
            f"save_timeseries needs an xarray DataArray or Dataset, got {type(data).__name__}: "
            "wrap it, e.g. xr.DataArray(values, dims=('time', 'feature'))"
        )
    ds.attrs = _attrs_for_netcdf(ds.attrs)
    for var in ds.variables.values():
        var.attrs = _attrs_for_netcdf(var.attrs)
        if var.dtype.kind == "M":
            # xarray decodes datetimes to nanoseconds: remember the resolution we had
            var.attrs[_DATETIME_ATTR] = str(var.dtype)
        # encoding carried over from a file we read (chunk sizes, fill values, ...) may not
        # fit the data any more: let xarray choose afresh.
        var.encoding = {}
    return _split_complex(ds)


def save_timeseries(
    data: xr.DataArray | xr.Dataset,
    path: PathLike,
    *,
    compression: bool = True,
    chunks: int | Mapping[Hashable, int] | None = None,
) -> None:
    """Write a DataArray or Dataset to a netCDF4 file, atomically.

    The file is written with the ``h5netcdf`` engine to a temporary file in the same
    directory, which then replaces ``path`` (see :func:`atomic_path`): an interrupted write
    leaves no partial file and does not touch an existing ``path``. Reading it back with
    :func:`open_timeseries` gives the same values, dtypes, dims, coordinates and attributes.
    Complex variables are stored as ``<name>__real`` and ``<name>__imag``.

    Parameters
    ----------
    data : xarray.DataArray or xarray.Dataset
        What to save. A DataArray without a name is saved under the name ``"data"``.
    path : str or os.PathLike
        The output file (conventionally ``.nc``).
    compression : bool, default True
        Compress data variables with zlib (gzip) level 4, chunked along ``time``.
    chunks : int or dict, optional
        Chunk shape: an int is the number of time steps per chunk, a dict maps dims to chunk
        sizes. By default chunks span whole frames and about 4 MiB along ``time``.

    Raises
    ------
    KoopkitError
        If ``data`` is not a DataArray/Dataset, ``chunks`` is invalid, the directory does not
        exist, or the data or attributes cannot be stored as netCDF4.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.zeros((3, 2), np.float32), dims=("time", "x"),
    ...                   coords={"time": [0.0, 0.1, 0.2]}, name="u")
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "u.nc"
    >>> save_timeseries(da, out)
    >>> open_timeseries(out).dtype
    dtype('float32')
    """
    chunk_map = _check_chunks(chunks)
    ds = _to_dataset(data)
    # an int applies to 'time' if there is one; a dict must name existing dims
    unknown = [str(d) for d in chunks if d not in ds.dims] if isinstance(chunks, Mapping) else []
    if unknown:
        raise KoopkitError(
            f"chunks names dim {unknown[0]!r}, which the data do not have (dims: "
            f"{', '.join(map(str, ds.dims)) or 'none'}): chunk only existing dims"
        )
    encoding = _encoding(ds, compression, chunk_map)
    target = Path(os.fspath(path))
    with atomic_path(target) as tmp:
        try:
            ds.to_netcdf(tmp, engine="h5netcdf", encoding=encoding)
        except (TypeError, ValueError, CompatibilityError) as exc:
            raise KoopkitError(
                f"cannot write {target} as netCDF4 ({one_line(exc)}): use numeric, string or "
                "datetime values and attributes that are numbers, strings or lists of them"
            ) from exc


# --------------------------------------------------------------------------------------------
# reading


def _decode(value: Any) -> Any:
    """HDF5 attribute value as a plain Python/numpy value (bytes become str)."""
    if isinstance(value, bytes | np.bytes_):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray) and value.dtype.kind in "OS":
        return [_decode(v) for v in value.tolist()]
    return value


def _restore_attrs(attrs: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
    """Drop koopkit's marker attributes and give attributes back their recorded types."""
    out = dict(attrs)
    for key in _RESERVED:
        out.pop(key, None)
    marker = attrs.get(_ATTR_TYPES)
    if marker is None:
        return out
    try:
        kinds = json.loads(str(marker))
    except json.JSONDecodeError:
        return out
    for key, (kind, shape) in kinds.items():
        if key not in out:
            continue
        value = np.asarray(out[key])
        if kind == "bool":
            out[key] = bool(value)
        elif kind == "list" and value.dtype.kind in "OSU":
            out[key] = [_decode(v) for v in value.reshape(-1).tolist()]
        elif kind in ("list", "bool_list"):
            out[key] = (value.astype(bool) if kind == "bool_list" else value).reshape(-1).tolist()
        elif kind in ("array", "bool_array"):
            out[key] = (value.astype(bool) if kind == "bool_array" else value).reshape(shape)
    return out


def _decoders() -> dict[str, Any]:
    """Time decoding options that keep each datetime's own resolution (see _restore_datetime)."""
    coders = getattr(xr, "coders", None)
    if coders is None:  # xarray < 2025.01 decodes to nanoseconds anyway
        return {}
    return {
        "decode_times": coders.CFDatetimeCoder(time_unit="s"),
        "decode_timedelta": coders.CFTimedeltaCoder(),
    }


def _restore_datetime(var: xr.Variable) -> xr.Variable:
    """Give a decoded datetime variable the resolution it was saved with, if that is lossless.

    Without a record of the saved resolution (files not written by koopkit), nanoseconds.
    """
    if var.dtype.kind != "M":
        return var
    try:
        target = np.dtype(str(var.attrs.get(_DATETIME_ATTR, "datetime64[ns]")))
    except TypeError:
        return var
    if target == var.dtype or target.kind != "M":
        return var
    values = var.values
    with np.errstate(over="ignore"):
        converted = values.astype(target)
    if not np.array_equal(converted.astype(values.dtype).view(np.int64), values.view(np.int64)):
        return var  # out of range at that resolution: keep what xarray gave
    return var.copy(data=converted)


def _is_netcdf(handle: h5py.Group) -> bool:
    """Whether an HDF5 group looks like it was written by a netCDF4 writer."""
    if "_NCProperties" in handle.file.attrs:
        return True
    for obj in handle.values():
        if isinstance(obj, h5py.Dataset) and (
            obj.attrs.get("CLASS") == b"DIMENSION_SCALE" or "DIMENSION_LIST" in obj.attrs
        ):
            return True
    return False


def _read_netcdf(path: Path, group: str | None) -> xr.Dataset:
    """Load a whole netCDF4 file (or group) and undo koopkit's storage conventions."""
    with xr.open_dataset(path, engine="h5netcdf", group=group, **_decoders()) as opened:
        ds = opened.load()
    dates = [name for name, var in ds.variables.items() if var.dtype.kind == "M"]
    ds = ds.assign_coords(
        {name: _restore_datetime(ds.variables[name]) for name in dates if name in ds.coords}
    ).assign(
        {name: _restore_datetime(ds.variables[name]) for name in dates if name in ds.data_vars}
    )
    ds = _join_complex(ds)
    ds.attrs = _restore_attrs(ds.attrs)
    for var in ds.variables.values():
        var.attrs = _restore_attrs(var.attrs)
        var.encoding = {}
    return ds


def _open_netcdf(path: Path, variable: str | None, group: str | None, where: str) -> xr.DataArray:
    """Read one variable from a netCDF4 file with xarray's h5netcdf engine."""
    ds = _read_netcdf(path, group)
    names = [str(n) for n in ds.data_vars]
    candidates = [str(n) for n, v in ds.data_vars.items() if "time" in v.dims]
    name = choose_variable(names, candidates, variable, where)
    da = ds[name]
    if "time" not in da.dims:
        raise KoopkitError(
            f"variable {name!r} in {where} has no 'time' dimension (dims: "
            f"{', '.join(map(str, da.dims)) or 'none'}): rename its time dimension to 'time'"
        )
    return da


def _find_attr(objects: list[h5py.HLObject], key: str) -> tuple[Any, h5py.HLObject | None]:
    """First value of attribute ``key`` along ``objects`` (dataset, then its parents)."""
    for obj in objects:
        if key in obj.attrs:
            return _decode(obj.attrs[key]), obj
    return None, None


def _ancestors(obj: h5py.HLObject) -> list[h5py.HLObject]:
    """``obj`` followed by its parent groups up to the file root."""
    chain = [obj]
    while chain[-1].name not in ("/", None):
        chain.append(chain[-1].parent)
    return chain


def _plain_times(
    dset: h5py.Dataset, group: h5py.Group, where: str
) -> tuple[np.ndarray, dict[str, Any]] | None:
    """Time values and attrs for a plain-HDF5 dataset, or None if it has no time axis."""
    if dset.ndim == 0:
        return None
    n_time = dset.shape[0]
    time_obj = group.get("time")
    if isinstance(time_obj, h5py.Dataset):
        if time_obj.ndim != 1 or time_obj.shape[0] != n_time:
            return None
        attrs = {k: _decode(v) for k, v in time_obj.attrs.items()}
        if "time_units" in attrs:
            attrs.setdefault("units", attrs.pop("time_units"))
        return np.asarray(time_obj[()]), attrs
    dt, owner = _find_attr(_ancestors(dset), "dt")
    if owner is None:
        return None
    try:
        dt_value = float(np.asarray(dt).reshape(()))
    except (TypeError, ValueError):
        dt_value = float("nan")
    if not np.isfinite(dt_value) or dt_value <= 0:
        raise KoopkitError(
            f"attribute dt={dt!r} of {owner.name} in {where} is not a positive number: "
            "fix the dt attribute"
        )
    t0 = owner.attrs.get("t0", 0.0)
    try:
        t0_value = float(np.asarray(t0).reshape(()))
    except (TypeError, ValueError) as exc:
        raise KoopkitError(
            f"attribute t0={t0!r} of {owner.name} in {where} is not a number: fix the t0 attribute"
        ) from exc
    attrs: dict[str, Any] = {}
    units, _ = _find_attr(_ancestors(dset), "time_units")
    if units is not None:
        attrs["units"] = units
    return t0_value + dt_value * np.arange(n_time, dtype=np.float64), attrs


def _plain_dims(dset: h5py.Dataset, where: str) -> list[str]:
    """Dimension names of a plain-HDF5 dataset: ``time, dim_1, ...`` or its ``dims`` attr."""
    default = ["time"] + [f"dim_{i}" for i in range(1, dset.ndim)]
    if "dims" not in dset.attrs:
        return default
    raw = _decode(dset.attrs["dims"])
    dims = [str(raw)] if isinstance(raw, str) else [str(_decode(d)) for d in np.ravel(raw)]
    if len(dims) == dset.ndim - 1 and "time" not in dims:
        dims = ["time", *dims]
    if len(dims) != dset.ndim or dims[0] != "time" or len(set(dims)) != len(dims):
        raise KoopkitError(
            f"dims attribute {dims} of {dset.name} in {where} does not fit its "
            f"{dset.ndim} axes: list {dset.ndim} distinct names starting with 'time'"
        )
    return dims


def _open_plain(path: Path, variable: str | None, group: str | None, where: str) -> xr.DataArray:
    """Read one dataset from a plain HDF5 file written with h5py."""
    with h5py.File(path, "r") as handle:
        root = handle[group] if group else handle
        datasets = {
            name: obj
            for name, obj in root.items()
            if isinstance(obj, h5py.Dataset) and name != "time"
        }
        names = list(datasets)
        if not names and variable is None:
            groups = [k for k, v in root.items() if isinstance(v, h5py.Group)]
            if groups:
                raise KoopkitError(
                    f"{where} has no datasets, only groups {', '.join(groups)}: "
                    "pass group=... to read one"
                )
        candidates = [n for n in names if _plain_times(datasets[n], root, where) is not None]
        name = choose_variable(names, candidates, variable, where)
        dset = datasets[name]
        timing = _plain_times(dset, root, where)
        if timing is None:
            raise KoopkitError(
                f"variable {name!r} in {where} has no time axis: add a 'time' dataset as long as "
                "its first axis or a 'dt' attribute"
            )
        times, time_attrs = timing
        dims = _plain_dims(dset, where)
        values = np.asarray(dset[()])
        attrs = {k: _decode(v) for k, v in dset.attrs.items() if k not in _TIME_KEYS}
        coords: dict[str, Any] = {"time": ("time", times, time_attrs)}
        for dim, size in zip(dims[1:], values.shape[1:], strict=True):
            other = datasets.get(dim)
            if other is not None and other.ndim == 1 and other.shape[0] == size:
                other_attrs = {k: _decode(v) for k, v in other.attrs.items()}
                coords[dim] = (dim, np.asarray(other[()]), other_attrs)
    return xr.DataArray(values, dims=dims, coords=coords, attrs=attrs, name=name)


def open_timeseries(
    path: PathLike, variable: str | None = None, group: str | None = None
) -> xr.DataArray:
    """Read a time series from a netCDF4 or plain HDF5 file, or a zarr store.

    netCDF4 files (as written by xarray or :func:`save_timeseries`) are read with the
    ``h5netcdf`` engine; complex variables saved as ``<name>__real``/``<name>__imag`` pairs are
    put back together. Plain HDF5 files written with h5py are read as follows: the dataset's
    first axis is time; times come from a sibling ``time`` dataset (whose ``units`` or
    ``time_units`` attribute becomes the coordinate's ``units``) or else from a ``dt``
    attribute on the dataset or an enclosing group (with optional ``t0``, default 0, and
    ``time_units``). Dims are ``time, dim_1, dim_2, ...`` unless the dataset has a ``dims``
    attribute listing their names; sibling 1-D datasets named like a dim become coordinates.

    netCDF4/HDF5 data are loaded eagerly and the file is closed before returning. A zarr
    store (a folder with zarr metadata, or named ``*.zarr``; the ``zarr`` extra) is opened
    lazily with the store's own chunks where dask is installed, so a fit streams it.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.
    variable : str, optional
        Which variable to read. Needed only when the file holds more than one variable with a
        time axis.
    group : str, optional
        HDF5 group holding the data (e.g. ``"run1"``); the root group by default.

    Returns
    -------
    xarray.DataArray
        The variable, with a ``time`` dimension and coordinate.

    Raises
    ------
    KoopkitError
        If the file does not exist or is not netCDF4/HDF5, the group or variable does not
        exist, the choice of variable is ambiguous, or the variable has no time axis.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.arange(4.0), dims="time", coords={"time": [0, 1, 2, 3]}, name="a")
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.nc"
    >>> save_timeseries(da, out)
    >>> open_timeseries(out).values
    array([0., 1., 2., 3.])
    """
    source = Path(os.fspath(path))
    where = f"{source}" + (f" group {group!r}" if group else "")
    if is_zarr(source):
        return _open_zarr(source, variable, group, where)
    netcdf = _inspect(source, group)
    if netcdf:
        try:
            return _open_netcdf(source, variable, group, where)
        except KoopkitError:
            raise
        except (OSError, ValueError, TypeError, KeyError, RuntimeError):
            pass  # not readable as netCDF after all: fall back to plain HDF5 below
    try:
        return _open_plain(source, variable, group, where)
    except KoopkitError:
        raise
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise _unreadable(source, exc) from exc


def is_zarr(path: Path) -> bool:
    """A zarr store: a folder with zarr metadata (version 2 or 3), or named ``*.zarr``."""
    if path.suffix == ".zarr":
        return True
    return path.is_dir() and any((path / m).exists() for m in (".zgroup", ".zattrs", "zarr.json"))


def _open_zarr(path: Path, variable: str | None, group: str | None, where: str) -> xr.DataArray:
    """One variable of a zarr store: lazy (dask, the store's chunks) where dask is installed."""
    if not path.exists():
        raise KoopkitError(f"no such zarr store: {path}")
    try:
        import zarr  # noqa: F401
    except ImportError:
        raise KoopkitError(
            f"{path} is a zarr store: install the zarr extra (pip install 'koopkit[zarr]')"
        ) from None
    try:
        import dask  # noqa: F401

        chunks: dict | None = {}
    except ImportError:
        chunks = None
    try:
        with warnings.catch_warnings():
            # stores without consolidated metadata open fine, only slower: no warning
            warnings.simplefilter("ignore", RuntimeWarning)
            ds = xr.open_dataset(path, engine="zarr", group=group, chunks=chunks, **_decoders())
    except (OSError, ValueError, KeyError, FileNotFoundError) as exc:
        raise KoopkitError(f"cannot read the zarr store {path} ({one_line(exc)})") from exc
    if chunks is None:
        ds = ds.load()
    ds = _join_complex(ds)
    names = [str(n) for n in ds.data_vars]
    candidates = [str(n) for n, v in ds.data_vars.items() if "time" in v.dims]
    da = ds[choose_variable(names, candidates, variable, where, kind="store")]
    if "time" not in da.dims:
        raise KoopkitError(
            f"variable {da.name!r} in {where} has no 'time' dimension: rename its time "
            "dimension to 'time'"
        )
    return da


def open_dataset(path: PathLike, group: str | None = None) -> xr.Dataset:
    """Read a whole netCDF4 file (or one group of it) into memory as a Dataset.

    Like :func:`open_timeseries` but returns every variable: values are loaded eagerly, the
    file is closed, and complex variables written by :func:`save_timeseries` are put back
    together. Only netCDF4 files are accepted (plain h5py files have no named dimensions:
    read those with :func:`open_timeseries`).

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.
    group : str, optional
        HDF5 group to read; the root group by default.

    Returns
    -------
    xarray.Dataset
        All variables, coordinates and attributes of the file or group.

    Raises
    ------
    KoopkitError
        If the file does not exist, is not netCDF4, or has no such group.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import xarray as xr
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "ab.nc"
    >>> save_timeseries(xr.Dataset({"a": ("time", [1.0]), "b": ("time", [2j])}), out)
    >>> sorted(open_dataset(out).data_vars)
    ['a', 'b']
    """
    source = Path(os.fspath(path))
    if not _inspect(source, group):
        raise KoopkitError(
            f"{source} is a plain HDF5 file, not netCDF4: read it with open_timeseries"
        )
    try:
        return _read_netcdf(source, group)
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise _unreadable(source, exc) from exc


def _unreadable(source: Path, reason: object) -> KoopkitError:
    """The error for a file that is not valid netCDF4/HDF5."""
    return KoopkitError(
        f"cannot read {source} as netCDF4/HDF5 ({one_line(reason)}): is it a netCDF4/HDF5 file?"
    )


def _inspect(source: Path, group: str | None) -> bool:
    """Check that ``source`` is readable HDF5 with ``group``; return whether it is netCDF4."""
    if not source.exists():
        raise KoopkitError(f"no such file: {source}")
    if source.is_dir():
        raise KoopkitError(f"{source} is a directory: pass the path of a netCDF4/HDF5 file")
    try:
        if not h5py.is_hdf5(source):
            raise _unreadable(source, "no HDF5 signature found")
        with h5py.File(source, "r") as handle:
            if group:
                obj = handle.get(group)
                if not isinstance(obj, h5py.Group):
                    available = [k for k, v in handle.items() if isinstance(v, h5py.Group)]
                    raise KoopkitError(
                        f"no group {group!r} in {source}: available groups are "
                        f"{', '.join(available) or 'none'}"
                    )
            else:
                obj = handle
            return _is_netcdf(obj)
    except KoopkitError:
        raise
    except (OSError, ValueError, RuntimeError) as exc:
        raise _unreadable(source, exc) from exc

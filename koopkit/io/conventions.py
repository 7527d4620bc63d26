"""How koopkit stores in netCDF4 what netCDF4 cannot hold as is, and how it reads it back.

netCDF4 loses the kind of some attributes (lists, booleans, length-one arrays), the
resolution of datetimes (xarray decodes to nanoseconds) and complex numbers. On write,
:func:`encode_dataset` records them in marker attributes (and splits complex variables, see
:mod:`koopkit.io.complex_vars`); on read, :func:`decode_dataset` restores them and drops the
markers, so a round trip gives back the same Dataset.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from koopkit._errors import KoopkitError
from koopkit.io.complex_vars import COMPLEX_ATTR, join_complex, split_complex

ATTR_TYPES = "koopkit_attr_types"
DATETIME_ATTR = "koopkit_datetime_dtype"
#: Attribute names koopkit writes itself; user data may not use them.
RESERVED = (COMPLEX_ATTR, ATTR_TYPES, DATETIME_ATTR)


def decode_value(value: Any) -> Any:
    """An HDF5 attribute value as a plain Python/numpy value (bytes become str)."""
    if isinstance(value, bytes | np.bytes_):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray) and value.dtype.kind in "OS":
        return [decode_value(v) for v in value.tolist()]
    return value


def encode_attrs(attrs: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
    """Copy ``attrs`` for netCDF, recording the Python types that netCDF would lose.

    Lists (and tuples) would read back as arrays, or as scalars when of length one; arrays of
    length one as scalars; booleans cannot be stored at all (they are stored as int8). The
    original kinds are kept as JSON in the attribute :data:`ATTR_TYPES`.
    """
    out = dict(attrs)
    reserved = [key for key in RESERVED if key in out]
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
        out[ATTR_TYPES] = json.dumps(kinds)
    return out


def decode_attrs(attrs: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
    """Drop koopkit's marker attributes and give attributes back their recorded types."""
    out = dict(attrs)
    for key in RESERVED:
        out.pop(key, None)
    marker = attrs.get(ATTR_TYPES)
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
            out[key] = [decode_value(v) for v in value.reshape(-1).tolist()]
        elif kind in ("list", "bool_list"):
            out[key] = (value.astype(bool) if kind == "bool_list" else value).reshape(-1).tolist()
        elif kind in ("array", "bool_array"):
            out[key] = (value.astype(bool) if kind == "bool_array" else value).reshape(shape)
    return out


def _restore_datetime(var: xr.Variable) -> xr.Variable:
    """Give a decoded datetime variable the resolution it was saved with, if that is lossless.

    Without a record of the saved resolution (files not written by koopkit), nanoseconds.
    """
    if var.dtype.kind != "M":
        return var
    try:
        target = np.dtype(str(var.attrs.get(DATETIME_ATTR, "datetime64[ns]")))
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


def encode_dataset(data: xr.DataArray | xr.Dataset) -> xr.Dataset:
    """``data`` as a Dataset ready for netCDF4: markers added, complex split, no old encoding.

    A DataArray without a name is stored as ``"data"``. Used by
    :func:`koopkit.io.save_timeseries` and by writers that stream into a netCDF4 file.

    Examples
    --------
    >>> import xarray as xr
    >>> ds = encode_dataset(xr.DataArray([1j], dims="time", attrs={"ok": True}))
    >>> sorted(ds.data_vars), int(ds["data__real"].attrs["ok"])
    (['data__imag', 'data__real'], 1)
    """
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
    ds.attrs = encode_attrs(ds.attrs)
    for var in ds.variables.values():
        var.attrs = encode_attrs(var.attrs)
        if var.dtype.kind == "M":
            var.attrs[DATETIME_ATTR] = str(var.dtype)
        # encoding carried over from a file we read (chunk sizes, fill values, ...) may not
        # fit the data any more: let xarray choose afresh.
        var.encoding = {}
    return split_complex(ds)


def decode_dataset(ds: xr.Dataset) -> xr.Dataset:
    """Undo :func:`encode_dataset` on a Dataset read from netCDF4 (in memory)."""
    dates = [name for name, var in ds.variables.items() if var.dtype.kind == "M"]
    ds = ds.assign_coords(
        {name: _restore_datetime(ds.variables[name]) for name in dates if name in ds.coords}
    ).assign(
        {name: _restore_datetime(ds.variables[name]) for name in dates if name in ds.data_vars}
    )
    ds = join_complex(ds, legacy=False)
    ds.attrs = decode_attrs(ds.attrs)
    for var in ds.variables.values():
        var.attrs = decode_attrs(var.attrs)
        var.encoding = {}
    return ds

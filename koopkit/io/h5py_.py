"""Plain HDF5 files written with h5py (no named dimensions), and telling them from netCDF4.

A dataset's first axis is time; the times come from a sibling ``time`` dataset or from a
``dt`` attribute on the dataset or an enclosing group (see :func:`koopkit.io.open_timeseries`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np
import xarray as xr

from koopkit._errors import KoopkitError
from koopkit._validation import TIME, choose_variable
from koopkit.io.common import unreadable
from koopkit.io.conventions import decode_value

# Attributes of a plain-HDF5 dataset that describe its time axis rather than its values.
_TIME_KEYS = ("dims", "dt", "t0", "time_units")


def is_netcdf(handle: h5py.Group) -> bool:
    """Whether an HDF5 group looks like it was written by a netCDF4 writer."""
    if "_NCProperties" in handle.file.attrs:
        return True
    for obj in handle.values():
        if isinstance(obj, h5py.Dataset) and (
            obj.attrs.get("CLASS") == b"DIMENSION_SCALE" or "DIMENSION_LIST" in obj.attrs
        ):
            return True
    return False


def inspect_hdf5(source: Path, group: str | None) -> bool:
    """Check that ``source`` is readable HDF5 with ``group``; return whether it is netCDF4."""
    if not source.exists():
        raise KoopkitError(f"no such file: {source}")
    if source.is_dir():
        raise KoopkitError(f"{source} is a directory: pass the path of a netCDF4/HDF5 file")
    try:
        if not h5py.is_hdf5(source):
            raise unreadable(source, "no HDF5 signature found")
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
            return is_netcdf(obj)
    except KoopkitError:
        raise
    except (OSError, ValueError, RuntimeError) as exc:
        raise unreadable(source, exc) from exc


def _find_attr(objects: list[h5py.HLObject], key: str) -> tuple[Any, h5py.HLObject | None]:
    """First value of attribute ``key`` along ``objects`` (dataset, then its parents)."""
    for obj in objects:
        if key in obj.attrs:
            return decode_value(obj.attrs[key]), obj
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
    time_obj = group.get(TIME)
    if isinstance(time_obj, h5py.Dataset):
        if time_obj.ndim != 1 or time_obj.shape[0] != n_time:
            return None
        attrs = {k: decode_value(v) for k, v in time_obj.attrs.items()}
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
    default = [TIME] + [f"dim_{i}" for i in range(1, dset.ndim)]
    if "dims" not in dset.attrs:
        return default
    raw = decode_value(dset.attrs["dims"])
    dims = [str(raw)] if isinstance(raw, str) else [str(decode_value(d)) for d in np.ravel(raw)]
    if len(dims) == dset.ndim - 1 and TIME not in dims:
        dims = [TIME, *dims]
    if len(dims) != dset.ndim or dims[0] != TIME or len(set(dims)) != len(dims):
        raise KoopkitError(
            f"dims attribute {dims} of {dset.name} in {where} does not fit its "
            f"{dset.ndim} axes: list {dset.ndim} distinct names starting with 'time'"
        )
    return dims


def open_plain(path: Path, variable: str | None, group: str | None, where: str) -> xr.DataArray:
    """Read one dataset from a plain HDF5 file written with h5py, eagerly."""
    with h5py.File(path, "r") as handle:
        root = handle[group] if group else handle
        datasets = {
            name: obj
            for name, obj in root.items()
            if isinstance(obj, h5py.Dataset) and name != TIME
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
        attrs = {k: decode_value(v) for k, v in dset.attrs.items() if k not in _TIME_KEYS}
        coords: dict[str, Any] = {TIME: (TIME, times, time_attrs)}
        for dim, size in zip(dims[1:], values.shape[1:], strict=True):
            other = datasets.get(dim)
            if other is not None and other.ndim == 1 and other.shape[0] == size:
                other_attrs = {k: decode_value(v) for k, v in other.attrs.items()}
                coords[dim] = (dim, np.asarray(other[()]), other_attrs)
    return xr.DataArray(values, dims=dims, coords=coords, attrs=attrs, name=name)

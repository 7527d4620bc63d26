"""The two readers: pick the format of a path and hand it to its module."""

from __future__ import annotations

import os
from pathlib import Path

import xarray as xr

from koopkit._errors import KoopkitError
from koopkit.io.common import PathLike, unreadable
from koopkit.io.h5netcdf_ import open_netcdf, read_netcdf
from koopkit.io.h5py_ import inspect_hdf5, open_plain
from koopkit.io.zarr_ import is_zarr, open_zarr

# errors h5py/h5netcdf raise on files they cannot make sense of
_READ_ERRORS = (OSError, ValueError, TypeError, KeyError, RuntimeError)


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
    >>> from koopkit.io import save_timeseries
    >>> da = xr.DataArray(np.arange(4.0), dims="time", coords={"time": [0, 1, 2, 3]}, name="a")
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.nc"
    >>> save_timeseries(da, out)
    >>> open_timeseries(out).values
    array([0., 1., 2., 3.])
    """
    source = Path(os.fspath(path))
    where = f"{source}" + (f" group {group!r}" if group else "")
    if is_zarr(source):
        return open_zarr(source, variable, group, where)
    if inspect_hdf5(source, group):
        try:
            return open_netcdf(source, variable, group, where)
        except KoopkitError:
            raise
        except _READ_ERRORS:
            pass  # not readable as netCDF after all: fall back to plain HDF5 below
    try:
        return open_plain(source, variable, group, where)
    except KoopkitError:
        raise
    except _READ_ERRORS as exc:
        raise unreadable(source, exc) from exc


def open_dataset(path: PathLike, group: str | None = None) -> xr.Dataset:
    """Read a whole netCDF4 file (or one group of it) into memory as a Dataset.

    Like :func:`open_timeseries` but returns every variable: values are loaded eagerly, the
    file is closed, and complex variables written by :func:`save_timeseries` are put back
    together (:func:`~koopkit.io.complex_vars.join_complex`). Only netCDF4 files are accepted
    (plain h5py files have no named dimensions: read those with :func:`open_timeseries`).

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
    >>> from koopkit.io import save_timeseries
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "ab.nc"
    >>> save_timeseries(xr.Dataset({"a": ("time", [1.0]), "b": ("time", [2j])}), out)
    >>> sorted(open_dataset(out).data_vars)
    ['a', 'b']
    """
    source = Path(os.fspath(path))
    if not inspect_hdf5(source, group):
        raise KoopkitError(
            f"{source} is a plain HDF5 file, not netCDF4: read it with open_timeseries"
        )
    try:
        return read_netcdf(source, group)
    except _READ_ERRORS as exc:
        raise unreadable(source, exc) from exc

"""netCDF4 files through xarray's ``h5netcdf`` engine: :func:`save_timeseries` and reading."""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import xarray as xr
from h5netcdf import CompatibilityError

from koopkit._errors import KoopkitError
from koopkit._util import atomic_path
from koopkit.io.common import (
    PathLike,
    check_chunks,
    decoders,
    one_line,
    time_chunks,
    time_variable,
)
from koopkit.io.conventions import decode_dataset, encode_dataset


def netcdf_encoding(
    ds: xr.Dataset, compression: bool, chunks: Mapping[Hashable, int] | None
) -> dict[Hashable, dict[str, Any]]:
    """Per-variable netCDF encoding: gzip level 4, chunked along time (see ``time_chunks``)."""
    encoding: dict[Hashable, dict[str, Any]] = {}
    if not compression and chunks is None:
        return encoding
    for name, var in ds.data_vars.items():
        if var.ndim == 0 or var.size == 0 or var.dtype.kind not in "biuf":
            continue
        enc: dict[str, Any] = {"chunksizes": time_chunks(var.variable, chunks)}
        if compression:
            enc.update(zlib=True, complevel=4)
        encoding[name] = enc
    return encoding


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
    Complex variables are stored as ``<name>__real`` and ``<name>__imag``
    (:func:`koopkit.io.complex_vars.split_complex`).

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
    >>> from koopkit.io import open_timeseries
    >>> da = xr.DataArray(np.zeros((3, 2), np.float32), dims=("time", "x"),
    ...                   coords={"time": [0.0, 0.1, 0.2]}, name="u")
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "u.nc"
    >>> save_timeseries(da, out)
    >>> open_timeseries(out).dtype
    dtype('float32')
    """
    chunk_map = check_chunks(chunks)
    ds = encode_dataset(data)
    # an int applies to 'time' if there is one; a dict must name existing dims
    unknown = [str(d) for d in chunks if d not in ds.dims] if isinstance(chunks, Mapping) else []
    if unknown:
        raise KoopkitError(
            f"chunks names dim {unknown[0]!r}, which the data do not have (dims: "
            f"{', '.join(map(str, ds.dims)) or 'none'}): chunk only existing dims"
        )
    encoding = netcdf_encoding(ds, compression, chunk_map)
    target = Path(os.fspath(path))
    with atomic_path(target) as tmp:
        try:
            ds.to_netcdf(tmp, engine="h5netcdf", encoding=encoding)
        except (TypeError, ValueError, CompatibilityError) as exc:
            raise KoopkitError(
                f"cannot write {target} as netCDF4 ({one_line(exc)}): use numeric, string or "
                "datetime values and attributes that are numbers, strings or lists of them"
            ) from exc


def read_netcdf(path: Path, group: str | None) -> xr.Dataset:
    """Load a whole netCDF4 file (or group) and undo koopkit's storage conventions."""
    with xr.open_dataset(path, engine="h5netcdf", group=group, **decoders()) as opened:
        ds = opened.load()
    return decode_dataset(ds)


def open_netcdf(path: Path, variable: str | None, group: str | None, where: str) -> xr.DataArray:
    """Read one variable along ``time`` from a netCDF4 file, eagerly."""
    return time_variable(read_netcdf(path, group), variable, where)

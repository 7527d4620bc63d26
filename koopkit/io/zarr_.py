"""zarr stores (the ``zarr`` extra), opened lazily with the store's own chunks."""

from __future__ import annotations

import warnings
from pathlib import Path

import xarray as xr

from koopkit._errors import KoopkitError, one_line
from koopkit.io.common import decoders, time_variable
from koopkit.io.complex_vars import join_complex


def is_zarr(path: Path) -> bool:
    """A zarr store: a folder with zarr metadata (version 2 or 3), or named ``*.zarr``."""
    if path.suffix == ".zarr":
        return True
    return path.is_dir() and any((path / m).exists() for m in (".zgroup", ".zattrs", "zarr.json"))


def open_zarr(path: Path, variable: str | None, group: str | None, where: str) -> xr.DataArray:
    """One variable of a zarr store: lazy (dask, the store's chunks) where dask is installed.

    Lazy so that a fit streams a store larger than memory; without dask it is loaded.
    """
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
            # stores without consolidated metadata open fine: no warning
            warnings.simplefilter("ignore", RuntimeWarning)
            ds = xr.open_dataset(path, engine="zarr", group=group, chunks=chunks, **decoders())
    except (OSError, ValueError, KeyError, FileNotFoundError) as exc:
        raise KoopkitError(f"cannot read the zarr store {path} ({one_line(exc)})") from exc
    if chunks is None:
        ds = ds.load()
    return time_variable(join_complex(ds, legacy=False), variable, where, kind="store")

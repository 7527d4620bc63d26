"""What the format modules of :mod:`koopkit.io` share: names, time dims, chunks, errors."""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from koopkit._errors import KoopkitError, one_line
from koopkit._validation import TIME, choose_variable

PathLike = str | os.PathLike[str]

#: Target size of one compressed chunk when writing.
CHUNK_BYTES = 4 * 2**20


def unreadable(source: Path, reason: object) -> KoopkitError:
    """The error for a file that is not valid netCDF4/HDF5."""
    return KoopkitError(
        f"cannot read {source} as netCDF4/HDF5 ({one_line(reason)}): is it a netCDF4/HDF5 file?"
    )


def time_variable(
    ds: xr.Dataset, variable: str | None, where: str, kind: str = "file"
) -> xr.DataArray:
    """The data variable to read from ``ds``: ``variable``, or the only one along ``time``."""
    names = [str(n) for n in ds.data_vars]
    candidates = [str(n) for n, v in ds.data_vars.items() if TIME in v.dims]
    da = ds[choose_variable(names, candidates, variable, where, kind=kind)]
    if TIME not in da.dims:
        raise KoopkitError(
            f"variable {da.name!r} in {where} has no 'time' dimension (dims: "
            f"{', '.join(map(str, da.dims)) or 'none'}): rename its time dimension to 'time'"
        )
    return da


def decoders() -> dict[str, Any]:
    """Time decoding options that keep each datetime's own resolution.

    :func:`koopkit.io.conventions.decode_dataset` then restores the resolution it was saved
    with; without these options xarray would decode every datetime to nanoseconds.
    """
    coders = getattr(xr, "coders", None)
    if coders is None:  # xarray < 2025.01 decodes to nanoseconds anyway
        return {}
    return {
        "decode_times": coders.CFDatetimeCoder(time_unit="s"),
        "decode_timedelta": coders.CFTimedeltaCoder(),
    }


def time_chunks(var: xr.Variable, chunks: Mapping[Hashable, int] | None) -> tuple[int, ...]:
    """Chunk shape for ``var``: whole along space, about :data:`CHUNK_BYTES` along time.

    Whole frames per chunk because a fit reads snapshots whole; ``chunks`` overrides any dim.
    """
    shape = dict(zip(var.dims, var.shape, strict=True))
    out = dict(shape)
    if TIME in shape:
        frame_bytes = var.dtype.itemsize * int(np.prod([n for d, n in shape.items() if d != TIME]))
        out[TIME] = max(1, min(shape[TIME], CHUNK_BYTES // max(frame_bytes, 1)))
    if chunks is not None:
        for dim, size in chunks.items():
            if dim in out:
                out[dim] = min(size, shape[dim])
    return tuple(max(1, out[d]) for d in var.dims)


def check_chunks(chunks: int | Mapping[Hashable, int] | None) -> Mapping[Hashable, int] | None:
    """Normalise a ``chunks`` argument (an int means time steps) to a dim -> size mapping."""
    if chunks is None:
        return None
    if isinstance(chunks, int | np.integer) and not isinstance(chunks, bool):
        chunks = {TIME: int(chunks)}
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

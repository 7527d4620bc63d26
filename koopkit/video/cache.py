"""Stream a clip into a compressed, chunked netCDF4/HDF5 file without holding it in memory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from koopkit._errors import KoopkitError
from koopkit._validation import TIME
from koopkit.video.decoder import FrameReader, to_unit
from koopkit.video.formats import VIDEO_SUFFIXES, PathLike

__all__ = ["cache_video"]


def cache_video(
    path: PathLike,
    output: PathLike,
    *,
    block: int = 32,
    **options: Any,
) -> dict[str, Any]:
    """Decode a clip straight into a compressed, chunked netCDF4/HDF5 file, block by block.

    ``koopkit.open_timeseries(output)`` gives back exactly ``open_video(path, **options)``,
    but only ``block`` frames are ever in memory, so clips longer than memory can be cached.
    xarray writes the layout with an unlimited ``time`` dim, then frames are appended (zlib
    level 4, ``block`` frames per chunk). The write is atomic: on any error, irregular
    timestamps found at the end included, no file is left at ``output``.

    Parameters
    ----------
    path : str or os.PathLike
        The video.
    output : str or os.PathLike
        The cache file (conventionally ``.nc``).
    block : int, default 32
        Frames converted and written per block (also the chunk length along time).
    **options
        Passed to :func:`open_video` (``size``, ``crop``, ``gray``, ``frames``,
        ``resample``, ``method``, ``interpolation``, ``timestamps``, ``irregular``).

    Returns
    -------
    dict
        ``n_frames``, ``frame_shape``, ``dt`` (s) and ``time_source``.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, xarray as xr
    >>> from koopkit.io import open_timeseries
    >>> from koopkit.video import write_video
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> ramp = np.linspace(0, 1, 10, dtype=np.float32)[:, None, None] * np.ones((10, 16, 16))
    >>> write_video(xr.DataArray(ramp, dims=("time", "y", "x")), d / "ramp.avi", fps=10)
    >>> cache_video(d / "ramp.avi", d / "ramp.nc", gray=True)["n_frames"]
    10
    >>> open_timeseries(d / "ramp.nc").shape
    (10, 16, 16)
    """
    import h5netcdf

    from koopkit.io import atomic_path, encode_dataset

    if isinstance(block, bool) or not isinstance(block, int | np.integer) or block < 1:
        raise KoopkitError(f"block={block!r} must be a positive integer (frames per block)")
    target = Path(os.fspath(output))
    if target.suffix.lower() in VIDEO_SUFFIXES:
        raise KoopkitError(
            f"cache file {target} has a video suffix: name it .nc (it is netCDF4/HDF5)"
        )
    block = int(block)

    def layout(reader: FrameReader) -> xr.Dataset:
        empty = np.empty((0, *reader.frame_shape), np.float32)
        skeleton = xr.DataArray(
            empty,
            dims=reader.dims,
            coords=reader.coords(np.empty(0)),
            name="frames",
            attrs=reader.attrs(),
        )
        return encode_dataset(skeleton)

    with FrameReader(path, **options) as reader, atomic_path(target) as tmp:
        items = iter(reader)
        first = next(items)  # the reader raises its own error when there is no frame
        shape = reader.frame_shape
        encoding = {
            "frames": {"chunksizes": (block, *shape), "zlib": True, "complevel": 4},
            TIME: {"chunksizes": (1024,)},
        }
        layout(reader).to_netcdf(tmp, engine="h5netcdf", encoding=encoding, unlimited_dims=[TIME])
        buf = np.empty((block, *shape), dtype=np.float32)
        n = 0
        with h5netcdf.File(tmp, "a") as f:
            var = f.variables["frames"]
            fill = 0
            item: Any = first
            while item is not None:
                to_unit(*item, buf[fill])
                fill += 1
                item = next(items, None)
                if fill == block or (item is None and fill):
                    f.resize_dimension(TIME, n + fill)
                    var[n : n + fill] = buf[:fill]
                    n += fill
                    fill = 0
            times = reader.times
            assert times is not None and len(times) == n
            f.variables[TIME][:] = times
            # attributes known only now (dt, frame rate, time source)
            for key, value in layout(reader)["frames"].attrs.items():
                var.attrs[key] = value
    return {
        "n_frames": n,
        "frame_shape": tuple(shape),
        "dt": reader.dt,
        "time_source": reader.time_source,
    }

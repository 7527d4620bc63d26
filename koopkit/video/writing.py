"""Frames to video files: mp4 (H.264), webm (VP9), avi (Motion JPEG) and gif, atomically."""

from __future__ import annotations

import math
import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from koopkit._errors import KoopkitError
from koopkit._validation import TIME
from koopkit.video.formats import ENCODERS, PathLike, import_av

__all__ = ["to_uint8_rgb", "write_video"]


def to_uint8_rgb(frames: Any, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """Frames ``(time, y, x[, 3])`` as uint8 RGB ``(time, y, x, 3)``, scaled from [lo, hi]."""
    values = frames.values if isinstance(frames, xr.DataArray) else np.asarray(frames)
    if isinstance(frames, xr.DataArray) and TIME in frames.dims:
        values = frames.transpose(TIME, ...).values
    if values.ndim == 4 and values.shape[-1] == 1:
        values = values[..., 0]
    if not (values.ndim == 3 or values.ndim == 4 and values.shape[-1] == 3):
        raise KoopkitError(
            f"video frames must have shape (time, y, x) or (time, y, x, 3), got {values.shape}"
        )
    if values.dtype != np.uint8:
        lo = 0.0 if lo is None else lo
        hi = 1.0 if hi is None else hi
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        values = np.clip((np.asarray(values, dtype=np.float32) - lo) * scale + 0.5, 0, 255)
        values = np.nan_to_num(values).astype(np.uint8)
    if values.ndim == 3:
        values = np.repeat(values[..., None], 3, axis=-1)
    return np.ascontiguousarray(values)


def _fps_of(frames: Any, fps: float | None) -> float:
    if fps is None:
        if isinstance(frames, xr.DataArray) and TIME in frames.coords and frames.sizes[TIME] > 1:
            t = np.asarray(frames[TIME].values, dtype=float)
            fps = 1.0 / float(np.median(np.diff(t)))
        else:
            raise KoopkitError("pass fps= (frames per second): the frames have no time coordinate")
    if not (math.isfinite(fps) and fps > 0):
        raise KoopkitError(f"fps={fps!r} must be a positive number of frames per second")
    return float(fps)


def write_video(
    frames: xr.DataArray | np.ndarray,
    path: PathLike,
    *,
    fps: float | None = None,
    value_range: tuple[float, float] = (0.0, 1.0),
) -> None:
    """Write frames as a video file, atomically; the format comes from the suffix.

    ``.mp4`` (H.264, yuv420p, sizes padded to even), ``.webm`` (VP9), ``.avi`` (Motion
    JPEG) through PyAV, ``.gif`` (adaptive palette, looping) through imageio. The file goes
    to a temporary name first and replaces ``path`` only when complete.

    Parameters
    ----------
    frames : DataArray or ndarray
        ``(time, y, x)`` or ``(time, y, x, 3)`` values in ``value_range`` (clipped), or uint8.
    path : str or os.PathLike
        Output file: ``.mp4``, ``.webm``, ``.avi`` or ``.gif``.
    fps : float, optional
        Frame rate; by default ``1 / dt`` of the frames' time coordinate.
    value_range : (float, float), default (0, 1)
        Values mapped to black and white.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "noise.gif"
    >>> write_video(np.random.rand(4, 8, 8), out, fps=5)
    >>> out.read_bytes()[:3]
    b'GIF'
    """
    from koopkit.io import atomic_path

    target = Path(os.fspath(path))
    suffix = target.suffix.lower()
    if suffix not in ENCODERS:
        raise KoopkitError(
            f"cannot tell the video format of {target}: end the name with "
            f"{', '.join(sorted(ENCODERS))}"
        )
    rate = _fps_of(frames, fps)
    rgb = to_uint8_rgb(frames, *value_range)
    if rgb.shape[0] == 0:
        raise KoopkitError("no frames to write: pass at least one frame")
    with atomic_path(target) as tmp:
        if suffix == ".gif":
            try:
                import imageio.v3 as iio
            except ImportError:
                raise KoopkitError(
                    "writing gif needs imageio: pip install 'koopkit[video]'"
                ) from None
            iio.imwrite(tmp, rgb, extension=".gif", duration=1000.0 / rate, loop=0)
            return
        _write_av(rgb, tmp, suffix, rate)


def _write_av(rgb: np.ndarray, tmp: Path, suffix: str, rate: float) -> None:
    av = import_av()
    codec = ENCODERS[suffix]
    fmt = {".mp4": "mp4", ".webm": "webm", ".avi": "avi"}[suffix]
    if codec in ("libx264", "libvpx-vp9"):  # 4:2:0 chroma needs even sizes
        pad_h, pad_w = rgb.shape[1] % 2, rgb.shape[2] % 2
        if pad_h or pad_w:
            rgb = np.pad(rgb, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    frac = Fraction(rate).limit_denominator(100_000)
    with av.open(str(tmp), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=frac)
        stream.height, stream.width = rgb.shape[1], rgb.shape[2]
        if codec == "libx264":
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": "18", "preset": "veryfast"}
        elif codec == "mjpeg":
            stream.pix_fmt = "yuvj420p"
            stream.options = {"q:v": "2"}
        for image in rgb:
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)

"""Read a whole clip into one float32 DataArray of frames in ``[0, 1]``, timed in seconds."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from koopkit.video.decoder import FrameReader, to_unit
from koopkit.video.formats import PathLike

__all__ = ["PROGRESS_SECONDS", "open_video"]

#: Seconds between the progress lines of :func:`open_video` while it decodes.
PROGRESS_SECONDS = 2.0


def open_video(
    path: PathLike,
    size: tuple[int, int] | None = None,
    crop: tuple[int, int, int, int] | None = None,
    gray: bool = False,
    frames: int | slice | None = None,
    resample: float | None = None,
    *,
    method: str = "linear",
    interpolation: str = "area",
    timestamps: str = "pts",
    irregular: str = "error",
    progress: Callable[[str], None] | None = None,
) -> xr.DataArray:
    """Read a video file into float32 frames in ``[0, 1]``, timed by its timestamps.

    Frames are decoded with PyAV (FFmpeg), converted to RGB (or luma) and resized in the
    decoder's scaler, so the clip is held once, at the target size: uint8 while decoding,
    then one float32 array.

    Parameters
    ----------
    path : str or os.PathLike
        The video: mp4, avi, gif, webm, mkv, mov, ... (whatever FFmpeg reads).
    size : (height, width), optional
        Resize every frame to this many pixels (after ``crop``); the aspect ratio is not
        kept. Default: the source (or crop) size.
    crop : (top, left, height, width), optional
        Cut this window out of each frame, in source pixels, before resizing.
    gray : bool, default False
        Luma only (ITU-R BT.601, FFmpeg's ``gray``): dims ``(time, y, x)``.
    frames : int or slice, optional
        Which frames to keep: a count from the start (``100``) or a slice of frame indices
        (``slice(10, 110, 2)``; non-negative). With ``resample`` the indices count frames
        of the resampled grid. Decoding stops after the last one.
    resample : float, optional
        Frame rate (fps) of a uniform time grid ``t0 + k / resample`` from the first frame
        to the last; each output frame is interpolated from the decoded frames (see
        ``method``). Needed for clips with irregular timestamps (dropped frames, variable
        frame rate); also down- or up-samples regular clips.
    method : {"linear", "nearest"}, default "linear"
        Resampling: "linear" blends the two decoded frames around each grid time, weighted
        by distance in time; "nearest" takes the closer one (no new images, but jerky).
    interpolation : {"area", "bilinear", "bicubic", "lanczos", "nearest"}, default "area"
        swscale's resizing filter. "area" averages the source pixels of each target pixel
        (anti-aliased shrinking; bilinear when enlarging).
    timestamps : {"pts", "rate"}, default "pts"
        "pts": time frames by the container's timestamps (``pts * time_base``); "rate": by
        their index and the stream's nominal frame rate (for files with broken timestamps).
    irregular : {"error", "keep"}, default "error"
        What to do with irregular timestamps (without ``resample``): "error" raises,
        naming the longest step; "keep" returns the frames at their true times
        (``pts * time_base`` exactly, not put on a grid) for a backend that fits any sample
        times, ``koopkit.OptDMD`` (``backend="optdmd"``); DMD and EDMD need a uniform step.
        ``attrs["dt"]`` is then the median step and ``attrs["time_source"]`` ends with
        "(irregular, kept)". Regular clips read the same either way.
    progress : callable, optional
        Gets a line (a string) every :data:`PROGRESS_SECONDS` while frames are decoded and
        one when the clip is read: frames, size and seconds (``koopkit fit`` prints them
        on stderr).

    Returns
    -------
    xarray.DataArray
        Named ``"frames"``, float32, C-contiguous, dims ``(time, y, x, channel)`` (channel
        ``red, green, blue``) or ``(time, y, x)`` with ``gray=True``. ``time`` is in seconds
        (``attrs["units"] == "s"``) and exactly uniform: timestamps that are uniform up to
        the rounding of the container's time base are put on the straight line through the
        first and last one (with ``irregular="keep"``, irregular ones are kept as they
        are). ``y``/``x`` are pixel indices. ``attrs`` record the source,
        codec, container, source size, frame rate, ``dt`` and how frames were timed.

    Raises
    ------
    KoopkitError
        One line each: missing file, not a video or unreadable header, no video stream,
        a codec FFmpeg cannot decode, damaged or truncated data, no frames, a frame size
        that changes mid-stream, irregular timestamps (suggesting ``resample=`` or
        ``irregular="keep"``),
        timestamps that do not increase (suggesting ``timestamps="rate"``), bad arguments.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, xarray as xr
    >>> from koopkit.video import write_video
    >>> clip = pathlib.Path(tempfile.mkdtemp()) / "ramp.avi"
    >>> ramp = np.linspace(0, 1, 10, dtype=np.float32)[:, None, None] * np.ones((10, 16, 16))
    >>> write_video(xr.DataArray(ramp, dims=("time", "y", "x")), clip, fps=10)
    >>> frames = open_video(clip, size=(8, 8))
    >>> frames.dims, frames.shape, round(float(frames.time[1]), 6)
    (('time', 'y', 'x', 'channel'), (10, 8, 8, 3), 0.1)
    """
    with FrameReader(
        path,
        size=size,
        crop=crop,
        gray=gray,
        frames=frames,
        resample=resample,
        method=method,
        interpolation=interpolation,
        timestamps=timestamps,
        irregular=irregular,
    ) as reader:
        start = shown = time.perf_counter()
        items: list[Any] = []  # uint8 frames, each held once (shared between blends)
        for item in reader:
            items.append(item)
            if progress is not None and time.perf_counter() - shown >= PROGRESS_SECONDS:
                shown = time.perf_counter()
                progress(f"{reader.path.name}: {len(items)} frames decoded ({shown - start:.1f} s)")
        out = np.empty((len(items), *reader.frame_shape), dtype=np.float32)
        for i in range(len(items)):
            to_unit(*items[i], out[i])
            items[i] = None  # type: ignore[call-overload]  # release the uint8 frame
        times = reader.times
        assert times is not None
        if progress is not None:
            shape = "x".join(str(v) for v in reader.frame_shape[:2])
            colour = "grey" if reader.gray else "RGB"
            progress(
                f"{reader.path.name}: read {len(items)} frames of {shape} {colour} "
                f"({time.perf_counter() - start:.1f} s)"
            )
        return xr.DataArray(
            out,
            dims=reader.dims,
            coords=reader.coords(times),
            name="frames",
            attrs=reader.attrs(),
        )

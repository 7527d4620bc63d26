"""Video files in and out: frames for Koopman analysis, caches, forecast strips and videos.

:func:`open_video` decodes a video file (mp4, avi, gif, webm, mkv, mov, ... anything the
FFmpeg bundled with PyAV reads) into a float32 DataArray with dims
``(time, y, x, channel)`` and values in ``[0, 1]``; its ``time`` coordinate is in seconds
and comes from the container's timestamps (``pts * time_base``), not from a nominal frame
rate. Frames are resized *in the decoder* (FFmpeg's swscale, area averaging by default),
so a clip is never held at full size and again at the target size.

Timestamps must be uniform for Koopman analysis (one ``dt``). A clip whose steps spread by
more than ``1e-3`` of the median step (beyond the rounding of its container's time base)
is rejected with an error that names the step and suggests ``resample=FPS``, which puts
the frames on a uniform grid (a linear blend of the two neighbouring frames by default,
or the nearest frame), or ``irregular="keep"``, which keeps the true timestamps for a
backend that fits any sample times (optimized DMD, ``koopkit.OptDMD``).

:func:`cache_video` streams a clip into a compressed, chunked netCDF4/HDF5 file in blocks
of frames (``koopkit generate video``), so long clips never sit in memory; the file reads
back with :func:`koopkit.open_timeseries`. :func:`write_video` writes frames as mp4, webm,
avi or gif; :func:`side_by_side` builds the truth | forecast | error panels of a forecast
video. :func:`forecast_errors` and :func:`write_errors_csv` live in
:mod:`koopkit.evaluation` and stay importable from here.

PyAV (``pip install 'koopkit[video]'``) is imported only when a video is read or written.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from koopkit._errors import KoopkitError, one_line
from koopkit.evaluation import forecast_errors, write_errors_csv  # kept importable here

__all__ = [
    "VIDEO_SUFFIXES",
    "WRITABLE_SUFFIXES",
    "cache_video",
    "forecast_errors",
    "is_video",
    "open_video",
    "side_by_side",
    "write_errors_csv",
    "write_video",
]

PathLike = str | os.PathLike[str]

#: File name endings read with :func:`open_video` by the command line.
VIDEO_SUFFIXES = frozenset(
    {
        ".mp4",
        ".m4v",
        ".mov",
        ".avi",
        ".gif",
        ".webm",
        ".mkv",
        ".ogv",
        ".mpg",
        ".mpeg",
        ".wmv",
        ".flv",
        ".ts",
        ".3gp",
        ".mjpeg",
    }
)
#: Suffixes :func:`write_video` writes, and the encoder each uses.
_WRITERS = {".mp4": "libx264", ".webm": "libvpx-vp9", ".avi": "mjpeg", ".gif": "gif"}
#: Suffixes :func:`write_video` writes.
WRITABLE_SUFFIXES = frozenset(_WRITERS)
#: Relative spread of the time steps above which a clip counts as irregular.
IRREGULAR_RTOL = 1e-3
#: A step must last this many ticks of the time base before a one-tick jitter is rounding.
_JITTER_TICKS = 10
#: A clip whose decoded span is below this fraction of its header's span is truncated.
_TRUNCATED = 0.9
_INTERPOLATIONS = {
    "area": "AREA",
    "bilinear": "BILINEAR",
    "bicubic": "BICUBIC",
    "lanczos": "LANCZOS",
    "nearest": "POINT",
}
_METHODS = ("linear", "nearest")
_TIMESTAMPS = ("pts", "rate")
_IRREGULAR = ("error", "keep")
_RGB = ("red", "green", "blue")
_TIME = "time"
#: Seconds between the progress lines of :func:`open_video` while it decodes.
PROGRESS_SECONDS = 2.0


# ------------------------------------------------------------------------------ helpers
def _av() -> Any:
    try:
        import av
    except ImportError:
        raise KoopkitError(
            "reading and writing video needs PyAV: pip install 'koopkit[video]' "
            "(or pip install 'av>=14')"
        ) from None
    return av


def is_video(path: PathLike) -> bool:
    """Whether ``path`` ends in a video suffix (see :data:`VIDEO_SUFFIXES`).

    Examples
    --------
    >>> is_video("clip.MP4"), is_video("clip.nc")
    (True, False)
    """
    return Path(os.fspath(path)).suffix.lower() in VIDEO_SUFFIXES


def _pair(name: str, value: Any, hint: str) -> tuple[int, int]:
    try:
        a, b = value
    except (TypeError, ValueError):
        raise KoopkitError(f"{name}={value!r} must be a pair of integers ({hint})") from None
    out = []
    for v in (a, b):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise KoopkitError(f"{name}={value!r} must be a pair of positive integers ({hint})")
        out.append(int(v))
    return out[0], out[1]


def _selection(frames: Any) -> slice:
    """``frames=`` as a slice with non-negative start/stop and a positive step."""
    if frames is None:
        return slice(0, None, 1)
    if isinstance(frames, int | np.integer) and not isinstance(frames, bool):
        if frames < 1:
            raise KoopkitError(f"frames={frames} must be a positive count or a slice")
        return slice(0, int(frames), 1)
    if isinstance(frames, slice):
        parts = (frames.start, frames.stop, frames.step)
        for v in parts:
            if v is not None and (
                isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0
            ):
                raise KoopkitError(
                    f"frames={frames!r} needs non-negative integer bounds, e.g. slice(10, 110)"
                )
        step = 1 if frames.step is None else int(frames.step)
        if step < 1:
            raise KoopkitError(f"frames={frames!r} has step 0: use a step >= 1")
        start = 0 if frames.start is None else int(frames.start)
        stop = None if frames.stop is None else int(frames.stop)
        return slice(start, stop, step)
    raise KoopkitError(
        f"frames={frames!r} must be a count (e.g. 100) or a slice (e.g. slice(10, 110, 2))"
    )


def _in(sel: slice, k: int) -> bool:
    return k >= sel.start and (k - sel.start) % sel.step == 0


def _past(sel: slice, k: int) -> bool:
    return sel.stop is not None and k >= sel.stop


def _fmt(seconds: float) -> str:
    return f"{seconds:.4g} s"


# ------------------------------------------------------------------------------ reading
class _Reader:
    """Decode, crop, resize and retime a clip; iterate to get ``(a, b, w)`` frame recipes.

    Each item stands for the output frame ``(1 - w) * a + w * b`` (uint8 arrays, ``b`` None
    when ``w == 0``); the same source array may appear in two items (linear resampling),
    never copied. After the iteration ends, ``times`` holds the output time coordinate.
    """

    def __init__(
        self,
        path: PathLike,
        *,
        size: Any = None,
        crop: Any = None,
        gray: bool = False,
        frames: Any = None,
        resample: float | None = None,
        method: str = "linear",
        interpolation: str = "area",
        timestamps: str = "pts",
        irregular: str = "error",
    ) -> None:
        self.path = Path(os.fspath(path))
        self.size = None if size is None else _pair("size", size, "height, width in pixels")
        if crop is None:
            self.crop = None
        else:
            try:
                top, left, height, width = crop
                ok = (
                    all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in crop)
                    and min(top, left) >= 0
                    and min(height, width) >= 1
                )
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise KoopkitError(
                    f"crop={crop!r} must be (top, left, height, width) in source pixels, "
                    "e.g. crop=(0, 16, 144, 144)"
                )
            self.crop = tuple(int(v) for v in crop)
        self.gray = bool(gray)
        self.selection = _selection(frames)
        if resample is not None:
            try:
                fps = float(resample)
            except (TypeError, ValueError):
                fps = math.nan
            if not (math.isfinite(fps) and fps > 0):
                raise KoopkitError(
                    f"resample={resample!r} must be a frame rate in frames per second, e.g. 10"
                )
            resample = fps
        self.resample = resample
        if method not in _METHODS:
            raise KoopkitError(f"method={method!r} is not one of 'linear', 'nearest'")
        self.method = method
        if interpolation not in _INTERPOLATIONS:
            raise KoopkitError(
                f"interpolation={interpolation!r} is not one of "
                f"{', '.join(map(repr, _INTERPOLATIONS))}"
            )
        self.interpolation = interpolation
        if timestamps not in _TIMESTAMPS:
            raise KoopkitError(f"timestamps={timestamps!r} is not one of 'pts', 'rate'")
        self.timestamps = timestamps
        if irregular not in _IRREGULAR:
            raise KoopkitError(
                f"irregular={irregular!r} is not one of 'error', 'keep' (keep: the true "
                "timestamps, for koopkit.OptDMD)"
            )
        self.irregular = irregular
        self.times: np.ndarray | None = None
        self._open()

    # ------------------------------------------------------------------ container
    def _open(self) -> None:
        av = _av()
        path = self.path
        if not path.exists():
            raise KoopkitError(f"no such file: {path}")
        if path.is_dir():
            raise KoopkitError(f"{path} is a directory: pass the path of a video file")
        try:
            self.container = av.open(str(path), metadata_errors="ignore")
        except av.error.EOFError:
            raise KoopkitError(
                f"{path} ends before its first video frame: the file is empty or truncated"
            ) from None
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise KoopkitError(
                f"cannot read {path} as video ({one_line(getattr(exc, 'strerror', exc))}): "
                "is it a video file (mp4, avi, gif, webm, ...) and complete?"
            ) from None
        try:
            streams = self.container.streams.video
            if not streams:
                kinds = sorted({s.type for s in self.container.streams}) or ["no streams"]
                raise KoopkitError(
                    f"{path} has no video stream (it holds {', '.join(kinds)}): pass a video"
                )
            stream = streams[0]
            if stream.codec_context is None:
                raise KoopkitError(
                    f"{path} uses a video codec that FFmpeg cannot decode: convert it, e.g. "
                    f"ffmpeg -i {path.name} -c:v libx264 {path.stem}_h264.mp4"
                )
            stream.thread_type = "AUTO"
            self.stream = stream
            self.codec = str(stream.codec_context.name)
            self.format = str(self.container.format.name)
            self.time_base = Fraction(stream.time_base) if stream.time_base else None
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            self.rate = Fraction(rate) if rate else None
        except BaseException:
            self.container.close()
            raise

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --------------------------------------------------------------------- frames
    def _header_span(self) -> float | None:
        """Seconds the header says the stream lasts (from its duration or frame count)."""
        spans = []
        s = self.stream
        if s.duration and self.time_base:
            spans.append(float(s.duration * self.time_base))
        if s.frames and self.rate:
            spans.append(float(s.frames / self.rate))
        return max(spans) if spans else None

    def _converter(self, first: Any) -> Any:
        """A function: decoded frame -> uint8 array (h, w[, 3]) cropped and resized."""
        from av.video.reformatter import Interpolation, VideoReformatter

        src_h, src_w = int(first.height), int(first.width)
        self.source_size = (src_h, src_w)
        fmt = "gray" if self.gray else "rgb24"
        interp = Interpolation[_INTERPOLATIONS[self.interpolation]]
        if self.crop is not None:
            top, left, ch, cw = self.crop
            if top + ch > src_h or left + cw > src_w:
                raise KoopkitError(
                    f"crop={self.crop} reaches outside the {src_h}x{src_w} frames of "
                    f"{self.path.name}: keep top + height <= {src_h} and left + width <= {src_w}"
                )
            base_h, base_w = ch, cw
        else:
            base_h, base_w = src_h, src_w
        out_h, out_w = self.size if self.size is not None else (base_h, base_w)
        self.frame_shape = (out_h, out_w) if self.gray else (out_h, out_w, 3)
        decode_fmt = VideoReformatter()
        if self.crop is None:

            def convert(frame: Any) -> np.ndarray:
                # decoder-side conversion and resize (swscale) in one pass
                out = decode_fmt.reformat(frame, out_w, out_h, fmt, interpolation=interp)
                return out.to_ndarray()

            return convert
        av = _av()
        scale = VideoReformatter()
        top, left, ch, cw = self.crop

        def convert_cropped(frame: Any) -> np.ndarray:
            full = decode_fmt.reformat(frame, src_w, src_h, fmt).to_ndarray()
            part = np.ascontiguousarray(full[top : top + ch, left : left + cw])
            if (ch, cw) == (out_h, out_w):
                return part
            small = av.VideoFrame.from_ndarray(part, format=fmt)
            return scale.reformat(small, out_w, out_h, fmt, interpolation=interp).to_ndarray()

        return convert_cropped

    def _decoded(self, want: Any) -> Iterator[tuple[int, Fraction, np.ndarray | None]]:
        """``(index, seconds, array)`` per decoded frame; array None where not ``want``.

        ``want(index)`` returns True (convert), False (skip) or None (stop decoding). Raises
        one-line errors for damaged data, size changes and timestamps that do not
        increase. Records every decoded time in ``self.source_times`` and sets
        ``self.complete`` when the stream was decoded to its end.
        """
        av = _av()
        convert = None
        size = None
        index = 0
        self.complete = False
        self.source_times: list[Fraction] = []
        iterator = self.container.decode(self.stream)
        while True:
            try:
                frame = next(iterator)
            except StopIteration:
                break
            except av.error.FFmpegError as exc:
                where = f"after frame {index}" if index else "at its first frame"
                raise KoopkitError(
                    f"cannot decode {self.path} {where} "
                    f"({one_line(getattr(exc, 'strerror', exc))}): the file is truncated or "
                    "corrupt; re-encode or re-download it"
                ) from None
            if convert is None:
                convert = self._converter(frame)
                size = (frame.width, frame.height)
            elif (frame.width, frame.height) != size:
                raise KoopkitError(
                    f"the frame size of {self.path.name} changes at frame {index} from "
                    f"{size[0]}x{size[1]} to {frame.width}x{frame.height} (width x height): "
                    "split the clip where the size changes, or re-encode it at one size"
                )
            wanted = want(index)
            if wanted is None:  # nothing more is wanted: stop decoding
                return
            t = self._seconds(index, frame.pts if frame.pts is not None else frame.dts)
            if self.source_times:
                self._check_increasing(index - 1, self.source_times[-1], t)
            self.source_times.append(t)
            yield index, t, (convert(frame) if wanted else None)
            index += 1
        self.complete = True
        if not self.source_times:
            raise KoopkitError(
                f"{self.path} holds no video frames: pass a clip with at least one frame"
            )

    def _seconds(self, index: int, ticks: int | None) -> Fraction:
        if self.timestamps == "rate":
            if not self.rate:
                raise KoopkitError(
                    f"{self.path.name} states no frame rate: use timestamps='pts' or resample="
                )
            return Fraction(index) / self.rate
        if ticks is None or self.time_base is None:
            raise KoopkitError(
                f"frame {index} of {self.path.name} has no timestamp: pass timestamps='rate' "
                "to time the frames by the nominal frame rate"
            )
        return ticks * self.time_base

    def _check_increasing(self, i: int, prev: Fraction, now: Fraction) -> None:
        if now <= prev:
            rate = f" ({float(self.rate):.4g} fps)" if self.rate else ""
            raise KoopkitError(
                f"the timestamps of {self.path.name} do not increase: frame {i} is at "
                f"{float(prev):.6g} s and frame {i + 1} at {float(now):.6g} s: pass "
                f"timestamps='rate' to time the frames by the nominal frame rate{rate}"
            )

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray | None, float]]:
        if self.resample is None:
            yield from self._regular()
        else:
            yield from self._resampled()

    def _regular(self) -> Iterator[tuple[np.ndarray, None, float]]:
        sel = self.selection
        chosen: list[Fraction] = []

        def want(k: int) -> bool | None:
            return None if _past(sel, k) else _in(sel, k)

        for _, t, arr in self._decoded(want):
            if arr is not None:
                chosen.append(t)
                yield arr, None, 0.0
        if not chosen:
            self._nothing_selected(len(self.source_times), "frames")
        self._check_complete()
        self._finish(chosen, sel)

    def _resampled(self) -> Iterator[tuple[np.ndarray, np.ndarray | None, float]]:
        sel = self.selection
        fps = Fraction(self.resample).limit_denominator(10**6)
        period = 1 / fps
        state: dict[str, Any] = {"k": 0, "done": False}
        grid: list[Fraction] = []
        prev: tuple[Fraction, np.ndarray] | None = None

        def want(k: int) -> bool | None:
            return None if state["done"] else True

        def emit(t0: Fraction, a: np.ndarray, b: np.ndarray | None, w: Fraction) -> Any:
            """The recipe of grid frame ``k`` (None if not selected); advances ``k``."""
            k = state["k"]
            state["k"] += 1
            if not _in(sel, k):
                return None
            grid.append(t0 + k * period)
            if self.method == "nearest":
                return (a if w < Fraction(1, 2) or b is None else b), None, 0.0
            if w == 0 or b is None:
                return a, None, 0.0
            return a, b, float(w)

        for _, t, arr in self._decoded(want):
            if prev is None:
                prev = (t, arr)
                continue
            t0 = self.source_times[0]
            while t0 + state["k"] * period < t:
                if _past(sel, state["k"]):
                    state["done"] = True
                    break
                w = (t0 + state["k"] * period - prev[0]) / (t - prev[0])
                item = emit(t0, prev[1], arr, w)
                if item is not None:
                    yield item
            prev = (t, arr)
        if prev is not None and not state["done"]:
            t0 = self.source_times[0]
            while t0 + state["k"] * period <= prev[0] and not _past(sel, state["k"]):
                item = emit(t0, prev[1], None, Fraction(0))
                if item is not None:
                    yield item
        if not grid:
            self._nothing_selected(state["k"], "resampled frames")
        self._check_complete()
        self.times = np.array([float(t) for t in grid])
        self.time_source = f"resampled to {float(fps):g} fps ({self.method} blend)"
        if self.method == "nearest":
            self.time_source = f"resampled to {float(fps):g} fps (nearest frame)"
        self.dt = float(period * sel.step)

    # ---------------------------------------------------------------------- checks
    def _nothing_selected(self, total: int, what: str) -> None:
        s = self.selection
        raise KoopkitError(
            f"frames=slice({s.start}, {s.stop}, {s.step}) selects none of the {total} {what} "
            f"of {self.path.name}: choose frames below {total}"
        )

    def _check_complete(self) -> None:
        """Compare the decoded span with the header's (only when decoded to the end)."""
        times = self.source_times
        expected = self._header_span()
        if not self.complete or len(times) < 2 or not expected:
            return
        step = float(np.median(np.diff(np.array([float(t) for t in times]))))
        start = float(times[0])
        if self.stream.start_time is not None and self.time_base is not None:
            start = min(start, float(self.stream.start_time * self.time_base))
        span = float(times[-1]) - start + step
        if span < _TRUNCATED * expected:
            raise KoopkitError(
                f"{self.path} looks truncated: its header promises {expected:.4g} s of video "
                f"but the frames end after {span:.4g} s; re-encode or re-download it"
            )

    def _finish(self, chosen: list[Fraction], sel: slice) -> None:
        """Check that the chosen times are uniform and set ``times`` and ``dt``."""
        n = len(chosen)
        self.time_source = (
            "container timestamps" if self.timestamps == "pts" else "nominal frame rate"
        )
        if n == 1:
            self.dt = float(sel.step / self.rate) if self.rate else 1.0
            self.times = np.array([float(chosen[0])])
            return
        tick = self.time_base if self.timestamps == "pts" else 1 / self.rate
        ticks = np.array([int(t / tick) for t in chosen], dtype=np.int64)
        steps = np.diff(ticks)
        median = float(np.median(steps))
        spread = int(steps.max() - steps.min())
        # Timestamps are whole ticks: when one frame lasts many ticks, a one-tick jitter
        # is rounding of a uniform grid, not an irregular clip.
        jitter = 1 if median >= _JITTER_TICKS * sel.step else 0
        if spread > max(IRREGULAR_RTOL * median, jitter):
            if self.irregular == "error":
                self._irregular(chosen)
            # kept: the exact timestamps; dt is the median step (for information only)
            self.times = np.array([float(t) for t in chosen])
            self.dt = float(median * tick)
            self.time_source += " (irregular, kept)"
            return
        dt = (chosen[-1] - chosen[0]) / (n - 1)
        self.dt = float(dt)
        self.times = float(chosen[0]) + np.arange(n) * float(dt)

    def _irregular(self, chosen: list[Fraction]) -> None:
        seconds = np.diff(np.array([float(t) for t in chosen]))
        med = float(np.median(seconds))
        far = int(np.argmax(np.abs(seconds - med)))
        fps = 1 / med
        suggest = f"{fps:.3g}" if fps < 100 else f"{round(fps)}"
        raise KoopkitError(
            f"{self.path.name} has irregular timestamps: steps range from "
            f"{_fmt(float(seconds.min()))} to {_fmt(float(seconds.max()))} (median "
            f"{_fmt(med)}; frame {far} -> {far + 1} is {_fmt(float(seconds[far]))}): pass "
            f"resample={suggest} (--resample {suggest}) to resample onto a uniform grid, or "
            "irregular='keep' to keep the true times for koopkit.OptDMD (backend 'optdmd')"
        )

    # ---------------------------------------------------------------------- labels
    def coords(self, times: np.ndarray) -> dict[str, Any]:
        h, w = self.frame_shape[:2]
        out: dict[str, Any] = {
            _TIME: xr.Variable(_TIME, times, attrs={"units": "s", "long_name": "time"}),
            "y": xr.Variable("y", np.arange(h), attrs={"units": "pixel"}),
            "x": xr.Variable("x", np.arange(w), attrs={"units": "pixel"}),
        }
        if not self.gray:
            out["channel"] = xr.Variable("channel", np.array(_RGB))
        return out

    @property
    def dims(self) -> tuple[str, ...]:
        return (_TIME, "y", "x") if self.gray else (_TIME, "y", "x", "channel")

    def attrs(self) -> dict[str, Any]:
        dt = float(getattr(self, "dt", 0.0))
        attrs: dict[str, Any] = {
            "source": str(self.path),
            "codec": self.codec,
            "container": self.format,
            "source_size": list(self.source_size),
            "frame_rate": 1.0 / dt if dt else 0.0,
            "dt": dt,
            "time_source": getattr(self, "time_source", ""),
            "gray": self.gray,
            "interpolation": self.interpolation,
            "description": "video frames as float32 in [0, 1]"
            + (" (luma, BT.601)" if self.gray else " (RGB)"),
        }
        if self.crop is not None:
            attrs["crop"] = list(self.crop)
        return attrs


def _to_unit(a: np.ndarray, b: np.ndarray | None, w: float, out: np.ndarray) -> None:
    """Write ``((1 - w) a + w b) / 255`` into ``out`` (float32) without temporaries of ``a``."""
    if b is None or w == 0.0:
        np.divide(a, np.float32(255), out=out, dtype=np.float32)
        return
    np.multiply(a, np.float32((1.0 - w) / 255.0), out=out, dtype=np.float32)
    out += np.multiply(b, np.float32(w / 255.0), dtype=np.float32)


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
    >>> clip = pathlib.Path(tempfile.mkdtemp()) / "ramp.avi"
    >>> ramp = np.linspace(0, 1, 10, dtype=np.float32)[:, None, None] * np.ones((10, 16, 16))
    >>> write_video(xr.DataArray(ramp, dims=("time", "y", "x")), clip, fps=10)
    >>> frames = open_video(clip, size=(8, 8))
    >>> frames.dims, frames.shape, round(float(frames.time[1]), 6)
    (('time', 'y', 'x', 'channel'), (10, 8, 8, 3), 0.1)
    """
    with _Reader(
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
            _to_unit(*items[i], out[i])
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


# ------------------------------------------------------------------------------ caching
def cache_video(
    path: PathLike,
    output: PathLike,
    *,
    block: int = 32,
    **options: Any,
) -> dict[str, Any]:
    """Decode a clip straight into a compressed, chunked netCDF4/HDF5 file, block by block.

    The file holds what ``save_timeseries(open_video(path, **options), output)`` would
    write (same variable, coordinates and attributes, so ``koopkit.open_timeseries(output)``
    gives back exactly ``open_video(path, **options)``), but only ``block`` frames are in
    memory at a time: the file's layout is written by xarray (as :func:`save_timeseries`
    writes it) with an unlimited ``time`` dimension, and frames are appended in blocks
    (zlib level 4, chunks of ``block`` frames) as they are decoded. The write is atomic
    (:func:`koopkit.io.atomic_path`): on any error, including irregular timestamps found
    at the end, no file, not even a partial one, is left at ``output``.

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

    def layout(reader: _Reader) -> xr.Dataset:
        empty = np.empty((0, *reader.frame_shape), np.float32)
        skeleton = xr.DataArray(
            empty,
            dims=reader.dims,
            coords=reader.coords(np.empty(0)),
            name="frames",
            attrs=reader.attrs(),
        )
        return encode_dataset(skeleton)

    with _Reader(path, **options) as reader, atomic_path(target) as tmp:
        items = iter(reader)
        first = next(items)  # the reader raises its own error when there is no frame
        shape = reader.frame_shape
        encoding = {
            "frames": {"chunksizes": (block, *shape), "zlib": True, "complevel": 4},
            _TIME: {"chunksizes": (1024,)},
        }
        layout(reader).to_netcdf(tmp, engine="h5netcdf", encoding=encoding, unlimited_dims=[_TIME])
        buf = np.empty((block, *shape), dtype=np.float32)
        n = 0
        with h5netcdf.File(tmp, "a") as f:
            var = f.variables["frames"]
            fill = 0
            item: Any = first
            while item is not None:
                _to_unit(*item, buf[fill])
                fill += 1
                item = next(items, None)
                if fill == block or (item is None and fill):
                    f.resize_dimension(_TIME, n + fill)
                    var[n : n + fill] = buf[:fill]
                    n += fill
                    fill = 0
            times = reader.times
            assert times is not None and len(times) == n
            f.variables[_TIME][:] = times
            # attributes known only now (dt, frame rate, time source)
            for key, value in layout(reader)["frames"].attrs.items():
                var.attrs[key] = value
    return {
        "n_frames": n,
        "frame_shape": tuple(shape),
        "dt": reader.dt,
        "time_source": reader.time_source,
    }


# ------------------------------------------------------------------------------ writing
def _uint8_frames(frames: Any, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """Frames ``(time, y, x[, 3])`` as uint8 RGB ``(time, y, x, 3)``, scaled from [lo, hi]."""
    values = frames.values if isinstance(frames, xr.DataArray) else np.asarray(frames)
    if isinstance(frames, xr.DataArray) and _TIME in frames.dims:
        values = frames.transpose(_TIME, ...).values
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
        if isinstance(frames, xr.DataArray) and _TIME in frames.coords and frames.sizes[_TIME] > 1:
            t = np.asarray(frames[_TIME].values, dtype=float)
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
    if suffix not in _WRITERS:
        raise KoopkitError(
            f"cannot tell the video format of {target}: end the name with "
            f"{', '.join(sorted(_WRITERS))}"
        )
    rate = _fps_of(frames, fps)
    rgb = _uint8_frames(frames, *value_range)
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
    av = _av()
    codec = _WRITERS[suffix]
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


def side_by_side(truth: xr.DataArray, forecast: xr.DataArray, *, gap: int = 2) -> xr.DataArray:
    """Panels ``truth | forecast | squared error`` per frame, as uint8 RGB frames.

    Truth and forecast share one grey (or colour) scale, the truth's ``[min, max]``; the
    squared error (summed over colour channels) is drawn with the ``magma`` colormap from
    0 to its maximum over all frames. Panels are separated by ``gap`` white columns.

    Parameters
    ----------
    truth, forecast : xr.DataArray
        Frames ``(time, y, x)`` or ``(time, y, x, 3)`` of the same shape.
    gap : int
        Width of the white separators in pixels.

    Returns
    -------
    xr.DataArray
        uint8, dims ``(time, y, x, channel)``, with the forecast's time coordinate; write it
        with :func:`write_video`.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = xr.DataArray(np.random.rand(3, 4, 5), dims=("time", "y", "x"))
    >>> side_by_side(t, t * 0.5).shape
    (3, 4, 19, 3)
    """
    from matplotlib import colormaps

    tv = np.asarray(truth.transpose(_TIME, ...).values, dtype=np.float32)
    fv = np.asarray(forecast.transpose(_TIME, ...).values, dtype=np.float32)
    if tv.shape != fv.shape:
        raise KoopkitError(
            f"truth has shape {tv.shape} but the forecast {fv.shape}: pass matching frames"
        )
    lo, hi = float(np.nanmin(tv)), float(np.nanmax(tv))
    err = (fv - tv) ** 2
    if err.ndim == 4:
        err = err.sum(axis=-1)
    emax = float(np.nanmax(err)) or 1.0
    err_rgb = colormaps["magma"](np.clip(err / emax, 0, 1), bytes=True)[..., :3]
    panels = [_uint8_frames(tv, lo, hi), _uint8_frames(fv, lo, hi), err_rgb]
    n, h = tv.shape[0], tv.shape[1]
    white = np.full((n, h, int(gap), 3), 255, np.uint8)
    out = np.concatenate([panels[0], white, panels[1], white, panels[2]], axis=2)
    coords = {_TIME: forecast[_TIME]} if _TIME in forecast.coords else {}
    return xr.DataArray(
        out, dims=(_TIME, "y", "x", "channel"), coords=coords, name="truth_forecast_error"
    )

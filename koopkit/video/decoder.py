"""Decode a clip frame by frame: crop and resize in FFmpeg's scaler, check and fix the timing.

:class:`FrameReader` is the engine behind :func:`~koopkit.video.open_video` (one array) and
:func:`~koopkit.video.cache_video` (blocks to a file): it yields each output frame as a
recipe of at most two decoded uint8 frames, so a resampled clip never holds a frame twice,
and sets the time coordinate once the clip is decoded. Time comes from the container's
timestamps; a clip whose steps are not uniform is an error unless it is resampled or kept
irregular (for a backend that fits any sample times).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from koopkit._errors import KoopkitError, one_line
from koopkit._validation import TIME, check_choice
from koopkit.video.formats import PathLike, import_av

__all__ = ["IRREGULAR_RTOL", "FrameReader", "to_unit"]

#: Relative spread of the time steps above which a clip counts as irregular.
IRREGULAR_RTOL = 1e-3
#: A step must last this many ticks of the time base before a one-tick jitter is rounding.
_JITTER_TICKS = 10
#: A clip whose decoded span is below this fraction of its header's span is truncated.
_TRUNCATED = 0.9
#: swscale's filter for each ``interpolation=``.
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


class FrameReader:
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
        check_choice("method", method, _METHODS)
        self.method = method
        check_choice("interpolation", interpolation, tuple(_INTERPOLATIONS))
        self.interpolation = interpolation
        check_choice("timestamps", timestamps, _TIMESTAMPS)
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
        av = import_av()
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

    def __enter__(self) -> FrameReader:
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
        av = import_av()
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
        av = import_av()
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
            TIME: xr.Variable(TIME, times, attrs={"units": "s", "long_name": "time"}),
            "y": xr.Variable("y", np.arange(h), attrs={"units": "pixel"}),
            "x": xr.Variable("x", np.arange(w), attrs={"units": "pixel"}),
        }
        if not self.gray:
            out["channel"] = xr.Variable("channel", np.array(_RGB))
        return out

    @property
    def dims(self) -> tuple[str, ...]:
        return (TIME, "y", "x") if self.gray else (TIME, "y", "x", "channel")

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


def to_unit(a: np.ndarray, b: np.ndarray | None, w: float, out: np.ndarray) -> None:
    """Write ``((1 - w) a + w b) / 255`` into ``out`` (float32) without temporaries of ``a``."""
    if b is None or w == 0.0:
        np.divide(a, np.float32(255), out=out, dtype=np.float32)
        return
    np.multiply(a, np.float32((1.0 - w) / 255.0), out=out, dtype=np.float32)
    out += np.multiply(b, np.float32(w / 255.0), dtype=np.float32)

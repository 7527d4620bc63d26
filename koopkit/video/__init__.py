"""Video files in and out: frames for Koopman analysis, caches, forecast videos.

One job per module: :mod:`~koopkit.video.reading` (:func:`open_video`, a clip as float32
frames timed by the container's timestamps), :mod:`~koopkit.video.decoder` (the PyAV
decoder behind it), :mod:`~koopkit.video.cache` (:func:`cache_video`, a clip streamed into
netCDF), :mod:`~koopkit.video.writing` (:func:`write_video`),
:mod:`~koopkit.video.compositing` (:func:`side_by_side`) and :mod:`~koopkit.video.formats`
(which suffixes are video). :func:`forecast_errors` and :func:`write_errors_csv` live in
:mod:`koopkit.evaluation` and stay importable from here. PyAV (``pip install
'koopkit[video]'``) is imported only when a video is read or written. See the Video page of
the documentation for timing, resampling and memory.
"""

from __future__ import annotations

from koopkit.evaluation import forecast_errors, write_errors_csv
from koopkit.video.cache import cache_video
from koopkit.video.compositing import side_by_side
from koopkit.video.decoder import IRREGULAR_RTOL
from koopkit.video.formats import VIDEO_SUFFIXES, WRITABLE_SUFFIXES, PathLike, is_video
from koopkit.video.reading import PROGRESS_SECONDS, open_video
from koopkit.video.writing import write_video

__all__ = [
    "IRREGULAR_RTOL",
    "PROGRESS_SECONDS",
    "VIDEO_SUFFIXES",
    "WRITABLE_SUFFIXES",
    "PathLike",
    "cache_video",
    "forecast_errors",
    "is_video",
    "open_video",
    "side_by_side",
    "write_errors_csv",
    "write_video",
]

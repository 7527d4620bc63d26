"""Which files are video, which we can write, and PyAV imported on first use.

Shared by the reader, the cache and the writer, so the suffix lists live in one place and
``import koopkit.video`` does not import PyAV.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from koopkit._errors import KoopkitError

__all__ = ["ENCODERS", "VIDEO_SUFFIXES", "WRITABLE_SUFFIXES", "PathLike", "import_av", "is_video"]

PathLike = str | os.PathLike[str]

#: File name endings read with :func:`~koopkit.video.open_video` by the command line.
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
#: Suffixes :func:`~koopkit.video.write_video` writes, and the encoder each uses.
ENCODERS = {".mp4": "libx264", ".webm": "libvpx-vp9", ".avi": "mjpeg", ".gif": "gif"}
#: Suffixes :func:`~koopkit.video.write_video` writes.
WRITABLE_SUFFIXES = frozenset(ENCODERS)


def import_av() -> Any:
    """The ``av`` module (PyAV), or a one-line error naming the extra to install."""
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

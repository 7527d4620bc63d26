"""koopkit: Koopman spectral analysis of labelled time series.

Public names: :class:`DMD`, :class:`ExactDMD`, :class:`KoopmanAutoencoder`,
:class:`KoopmanSpectrum`, :func:`open_timeseries`, :func:`save_timeseries`,
:func:`open_spectrum`, :mod:`datasets`, :mod:`backends`.
"""

from __future__ import annotations

from typing import Any

from koopkit import backends
from koopkit._errors import KoopkitError
from koopkit.backends.dmd import DMD, ExactDMD
from koopkit.spectrum import KoopmanSpectrum, open_spectrum

__version__ = "0.1.0"

__all__ = [
    "DMD",
    "ExactDMD",
    "KoopkitError",
    "KoopmanAutoencoder",
    "KoopmanSpectrum",
    "backends",
    "datasets",
    "open_spectrum",
    "open_timeseries",
    "open_video",
    "save_timeseries",
]


def __getattr__(name: str) -> Any:
    # Lazy: keeps `import koopkit` light, and torch out of the core.
    if name in ("open_timeseries", "save_timeseries"):
        from koopkit import io

        return getattr(io, name)
    if name == "datasets":
        import koopkit.datasets as datasets

        return datasets
    if name == "open_video":
        from koopkit.video import open_video

        return open_video
    if name == "KoopmanAutoencoder":
        return backends.get_class("autoencoder")
    raise AttributeError(f"module 'koopkit' has no attribute {name!r}")

"""koopkit: Koopman spectral analysis of labelled time series.

Public names: :class:`DMD`, :class:`ExactDMD`, :class:`EDMD`, :class:`KoopmanAutoencoder`,
:class:`OptDMD`, :class:`KoopmanSpectrum`, :func:`pseudospectrum`, :func:`open_timeseries`,
:func:`save_timeseries`, :func:`open_spectrum`, :func:`load_model`, :mod:`observables`,
:mod:`datasets`, :mod:`backends`.
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
    "EDMD",
    "ExactDMD",
    "KoopkitError",
    "KoopmanAutoencoder",
    "KoopmanSpectrum",
    "OptDMD",
    "backends",
    "datasets",
    "load_model",
    "observables",
    "open_spectrum",
    "open_timeseries",
    "open_video",
    "pseudospectrum",
    "save_timeseries",
]


def __getattr__(name: str) -> Any:
    # Lazy: keeps `import koopkit` light, and torch out of the core.
    if name in ("open_timeseries", "save_timeseries"):
        from koopkit import io

        return getattr(io, name)
    if name == "load_model":
        from koopkit.backends.saving import load_model

        return load_model
    if name == "datasets":
        import koopkit.datasets as datasets

        return datasets
    if name == "open_video":
        from koopkit.video import open_video

        return open_video
    if name == "EDMD":
        return backends.get_class("edmd")
    if name == "observables":
        import koopkit.observables as observables

        return observables
    if name == "pseudospectrum":
        from koopkit.residuals import pseudospectrum

        return pseudospectrum
    if name == "OptDMD":
        return backends.get_class("optdmd")
    if name == "KoopmanAutoencoder":
        return backends.get_class("autoencoder")
    raise AttributeError(f"module 'koopkit' has no attribute {name!r}")

"""Shared pieces of koopkit's figures: new axes, labels with units, colour scales, constants.

Every plotting module draws per-mode quantities with the same labels and colour scales, so
figures of different kinds read alike; they live here once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from koopkit._errors import KoopkitError
from koopkit.spectrum import KoopmanSpectrum

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: |lam| above ``1 + UNSTABLE_TOL`` counts as growing in :func:`plot_eigenvalues`.
UNSTABLE_TOL = 1e-6
#: Per-eigenvalue quantities that set marker size or colour.
QUANTITIES = ("rms_amplitude", "amplitude", "growth_rate", "frequency", "magnitude", "residual")
#: Colourbar label of the residual (what the number means).
RESIDUAL_LABEL = "residual ||Kg − λg|| / ||g||"
#: Colormap of residuals: blue for small (trust), red for large (spurious).
RESIDUAL_CMAP = "RdYlBu_r"
#: Residuals below this are drawn as this (a log colour scale has no 0).
RESIDUAL_FLOOR = 1e-16
#: Colour of the interval bars drawn where a spectrum carries standard deviations.
INTERVAL_COLOR = "0.2"


def new_axes(ax: Axes | None, figsize: tuple[float, float] = (5.5, 4.5)) -> Axes:
    """``ax`` itself, or the Axes of a new Figure not registered with pyplot."""
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig.add_subplot()


def time_unit(spectrum: KoopmanSpectrum) -> str:
    """The spectrum's time unit in the singular ("time units" reads "time unit")."""
    units = spectrum.time_units.strip()
    return "time unit" if units in ("", "time units") else units


def per_unit(spectrum: KoopmanSpectrum | None, what: str) -> str:
    """Axis-label unit: ``what`` per the spectrum's time unit, or per step without one."""
    if spectrum is None:
        return f"{what} per step"
    return f"{what} per {time_unit(spectrum)}"


def quantity(
    name: str | None,
    spectrum: KoopmanSpectrum | None,
    lam: np.ndarray,
    amplitudes: np.ndarray | None,
) -> tuple[np.ndarray | None, str]:
    """Values and label of a per-eigenvalue quantity (``None``: no values)."""
    if name is None:
        return None, ""
    if name not in QUANTITIES:
        raise KoopkitError(f"unknown quantity {name!r}; choose one of {', '.join(QUANTITIES)}")
    if name == "magnitude":
        return np.abs(lam), "|λ|"
    if name == "residual":
        if spectrum is None or not spectrum.has_residuals:
            raise KoopkitError(
                "color_by='residual' needs a KoopmanSpectrum that carries residuals: fit with "
                "a backend that measures them (dmd, exact_dmd, edmd, autoencoder)"
            )
        return spectrum.residuals.values, RESIDUAL_LABEL
    if spectrum is not None:
        if name == "rms_amplitude":
            return spectrum.rms_amplitudes.values, "RMS amplitude"
        if name == "amplitude":
            return np.abs(spectrum.amplitudes.values), "|amplitude|"
        if name == "growth_rate":
            return spectrum.growth_rates.values, f"growth rate [{per_unit(spectrum, '1')}]"
        return spectrum.frequencies.values, f"frequency [{per_unit(spectrum, 'cycles')}]"
    with np.errstate(divide="ignore"):
        logs = np.log(lam.astype(complex))
    if name == "growth_rate":
        return logs.real, "growth rate [1 per step]"
    if name == "frequency":
        return logs.imag / (2 * np.pi), "frequency [cycles per step]"
    if amplitudes is None:
        return None, ""
    return np.abs(amplitudes), "|amplitude|"


def amplitude_norm(values: np.ndarray) -> Any:
    """Log colour scale for positive values spanning more than two decades, else linear."""
    from matplotlib.colors import LogNorm, Normalize

    finite = values[np.isfinite(values)]
    positive = finite[finite > 0]
    if positive.size and positive.size == finite.size and positive.max() > 100 * positive.min():
        return LogNorm(vmin=positive.min(), vmax=positive.max())
    if finite.size == 0:
        return Normalize(0, 1)
    lo, hi = float(finite.min()), float(finite.max())
    return Normalize(lo, hi if hi > lo else lo + 1)


def residual_norm(values: np.ndarray) -> Any:
    """Log colour scale over the finite residuals, always spanning [1e-3, 1].

    The fixed span keeps colours comparable between figures: a residual near 1 (the
    eigenpair explains nothing of the data) is red everywhere, 0.03 the centre.
    """
    from matplotlib.colors import LogNorm

    finite = np.maximum(values[np.isfinite(values)], RESIDUAL_FLOOR)
    lo = min(float(finite.min()), 1e-3) if finite.size else 1e-3
    hi = max(float(finite.max()), 1.0) if finite.size else 1.0
    return LogNorm(lo, hi)


def centred_norm(values: np.ndarray) -> Any:
    """Linear colour scale symmetric about 0 (a diverging map then shows 0 as its centre)."""
    from matplotlib.colors import Normalize

    finite = np.abs(values[np.isfinite(values)])
    lim = float(finite.max()) if finite.size else 0.0
    lim = lim if lim > 0 else 1e-12
    return Normalize(-lim, lim)


def check_level(intervals: float | None) -> float | None:
    """The interval level as a float in (0, 1), None for no intervals, or a KoopkitError."""
    if intervals is None:
        return None
    if not (isinstance(intervals, (int, float, np.floating)) and 0 < float(intervals) < 1):
        raise KoopkitError(
            f"intervals={intervals!r} must be a probability in (0, 1) (e.g. 0.95) or None"
        )
    return float(intervals)

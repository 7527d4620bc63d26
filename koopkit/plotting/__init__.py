"""Figures of Koopman spectra and forecasts (matplotlib's object API, safe without a display).

Every function takes an optional ``ax`` (or ``axes``) to draw into and returns the Axes it
drew on, or the Figure for multi-panel plots. Without ``ax`` a new
:class:`matplotlib.figure.Figure` is made; it is not registered with pyplot, so nothing
accumulates in scripts and nothing needs a display. To show a plot interactively, pass an
Axes from ``plt.subplots()``; to write one, use :func:`save_figure`.

The functions use only what :class:`~koopkit.spectrum.KoopmanSpectrum` offers (eigenvalues,
frequencies, growth rates, amplitudes, modes), so every backend plots the same way.

matplotlib is imported inside the functions, so ``import koopkit`` stays light.
"""

# The figures' constants, importable from here (outside __all__, as before the split).
from koopkit.plotting._style import INTERVAL_COLOR as INTERVAL_COLOR
from koopkit.plotting._style import RESIDUAL_CMAP as RESIDUAL_CMAP
from koopkit.plotting._style import RESIDUAL_LABEL as RESIDUAL_LABEL
from koopkit.plotting._style import UNSTABLE_TOL as UNSTABLE_TOL
from koopkit.plotting.forecasts import plot_error_vs_horizon, plot_strip
from koopkit.plotting.modes import plot_modes
from koopkit.plotting.pseudospectrum import plot_pseudospectrum
from koopkit.plotting.saving import image_format, save_figure
from koopkit.plotting.spectra import plot_eigenvalues, plot_spectrum

__all__ = [
    "image_format",
    "plot_eigenvalues",
    "plot_error_vs_horizon",
    "plot_modes",
    "plot_pseudospectrum",
    "plot_spectrum",
    "plot_strip",
    "save_figure",
]

"""Koopman modes in their own space: lines, images, RGB images, one panel per mode."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from koopkit._errors import KoopkitError
from koopkit.plotting._style import time_unit
from koopkit.spectrum import MODE, KoopmanSpectrum

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def _grid(n: int, ncols: int, panel: tuple[float, float]) -> tuple[Figure, list[Axes]]:
    from matplotlib.figure import Figure

    ncols = max(1, min(n, ncols))
    nrows = -(-n // ncols)
    fig = Figure(figsize=(panel[0] * ncols, panel[1] * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for extra in axes[n:]:
        extra.set_visible(False)
    return fig, axes[:n]


def _extent(da: xr.DataArray) -> tuple[tuple[float, float, float, float] | None, str]:
    """imshow extent from the coords of a 2-D (row, column) array, and the origin to use."""
    ydim, xdim = da.dims[:2]
    if ydim not in da.coords or xdim not in da.coords:
        return None, "upper"
    try:
        y = np.asarray(da[ydim].values, dtype=float)
        x = np.asarray(da[xdim].values, dtype=float)
    except (TypeError, ValueError):
        return None, "upper"
    dy = (y[-1] - y[0]) / (len(y) - 1) if len(y) > 1 else 1.0
    dx = (x[-1] - x[0]) / (len(x) - 1) if len(x) > 1 else 1.0
    image = str(da[ydim].attrs.get("units", "")) == "pixel"
    origin = "upper" if image else "lower"
    left, right = x[0] - dx / 2, x[-1] + dx / 2
    if origin == "upper":
        return (left, right, y[-1] + dy / 2, y[0] - dy / 2), origin
    return (left, right, y[0] - dy / 2, y[-1] + dy / 2), origin


def _part(values: np.ndarray, part: str) -> np.ndarray:
    if part == "real":
        return values.real
    if part == "imag":
        return values.imag
    if part == "abs":
        return np.abs(values)
    if part == "phase":
        return np.angle(values)
    raise KoopkitError(f"part={part!r} is not one of 'real', 'imag', 'abs', 'phase'")


def _is_rgb(da: xr.DataArray) -> bool:
    return da.ndim == 3 and da.shape[-1] == 3


def _draw_field(ax: Axes, da: xr.DataArray, part: str, cmap: str | None = None) -> None:
    """One mode (any space shape) on ``ax``: a line, an image or an RGB image."""
    values = np.asarray(da.values)
    if da.ndim == 1:
        dim = da.dims[0]
        x = da[dim].values if dim in da.coords else np.arange(da.size)
        ax.plot(x, _part(values, part), lw=1.2)
        ax.axhline(0, lw=0.5, color="0.7")
        ax.set_xlabel(str(dim))
        return
    if da.ndim == 0:
        raise KoopkitError("modes have no space dimension to plot")
    if _is_rgb(da) and part in ("real", "imag"):
        rgb = _part(values, part)
        lo, hi = float(rgb.min()), float(rgb.max())
        rgb = (rgb - lo) / (hi - lo) if hi > lo else np.zeros_like(rgb)
        extent, origin = _extent(da)
        ax.imshow(rgb, extent=extent, origin=origin, interpolation="nearest")
        return
    img = _part(values, part)
    if img.ndim > 2:  # channels or deeper dims: their magnitude
        img = np.sqrt(np.sum(np.abs(img.reshape(*img.shape[:2], -1)) ** 2, axis=-1))
        signed = False
    else:
        signed = part in ("real", "imag")
    extent, origin = _extent(da)
    if signed:
        lim = float(np.abs(img).max()) or 1.0
        kw: dict[str, Any] = {"cmap": cmap or "RdBu_r", "vmin": -lim, "vmax": lim}
    elif part == "phase":
        kw = {"cmap": cmap or "twilight", "vmin": -np.pi, "vmax": np.pi}
    else:
        kw = {"cmap": cmap or "magma"}
    ax.imshow(img, extent=extent, origin=origin, interpolation="nearest", **kw)
    ax.set_xlabel(str(da.dims[1]))
    ax.set_ylabel(str(da.dims[0]))


def plot_modes(
    spectrum: KoopmanSpectrum,
    n: int = 4,
    *,
    part: str = "real",
    axes: Sequence[Axes] | None = None,
    ncols: int = 4,
    cmap: str | None = None,
) -> Figure:
    """The ``n`` leading modes (by RMS amplitude, frequencies >= 0) in their own space dims.

    2-D modes are images (with the coordinates as extent), 1-D modes lines; modes whose
    last dim has size 3 (RGB channels) show the real (or imaginary) part, normalised to
    [0, 1], as colour, and the channel magnitude for ``part="abs"``. Each panel is titled
    with the mode's frequency and growth rate.

    Parameters
    ----------
    spectrum : KoopmanSpectrum
        A spectrum holding modes.
    n : int
        How many modes; fewer are shown if the spectrum has fewer.
    part : {"real", "imag", "abs", "phase"}
        Which part of the complex modes to show.
    axes : sequence of Axes, optional
        Panels to draw into (at least ``n``); by default a new grid of ``ncols`` columns.
    ncols : int
    cmap : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from koopkit.spectrum import KoopmanSpectrum
    >>> modes = xr.DataArray(np.ones((2, 4, 5), complex), dims=("mode", "y", "x"))
    >>> s = KoopmanSpectrum(np.exp([0.2j, -0.2j]), [1, 1], modes, dt=0.1)
    >>> fig = plot_modes(s, n=2)
    >>> sum(len(ax.images) for ax in fig.axes)
    1
    """
    if not isinstance(spectrum, KoopmanSpectrum):
        raise KoopkitError(f"plot_modes needs a KoopmanSpectrum, got {type(spectrum).__name__}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise KoopkitError(f"n={n!r} must be a positive integer")
    _part(np.zeros(1), part)  # validate early
    modes = spectrum.modes
    f = spectrum.frequencies.values
    g = spectrum.growth_rates.values
    order = np.argsort(-np.nan_to_num(spectrum.rms_amplitudes.values), kind="stable")
    chosen = [int(i) for i in order if f[i] >= 0][: int(n)]
    if not chosen:
        raise KoopkitError("the spectrum has no modes with frequency >= 0 to plot")
    if axes is None:
        fig, panels = _grid(len(chosen), ncols, (3.2, 3.0))
    else:
        panels = list(np.ravel(np.asarray(axes, dtype=object)))
        if len(panels) < len(chosen):
            raise KoopkitError(f"axes has {len(panels)} panels but {len(chosen)} modes are shown")
        fig = panels[0].figure
    for ax, i in zip(panels, chosen, strict=False):
        field = modes.isel({MODE: i})
        _draw_field(ax, field, part, cmap)
        ax.set_title(f"f = {f[i]:.4g}, growth = {g[i]:.2g}", fontsize="small")
    fig.suptitle(
        f"leading {spectrum.backend or 'Koopman'} modes ({part} part); frequency in cycles "
        f"and growth rate per {time_unit(spectrum)}"
    )
    return fig

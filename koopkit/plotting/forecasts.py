"""Forecasts against the truth: frame strips and error against the horizon."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from koopkit._errors import KoopkitError
from koopkit._validation import TIME
from koopkit.plotting._style import new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def _frames(da: Any, name: str) -> xr.DataArray:
    if not isinstance(da, xr.DataArray):
        raise KoopkitError(f"{name} must be an xarray DataArray with a 'time' dim")
    if TIME not in da.dims:
        raise KoopkitError(f"{name} has dims {da.dims} but no 'time' dimension")
    da = da.transpose(TIME, ...)
    if da.ndim not in (3, 4) or (da.ndim == 4 and da.shape[-1] != 3):
        raise KoopkitError(
            f"{name} must be frames with dims (time, y, x) or (time, y, x, channel=3), "
            f"got {da.dims} with shape {da.shape}"
        )
    return da


def plot_strip(
    truth: xr.DataArray,
    forecast: xr.DataArray,
    n: int = 8,
    ax_grid: Any = None,
    *,
    cmap: str = "gray",
) -> Figure:
    """Truth, forecast and squared error for ``n`` frames (Lusch et al., Figure 6).

    Parameters
    ----------
    truth, forecast : xr.DataArray
        Frames with dims ``(time, y, x)`` or ``(time, y, x, 3)``. When both have a time
        coordinate, truth frames are matched to the forecast's times; otherwise they must
        have the same length.
    n : int
        Number of columns: frames spread evenly over the forecast.
    ax_grid : 2-D array of Axes, shape (3, >= n), optional
        Panels to draw into; a new Figure by default.
    cmap : str
        Colormap of single-channel frames (errors use "magma").

    Returns
    -------
    matplotlib.figure.Figure
        ``3 * n`` images: truth row, forecast row, squared-error row.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = xr.DataArray(np.random.rand(10, 8, 8), dims=("time", "y", "x"))
    >>> fig = plot_strip(t, t * 0.9, n=4)
    >>> sum(len(ax.images) for ax in fig.axes)
    12
    """
    truth = _frames(truth, "truth")
    forecast = _frames(forecast, "forecast")
    if truth.shape[1:] != forecast.shape[1:]:
        raise KoopkitError(
            f"truth frames have shape {truth.shape[1:]} but forecast frames {forecast.shape[1:]}"
        )
    if (
        TIME in truth.coords
        and TIME in forecast.coords
        and truth.sizes[TIME] != forecast.sizes[TIME]
    ):
        tt = np.asarray(truth[TIME].values, dtype=float)
        ft = np.asarray(forecast[TIME].values, dtype=float)
        step = float(np.median(np.diff(tt))) if tt.size > 1 else 1.0
        idx = np.abs(tt[None, :] - ft[:, None]).argmin(axis=1)
        if np.any(np.abs(tt[idx] - ft) > 0.5 * abs(step)):
            raise KoopkitError("truth does not cover the forecast's times: pass matching frames")
        truth = truth.isel({TIME: idx})
    elif truth.sizes[TIME] != forecast.sizes[TIME]:
        raise KoopkitError(
            f"truth has {truth.sizes[TIME]} frames but forecast {forecast.sizes[TIME]}"
        )
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise KoopkitError(f"n={n!r} must be a positive integer")
    total = forecast.sizes[TIME]
    cols = np.unique(np.linspace(0, total - 1, min(int(n), total)).round().astype(int))
    tv = np.asarray(truth.values, dtype=float)[cols]
    fv = np.asarray(forecast.values, dtype=float)[cols]
    err = (fv - tv) ** 2
    if err.ndim == 4:
        err = err.sum(axis=-1)
    lo, hi = float(np.nanmin(tv)), float(np.nanmax(tv))
    hi = hi if hi > lo else lo + 1
    emax = float(np.nanmax(err)) or 1.0
    if ax_grid is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(1.6 * len(cols) + 0.8, 5.2), layout="constrained")
        grid = fig.subplots(3, len(cols), squeeze=False)
    else:
        grid = np.asarray(ax_grid, dtype=object)
        if grid.ndim != 2 or grid.shape[0] != 3 or grid.shape[1] < len(cols):
            raise KoopkitError(f"ax_grid must be 3 x {len(cols)} Axes, got shape {grid.shape}")
        fig = grid[0, 0].figure
    times = forecast[TIME].values if TIME in forecast.coords else cols
    err_image = None
    for j, k in enumerate(cols):
        for row, (img, kw) in enumerate(
            (
                (tv[j], {"cmap": cmap, "vmin": lo, "vmax": hi}),
                (fv[j], {"cmap": cmap, "vmin": lo, "vmax": hi}),
                (err[j], {"cmap": "magma", "vmin": 0.0, "vmax": emax}),
            )
        ):
            ax = grid[row, j]
            if img.ndim == 3:
                img = np.clip((img - lo) / (hi - lo), 0, 1)
                kw = {}
            im = ax.imshow(img, interpolation="nearest", **kw)
            if row == 2:
                err_image = im
            ax.set_xticks([])
            ax.set_yticks([])
        t = times[k] if TIME in forecast.coords else k
        grid[0, j].set_title(f"t = {float(t):.4g}", fontsize="small")
    for row, label in enumerate(("truth", "forecast", "squared error")):
        grid[row, 0].set_ylabel(label)
    if err_image is not None:
        fig.colorbar(err_image, ax=list(grid[2, : len(cols)]), shrink=0.9, label="error²")
    return fig


def plot_error_vs_horizon(
    errors: Mapping[str, Any],
    dt: float | None = None,
    ax: Axes | None = None,
    *,
    time_units: str = "",
    log: bool = True,
) -> Axes:
    """Per-step forecast MSE against the horizon for several methods (Lusch et al., Fig. 7).

    Parameters
    ----------
    errors : dict of str to array_like
        Method name to its MSE at horizons 1, 2, ... steps.
    dt : float, optional
        Time step: the horizon axis is then in time units instead of steps.
    ax : matplotlib Axes, optional
    time_units : str
        Units of ``dt`` for the axis label.
    log : bool
        Logarithmic error axis.

    Returns
    -------
    matplotlib.axes.Axes
        One line per method, labelled with its name.

    Examples
    --------
    >>> ax = plot_error_vs_horizon({"dmd": [0.1, 0.2, 0.4], "persistence": [0.3, 0.5, 0.6]})
    >>> [line.get_label() for line in ax.get_lines()]
    ['dmd', 'persistence']
    """
    if not isinstance(errors, Mapping) or not errors:
        raise KoopkitError("errors must be a non-empty dict of method name -> per-step MSE")
    ax = new_axes(ax, (6.0, 4.0))
    for name, values in errors.items():
        e = np.asarray(values, dtype=float).ravel()
        steps = np.arange(1, e.size + 1, dtype=float)
        x = steps * dt if dt is not None else steps
        ax.plot(x, e, marker="o", ms=3, lw=1.3, label=str(name))
    if log:
        ax.set_yscale("log")
    if dt is None:
        ax.set_xlabel("forecast horizon [steps]")
    else:
        ax.set_xlabel(f"forecast horizon [{time_units or 'time units'}]")
    ax.set_ylabel("mean squared error")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return ax

"""Forecast videos: truth, forecast and squared error side by side in each frame."""

from __future__ import annotations

import numpy as np
import xarray as xr

from koopkit._errors import KoopkitError
from koopkit._validation import TIME
from koopkit.video.writing import to_uint8_rgb

__all__ = ["side_by_side"]


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

    tv = np.asarray(truth.transpose(TIME, ...).values, dtype=np.float32)
    fv = np.asarray(forecast.transpose(TIME, ...).values, dtype=np.float32)
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
    panels = [to_uint8_rgb(tv, lo, hi), to_uint8_rgb(fv, lo, hi), err_rgb]
    n, h = tv.shape[0], tv.shape[1]
    white = np.full((n, h, int(gap), 3), 255, np.uint8)
    out = np.concatenate([panels[0], white, panels[1], white, panels[2]], axis=2)
    coords = {TIME: forecast[TIME]} if TIME in forecast.coords else {}
    return xr.DataArray(
        out, dims=(TIME, "y", "x", "channel"), coords=coords, name="truth_forecast_error"
    )

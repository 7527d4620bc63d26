"""Forecast errors, the copy-last-frame baseline and mode matching.

One implementation of each, shared by the command line (``koopkit predict``, ``compare``,
``demo``), the benchmark suite, the noise study and the video examples:

* :class:`Persistence` -- the baseline forecast: every future frame is the last fitted one;
* :func:`forecast_mse` and :func:`relative_errors` -- per-step errors of a forecast against
  held-out frames (mean squared error; error norm over the RMS norm of the truth);
* :func:`forecast_errors` and :func:`write_errors_csv` -- several models and the baseline
  on the final frames of one record, as a Dataset and as CSV (Lusch et al. 2018, Fig. 7);
* :func:`assign`, :func:`match_modes` and :func:`nearest` -- which estimated eigenvalue or
  frequency stands for which true one.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from koopkit._errors import KoopkitError
from koopkit._validation import TIME

__all__ = [
    "Persistence",
    "assign",
    "forecast_errors",
    "forecast_mse",
    "match_modes",
    "nearest",
    "relative_errors",
    "write_errors_csv",
]

PathLike = str | os.PathLike[str]


# ------------------------------------------------------------------------ baseline
class Persistence:
    """Baseline forecast: every future frame is the last fitted frame (no spectrum).

    The frames are one read-only view of the last frame, so a long horizon costs no
    memory.

    Examples
    --------
    >>> import xarray as xr
    >>> data = xr.DataArray(np.arange(6.0).reshape(3, 2), dims=("time", "x"),
    ...                     coords={"time": [0.0, 0.5, 1.0]})
    >>> forecast = Persistence().fit(data).predict(steps=2)
    >>> forecast.values.tolist(), forecast.time.values.tolist()
    ([[4.0, 5.0], [4.0, 5.0]], [1.5, 2.0])
    """

    spectrum_ = None

    def fit(self, data: xr.DataArray) -> Persistence:
        """Remember the last frame, its time and the time step of ``data`` (time first)."""
        if not isinstance(data, xr.DataArray) or TIME not in data.dims:
            raise KoopkitError("Persistence needs a DataArray with a 'time' dimension")
        if data.sizes[TIME] < 2:
            raise KoopkitError("Persistence needs at least 2 frames to know the time step")
        data = data.transpose(TIME, ...)
        times = data[TIME].values
        self.last_ = data.isel({TIME: -1})
        self.time_ = times[-1]
        self.dt_ = times[1] - times[0]  # a number, or a timedelta for calendar time
        return self

    def predict(self, steps: int) -> xr.DataArray:
        """``steps`` copies of the last fitted frame, at the times that follow it."""
        last = self.last_
        values = np.broadcast_to(np.asarray(last.values), (int(steps), *last.shape))
        times = self.time_ + np.arange(1, int(steps) + 1) * self.dt_
        coords = {k: v for k, v in last.coords.items() if k != TIME}
        return xr.DataArray(
            values, dims=(TIME, *last.dims), coords={**coords, TIME: times}, name=last.name
        )


# -------------------------------------------------------------------------- errors
def _rows(values: Any, steps: int) -> np.ndarray:
    return np.asarray(getattr(values, "values", values)).reshape(steps, -1)


def forecast_mse(forecast: Any, truth: Any) -> np.ndarray:
    """Mean squared error of each forecast frame: ``mean((x_hat_k - x_k)**2)`` over features.

    Computed in double precision one frame at a time (no double-precision copy of the
    whole forecast). ``forecast`` and ``truth`` are arrays or DataArrays with time first
    and the same number of values per frame.

    Examples
    --------
    >>> forecast_mse(np.ones((2, 3)), np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 4.0]]))
    array([0., 3.])
    """
    steps = len(truth)
    pairs = zip(_rows(forecast, steps), _rows(truth, steps), strict=True)
    return np.array(
        [float(np.mean((v.astype(np.float64) - t.astype(np.float64)) ** 2)) for v, t in pairs]
    )


def relative_errors(forecast: Any, truth: Any) -> np.ndarray:
    """``||x_hat_k - x_k|| / rms_j ||x_j||`` for every step ``k``; ``inf`` where not finite.

    The norm is over the features of a frame, the RMS over the frames of ``truth``, so
    the errors of records of any size and scale compare.

    Examples
    --------
    >>> relative_errors(np.zeros((2, 2)), np.array([[3.0, 4.0], [3.0, 4.0]]))
    array([1., 1.])
    """
    steps = len(truth)
    x_hat = _rows(forecast, steps).astype(np.float64)
    x = _rows(truth, steps).astype(np.float64)
    scale = float(np.sqrt(np.mean(np.sum(x**2, axis=1)))) or 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        err = np.linalg.norm(x_hat - x, axis=1) / scale
    return np.where(np.isfinite(err), err, np.inf)


def forecast_errors(
    data: xr.DataArray,
    models: Mapping[str, Any],
    steps: int = 20,
    *,
    train_fraction: float | None = None,
    baseline: str | None = "copy last frame",
) -> xr.Dataset:
    """Per-step mean squared forecast error of several models on held-out frames.

    The first ``n_train`` frames are fitted (all but the last ``steps`` by default, or
    ``round(train_fraction * n)``); each model forecasts the ``steps`` frames that follow
    and its error at horizon ``k`` is :func:`forecast_mse` (Lusch et al. 2018, Figure 7).
    The :class:`Persistence` baseline is added under the name ``baseline``.

    Parameters
    ----------
    data : xr.DataArray
        Frames (any space dims) with a uniform ``time`` coordinate.
    models : dict of str to estimator
        Unfitted estimators (e.g. ``koopkit.backends.get("dmd", delays=4)``) by label.
    steps : int
        Forecast horizon in frames.
    train_fraction : float, optional
        Fraction of the frames to fit; ``steps`` must fit into the rest.
    baseline : str or None
        Label of the copy-last-frame baseline; None leaves it out.

    Returns
    -------
    xr.Dataset
        One variable per label with dim ``step`` (1 .. steps) and a coordinate
        ``horizon`` (``step * dt``); attrs ``dt``, ``time_units``, ``n_train``,
        ``train_end`` (time of the last fitted frame).

    Examples
    --------
    >>> from koopkit.datasets import bouncing_balls
    >>> from koopkit import DMD
    >>> balls = bouncing_balls(n_snapshots=120, size=24)
    >>> errs = forecast_errors(balls, {"dmd": DMD(delays=4)}, steps=5)
    >>> list(errs.data_vars), errs.sizes["step"]
    (['dmd', 'copy last frame'], 5)
    """
    from koopkit._validation import as_snapshots

    if not isinstance(data, xr.DataArray) or TIME not in data.dims:
        raise KoopkitError("forecast_errors needs a DataArray with a 'time' dimension")
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 1:
        raise KoopkitError(f"steps={steps!r} must be a positive integer")
    if not models and baseline is None:
        raise KoopkitError("give at least one model (or keep the baseline)")
    data = data.transpose(TIME, ...)
    n = data.sizes[TIME]
    if train_fraction is None:
        n_train = n - int(steps)
    else:
        if not 0 < float(train_fraction) < 1:
            raise KoopkitError(f"train_fraction={train_fraction} must be in (0, 1)")
        n_train = int(round(float(train_fraction) * n))
    if n_train < 3 or n_train + steps > n:
        raise KoopkitError(
            f"{n} frames cannot hold {n_train} fitted frames plus {steps} held-out ones: "
            "use fewer --steps, another train fraction or a longer clip"
        )
    info = as_snapshots(data.isel({TIME: slice(0, 3)}))  # units and checks only
    train = data.isel({TIME: slice(0, n_train)})
    truth = np.asarray(data.isel({TIME: slice(n_train, n_train + steps)}).values)
    dt = float(data[TIME].values[1] - data[TIME].values[0])
    chosen = dict(models)
    if baseline is not None:
        chosen[baseline] = Persistence()
    out: dict[str, Any] = {}
    for label, model in chosen.items():
        forecast = model.fit(train).predict(steps=int(steps)).transpose(TIME, ...)
        out[str(label)] = ("step", forecast_mse(forecast, truth))
    step = np.arange(1, int(steps) + 1)
    return xr.Dataset(
        out,
        coords={"step": step, "horizon": ("step", step * dt, {"units": info.time_units})},
        attrs={
            "dt": dt,
            "time_units": info.time_units,
            "n_train": n_train,
            "train_end": float(train[TIME].values[-1]),
        },
    )


def write_errors_csv(errors: xr.Dataset, path: PathLike) -> None:
    """Write :func:`forecast_errors` output as CSV (``step, horizon, <method>...``), atomically.

    Examples
    --------
    >>> import tempfile, pathlib, xarray as xr
    >>> ds = xr.Dataset({"dmd": ("step", [0.1, 0.2])}, coords={"step": [1, 2],
    ...                 "horizon": ("step", [0.5, 1.0])})
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "e.csv"
    >>> write_errors_csv(ds, out)
    >>> out.read_text().splitlines()[0]
    'step,horizon,dmd'
    """
    from koopkit.io import atomic_path

    names = [str(k) for k in errors.data_vars]
    units = str(errors["horizon"].attrs.get("units", "")) if "horizon" in errors.coords else ""
    horizon = f"horizon_{units}" if units else "horizon"
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", horizon, *names])
        for i, step in enumerate(errors["step"].values):
            h = errors["horizon"].values[i] if "horizon" in errors.coords else step
            row = [f"{float(errors[k].values[i]):.9g}" for k in names]
            writer.writerow([int(step), f"{float(h):.9g}", *row])


# ------------------------------------------------------------------ mode matching
def assign(estimated: Any, truth: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pair estimated with true values so that the total distance is smallest.

    An assignment problem (Hungarian algorithm) on ``|estimated_i - truth_j|`` (complex
    or real values): each true value gets at most one estimate and no estimate is used
    twice; with fewer estimates than true values some true values stay unpaired.

    Returns
    -------
    rows, cols : ndarray of int
        ``estimated[rows[k]]`` is paired with ``truth[cols[k]]``.
    distance : ndarray
        ``|estimated[rows] - truth[cols]|``.

    Examples
    --------
    >>> rows, cols, d = assign([0.5, 0.9j, 2.0], [1j, 0.4])
    >>> rows.tolist(), cols.tolist(), np.round(d, 3).tolist()
    ([0, 1], [1, 0], [0.1, 0.1])
    """
    from scipy.optimize import linear_sum_assignment

    est = np.atleast_1d(np.asarray(estimated))
    true = np.atleast_1d(np.asarray(truth))
    cost = np.abs(est[:, None] - true[None, :])
    rows, cols = linear_sum_assignment(cost)
    return rows, cols, cost[rows, cols]


def match_modes(
    frequencies: Any,
    growth_rates: Any,
    true_frequencies: Any,
    true_growth_rates: Any,
    dt: float,
    best: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Pair each true mode with one estimated mode of non-negative frequency.

    The pairing (:func:`assign`) minimises the total distance ``|s_hat - s| dt`` between
    continuous-time eigenvalues ``s = g + 2 pi i f``, over the estimated modes with
    ``f >= 0`` (so a pair that noise split into two real eigenvalues still counts, with
    frequency 0). A true mode left without a partner gets NaN (or, with ``best``, the
    truth itself, for use as a starting point).

    Returns
    -------
    frequencies, growth_rates : ndarray, shape (p,)
        The estimate matched to each true mode.

    Examples
    --------
    >>> match_modes([0.21, -0.21, 0.1], [-0.5, -0.5, 0.0], [0.1, 0.2], [0.0, -0.4], dt=1.0)
    (array([0.1 , 0.21]), array([ 0. , -0.5]))
    """
    f = np.asarray(frequencies, dtype=float)
    g = np.asarray(growth_rates, dtype=float)
    keep = (f >= -1e-12) & np.isfinite(f) & np.isfinite(g)
    f, g = f[keep], g[keep]
    p = len(true_frequencies)
    out_f = np.array(true_frequencies, dtype=float) if best else np.full(p, np.nan)
    out_g = np.array(true_growth_rates, dtype=float) if best else np.full(p, np.nan)
    if f.size == 0:
        return out_f, out_g
    s = (g + 2j * np.pi * f) * dt
    s_true = (np.asarray(true_growth_rates) + 2j * np.pi * np.asarray(true_frequencies)) * dt
    rows, cols, _ = assign(s, s_true)
    out_f[cols] = f[rows]
    out_g[cols] = g[rows]
    return out_f, out_g


def nearest(found: Sequence[float] | np.ndarray, truth: Sequence[float]) -> list[float | None]:
    """For each true value, the closest value found (None when nothing was found).

    Unlike :func:`assign`, one found value may stand for several true ones.

    Examples
    --------
    >>> nearest([0.11, 0.5], [0.1, 0.2, 0.45])
    [0.11, 0.11, 0.5]
    >>> nearest([], [0.1])
    [None]
    """
    values = [float(f) for f in np.ravel(np.asarray(found, dtype=float))]
    if not values:
        return [None for _ in truth]
    return [min(values, key=lambda f, t=t: abs(f - t)) for t in truth]

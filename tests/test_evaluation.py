"""Forecast errors, the copy-last-frame baseline and mode matching, against hand-worked
answers: constant and ramp series, a noiseless linear system, and small pairings."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from koopkit import ExactDMD, KoopkitError
from koopkit.datasets import linear_system
from koopkit.evaluation import (
    Persistence,
    assign,
    forecast_errors,
    forecast_mse,
    match_modes,
    nearest,
    relative_errors,
    write_errors_csv,
)


def _series(values: np.ndarray, dt: float = 0.5) -> xr.DataArray:
    values = np.asarray(values, dtype=float)
    values = values.reshape(len(values), -1)
    return xr.DataArray(values, dims=("time", "x"), coords={"time": dt * np.arange(len(values))})


def test_persistence_of_a_constant_series_is_exact():
    data = _series(np.full((30, 3), 2.5))
    train, test = data.isel(time=slice(0, 20)), data.isel(time=slice(20, None))
    forecast = Persistence().fit(train).predict(steps=10)
    np.testing.assert_array_equal(forecast_mse(forecast, test), np.zeros(10))
    np.testing.assert_array_equal(relative_errors(forecast, test), np.zeros(10))
    np.testing.assert_allclose(forecast.time.values, test.time.values)


def test_persistence_keeps_calendar_time():
    times = np.datetime64("2024-01-01") + np.arange(5) * np.timedelta64(6, "h")
    data = xr.DataArray(np.arange(10.0).reshape(5, 2), dims=("time", "x"), coords={"time": times})
    forecast = Persistence().fit(data).predict(steps=2)
    expect = np.datetime64("2024-01-02") + np.arange(1, 3) * np.timedelta64(6, "h")
    np.testing.assert_array_equal(forecast.time.values, expect)
    np.testing.assert_array_equal(forecast.values, [[8.0, 9.0], [8.0, 9.0]])


def test_errors_match_an_independent_numpy_computation():
    rng = np.random.default_rng(3)
    truth = rng.standard_normal((6, 4, 5)).astype(np.float32)
    forecast = truth + rng.standard_normal(truth.shape).astype(np.float32)
    t64, f64 = truth.astype(float).reshape(6, -1), forecast.astype(float).reshape(6, -1)
    np.testing.assert_allclose(forecast_mse(forecast, truth), ((f64 - t64) ** 2).mean(axis=1))
    scale = np.sqrt((t64**2).sum(axis=1).mean())
    np.testing.assert_allclose(
        relative_errors(forecast, truth), np.linalg.norm(f64 - t64, axis=1) / scale
    )


def test_relative_error_of_a_forecast_that_blows_up_is_infinite():
    forecast = np.array([[1.0], [np.nan]])
    assert relative_errors(forecast, np.ones((2, 1))).tolist() == [0.0, np.inf]


def test_baseline_error_on_a_ramp_is_the_squared_horizon():
    """x_k = k: the last fitted frame is n_train - 1, the truth k steps later n_train - 1 + k."""
    data = _series(np.arange(40))
    errors = forecast_errors(data, {}, steps=8)
    np.testing.assert_allclose(errors["copy last frame"].values, np.arange(1, 9) ** 2)
    assert errors.attrs["n_train"] == 32
    np.testing.assert_allclose(errors["horizon"].values, 0.5 * np.arange(1, 9))


def test_dmd_forecasts_a_noiseless_linear_system_exactly():
    eigs = np.array([0.98 * np.exp(0.3j), 0.98 * np.exp(-0.3j), 0.9])
    data = linear_system(eigs, n_features=12, n_snapshots=80, seed=0)
    errors = forecast_errors(data, {"dmd": ExactDMD(rank=3)}, steps=10, train_fraction=0.8)
    scale = float(np.mean(data.values[64:74] ** 2))
    assert errors["dmd"].values.max() < 1e-10 * scale
    assert errors["copy last frame"].values.min() > 1e-3 * scale


def test_forecast_errors_rejects_impossible_splits():
    data = _series(np.arange(10))
    with pytest.raises(KoopkitError, match="cannot hold"):
        forecast_errors(data, {}, steps=9)
    with pytest.raises(KoopkitError, match="train_fraction"):
        forecast_errors(data, {}, steps=2, train_fraction=1.5)
    with pytest.raises(KoopkitError, match="at least one model"):
        forecast_errors(data, {}, steps=2, baseline=None)


def test_errors_csv_reads_back(tmp_path):
    errors = forecast_errors(_series(np.arange(20)), {}, steps=3)
    path = tmp_path / "e.csv"
    write_errors_csv(errors, path)
    table = np.genfromtxt(path, delimiter=",", names=True)
    np.testing.assert_allclose(table["copy_last_frame"], [1.0, 4.0, 9.0])
    np.testing.assert_allclose(table["horizon"], [0.5, 1.0, 1.5])


def test_assign_minimises_the_total_distance_not_each_greedily():
    # Greedy nearest-first pairs 1.0 with 1.1 (0.1), then 0.0 with 2.0 (2.0): total 2.1;
    # the assignment pairs 1.1 with 2.0 and 1.0 with 0.0 instead: 0.9 + 1.0 = 1.9.
    rows, cols, dist = assign([1.1, 1.0], [2.0, 0.0])
    pairs = dict(zip(cols.tolist(), rows.tolist(), strict=True))
    assert pairs == {0: 0, 1: 1}
    np.testing.assert_allclose(dist.sum(), 1.9)


def test_match_modes_by_hand():
    # True modes (f, g): (0.1, 0.0) and (0.2, -0.4). Found: (0.21, -0.5) and its conjugate
    # (-0.21: left out), (0.1, 0.0), and a far mode (3.0, 0.0).
    f, g = match_modes(
        [0.21, -0.21, 0.1, 3.0], [-0.5, -0.5, 0.0, 0.0], [0.1, 0.2], [0.0, -0.4], dt=1.0
    )
    np.testing.assert_array_equal(f, [0.1, 0.21])
    np.testing.assert_array_equal(g, [0.0, -0.5])


def test_match_modes_leaves_unmatched_modes_nan_or_the_truth():
    f, g = match_modes([-0.1], [0.0], [0.1, 0.3], [0.0, 0.0], dt=1.0)
    assert np.isnan(f).all() and np.isnan(g).all()
    f, g = match_modes([0.29], [0.0], [0.1, 0.3], [-0.1, 0.0], dt=1.0, best=True)
    np.testing.assert_array_equal(f, [0.1, 0.29])
    np.testing.assert_array_equal(g, [-0.1, 0.0])


def test_nearest_may_reuse_a_found_value():
    assert nearest([0.11, 0.5], [0.1, 0.2, 0.45]) == [0.11, 0.11, 0.5]
    assert nearest([], [0.1, 0.2]) == [None, None]


def test_video_module_keeps_the_old_names():
    import koopkit.evaluation
    import koopkit.video

    assert koopkit.video.forecast_errors is koopkit.evaluation.forecast_errors
    assert koopkit.video.write_errors_csv is koopkit.evaluation.write_errors_csv

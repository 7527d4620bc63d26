"""Datetime time axes: calendar steps, natural units and datetime forecasts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from koopkit import DMD, EDMD, ExactDMD, KoopkitError


def monthly(seed: int = 0) -> xr.DataArray:
    """1950-2010 month starts: an annual cycle, a 4-year oscillation and noise on 5 sensors.

    The signal is a function of the month index (months differ in length, so this is the
    series a climate record is: uniform in months, not in seconds).
    """
    rng = np.random.default_rng(seed)
    t = pd.date_range("1950-01-01", "2010-12-01", freq="MS")
    years = np.arange(len(t)) / 12
    annual = np.stack([np.cos(2 * np.pi * years), np.sin(2 * np.pi * years)], 1)
    enso = np.stack([np.cos(2 * np.pi * years / 4), np.sin(2 * np.pi * years / 4)], 1)
    x = annual @ rng.standard_normal((2, 5)) + 0.5 * enso @ rng.standard_normal((2, 5))
    x += 0.1 * rng.standard_normal(x.shape)
    return xr.DataArray(x, dims=("time", "station"), coords={"time": t}, name="sst")


def test_monthly_series_reports_cycles_per_year():
    data = monthly()
    spec = DMD(delays=48).fit(data).spectrum_
    assert spec.time_units == "year" and spec.dt == pytest.approx(1 / 12)
    assert spec.frequencies.attrs["units"] == "cycles per year"
    assert "freq [1/year]" in spec.table().splitlines()[1]
    assert spec.attrs["time_origin"].startswith("1950-01-01")
    annual, enso = spec.leading_frequencies(2)
    assert annual == pytest.approx(1.0, rel=0.005)
    assert enso == pytest.approx(0.25, rel=0.02)


def test_monthly_forecast_continues_on_month_starts():
    data = monthly()
    model = ExactDMD(delays=48).fit(data.isel(time=slice(0, 600)))
    future = model.predict(steps=5)
    np.testing.assert_array_equal(future.time.values, data.time.values[600:605])
    assert np.issubdtype(future.time.dtype, np.datetime64)
    # datetimes in, the same forecast out; a mid-month time interpolates the month
    same = model.predict(times=data.time.values[600:605])
    np.testing.assert_allclose(same.values, future.values, rtol=1e-10)
    mid = model.predict(times=[np.datetime64("2000-02-15")])
    assert mid.time.values[0] == np.datetime64("2000-02-15")
    assert model.reconstruct().time.values[0] == data.time.values[0]


def test_weekly_series_reports_per_day_or_per_year():
    t = pd.date_range("2000-01-02", periods=520, freq="W")  # 10 years of weeks
    days = (t - t[0]).days.to_numpy(dtype=float)
    x = np.stack([np.cos(2 * np.pi * days / 365.2425), np.sin(2 * np.pi * days / 365.2425)], 1)
    data = xr.DataArray(x, dims=("time", "sensor"), coords={"time": t})
    per_day = DMD(rank=2).fit(data).spectrum_
    assert per_day.time_units == "day" and per_day.dt == 7
    assert per_day.leading_frequencies(1)[0] == pytest.approx(1 / 365.2425, rel=1e-6)
    per_year = DMD(rank=2).fit(data, time_unit="year").spectrum_
    assert per_year.frequencies.attrs["units"] == "cycles per year"
    assert per_year.leading_frequencies(1)[0] == pytest.approx(1.0, rel=1e-6)


def test_hourly_and_business_day_series():
    t = pd.date_range("2024-03-01", periods=96, freq="h")
    hours = np.arange(96.0)
    x = np.stack([np.cos(2 * np.pi * hours / 24), np.sin(2 * np.pi * hours / 24)], 1)
    spec = DMD(rank=2).fit(xr.DataArray(x, dims=("time", "s"), coords={"time": t})).spectrum_
    assert spec.time_units == "hour" and spec.leading_frequencies(1)[0] == pytest.approx(1 / 24)
    b = pd.bdate_range("2024-01-01", periods=60)  # weekends skipped: uniform in business days
    k = np.arange(60.0)
    y = np.stack([np.cos(2 * np.pi * k / 5), np.sin(2 * np.pi * k / 5)], 1)
    model = DMD(rank=2).fit(xr.DataArray(y, dims=("time", "s"), coords={"time": b}))
    assert model.spectrum_.time_units == "business day"
    assert model.spectrum_.leading_frequencies(1)[0] == pytest.approx(0.2)
    nxt = model.predict(steps=3).time.values
    np.testing.assert_array_equal(nxt, pd.bdate_range(b[-1], periods=4)[1:].values)


def test_edmd_and_trajectories_take_datetimes_too():
    data = monthly()
    parts = [data.isel(time=slice(120 * i, 120 * i + 120)) for i in range(5)]
    spec = EDMD(rank=5).fit(parts).spectrum_
    assert spec.time_units == "year"
    annual = spec.leading_frequencies(1)[0]
    assert annual == pytest.approx(1.0, rel=0.01)


def test_calendar_errors_are_one_line():
    data = monthly()
    with pytest.raises(KoopkitError, match="time_unit='fortnight'"):
        DMD().fit(data, time_unit="fortnight")
    numeric = data.assign_coords(time=np.arange(data.sizes["time"]) / 12)
    with pytest.raises(KoopkitError, match="time_unit= converts datetime"):
        DMD().fit(numeric, time_unit="day")
    gappy = data.drop_isel(time=[5])  # a missing month: not a calendar series any more
    with pytest.raises(KoopkitError, match="time steps are uneven"):
        DMD().fit(gappy)
    model = DMD(rank=4).fit(numeric)
    with pytest.raises(KoopkitError, match="numeric time axis"):
        model.predict(times=data.time.values[:2])


def test_a_saved_calendar_model_forecasts_the_same_dates(tmp_path):
    import koopkit

    model = DMD(delays=12).fit(monthly())
    model.save(tmp_path / "m.nc")
    back = koopkit.load_model(tmp_path / "m.nc")
    a, b = model.predict(steps=4), back.predict(steps=4)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.time.values, b.time.values)
    assert b.time.values[0] == np.datetime64("2011-01-01")


def test_cli_reports_a_monthly_series_per_year_with_weights(tmp_path):
    from click.testing import CliRunner

    from koopkit.cli import main
    from koopkit.io import save_timeseries

    ds = monthly().to_dataset()
    ds["area"] = ("station", np.array([1.0, 0.5, 0.5, 2.0, 1.0]))
    save_timeseries(ds, tmp_path / "sst.nc")
    args = ["fit", str(tmp_path / "sst.nc"), "--variable", "sst", "--delays", "48"]
    out = CliRunner().invoke(main, [*args, "--weights", "area"])
    assert out.exit_code == 0, out.output
    line = [ln for ln in out.output.splitlines() if ln.startswith("leading frequencies")][0]
    assert "[cycles per year]" in line
    annual, enso = (float(v) for v in line.split(":")[1].split(","))
    assert annual == pytest.approx(1.0, rel=0.005) and enso == pytest.approx(0.25, rel=0.02)
    per_day = CliRunner().invoke(main, [*args, "--time-unit", "day"])
    assert "[cycles per day]" in per_day.output
    bad = CliRunner().invoke(main, [*args, "--weights", "nope"])
    assert bad.exit_code != 0 and "no variable 'nope'" in bad.output

"""KoopmanSpectrum: units from their definitions, selection, netCDF round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

import koopkit
from koopkit import KoopkitError, KoopmanSpectrum


def spectrum(dt=0.5, units="ms"):
    lam = np.array(
        [
            1.0,
            0.9 * np.exp(0.5j),
            0.9 * np.exp(-0.5j),
            1.1 * np.exp(2.0j),
            1.1 * np.exp(-2.0j),
            -0.5,
        ]
    )
    amp = np.array([3.0, 1.0 + 1j, 1.0 - 1j, 0.01, 0.01, 0.2])
    modes = xr.DataArray(
        np.exp(1j * np.arange(6)[:, None, None]) * np.ones((6, 2, 3)) / np.sqrt(6),
        dims=("mode", "y", "x"),
        coords={"y": [10.0, 20.0], "x": ["a", "b", "c"]},
    )
    return KoopmanSpectrum(
        lam,
        amp,
        modes,
        dt=dt,
        time_units=units,
        n_snapshots=50,
        backend="test",
        params={"rank": 6, "note": None},
    )


def test_units_follow_their_definitions():
    s = spectrum()
    lam = s.eigenvalues.values
    np.testing.assert_allclose(s.continuous_eigenvalues.values, np.log(lam) / 0.5)
    np.testing.assert_allclose(s.frequencies.values, np.angle(lam) / (2 * np.pi * 0.5))
    np.testing.assert_allclose(s.angular_frequencies.values, np.angle(lam) / 0.5)
    np.testing.assert_allclose(s.growth_rates.values, np.log(np.abs(lam)) / 0.5)
    assert s.growth_rates.values[0] == 0.0  # lam = 1: zero growth, unlike Re(lam)/dt
    # a negative real eigenvalue oscillates at the Nyquist frequency 1/(2 dt)
    assert s.frequencies.values[5] == pytest.approx(1.0)
    assert s.periods.values[0] == np.inf
    assert s.periods.values[1] == pytest.approx(2 * np.pi * 0.5 / 0.5)
    assert s.frequencies.attrs["units"] == "cycles per ms"
    # rms amplitude: |b| sqrt(mean |lam|^2k) over the 50 fitted snapshots
    k = np.arange(50)
    expect = np.abs(s.amplitudes.values) * np.sqrt(np.mean(np.abs(lam)[:, None] ** (2 * k), axis=1))
    np.testing.assert_allclose(s.rms_amplitudes.values, expect, rtol=1e-12)


def test_sort_select_pairs_and_leading_frequencies():
    s = spectrum()
    by_rms = s.sort()
    assert list(by_rms.rms_amplitudes.values) == sorted(s.rms_amplitudes.values, reverse=True)
    assert by_rms.frequencies.values[1] > 0  # positive member of a pair first
    assert list(s.sort("frequency", ascending=True).frequencies.values) == sorted(
        s.frequencies.values
    )
    with pytest.raises(KoopkitError, match="cannot sort by"):
        s.sort("colour")
    pos = s.select(positive_frequencies=True)
    assert (pos.frequencies.values > 0).all() and len(pos) == 3
    assert len(s.select(max_growth_rate=0.0)) == 4
    partner = s.conjugate_pairs()
    assert list(partner) == [-1, 2, 1, 4, 3, -1]
    # the two largest positive frequencies by rms amplitude
    np.testing.assert_allclose(s.leading_frequencies(2), [0.5 / np.pi, 1.0])
    assert len(s[0]) == 1 and s.sel([3]).eigenvalues.values[0] == s.eigenvalues.values[3]


def test_sort_handles_a_zero_eigenvalue():
    # lam = 0 has growth rate ln 0 = -inf: it sorts last, not into an error
    s = KoopmanSpectrum([0.0, 1.0, 0.5], [1, 1, 1], dt=1.0, n_snapshots=5).sort("growth_rate")
    np.testing.assert_allclose(s.eigenvalues.values, [1.0, 0.5, 0.0])
    assert s.growth_rates.values[-1] == -np.inf


def test_harmonics_are_skipped():
    f0, dt = 0.2, 0.1
    lam = np.exp(2j * np.pi * dt * np.array([f0, 2 * f0, 3 * f0, 0.55]))
    s = KoopmanSpectrum(lam, [4, 3, 2, 1], dt=dt, n_snapshots=10)
    np.testing.assert_allclose(s.leading_frequencies(2), [f0, 0.55])
    np.testing.assert_allclose(s.leading_frequencies(2, exclude_harmonics=False), [f0, 2 * f0])


def test_netcdf_round_trip_is_exact(tmp_path):
    s = spectrum()
    path = tmp_path / "s.nc"
    s.to_netcdf(path)
    back = koopkit.open_spectrum(path)
    xr.testing.assert_identical(back._ds, s._ds)
    assert back.params == {"rank": 6, "note": None}
    assert back.time_units == "ms" and back.dt == 0.5
    np.testing.assert_array_equal(back.modes.x.values, ["a", "b", "c"])
    # the file is plain netCDF: readers without koopkit see real/imag parts and units
    raw = xr.open_dataset(path, engine="h5netcdf")
    assert "eigenvalues__real" in raw and "frequencies" in raw
    raw.close()
    no_modes = tmp_path / "n.nc"
    s.to_netcdf(no_modes, modes=False)
    assert not koopkit.open_spectrum(no_modes).has_modes


def test_dict_table_and_errors():
    s = spectrum()
    d = s.to_dict()
    json.dumps(d)
    assert d["modes"][1]["frequency"] == pytest.approx(s.frequencies.values[1])
    table = s.to_dataframe()
    np.testing.assert_array_equal(table["frequency"].values, s.frequencies.values)
    np.testing.assert_array_equal(table["growth_rate"].values, s.growth_rates.values)
    text = str(s)
    assert "6 modes" in text and "cycles" not in text.splitlines()[0]
    assert len(text.splitlines()) == 8
    with pytest.raises(KoopkitError, match="one amplitude per mode"):
        KoopmanSpectrum([1, 2], [1])
    with pytest.raises(KoopkitError, match="dt must be"):
        KoopmanSpectrum([1], [1], dt=0)


def test_open_spectrum_rejects_other_files(tmp_path):
    path = tmp_path / "other.nc"
    xr.Dataset({"a": ("t", [1.0, 2.0])}).to_netcdf(path, engine="h5netcdf")
    with pytest.raises(KoopkitError, match="not a koopkit spectrum"):
        koopkit.open_spectrum(path)


# ---------------------------------------------------------------------------- uncertainty
def uncertain(dt=0.5):
    """The spectrum above with analytic stds: Re parts 0.001 * k, Im parts 2 pi * 0.01 * k."""
    k = np.arange(1, 7)
    std = 0.001 * k + 1j * 2 * np.pi * 0.01 * k
    std[5] = complex(np.nan, np.nan)  # a mode without one
    s = spectrum(dt=dt)
    s2 = KoopmanSpectrum(
        s.eigenvalues.values,
        s.amplitudes.values,
        s.modes,
        dt=dt,
        time_units="ms",
        n_snapshots=50,
        backend="test",
        extras={"eigenvalue_std_real": std.real, "eigenvalue_std_imag": std.imag},
    )
    return s2, std


def test_stds_follow_their_definitions_and_nan_where_none():
    s, std = uncertain()
    assert s.has_uncertainty and not spectrum().has_uncertainty
    np.testing.assert_allclose(s.frequency_std.values[:5], 0.01 * np.arange(1, 6), rtol=1e-15)
    np.testing.assert_allclose(s.growth_rate_std.values[:5], 0.001 * np.arange(1, 6))
    np.testing.assert_array_equal(s.eigenvalue_std.values[:5], std[:5])
    assert np.isnan(s.frequency_std.values[5]) and np.isnan(s.growth_rate_std.values[5])
    assert s.frequency_std.attrs["units"] == s.frequencies.attrs["units"] == "cycles per ms"
    assert s.growth_rate_std.attrs["units"] == "1 per ms"
    plain = spectrum()
    assert np.isnan(plain.frequency_std.values).all()
    assert np.isnan(plain.eigenvalue_std.values.real).all()
    # with_uncertainty gives the same spectrum as the extras
    again = plain.with_uncertainty(std)
    xr.testing.assert_identical(again._ds, s._ds.assign_attrs(params=plain._ds.attrs["params"]))
    with pytest.raises(KoopkitError, match="one per mode"):
        plain.with_uncertainty([0.1])
    with pytest.raises(KoopkitError, match="negative"):
        plain.with_uncertainty(-np.ones(6))


def test_interval_is_the_normal_interval():
    s, std = uncertain()
    for quantity, value, sd in [
        ("frequency", s.frequencies.values, std.imag / (2 * np.pi)),
        ("growth_rate", s.growth_rates.values, std.real),
        ("eigenvalue_real", s.continuous_eigenvalues.values.real, std.real),
        ("eigenvalue_imag", s.continuous_eigenvalues.values.imag, std.imag),
        ("angular_frequency", s.angular_frequencies.values, std.imag),
    ]:
        iv = s.interval(quantity)
        assert iv.dims == ("mode", "bound") and list(iv.bound.values) == ["lower", "upper"]
        np.testing.assert_allclose(iv.sel(bound="lower").values, value - 1.959964 * sd, rtol=1e-6)
        np.testing.assert_allclose(iv.sel(bound="upper").values, value + 1.959964 * sd, rtol=1e-6)
    # frequency_std 0.01 exactly for mode 0: the 68.27% interval is f -/+ 0.01
    iv = s.interval("frequency", level=0.682689492137)
    np.testing.assert_allclose(iv.values[0] - s.frequencies.values[0], [-0.01, 0.01], rtol=1e-9)
    assert iv.attrs["units"] == "cycles per ms" and iv.attrs["z"] == pytest.approx(1.0, rel=1e-9)
    assert np.isnan(s.interval("growth_rate").values[5]).all()
    with pytest.raises(KoopkitError, match="choose one of"):
        s.interval("period")
    with pytest.raises(KoopkitError, match="probability"):
        s.interval("frequency", level=95)


def test_stds_ride_through_selection_sorting_netcdf_and_json(tmp_path):
    s, std = uncertain()
    by_f = s.sort("frequency", ascending=True)
    order = np.argsort(s.frequencies.values)  # six distinct frequencies: one order
    np.testing.assert_array_equal(by_f.frequencies.mode.values, order)
    np.testing.assert_array_equal(by_f.eigenvalue_std.values, std[order])
    pos = s.select(positive_frequencies=True)
    np.testing.assert_array_equal(pos.frequency_std.values, std.imag[[1, 3, 5]] / (2 * np.pi))
    path = tmp_path / "s.nc"
    s.to_netcdf(path)
    back = koopkit.open_spectrum(path)
    xr.testing.assert_identical(back._ds, s._ds)
    np.testing.assert_array_equal(back.frequency_std.values, s.frequency_std.values)
    raw = xr.open_dataset(path, engine="h5netcdf")
    assert raw["eigenvalue_std_imag"].attrs["long_name"].startswith("standard deviation")
    raw.close()
    d = json.loads(json.dumps(s.to_dict()))
    assert d["modes"][0]["frequency_std"] == pytest.approx(0.01)
    assert d["modes"][1]["growth_rate_std"] == pytest.approx(0.002)
    assert d["modes"][5]["frequency_std"] is None
    assert spectrum().to_dict()["modes"][0]["frequency_std"] is None
    df = s.to_dataframe()
    np.testing.assert_array_equal(df["frequency_std"].values, s.frequency_std.values)
    assert "frequency_std" not in spectrum().to_dataframe()


def test_table_shows_value_plus_minus_std():
    lam = np.exp(0.5 * np.array([-0.2 + 2j * np.pi * 0.350123, -0.2 - 2j * np.pi * 0.350123]))
    s = KoopmanSpectrum(lam, [1, 1], dt=0.5).with_uncertainty([0.013 + 0.00042j * 2 * np.pi] * 2)
    text = str(s)
    assert "0.3501 ± 0.0004" in text and "-0.3501 ± 0.0004" in text
    assert "-0.200 ± 0.013" in text
    header, row = text.splitlines()[1:3]
    assert len(header) == len(row)  # the columns line up
    assert "±" not in str(spectrum())
    assert koopkit.spectrum.format_with_std(1.25e-7, 3e-9) == "(1.25 ± 0.03)e-07"
    assert koopkit.spectrum.format_with_std(12.0, 0.0) == "12"

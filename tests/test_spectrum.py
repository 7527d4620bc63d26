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
    assert "eigenvalues_real" in raw and "frequencies" in raw
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

"""Tests for koopkit.io: exact round trips, plain HDF5 input, errors and atomic writes."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from koopkit._errors import KoopkitError
from koopkit.datasets import bouncing_balls, linear_system, pendulum
from koopkit.io import (
    atomic_path,
    join_complex,
    open_dataset,
    open_timeseries,
    save_timeseries,
    split_complex,
)
from koopkit.io.complex_vars import complex_part


def assert_one_line_error(excinfo: pytest.ExceptionInfo, *fragments: str) -> None:
    message = str(excinfo.value)
    assert isinstance(excinfo.value, KoopkitError)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


def assert_exact(actual: xr.DataArray, expected: xr.DataArray) -> None:
    """Same values, dtypes, dims, coords, names and attrs (attr types included)."""
    xr.testing.assert_identical(actual, expected)
    assert actual.dtype == expected.dtype
    for name, coord in expected.coords.items():
        assert actual[name].dtype == coord.dtype, name
        assert actual[name].attrs == coord.attrs, name
    for key, value in expected.attrs.items():
        assert type(actual.attrs[key]) is type(value) or np.asarray(value).dtype.kind in "iuf"


def open_handles(path: Path) -> list[str]:
    """Open file descriptors of this process pointing at ``path`` (Linux only)."""
    fd_dir = Path("/proc/self/fd")
    found = []
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target == str(path.resolve()):
            found.append(target)
    return found


def make_array(dtype: str, space_shape: tuple[int, ...], seed: int = 0) -> xr.DataArray:
    rng = np.random.default_rng(seed)
    shape = (7, *space_shape)
    values = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        values = values + 1j * rng.standard_normal(shape)
    values = values.astype(dtype)
    dims = ("time", *[f"s{i}" for i in range(len(space_shape))])
    coords = {"time": ("time", 0.1 * np.arange(7), {"units": "s", "long_name": "time"})}
    if space_shape:
        coords["s0"] = ("s0", np.linspace(-1, 1, space_shape[0]), {"units": "m"})
    return xr.DataArray(
        values,
        dims=dims,
        coords=coords,
        name="field",
        attrs={"units": "K", "scale": 2.5, "count": 3, "tags": ["a", "bc"], "levels": [1.0, 2.0]},
    )


# ------------------------------------------------------------------------------------------
# round trips


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128", "int16"])
@pytest.mark.parametrize("space_shape", [(), (5,), (4, 3), (3, 2, 2)])
def test_round_trip_is_exact(tmp_path, dtype, space_shape):
    da = make_array(dtype, space_shape)
    original = da.copy(deep=True)
    path = tmp_path / "field.nc"
    save_timeseries(da, path)
    back = open_timeseries(path)
    assert_exact(back, da)
    xr.testing.assert_identical(da, original)  # the input is not modified
    assert sorted(p.name for p in tmp_path.iterdir()) == ["field.nc"]


@pytest.mark.parametrize("compression", [True, False])
def test_round_trip_without_compression(tmp_path, compression):
    da = make_array("float32", (4, 3))
    save_timeseries(da, tmp_path / "a.nc", compression=compression)
    assert_exact(open_timeseries(tmp_path / "a.nc"), da)
    with h5py.File(tmp_path / "a.nc", "r") as handle:
        dset = handle["field"]
        if compression:
            assert dset.compression == "gzip"
            assert dset.compression_opts == 4
            assert dset.chunks == (7, 4, 3)
        else:
            assert dset.compression is None


def test_chunks_argument(tmp_path):
    da = make_array("float64", (4, 3))
    save_timeseries(da, tmp_path / "a.nc", chunks=2)
    with h5py.File(tmp_path / "a.nc", "r") as handle:
        assert handle["field"].chunks == (2, 4, 3)
    save_timeseries(da, tmp_path / "b.nc", chunks={"time": 3, "s0": 2})
    with h5py.File(tmp_path / "b.nc", "r") as handle:
        assert handle["field"].chunks == (3, 2, 3)
    assert_exact(open_timeseries(tmp_path / "b.nc"), da)


@pytest.mark.parametrize("chunks", [0, -3, 2.5, "big", {"time": 0}, {"depth": 4}])
def test_bad_chunks(tmp_path, chunks):
    with pytest.raises(KoopkitError) as excinfo:
        save_timeseries(make_array("float64", (2,)), tmp_path / "a.nc", chunks=chunks)
    assert_one_line_error(excinfo, "chunk")
    assert list(tmp_path.iterdir()) == []


def test_attribute_types_round_trip(tmp_path):
    attrs = {
        "flag": True,
        "flags": [True, False],
        "mask": np.array([True, False, True]),
        "single": [0.35],
        "single_array": np.array([2.0]),
        "matrix": np.arange(6.0).reshape(2, 3),
        "names": ["only"],
        "pair": [1, 2],
        "text": "hello",
        "number": 7,
        "complex": 1 - 2j,
    }
    da = xr.DataArray(np.zeros(2), dims="time", name="v", attrs=attrs)
    da["time"] = ("time", [0.0, 1.0], {"valid": False, "range": [0.0, 1.0]})
    save_timeseries(da, tmp_path / "a.nc")
    back = open_timeseries(tmp_path / "a.nc")
    assert set(back.attrs) == set(attrs)
    for key, value in attrs.items():
        got = back.attrs[key]
        assert type(got) is type(value) or isinstance(value, int | complex), key
        np.testing.assert_array_equal(got, value)
    assert back["time"].attrs == {"valid": False, "range": [0.0, 1.0]}
    # tuples come back as lists
    da.attrs = {"t": (1.5, 2.5)}
    save_timeseries(da, tmp_path / "b.nc")
    assert open_timeseries(tmp_path / "b.nc").attrs == {"t": [1.5, 2.5]}


@pytest.mark.parametrize("value", [[], [1, "a"], [None], [[1, 2], [3, 4]], None, {"a": 1}])
def test_unstorable_attributes(tmp_path, value):
    da = xr.DataArray(np.zeros(2), dims="time", name="v", attrs={"bad": value})
    with pytest.raises(KoopkitError) as excinfo:
        save_timeseries(da, tmp_path / "a.nc")
    assert_one_line_error(excinfo, "bad")
    assert list(tmp_path.iterdir()) == []


def test_reserved_attribute_name(tmp_path):
    da = xr.DataArray(np.zeros(2), dims="time", attrs={"koopkit_attr_types": "{}"})
    with pytest.raises(KoopkitError) as excinfo:
        save_timeseries(da, tmp_path / "a.nc")
    assert_one_line_error(excinfo, "reserved")


def test_unnamed_array_is_saved_as_data(tmp_path):
    da = make_array("float64", (3,)).rename(None)
    save_timeseries(da, tmp_path / "a.nc")
    back = open_timeseries(tmp_path / "a.nc")
    assert back.name == "data"
    assert_exact(back, da.rename("data"))


def test_complex_coordinates_and_dimension_coordinates(tmp_path):
    eigs = np.array([0.9 + 0.1j, 0.9 - 0.1j, 0.5 + 0j])
    da = xr.DataArray(
        np.arange(6, dtype=np.complex128).reshape(2, 3) * (1 - 2j),
        dims=("time", "mode"),
        coords={
            "time": ("time", [0.0, 1.0], {"units": "s"}),
            "mode": ("mode", eigs, {"long_name": "eigenvalue"}),
            "growth": ("mode", np.abs(eigs).astype(np.complex64)),
            "label": ("mode", ["p", "q", "r"]),
        },
        name="amplitudes",
    )
    save_timeseries(da, tmp_path / "modes.nc")
    back = open_timeseries(tmp_path / "modes.nc")
    assert_exact(back, da)
    assert "mode" in back.indexes
    # on disk, the complex values are two real variables marked as such
    with h5py.File(tmp_path / "modes.nc", "r") as handle:
        assert "amplitudes__real" in handle and "amplitudes__imag" in handle
        assert "amplitudes" not in handle


def test_dataset_round_trip_and_variable_choice(tmp_path):
    rng = np.random.default_rng(1)
    ds = xr.Dataset(
        {
            "u": (("time", "x"), rng.standard_normal((5, 4)).astype(np.float32), {"units": "m/s"}),
            "w": (("time", "x"), rng.standard_normal((5, 4)) + 1j, {"units": "1"}),
            "mask": (("x",), np.array([1, 0, 1, 1], dtype=np.int8)),
        },
        coords={"time": ("time", np.arange(5) * 0.5, {"units": "s"}), "x": np.arange(4.0)},
        attrs={"source": "test", "version": [1, 2]},
    )
    path = tmp_path / "flow.nc"
    save_timeseries(ds, path)
    for name in ("u", "w"):
        back = open_timeseries(path, variable=name)
        assert_exact(back, ds[name])
    with xr.open_dataset(path, engine="h5netcdf") as raw:
        assert "w__real" in raw and "w__imag" in raw


@pytest.mark.parametrize("unit", ["ns", "us", "s"])
def test_datetime_time_is_kept(tmp_path, unit):
    times = pd.date_range("2021-03-01", periods=6, freq="15min").values.astype(f"M8[{unit}]")
    da = xr.DataArray(
        np.arange(6.0),
        dims="time",
        coords={"time": ("time", times, {"long_name": "UTC"})},
        name="level",
    )
    save_timeseries(da, tmp_path / "a.nc")
    back = open_timeseries(tmp_path / "a.nc")
    assert np.issubdtype(back["time"].dtype, np.datetime64)
    assert_exact(back, da)


def test_far_datetimes_and_timedeltas(tmp_path):
    times = np.array(["1500-01-01T00:00:00.000001", "2500-06-01"], dtype="M8[us]")
    da = xr.DataArray(
        np.array([1, 2], dtype="m8[ms]"),
        dims="time",
        coords={"time": times, "lag": ("time", np.array([5, 6], dtype="m8[s]"))},
        name="delay",
    )
    save_timeseries(da, tmp_path / "a.nc")
    assert_exact(open_timeseries(tmp_path / "a.nc"), da)


def test_foreign_datetimes_decode_to_nanoseconds(tmp_path):
    times = pd.date_range("2021-03-01", periods=3, freq="D").values.astype("M8[s]")
    ds = xr.Dataset({"v": ("time", [1.0, 2.0, 3.0])}, coords={"time": times})
    ds.to_netcdf(tmp_path / "a.nc", engine="h5netcdf")  # written by plain xarray
    back = open_timeseries(tmp_path / "a.nc")
    assert back["time"].dtype == np.dtype("M8[ns]")
    np.testing.assert_array_equal(back["time"].values, times)


def test_generated_datasets_round_trip(tmp_path):
    for name, da in {
        "balls": bouncing_balls(n_snapshots=30, size=24),
        "linear": linear_system([0.9j, -0.9j, 0.5], n_features=6, n_snapshots=20),
        "complex": linear_system([0.9j, 0.5], n_features=6, n_snapshots=20, complex_data=True),
        "pendulum": pendulum(n_snapshots=50, n_features=8),
    }.items():
        path = tmp_path / f"{name}.nc"
        save_timeseries(da, path)
        assert_exact(open_timeseries(path), da)


def test_resave_of_opened_sliced_data(tmp_path):
    da = make_array("float32", (4, 3))
    save_timeseries(da, tmp_path / "a.nc", chunks=5)
    part = open_timeseries(tmp_path / "a.nc").isel(time=slice(0, 3), s0=slice(0, 2))
    save_timeseries(part, tmp_path / "b.nc")
    assert_exact(open_timeseries(tmp_path / "b.nc"), part)


def test_overwrite_replaces_file(tmp_path):
    path = tmp_path / "a.nc"
    save_timeseries(make_array("float64", (3,), seed=1), path)
    new = make_array("float64", (3,), seed=2)
    save_timeseries(new, path)
    assert_exact(open_timeseries(path), new)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.nc"]


def test_netcdf_group(tmp_path):
    path = tmp_path / "groups.nc"
    one = make_array("float64", (2,), seed=1)
    two = make_array("float32", (3,), seed=2)
    one.to_dataset().to_netcdf(path, engine="h5netcdf", group="run1")
    two.to_dataset().to_netcdf(path, engine="h5netcdf", group="run2", mode="a")
    assert_exact(open_timeseries(path, group="run1"), one)
    assert_exact(open_timeseries(path, group="run2"), two)
    with pytest.raises(KoopkitError) as excinfo:
        open_timeseries(path, group="run3")
    assert_one_line_error(excinfo, "run3", "run1, run2")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc/self/fd")
def test_no_handle_left_open(tmp_path):
    path = tmp_path / "a.nc"
    save_timeseries(make_array("float64", (3,)), path)
    assert open_handles(path) == []
    back = open_timeseries(path)
    assert open_handles(path) == []
    os.remove(path)  # the data were loaded eagerly: still usable without the file
    assert float(back.sum()) == pytest.approx(float(make_array("float64", (3,)).sum()))


def test_permissions_follow_umask(tmp_path):
    path = tmp_path / "a.nc"
    save_timeseries(make_array("float64", ()), path)
    old = os.umask(0o022)
    os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~old


def test_open_dataset_reads_everything(tmp_path):
    ds = xr.Dataset(
        {
            "u": (("time", "x"), np.ones((3, 2), np.float32), {"units": "m/s"}),
            "z": (("x",), np.array([1 + 2j, 3 - 4j])),
        },
        coords={"time": ("time", [0.0, 0.5, 1.0], {"units": "s"}), "x": [10, 20]},
        attrs={"flags": [True]},
    )
    path = tmp_path / "all.nc"
    save_timeseries(ds, path)
    back = open_dataset(path)
    xr.testing.assert_identical(back, ds)
    assert back["z"].dtype == np.complex128
    assert back.attrs == {"flags": [True]}


def test_open_dataset_keeps_foreign_flags(tmp_path):
    # the older spectrum convention is joined where spectra are read, not by open_dataset
    ds = xr.Dataset(
        {
            "lam_real": ("mode", [1.0], {"koopkit_complex_part": "real"}),
            "lam_imag": ("mode", [2.0], {"koopkit_complex_part": "imag"}),
        }
    )
    ds.to_netcdf(tmp_path / "s.nc", engine="h5netcdf")
    back = open_dataset(tmp_path / "s.nc")
    assert back["lam_real"].attrs == {"koopkit_complex_part": "real"}
    assert set(back.data_vars) == {"lam_real", "lam_imag"}


def complex_dataset() -> xr.Dataset:
    rng = np.random.default_rng(3)
    z = rng.standard_normal((4, 3)) + 1j * rng.standard_normal((4, 3))
    lam = np.array([0.9 + 0.1j, 0.9 - 0.1j, 0.5 + 0j], np.complex64)
    return xr.Dataset(
        {"z": (("time", "mode"), z, {"units": "m"}), "r": ("time", np.arange(4.0))},
        coords={"time": np.arange(4) * 0.5, "lam": ("mode", lam, {"long_name": "eigenvalue"})},
    )


@pytest.mark.parametrize("lazy", [False, True])
def test_split_complex_round_trip_through_plain_netcdf(tmp_path, lazy):
    # koopkit's convention: <name>__real/<name>__imag marked koopkit_split_complex
    ds = complex_dataset()
    if lazy:
        pytest.importorskip("dask")
        ds = ds.chunk({"time": 2})
    split = split_complex(ds)
    assert not any(v.dtype.kind == "c" for v in split.variables.values())
    split.to_netcdf(tmp_path / "z.nc", engine="h5netcdf")
    with h5py.File(tmp_path / "z.nc", "r") as handle:  # the parts on disk, read without xarray
        np.testing.assert_array_equal(handle["z__real"][()], ds["z"].values.real)
        np.testing.assert_array_equal(handle["z__imag"][()], ds["z"].values.imag)
        np.testing.assert_array_equal(handle["lam__imag"][()], ds["lam"].values.imag)
        assert handle["z__imag"].attrs["koopkit_split_complex"] in (b"imag", "imag")
        assert "z" not in handle
    with xr.open_dataset(tmp_path / "z.nc", engine="h5netcdf") as raw:
        back = join_complex(raw.load())
    xr.testing.assert_identical(back, ds.load())
    assert back["lam"].dtype == np.complex64 and "lam" in back.coords
    assert open_dataset(tmp_path / "z.nc").identical(ds.load())  # the reader joins them too


def test_join_complex_reads_the_older_spectrum_convention(tmp_path):
    # <name>_real/<name>_imag, both marked koopkit_complex_part and both carrying the attrs
    lam = np.array([0.5 + 0.25j, -0.125 - 1j])
    attrs = {"long_name": "eigenvalue"}
    old = xr.Dataset(
        {
            "lam_real": ("mode", lam.real, {**attrs, "koopkit_complex_part": "real"}),
            "lam_imag": ("mode", lam.imag, {**attrs, "koopkit_complex_part": "imag"}),
            # real quantities whose names merely end in _real/_imag stay as they are
            "eigenvalue_std_real": ("mode", [0.1, 0.2]),
            "eigenvalue_std_imag": ("mode", [0.3, 0.4]),
        }
    )
    old.to_netcdf(tmp_path / "old.nc", engine="h5netcdf")
    back = join_complex(open_dataset(tmp_path / "old.nc"))
    np.testing.assert_array_equal(back["lam"].values, lam)
    assert back["lam"].attrs == attrs
    assert set(back.data_vars) == {"lam", "eigenvalue_std_real", "eigenvalue_std_imag"}
    np.testing.assert_array_equal(back["eigenvalue_std_imag"].values, [0.3, 0.4])
    assert join_complex(back).identical(back)  # idempotent
    assert join_complex(old, legacy=False).identical(old)


def test_join_complex_leaves_incomplete_pairs_alone():
    lone = xr.Dataset({"z__real": ("t", [1.0], {"koopkit_split_complex": "real"})})
    assert join_complex(lone).identical(lone)
    unmarked_imag = xr.Dataset(
        {
            "a_real": ("t", [1.0], {"koopkit_complex_part": "real"}),
            "a_imag": ("t", [2.0]),
        }
    )
    assert join_complex(unmarked_imag).identical(unmarked_imag)


def test_complex_part_and_name_clash():
    split = split_complex(complex_dataset())
    assert complex_part(split["z__real"]) == "real"
    assert complex_part(split["lam__imag"]) == "imag"
    assert complex_part(split["r"]) is None
    assert complex_part(xr.Variable("t", [1.0], {"koopkit_complex_part": "imag"})) == "imag"
    clash = xr.Dataset({"z": ("t", [1j]), "z__imag": ("t", [0.0])})
    with pytest.raises(KoopkitError) as excinfo:
        split_complex(clash)
    assert_one_line_error(excinfo, "'z__imag' already exists", "rename")


def test_open_dataset_errors(tmp_path):
    with pytest.raises(KoopkitError) as excinfo:
        open_dataset(tmp_path / "missing.nc")
    assert_one_line_error(excinfo, "no such file")
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as handle:
        handle.create_dataset("v", data=np.zeros(3))
    with pytest.raises(KoopkitError) as excinfo:
        open_dataset(plain)
    assert_one_line_error(excinfo, "plain HDF5", "open_timeseries")
    garbage = tmp_path / "garbage.nc"
    garbage.write_bytes(b"not a netcdf file at all" * 10)
    with pytest.raises(KoopkitError) as excinfo:
        open_dataset(garbage)
    assert_one_line_error(excinfo, "cannot read")


# ------------------------------------------------------------------------------------------
# plain HDF5 written with h5py


def test_h5py_with_time_dataset(tmp_path):
    path = tmp_path / "plain.h5"
    values = np.random.default_rng(0).standard_normal((6, 4, 3)).astype(np.float32)
    times = np.linspace(0.0, 1.0, 6)
    with h5py.File(path, "w") as handle:
        handle.create_dataset("frames", data=values)
        handle["frames"].attrs["units"] = "K"
        handle.create_dataset("time", data=times)
        handle["time"].attrs["units"] = "ms"
    da = open_timeseries(path)
    assert da.name == "frames"
    assert da.dims == ("time", "dim_1", "dim_2")
    assert da.dtype == np.float32
    np.testing.assert_array_equal(da.values, values)
    np.testing.assert_array_equal(da["time"].values, times)
    assert da["time"].attrs["units"] == "ms"
    assert da.attrs == {"units": "K"}


def test_h5py_time_units_attribute_on_time_dataset(tmp_path):
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("signal", data=np.arange(4.0))
        handle.create_dataset("time", data=np.arange(4.0) * 2)
        handle["time"].attrs["time_units"] = "days"
    da = open_timeseries(path)
    assert da.dims == ("time",)
    assert da["time"].attrs["units"] == "days"


def test_h5py_with_dt_attribute_on_dataset(tmp_path):
    path = tmp_path / "plain.h5"
    values = np.arange(20, dtype=np.float64).reshape(5, 4)
    with h5py.File(path, "w") as handle:
        dset = handle.create_dataset("u", data=values)
        dset.attrs["dt"] = 0.25
        dset.attrs["t0"] = 10.0
        dset.attrs["time_units"] = "s"
        dset.attrs["dims"] = ["time", "station"]
        dset.attrs["long_name"] = "speed"
        handle.create_dataset("station", data=np.array([3, 5, 7, 9]))
    da = open_timeseries(path)
    assert da.dims == ("time", "station")
    np.testing.assert_array_equal(da.values, values)
    np.testing.assert_allclose(da["time"].values, 10.0 + 0.25 * np.arange(5))
    assert da["time"].attrs == {"units": "s"}
    np.testing.assert_array_equal(da["station"].values, [3, 5, 7, 9])
    assert da.attrs == {"long_name": "speed"}


def test_h5py_with_dt_attribute_on_file_and_group(tmp_path):
    path = tmp_path / "plain.h5"
    values = (np.arange(12.0) + 1j * np.arange(12.0)).reshape(3, 4)
    with h5py.File(path, "w") as handle:
        handle.attrs["dt"] = 0.5
        handle.attrs["time_units"] = "s"
        group = handle.create_group("run")
        group.create_dataset("z", data=values)
        group.create_dataset("note", data=np.arange(3.0))
        group["note"].attrs["dims"] = ["time"]
    da = open_timeseries(path, group="run", variable="z")
    assert da.dtype == np.complex128
    np.testing.assert_array_equal(da.values, values)
    np.testing.assert_allclose(da["time"].values, [0.0, 0.5, 1.0])
    assert da["time"].attrs["units"] == "s"
    with pytest.raises(KoopkitError) as excinfo:
        open_timeseries(path, group="run")
    assert_one_line_error(excinfo, "note, z", "variable=")
    with pytest.raises(KoopkitError) as excinfo:
        open_timeseries(path)  # the data are in a group
    assert_one_line_error(excinfo, "run", "group=")


def test_h5py_dims_attribute_without_time(tmp_path):
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as handle:
        dset = handle.create_dataset("v", data=np.zeros((3, 2, 2)))
        dset.attrs["dt"] = 1.0
        dset.attrs["dims"] = ["y", "x"]
    assert open_timeseries(path).dims == ("time", "y", "x")


def test_h5py_bad_dims_attribute(tmp_path):
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as handle:
        dset = handle.create_dataset("v", data=np.zeros((3, 2)))
        dset.attrs["dt"] = 1.0
        dset.attrs["dims"] = ["a", "b", "c"]
    with pytest.raises(KoopkitError) as excinfo:
        open_timeseries(path)
    assert_one_line_error(excinfo, "dims")


@pytest.mark.parametrize("dt", [0.0, -1.0, np.nan])
def test_h5py_bad_dt(tmp_path, dt):
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("v", data=np.zeros(3)).attrs["dt"] = dt
    with pytest.raises(KoopkitError) as excinfo:
        open_timeseries(path)
    assert_one_line_error(excinfo, "dt")


def test_h5py_without_time(tmp_path):
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("a", data=np.zeros((4, 2)))
        handle.create_dataset("b", data=np.zeros(4))
    with pytest.raises(KoopkitError) as excinfo:
        open_timeseries(path)
    assert_one_line_error(excinfo, "time", "a, b")
    with pytest.raises(KoopkitError) as excinfo:
        open_timeseries(path, variable="a")
    assert_one_line_error(excinfo, "'a'", "time", "dt")


def test_h5py_time_length_mismatch(tmp_path):
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("a", data=np.zeros((4, 2)))
        handle.create_dataset("time", data=np.arange(5.0))
    with pytest.raises(KoopkitError) as excinfo:
        open_timeseries(path, variable="a")
    assert_one_line_error(excinfo, "time")


# ------------------------------------------------------------------------------------------
# errors


def test_missing_file(tmp_path):
    path = tmp_path / "nope.nc"
    with pytest.raises(KoopkitError) as excinfo:
        open_timeseries(path)
    assert_one_line_error(excinfo, f"no such file: {path}")


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(KoopkitError) as excinfo:
        open_timeseries(tmp_path)
    assert_one_line_error(excinfo, "directory")


def test_garbage_file(tmp_path):
    path = tmp_path / "garbage.nc"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(KoopkitError) as excinfo:
        open_timeseries(path)
    assert_one_line_error(excinfo, f"cannot read {path} as netCDF4/HDF5 (", "netCDF4/HDF5 file?")


def test_truncated_file(tmp_path):
    path = tmp_path / "cut.nc"
    save_timeseries(make_array("float64", (50, 20)), path, compression=False)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(KoopkitError) as excinfo:
        open_timeseries(path)
    assert_one_line_error(excinfo, f"cannot read {path} as netCDF4/HDF5 (")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.nc"
    path.write_bytes(b"")
    with pytest.raises(KoopkitError) as excinfo:
        open_timeseries(path)
    assert_one_line_error(excinfo, "cannot read")


def test_unknown_variable(tmp_path):
    path = tmp_path / "a.nc"
    save_timeseries(xr.Dataset({"a": ("time", [1.0]), "b": ("time", [2.0])}), path)
    with pytest.raises(KoopkitError) as excinfo:
        open_timeseries(path, variable="c")
    assert_one_line_error(excinfo, "'c'", "a, b")


def test_ambiguous_variable(tmp_path):
    path = tmp_path / "a.nc"
    save_timeseries(xr.Dataset({"a": ("time", [1.0]), "b": ("time", [2.0])}), path)
    with pytest.raises(KoopkitError) as excinfo:
        open_timeseries(path)
    assert_one_line_error(excinfo, "file has variables a, b: pass variable=...")


def test_only_one_variable_has_time(tmp_path):
    path = tmp_path / "a.nc"
    save_timeseries(xr.Dataset({"a": ("time", [1.0, 2.0]), "b": ("x", [2.0])}), path)
    assert open_timeseries(path).name == "a"


def test_no_time_dimension(tmp_path):
    path = tmp_path / "a.nc"
    save_timeseries(xr.DataArray(np.zeros((3, 2)), dims=("t", "x"), name="v"), path)
    with pytest.raises(KoopkitError) as excinfo:
        open_timeseries(path)
    assert_one_line_error(excinfo, "time")
    with pytest.raises(KoopkitError) as excinfo:
        open_timeseries(path, variable="v")
    assert_one_line_error(excinfo, "'v'", "time")


def test_save_rejects_non_xarray(tmp_path):
    with pytest.raises(KoopkitError) as excinfo:
        save_timeseries(np.zeros(3), tmp_path / "a.nc")
    assert_one_line_error(excinfo, "DataArray")


def test_save_into_missing_directory(tmp_path):
    with pytest.raises(KoopkitError) as excinfo:
        save_timeseries(make_array("float64", ()), tmp_path / "missing" / "a.nc")
    assert_one_line_error(excinfo, "does not exist")


# ------------------------------------------------------------------------------------------
# atomic writes


@pytest.mark.parametrize("existing", [False, True])
def test_interrupted_save_leaves_nothing_behind(tmp_path, monkeypatch, existing):
    path = tmp_path / "out.nc"
    if existing:
        save_timeseries(make_array("float64", (3,), seed=1), path)
    before = path.read_bytes() if existing else None
    real_to_netcdf = xr.Dataset.to_netcdf

    def interrupted(self, target, *args, **kwargs):
        real_to_netcdf(self, target, *args, **kwargs)  # a complete file at the temp path ...
        with open(target, "r+b") as handle:  # ... then a partial overwrite, cut short
            handle.write(b"\0" * 64)
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.Dataset, "to_netcdf", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_timeseries(make_array("float64", (3,), seed=2), path)
    monkeypatch.undo()
    if existing:
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nc"]
        assert path.read_bytes() == before
        assert_exact(open_timeseries(path), make_array("float64", (3,), seed=1))
    else:
        assert list(tmp_path.iterdir()) == []


def test_atomic_path_success_any_file_type(tmp_path):
    path = tmp_path / "figure.png"
    with atomic_path(path) as tmp:
        assert tmp.parent == tmp_path
        assert tmp.name.startswith(".figure.png.") and tmp.name.endswith(".tmp")
        assert tmp.exists()
        assert not path.exists()
        tmp.write_bytes(b"\x89PNG fake")
    assert path.read_bytes() == b"\x89PNG fake"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figure.png"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_atomic_path_failure_keeps_old_file(tmp_path, error):
    path = tmp_path / "table.csv"
    path.write_text("old")
    with pytest.raises(error):
        with atomic_path(path) as tmp:
            tmp.write_text("partial new")
            raise error
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]


def test_atomic_path_writer_removed_temp(tmp_path):
    path = tmp_path / "x.txt"
    with pytest.raises(FileNotFoundError):
        with atomic_path(path) as tmp:
            tmp.unlink()
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_keeps_permissions_of_replaced_file(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("old")
    os.chmod(path, 0o640)
    with atomic_path(path) as tmp:
        tmp.write_text("new")
    assert path.read_text() == "new"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


def test_atomic_path_relative_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with atomic_path("rel.txt") as tmp:
        tmp.write_text("ok")
    assert (tmp_path / "rel.txt").read_text() == "ok"


def test_atomic_path_errors(tmp_path):
    with pytest.raises(KoopkitError) as excinfo:
        with atomic_path(tmp_path / "no" / "x.txt"):
            pass
    assert_one_line_error(excinfo, "does not exist")
    with pytest.raises(KoopkitError) as excinfo:
        with atomic_path(tmp_path):
            pass
    assert_one_line_error(excinfo, "directory")


def test_zarr_store_opens_lazily_and_fits_like_the_array(tmp_path):
    pytest.importorskip("zarr")
    da_mod = pytest.importorskip("dask.array")
    from koopkit import DMD

    t = np.arange(120) * 0.1
    x = np.stack([np.cos(2 * np.pi * t), np.sin(2 * np.pi * t), np.cos(2 * np.pi * 0.3 * t)], 1)
    data = xr.DataArray(
        x.astype(np.float32), dims=("time", "s"), coords={"time": t, "s": [1, 2, 3]}, name="x"
    )
    ds = data.to_dataset().chunk({"time": 25})
    ds["w"] = (data * (1 + 1j)).chunk({"time": 25})  # a complex variable
    store = tmp_path / "series.zarr"
    parts = {  # complex data split as save_timeseries splits them for netCDF
        f"w__{p}": getattr(ds["w"], p).assign_attrs(koopkit_split_complex=p)
        for p in ("real", "imag")
    }
    xr.Dataset({"x": ds["x"], **parts}).to_zarr(store, consolidated=False)
    back = open_timeseries(store, variable="x")
    assert isinstance(back.data, da_mod.Array)  # lazy, in the store's chunks
    np.testing.assert_array_equal(back.values, data.values)
    lazy = DMD(rank=None).fit(back).spectrum_.eigenvalues.values
    eager = DMD(rank=None).fit(data).spectrum_.eigenvalues.values
    np.testing.assert_allclose(np.sort_complex(lazy), np.sort_complex(eager), atol=1e-5)
    np.testing.assert_allclose(open_timeseries(store, variable="w").values, data.values * (1 + 1j))
    with pytest.raises(KoopkitError, match="pass variable="):
        open_timeseries(store)


def test_cli_fits_a_zarr_store(tmp_path):
    pytest.importorskip("zarr")
    from click.testing import CliRunner

    from koopkit.cli import main

    t = np.arange(100) * 0.05
    data = xr.DataArray(
        np.stack([np.cos(2 * np.pi * 2 * t), np.sin(2 * np.pi * 2 * t)], 1),
        dims=("time", "s"),
        coords={"time": ("time", t, {"units": "s"})},
        name="x",
    )
    data.to_dataset().to_zarr(tmp_path / "x.zarr", consolidated=False)
    result = CliRunner().invoke(main, ["fit", str(tmp_path / "x.zarr"), "--rank", "2"])
    assert result.exit_code == 0, result.output
    assert "leading frequencies [cycles per s]: 2" in result.output

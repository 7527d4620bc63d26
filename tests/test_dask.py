"""Out-of-core DMD: dask-backed data give the in-memory answer from one streaming pass."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TRUE_EIGENVALUES, make_linear, match

import koopkit
from koopkit import DMD, ExactDMD, KoopkitError
from koopkit.backends import _linalg as linalg_module

dask = pytest.importorskip("dask")

TRUE = TRUE_EIGENVALUES


@pytest.fixture(scope="module")
def data():
    return make_linear(TRUE, n_features=3000, n_snapshots=160, dt=0.05).astype(np.float32)


@pytest.fixture
def small_blocks(monkeypatch):
    # Force many feature blocks so the streaming sum is really exercised.
    monkeypatch.setattr(linalg_module, "DASK_BLOCK_BYTES", 160 * 4 * 256)


@pytest.mark.parametrize("cls", [DMD, ExactDMD])
@pytest.mark.parametrize("delays", [1, 3])
def test_lazy_fit_equals_in_memory_fit(data, cls, delays, small_blocks, tmp_path):
    path = tmp_path / "x.nc"
    koopkit.save_timeseries(data, path, chunks=16)  # stored in time chunks
    import xarray as xr

    with xr.open_dataset(path, engine="h5netcdf", chunks={"time": 32}) as ds:
        lazy = cls(rank=6, delays=delays).fit(ds["x"])
        assert lazy.solver_ == "gram"
        modes = lazy.spectrum_.modes
        assert type(modes.data).__module__.startswith("dask")  # not computed by the fit
        eager = cls(rank=6, delays=delays, solver="gram").fit(data)
        la, le = lazy.spectrum_.eigenvalues.values, eager.spectrum_.eigenvalues.values
        assert np.abs(la - le).max() / np.abs(le).max() < 1e-6
        assert match(la, TRUE).max() < 1e-5  # and both are the truth, to float32 accuracy
        np.testing.assert_allclose(
            np.abs(modes.values), np.abs(eager.spectrum_.modes.values), atol=1e-5
        )
        pred, ref = lazy.predict(steps=4), eager.predict(steps=4)
        np.testing.assert_allclose(pred.values, ref.values, atol=1e-5)
        hist = data.isel(time=slice(50, 50 + delays))
        np.testing.assert_allclose(
            lazy.predict(steps=2, initial=hist).values,
            eager.predict(steps=2, initial=hist).values,
            atol=1e-5,
        )
        # the spectrum with lazy modes streams into a file
        lazy.spectrum_.to_netcdf(tmp_path / "s.nc")
    back = koopkit.open_spectrum(tmp_path / "s.nc")
    np.testing.assert_allclose(back.modes.values, modes.values, atol=1e-6)


def test_local_cluster_with_two_workers(data, small_blocks):
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        lazy = ExactDMD(rank=6).fit(data.chunk({"time": 40, "feature": 500}))
    eager = ExactDMD(rank=6, solver="gram").fit(data)
    la, le = lazy.spectrum_.eigenvalues.values, eager.spectrum_.eigenvalues.values
    assert np.abs(la - le).max() / np.abs(le).max() < 1e-6


def test_lazy_errors(data):
    bad = data.copy()
    bad[17, 3] = np.nan
    with pytest.raises(KoopkitError, match="first in snapshot 17"):
        DMD(rank=6).fit(bad.chunk({"time": 50}))
    with pytest.raises(KoopkitError, match="solver='gram'"):
        DMD(rank=6, solver="svd").fit(data.chunk({"time": 50}))


def test_one_gigabyte_file_on_a_local_cluster(tmp_path):
    """The issue's 1 GB case: a netCDF file read by 2 worker processes equals the in-memory fit."""
    distributed = pytest.importorskip("distributed")
    import xarray as xr

    n_time, n_feat = 400, 2**30 // (4 * 400)  # 1 GiB of float32
    rng = np.random.default_rng(1)
    k = np.arange(n_time)
    lam = TRUE[:5]
    # lam = 1 and two conjugate pairs: one column each for 1, cos and sin of each pair
    cols = [np.ones(n_time)]
    for z in lam[[1, 3]]:
        cols += [np.abs(z) ** k * np.cos(np.angle(z) * k), np.abs(z) ** k * np.sin(np.angle(z) * k)]
    basis = np.stack(cols, axis=1).astype(np.float32)
    data = basis @ rng.standard_normal((5, n_feat), dtype=np.float32)
    arr = xr.DataArray(data, dims=("time", "feature"), coords={"time": k * 0.05}, name="x")
    path = tmp_path / "big.nc"
    koopkit.save_timeseries(arr, path, compression=False, chunks={"time": n_time, "feature": 2**17})
    eager = DMD(rank=5, solver="gram").fit(arr).spectrum_.eigenvalues.values
    del data, arr
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        with xr.open_dataset(path, engine="h5netcdf", chunks={"feature": 2**17}) as ds:
            lazy = DMD(rank=5).fit(ds["x"]).spectrum_.eigenvalues.values
    assert np.abs(lazy - eager).max() / np.abs(eager).max() < 1e-6
    assert match(lazy, lam).max() < 1e-5

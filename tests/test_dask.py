"""Out-of-core DMD: dask-backed data give the in-memory answer from one streaming pass."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TRUE_EIGENVALUES, make_linear, match

import koopkit
from koopkit import DMD, ExactDMD, KoopkitError
from koopkit.backends import dmd as dmd_module

dask = pytest.importorskip("dask")

TRUE = TRUE_EIGENVALUES


@pytest.fixture(scope="module")
def data():
    return make_linear(TRUE, n_features=3000, n_snapshots=160, dt=0.05).astype(np.float32)


@pytest.fixture
def small_blocks(monkeypatch):
    # Force many feature blocks so the streaming sum is really exercised.
    monkeypatch.setattr(dmd_module, "DASK_BLOCK_BYTES", 160 * 4 * 256)


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

"""Out-of-core DMD: dask-backed data in any chunk layout give the in-memory answer, holding
at most the memory limit (``koopkit.memory-limit``) of data."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TRUE_EIGENVALUES, make_linear, match

import koopkit
from koopkit import DMD, ExactDMD, KoopkitError
from koopkit.backends import _linalg as linalg_module
from koopkit.backends._linalg import outofcore as outofcore_module

dask = pytest.importorskip("dask")
pytest.importorskip("dask.array")

TRUE = TRUE_EIGENVALUES


@pytest.fixture(scope="module")
def data():
    return make_linear(TRUE, n_features=3000, n_snapshots=160, dt=0.05).astype(np.float32)


@pytest.fixture
def small_blocks(monkeypatch):
    # Force many feature blocks so the streaming sum is really exercised.
    monkeypatch.setattr(outofcore_module, "DASK_BLOCK_BYTES", 160 * 4 * 256)


LAYOUTS = {
    "one frame per chunk": {"time": 1},
    "frames per chunk": {"time": 7},
    "features per chunk": {"time": -1, "feature": 256},
    "tiles": {"time": 20, "feature": 1000},
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize(("cls", "delays"), [(DMD, 1), (ExactDMD, 3)])
def test_lazy_fit_equals_in_memory_fit(data, cls, delays, layout, tmp_path):
    path = tmp_path / "x.nc"
    koopkit.save_timeseries(data, path, chunks=16)  # stored in time chunks
    import xarray as xr

    limit = 160 * 4 * 600  # a fifth of the data: several panels or slabs
    with (
        xr.open_dataset(path, engine="h5netcdf", chunks=LAYOUTS[layout]) as ds,
        dask.config.set({"koopkit.memory-limit": limit}),
    ):
        flat = ds["x"].data
        plan = linalg_module.GramPlan(flat.chunks, 4, limit)
        assert plan.held <= limit <= data.values.nbytes / 5
        assert plan.mode == ("slabs" if layout == "features per chunk" else "panels")
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


@pytest.mark.parametrize(
    ("chunks", "mode"), [({"time": -1, "feature": 500}, "slabs"), ({"time": 10}, "panels")]
)
def test_local_cluster_with_two_workers(data, chunks, mode):
    distributed = pytest.importorskip("distributed")
    lazy_data = data.chunk(chunks)
    limit = 160 * 4 * 600
    assert linalg_module.GramPlan(lazy_data.data.chunks, 4, limit).mode == mode
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
        dask.config.set({"koopkit.memory-limit": limit}),
    ):
        lazy = ExactDMD(rank=6).fit(lazy_data)
        modes = lazy.spectrum_.modes.values  # the lift runs in a worker task
    eager = ExactDMD(rank=6, solver="gram").fit(data)
    la, le = lazy.spectrum_.eigenvalues.values, eager.spectrum_.eigenvalues.values
    assert np.abs(la - le).max() / np.abs(le).max() < 1e-6
    np.testing.assert_allclose(np.abs(modes), np.abs(eager.spectrum_.modes.values), atol=1e-5)


def test_lazy_errors(data):
    bad = data.copy()
    bad[17, 3] = np.nan
    with pytest.raises(KoopkitError, match="first in snapshot 17"):
        DMD(rank=6).fit(bad.chunk({"time": 50}))
    with pytest.raises(KoopkitError, match="solver='gram'"):
        DMD(rank=6, solver="svd").fit(data.chunk({"time": 50}))


@pytest.mark.slow
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


# ---------------------------------------------------------------- memory limit and passes
@pytest.mark.parametrize(
    ("chunks", "limit"),
    [
        (((1,) * 400, (750_000,)), 256 * 2**20),  # one 3 MB frame per chunk
        (((50,) * 8, (750_000,)), 300 * 2**20),  # 50 frames (143 MiB) per chunk
        (((400,), (2**15,) * 23), 200 * 2**20),  # feature slabs of every snapshot
        (((40,) * 10, (10_000,) * 75), 10 * 2**20),  # tiles
        (((3, 1, 7) * 30, (5000,)), 2**20),  # irregular frame chunks
    ],
)
def test_plan_holds_at_most_the_limit_and_counts_passes(chunks, limit):
    plan = linalg_module.GramPlan(chunks, 4, limit)
    t_chunks, f_chunks = chunks
    n_time, n_feat = sum(t_chunks), sum(f_chunks)
    assert plan.held <= limit
    # the groups tile the features and the panels the snapshots, along chunk edges
    edges = set(np.cumsum((0, *f_chunks)).tolist())
    assert [g[0] for g in plan.groups] == [0] + [g[1] for g in plan.groups[:-1]]
    assert plan.groups[-1][1] == n_feat and {x for g in plan.groups for x in g} <= edges
    t_edges = set(np.cumsum((0, *t_chunks)).tolist())
    assert plan.panels[0][0] == 0 and plan.panels[-1][1] == n_time
    assert {x for p in plan.panels for x in p} <= t_edges
    # bytes of each block, counted from the chunks: one chunk, or a buffer plus the
    # chunks being read into it
    chunk = max(t_chunks) * max(f_chunks) * 4
    flight = plan.workers * chunk

    def block(rows, cols):
        n = sum(1 for e in t_edges if rows[0] <= e < rows[1])
        n *= sum(1 for e in edges if cols[0] <= e < cols[1])
        size = (rows[1] - rows[0]) * (cols[1] - cols[0]) * 4
        return size if n == 1 else size + flight

    reads = 0
    for g in plan.groups:
        for p0, p1 in plan.panels:
            batches = plan.batches_after(p1)
            # the batches after a panel cover exactly the snapshots after it
            assert sum(b1 - b0 for b0, b1 in batches) == n_time - p1
            biggest = max((block(b, g) for b in batches), default=0)
            assert block((p0, p1), g) + biggest <= limit
            reads += (n_time - p0) * (g[1] - g[0])
    assert plan.passes == pytest.approx(reads / (n_time * n_feat))
    if plan.mode == "slabs":
        assert plan.passes == 1.0
    else:  # about (panels + 1) / 2 reads of the data
        assert plan.passes <= (len(plan.panels) + 1) / 2 + 1e-9


def test_memory_limit_from_dask_config():
    chunks = ((400,), (2**12,) * 64)  # 6.25 MiB per chunk
    with dask.config.set({"koopkit.memory-limit": "20MiB"}):
        assert linalg_module.memory_limit() == 20 * 2**20
        plan = linalg_module.GramPlan(chunks, 4, linalg_module.memory_limit())
    # a slab of every snapshot: as many whole chunks as 20 MiB holds (one at a time read)
    widths = {g1 - g0 for g0, g1 in plan.groups}
    assert plan.mode == "slabs" and max(widths) * 400 * 4 + plan.workers * 400 * 2**12 * 4 <= (
        20 * 2**20
    )
    assert linalg_module.GramPlan(chunks, 4, 200 * 2**20).groups != plan.groups
    with (
        dask.config.set({"koopkit.memory-limit": "a lot"}),
        pytest.raises(KoopkitError, match="not a positive size"),
    ):
        linalg_module.memory_limit()
    # two chunks are needed at once: a limit under that is refused with the way out
    with pytest.raises(KoopkitError, match="smaller chunks"):
        linalg_module.GramPlan(((50,) * 8, (750_000,)), 4, 200 * 2**20)
    # unset, the limit is raised to what panels need (two chunks), no more
    plan = linalg_module.GramPlan(((50,) * 8, (750_000,)), 4, None)
    assert plan.held == plan.limit == 2 * 50 * 750_000 * 4


@pytest.mark.parametrize("layout", ["one frame per chunk", "frames per chunk", "tiles"])
def test_gram_and_modes_hold_at_most_the_limit(layout):
    """Traced allocations (numpy reports to tracemalloc) while the Gram matrix and the
    modes are computed stay within the limit plus a few T x T matrices and the modes."""
    import tracemalloc

    n_time, n_feat = 160, 20_000  # 12.8 MB of float32
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n_time, n_feat), dtype=np.float32)
    lazy = dask.array.from_array(x, chunks=tuple(LAYOUTS[layout].values())[:1] + (-1,))
    if layout == "tiles":
        lazy = lazy.rechunk((40, 5000))
    limit = 4 * 2**20
    small = 10 * n_time * n_time * 8  # the Gram matrix and its temporaries
    coeffs = rng.standard_normal((n_time, 4)) + 1j * rng.standard_normal((n_time, 4))
    with dask.config.set({"koopkit.memory-limit": limit}):
        modes = linalg_module.dask_lift(lazy, coeffs)
        linalg_module.dask_gram(lazy[:4, :10])  # first use imports modules: not data
        modes[:, :10].compute()
        tracemalloc.start()
        g = linalg_module.dask_gram(lazy)
        gram_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        out = modes.compute()
        lift_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        whole = lazy.compute()  # the probe sees a whole read (so it can fail)
        whole_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert whole_peak >= x.nbytes > 3 * limit
    assert gram_peak <= limit + small
    assert lift_peak <= limit + 3 * out.nbytes
    np.testing.assert_allclose(g, x.astype(float) @ x.T.astype(float), rtol=1e-5, atol=1e-2)
    ref = coeffs.T @ x.astype(float)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-3 * np.abs(ref).max())
    del whole


@pytest.mark.parametrize("chunks", [(1, -1), (7, -1), (-1, 100), (20, 300)])
def test_complex_data_in_any_layout(chunks):
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((60, 900)) + 1j * rng.standard_normal((60, 900))).astype(np.complex64)
    lazy = dask.array.from_array(x, chunks=chunks)
    plan = linalg_module.GramPlan(lazy.chunks, 8, 60 * 900 * 8 // 4)
    ref = x.astype(complex).conj() @ x.T.astype(complex)
    g = linalg_module.dask_gram(lazy, plan)
    np.testing.assert_allclose(g, ref, rtol=1e-5, atol=1e-3)
    c = rng.standard_normal((60, 3)) + 1j * rng.standard_normal((60, 3))
    with dask.config.set({"koopkit.memory-limit": 60 * 900 * 8 // 4}):
        lift = linalg_module.dask_lift(lazy, c).compute()
    np.testing.assert_allclose(lift, c.T @ x.astype(complex), rtol=1e-4, atol=1e-3)

"""Weighted inner products: non-uniform grids give the fit of the uniform grid they sample."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from koopkit import DMD, ExactDMD, KoopkitError
from koopkit.backends import PyDMDBackend

LAM = np.array([0.99 * np.exp(0.3j), 0.97 * np.exp(0.9j), 0.995 * np.exp(1.7j)])


def field(x: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Three travelling structures with eigenvalues LAM on the points x of [0, 1]."""
    shapes = [np.sin((k + 1) * np.pi * x) + 1j * np.cos((k + 2) * np.pi * x) for k in range(3)]
    return sum(np.outer(lam**steps, s) for lam, s in zip(LAM, shapes, strict=True)).real


@pytest.fixture(scope="module")
def grids():
    """A uniform grid of 40 cells (with noise), and a stretched copy: cells 5..14 split in
    two halves that repeat the values, so the cell-width-weighted inner product is equal."""
    n, t = 40, 150
    x = (np.arange(n) + 0.5) / n
    u = field(x, np.arange(t)) + 0.05 * np.random.default_rng(0).standard_normal((t, n))
    idx = np.concatenate([np.arange(5), np.repeat(np.arange(5, 15), 2), np.arange(15, n)])
    width = np.concatenate([np.full(5, 1 / n), np.full(20, 0.5 / n), np.full(n - 15, 1 / n)])
    xs = np.cumsum(width) - width / 2
    time = {"time": np.arange(t) * 0.1}
    uniform = xr.DataArray(u, dims=("time", "x"), coords={**time, "x": x})
    stretched = xr.DataArray(u[:, idx], dims=("time", "x"), coords={**time, "x": xs})
    return uniform, stretched, xr.DataArray(width, dims="x", coords={"x": xs}), idx


@pytest.mark.parametrize("cls", [DMD, ExactDMD])
@pytest.mark.parametrize("solver", ["svd", "gram"])
def test_cell_width_weights_reproduce_the_uniform_grid(grids, cls, solver):
    uniform, stretched, width, idx = grids
    cell = np.full(uniform.sizes["x"], 1 / uniform.sizes["x"])  # the uniform cell width
    ref = cls(rank=6, solver=solver).fit(uniform, weights=cell).spectrum_
    got = cls(rank=6, solver=solver).fit(stretched, weights=width)
    spec = got.spectrum_
    np.testing.assert_allclose(spec.eigenvalues.values, ref.eigenvalues.values, atol=1e-10)
    np.testing.assert_allclose(spec.amplitudes.values, ref.amplitudes.values, rtol=1e-8)
    # modes in the data's units: the uniform grid's modes, sampled on the stretched grid
    np.testing.assert_allclose(spec.modes.values, ref.modes.values[:, idx], atol=1e-10)
    w = width.values
    norms = np.sqrt((np.abs(spec.modes.values) ** 2 * w).sum(axis=1))
    np.testing.assert_allclose(norms, 1.0, rtol=1e-10)  # unit weighted norm
    # without weights the duplicated cells count twice: another (wrong) answer
    plain = cls(rank=6, solver=solver).fit(stretched).spectrum_
    assert np.abs(plain.eigenvalues.values - ref.eigenvalues.values).max() > 1e-6
    # a constant factor in the weights changes nothing but the modes' normalisation
    same = cls(rank=6, solver=solver).fit(uniform).spectrum_
    np.testing.assert_allclose(same.eigenvalues.values, ref.eigenvalues.values, atol=1e-12)
    # forecasts from any state use the weighted projection too
    start = stretched.isel(time=slice(100, 101))
    np.testing.assert_allclose(
        got.predict(steps=5, initial=start).values,
        cls(rank=6, solver=solver)
        .fit(uniform, weights=cell)
        .predict(steps=5, initial=uniform.isel(time=slice(100, 101)))
        .values[:, idx],
        atol=1e-9,
    )


def test_cos_latitude_weights_recover_a_lat_lon_fields_eigenvalues():
    lat = np.linspace(-80, 80, 17)
    lon = np.arange(0, 360, 20.0)
    t = np.arange(120)
    la, lo = np.meshgrid(np.deg2rad(lat), np.deg2rad(lon), indexing="ij")
    patterns = [np.cos(la) * np.exp(1j * lo), np.sin(2 * la) * np.exp(2j * lo), np.cos(3 * la)]
    lam = np.array([0.99 * np.exp(0.2j), 0.98 * np.exp(0.5j), 0.96])
    data = sum(np.multiply.outer(z**t, p) for z, p in zip(lam, patterns, strict=True)).real
    da = xr.DataArray(
        data, dims=("time", "lat", "lon"), coords={"time": t * 1.0, "lat": lat, "lon": lon}
    )
    weights = np.cos(np.deg2rad(da.lat))  # over lat only: broadcast along lon
    spec = DMD(rank=5).fit(da, weights=weights).spectrum_
    truth = np.array([lam[0], lam[0].conj(), lam[1], lam[1].conj(), lam[2]])
    np.testing.assert_allclose(
        np.sort_complex(spec.eigenvalues.values), np.sort_complex(truth), atol=1e-10
    )
    assert spec.modes.dims == ("mode", "lat", "lon")
    assert spec.residuals.max() < 1e-8


def test_pydmd_adapter_takes_weights(grids):
    pydmd = pytest.importorskip("pydmd")
    uniform, stretched, width, idx = grids
    ref = PyDMDBackend(pydmd.DMD(svd_rank=6)).fit(uniform).spectrum_
    got = PyDMDBackend(pydmd.DMD(svd_rank=6)).fit(stretched, weights=width).spectrum_
    np.testing.assert_allclose(
        np.sort_complex(got.eigenvalues.values), np.sort_complex(ref.eigenvalues.values), atol=1e-10
    )


@pytest.mark.parametrize(
    "weights, message",
    [
        (xr.DataArray(np.ones(3), dims="y"), "space dims"),
        (np.ones(7), "do not match frames"),
        (-np.ones(40), "positive and finite"),
        (xr.DataArray(np.ones(40), dims="x", coords={"x": np.arange(40.0)}), "coordinates"),
    ],
)
def test_bad_weights_give_one_line_errors(grids, weights, message):
    uniform = grids[0]
    with pytest.raises(KoopkitError, match=message) as err:
        DMD(rank=6).fit(uniform, weights=weights)
    assert "\n" not in str(err.value)


def test_edmd_weights_make_rbf_distances_those_of_the_uniform_grid(grids):
    from koopkit import EDMD
    from koopkit.observables import RBF

    uniform, stretched, width, idx = grids
    cell = np.full(uniform.sizes["x"], 1 / uniform.sizes["x"])
    ref = EDMD(RBF(30, seed=2), rank=12).fit(uniform, weights=cell)
    got = EDMD(RBF(30, seed=2), rank=12).fit(stretched, weights=width)
    np.testing.assert_allclose(
        got.spectrum_.eigenvalues.values, ref.spectrum_.eigenvalues.values, atol=1e-10
    )
    np.testing.assert_allclose(
        got.spectrum_.modes.values, ref.spectrum_.modes.values[:, idx], atol=1e-9
    )
    np.testing.assert_allclose(
        got.predict(steps=4).values, ref.predict(steps=4).values[:, idx], atol=1e-9
    )

"""The code on docs/observables.md runs as printed, and its results are true.

Every ```python block of the page is run in order in one namespace (as a reader would in
one session); the tests then check what the page claims against analytic values. The
example backend of docs/writing-a-backend.md (examples/custom_backend.py) is checked on a
linear system with known eigenvalues.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import koopkit

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "observables.md"


def python_blocks(path: Path) -> list[str]:
    """The fenced ```python blocks of a Markdown page, in order."""
    return re.findall(r"^```python\n(.*?)^```", path.read_text(), flags=re.S | re.M)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The page's namespace after running all its python blocks (in a scratch directory)."""
    namespace: dict = {"__name__": "docs_observables"}
    cwd = Path.cwd()
    blocks = python_blocks(PAGE)
    assert len(blocks) >= 8
    import os

    os.chdir(tmp_path_factory.mktemp("observables_page"))
    try:
        for i, block in enumerate(blocks):
            exec(compile(block, f"{PAGE.name}[block {i}]", "exec"), namespace)
    finally:
        os.chdir(cwd)
    return namespace


def test_williams_linear_map(page):
    # 15 eigenvalues 0.9^i 0.8^j and eigenfunctions ((x - y)/sqrt 2)^i y^j
    assert page["toy_error"] < 1e-10
    assert page["toy_function_error"] < 1e-6
    assert page["kernel_error"] < 1e-10
    assert page["kernel"].form_ == "kernel"


def test_nonlinear_system_exact_in_polynomial_2(page):
    model = koopkit.EDMD(page["Polynomial"](2)).fit(page["trajectories"], dt=page["dt"])
    spec = model.spectrum_
    lam, res = spec.eigenvalues.values, spec.residuals.values
    exact = page["exact"]
    nearest = [int(np.argmin(np.abs(lam - e))) for e in exact]
    assert max(abs(lam[i] - e) for i, e in zip(nearest, exact, strict=True)) < 1e-10
    assert res[nearest].max() < 1e-6
    others = np.setdiff1d(np.arange(len(lam)), nearest)
    assert len(others) == 2 and res[others].min() > 1e-3


def test_custom_observable_gives_the_invariant_eigenvalues(page):
    lam, res = page["squares_lam"], page["squares_res"]
    mu, lam_, dt = page["mu"], page["lam_"], page["dt"]
    exact = np.exp(np.array([mu, 2 * mu, lam_]) * dt)  # {x1, x2, x1^2} is invariant
    assert np.abs(np.sort(lam[:3].real) - np.sort(exact)).max() < 1e-10
    assert res[:3].max() < 1e-6
    assert len(lam) == 4 and res[3] > 1e-3  # the x2^2 direction does not close
    # the class is the page's; it clones and reports its (no) parameters like the others
    sq = page["Squares"]()
    assert repr(sq.clone()) == "Squares()"
    x = np.array([[2.0, 3.0]])
    np.testing.assert_array_equal(sq.fit(x).transform(x), [[2.0, 3.0, 4.0, 9.0]])


def test_held_out_residuals(page):
    assert not page["blind"].spectrum_.has_residuals
    assert [w.category for w in page["caught"]] == [page["ResidualWarning"]]
    lam, res = page["held_lam"], page["held_res"]
    # the four smallest held-out residuals are the invariant subspace's eigenvalues
    assert np.abs(np.sort(lam[:4].real) - np.sort(page["exact"])).max() < 1e-5
    assert res[:4].max() < 1e-4 and res[4] > 1e-3
    assert page["model"].spectrum_.params["residual_pairs"] == 200


def test_dmd_spurious_eigenvalues_named_by_residuals(page):
    res, is_true = page["res"], page["is_true"]
    assert is_true.sum() == 7
    assert res[is_true].max() <= 0.05
    assert res[~is_true].min() >= 0.5
    dmd = page["dmd"]
    lam = dmd.spectrum_.eigenvalues.values
    # independent NumPy computation: POD coordinates of X, left eigenvectors of the
    # reduced operator, then ||g(y_k) - lam g(x_k)|| / ||g(x_k)|| over the pairs
    x = page["noisy"].values
    u, s_, vh = np.linalg.svd(x[:-1].T, full_matrices=False)
    u, s_, v = u[:, :20], s_[:20], vh[:20].T
    mu_, w = np.linalg.eig(u.T @ x[1:].T @ v / s_)
    left = np.linalg.inv(w).T  # columns: left eigenvectors
    gx, gy = x[:-1] @ u @ left, x[1:] @ u @ left
    ours = np.linalg.norm(gy - gx * mu_, axis=0) / np.linalg.norm(gx, axis=0)
    for value, r in zip(mu_, ours, strict=True):
        j = np.argmin(np.abs(lam - value))
        assert abs(lam[j] - value) < 1e-8
        assert abs(dmd.spectrum_.residuals.values[j] - r) < 1e-6 * max(r, 1e-3)
    assert np.all(page["at_true"] <= 0.05) and page["at_spurious"].min() >= 0.5
    assert page["tau"].dims == ("imag", "real")
    # tau(lam_j) <= res_j: the minimum over the span includes g_j itself
    tau_at = koopkit.pseudospectrum(dmd, lam).values
    assert np.all(tau_at <= dmd.spectrum_.residuals.values * (1 + 1e-8) + 1e-12)
    assert dmd.residual_matrices_.n_pairs == 399


def test_residual_rank_changes_the_pseudospectrum_not_the_residuals(page):
    data = page["noisy"]
    small = koopkit.DMD(rank=20).fit(data)
    large = koopkit.DMD(rank=20, residual_rank=40).fit(data)
    assert large.residual_matrices_.n_functions == 40
    np.testing.assert_allclose(
        large.spectrum_.residuals.values, small.spectrum_.residuals.values, rtol=1e-6
    )
    z = page["true7"]
    assert np.all(
        koopkit.pseudospectrum(large, z).values <= koopkit.pseudospectrum(small, z).values + 1e-12
    )


def test_many_trajectories(page):
    assert max(page["cut_error"].values()) < 1e-8
    assert page["cut"].sizes["trajectory"] == 50


def test_when_edmd_beats_delays(page):
    rows = page["rows"]
    assert rows["20 x 30", "EDMD Polynomial(2)"] < 1e-10
    assert rows["500 x 2", "EDMD Polynomial(2)"] < 1e-10
    assert rows["20 x 30", "DMD delays=1"] > 1e-3
    assert rows["500 x 2", "DMD delays=1"] > 1e-3
    assert rows["20 x 30", "DMD delays=2"] < 1e-10  # long trajectories: delays are exact too
    assert rows["500 x 2", "DMD delays=2"] is None  # 2 snapshots: no delays possible
    assert page["forecast_error"]["EDMD"] < 1e-10
    assert page["forecast_error"]["DMD"] > 1e-2
    assert page["partial_error"]["DMD delays=2"] < 1e-10
    delayed = koopkit.DMD(rank=None, delays=2).fit(page["trajectories"], dt=page["dt"])
    with pytest.raises(koopkit.KoopkitError, match="last 2 frames"):
        delayed.predict(steps=5, initial=page["start"])
    assert page["partial_error"]["EDMD Polynomial(2)"] > 1e-2


def test_forecast_truth_is_the_analytic_solution(page):
    # the page's flow() is the closed-form solution: check it against a fine RK4
    # integration of the ODE, so the numbers above compare with the truth
    mu, lam_, dt = page["mu"], page["lam_"], page["dt"]

    def rhs(x):
        return np.array([mu * x[0], lam_ * (x[1] - x[0] ** 2)])

    x = np.array([0.8, -0.5])
    h = dt / 100
    for _ in range(100 * 10):
        k1 = rhs(x)
        k2 = rhs(x + h / 2 * k1)
        k3 = rhs(x + h / 2 * k2)
        k4 = rhs(x + h * k3)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    np.testing.assert_allclose(page["truth"][10], x, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------- example backend
def _load_example_backend():
    path = ROOT / "examples" / "custom_backend.py"
    spec = importlib.util.spec_from_file_location("koopkit_example_custom_backend", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_example_backend_registers_and_recovers_eigenvalues():
    from koopkit.datasets import linear_system

    module = _load_example_backend()
    assert "hankel_dmd" in koopkit.backends.available()
    assert koopkit.backends.get_class("hankel_dmd") is module.HankelDMD
    true = np.exp(np.array([-0.01 + 0.3j, -0.02 + 0.7j, -0.005 + 1.3j]))
    true = np.concatenate([true, true.conj()])
    full = linear_system(true, n_features=8, n_snapshots=130, dt=0.5)
    data = full.isel(time=slice(0, 100))
    for delays in (1, 2, 3):
        model = koopkit.backends.get("hankel_dmd", delays=delays).fit(data)
        lam = model.spectrum_.eigenvalues.values
        assert model.rank_ == 6 and model.n_features_in_ == 8
        assert max(np.abs(lam - t).min() for t in true) < 1e-10
        np.testing.assert_allclose(model.reconstruct().values, data.values, atol=1e-10)
        forecast = model.predict(steps=30)
        np.testing.assert_allclose(forecast["time"].values, full["time"].values[100:])
        np.testing.assert_allclose(forecast.values, full.values[100:], atol=1e-10)
        assert forecast.dims == data.dims
    params = model.get_params()
    assert params == {"delays": 3, "tol": 1e-10}
    assert model.set_params(**params).get_params() == params
    with pytest.raises(koopkit.KoopkitError):
        koopkit.backends.get("hankel_dmd", delays=0).fit(data)
    with pytest.raises(koopkit.KoopkitError):
        koopkit.backends.get("hankel_dmd").fit(np.full((20, 3), np.nan), dt=1.0)

"""The backend contract (koopkit/backends/base.py), run over every registered backend.

A backend registered later (and the docs' example backend, examples/custom_backend.py)
is picked up here with its default parameters; only backends that need an argument to
be useful (the PyDMD adapter) or a training budget (the autoencoder) get settings.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import make_linear, match

import koopkit
from koopkit import KoopkitError, KoopmanSpectrum, backends

#: Three lightly damped oscillations (6 eigenvalues) seen by 8 sensors
LAM = np.array([0.995 * np.exp(0.25j), 0.99 * np.exp(0.7j), 0.98 * np.exp(1.3j)])
LAM = np.concatenate([LAM, LAM.conj()])
DT = 0.1

_EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "custom_backend.py"
if _EXAMPLE.exists():  # importing the docs' example registers its backend
    _spec = importlib.util.spec_from_file_location("koopkit_example_backend", _EXAMPLE)
    _spec.loader.exec_module(importlib.util.module_from_spec(_spec))


def _settings(name: str) -> tuple[dict, float]:
    """Constructor arguments and eigenvalue tolerance for a backend (default: defaults)."""
    if name == "pydmd":
        import pydmd

        return {"estimator": pydmd.DMD(svd_rank=6)}, 1e-8
    if name == "autoencoder":
        pytest.importorskip("torch")
        budget = dict(epochs=10, warmup_epochs=2, ramp_epochs=2, steps_per_epoch=50)
        return (
            dict(
                latent_pairs=3,
                horizon=10,
                lr=3e-2,
                hidden=(),
                seed=3,
                progress=False,
                batch_size=16,
                **budget,
            ),
            2e-3,
        )
    return {}, 1e-8


@pytest.fixture(scope="module")
def system() -> xr.DataArray:
    return make_linear(LAM, n_features=8, n_snapshots=120, dt=DT)


@pytest.fixture(scope="module", params=backends.available())
def fitted(request, system):
    name = request.param
    params, tol = _settings(name)
    est = backends.get(name, **params)
    # __init__ only stores: no fitted attribute yet, and the parameters round-trip
    assert not [k for k in vars(est) if k.endswith("_") and not k.startswith("_")]
    assert type(est)(**est.get_params()).get_params().keys() == est.get_params().keys()
    with pytest.raises(KoopkitError, match="not fitted"):
        est.predict(steps=2)
    out = est.fit(system.isel(time=slice(0, 100)))
    assert out is est
    return name, est, tol


def test_fit_sets_the_documented_attributes(fitted):
    name, est, _ = fitted
    assert isinstance(est.spectrum_, KoopmanSpectrum)
    assert est.n_features_in_ == 8
    assert est.spectrum_.backend.split(":")[0] == name
    if hasattr(est, "rank_"):
        assert est.rank_ == len(est.spectrum_)


def test_spectrum_truth(fitted):
    name, est, tol = fitted
    found = est.spectrum_.eigenvalues.values
    assert match(found, LAM).max() < tol, name
    modes = est.spectrum_.modes
    assert modes.dims == ("mode", "feature") and modes.sizes["feature"] == 8


def test_predict_shape_time_and_values(fitted, system):
    name, est, tol = fitted
    future = est.predict(steps=10)
    assert future.dims == system.dims
    np.testing.assert_allclose(future.time.values, system.time.values[100:110], rtol=1e-12)
    truth = system.values[100:110]
    err = np.linalg.norm(future.values - truth) / np.linalg.norm(truth)
    assert err < (1e-6 if tol < 1e-6 else 0.05), name
    assert est.reconstruct().sizes["time"] == 100


def test_params_round_trip(fitted):
    name, est, _ = fitted
    params = est.get_params()
    twin = type(est)(**params)
    assert twin.get_params() == params
    assert est.set_params(**params) is est and est.get_params() == params
    assert isinstance(repr(est), str)
    with pytest.raises(KoopkitError):
        type(est)(**params).set_params(no_such_parameter=1).fit(np.ones((10, 8)), dt=0.1)


@pytest.mark.parametrize(
    "bad, message",
    [
        (lambda x: x.where(x.time != x.time[7]), "NaN"),
        (lambda x: x.rename(time="t"), "no 'time' dimension"),
        (lambda x: x.isel(time=slice(0, 1)), "snapshot"),
    ],
)
def test_bad_input_gives_a_one_line_error(fitted, system, bad, message):
    name, est, _ = fitted
    with pytest.raises(KoopkitError, match=message) as err:
        type(est)(**est.get_params()).fit(bad(system.isel(time=slice(0, 40))))
    assert "\n" not in str(err.value)


def test_save_and_load_round_trip(fitted, system, tmp_path):
    """Every backend saves (model.save) and loads (koopkit.load_model) to the same forecasts."""
    name, est, _ = fitted
    est.save(tmp_path / "model.nc")
    loaded = koopkit.load_model(tmp_path / "model.nc")
    assert type(loaded) is type(est)
    history = system.isel(time=slice(100, 110))
    for kwargs in (dict(steps=10), dict(times=[10.05, 10.5]), dict(steps=3, initial=history)):
        want, got = est.predict(**kwargs), loaded.predict(**kwargs)
        np.testing.assert_array_equal(got.values, want.values, err_msg=name)
        xr.testing.assert_identical(got, want)
    xr.testing.assert_identical(loaded.reconstruct(), est.reconstruct())
    xr.testing.assert_identical(loaded.spectrum_.to_dataset(), est.spectrum_.to_dataset())
    if hasattr(est, "residual_matrices_"):
        lam = est.spectrum_.eigenvalues.values
        np.testing.assert_array_equal(
            koopkit.pseudospectrum(loaded, lam).values, koopkit.pseudospectrum(est, lam).values
        )


def test_every_backend_is_reachable_by_name():
    for name in backends.available():
        assert backends.get_class(name).name == name
    assert backends.get_class("edmd") is koopkit.EDMD

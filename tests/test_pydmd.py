"""koopkit DMD against PyDMD and the truth, and the PyDMD adapter against both.

Every expected value is either written down analytically (the eigenvalues of a system
built from a formula) or produced by PyDMD itself; nothing here is checked against
koopkit's own output alone.
"""

from __future__ import annotations

import warnings

import numpy as np
import pydmd
import pytest
import xarray as xr
from conftest import make_linear, match

import koopkit
from koopkit import DMD, ExactDMD, KoopkitError
from koopkit.backends.pydmd import PyDMDBackend

SOLVERS = ["svd", "gram", "randomized"]
#: Relative eigenvalue / mode tolerances per koopkit solver against PyDMD.
EIG_TOL = {"svd": 1e-8, "gram": 1e-8, "randomized": 1e-6}
MODE_TOL = {"svd": 1e-8, "gram": 1e-8, "randomized": 1e-6}


@pytest.fixture(autouse=True)
def _quiet_pydmd():
    # PyDMD warns about the condition number of every exactly low-rank data set.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Input data condition number")
        warnings.filterwarnings("ignore", message=".*scalar function", module="pydmd")
        warnings.filterwarnings("ignore", message="Casting complex", module="pydmd")
        yield


# -------------------------------------------------------------------- data sets
def pydmd_sample() -> xr.DataArray:
    """PyDMD's analytic example: two complex travelling structures at 2.3 and 2.8 rad/s."""
    x = np.linspace(-10, 10, 400)
    t = np.linspace(0, 4 * np.pi, 15)
    tt, xx = np.meshgrid(t, x, indexing="ij")
    f1 = 1 / np.cosh(xx + 3) * np.exp(2.3j * tt)
    f2 = 2 / np.cosh(xx) * np.tanh(xx) * np.exp(2.8j * tt)
    return xr.DataArray(
        f1 + f2, dims=("time", "x"), coords={"time": ("time", t, {"units": "s"}), "x": x}
    )


#: exp(i omega dt) with dt = 4 pi / 14, the sample's time step.
SAMPLE_TRUTH = np.exp(1j * np.array([2.3, 2.8]) * 4 * np.pi / 14)


def noisy_linear() -> xr.DataArray:
    lam = np.array([1.0, 0.99 * np.exp(0.25j), 0.99 * np.exp(-0.25j), np.exp(0.9j), np.exp(-0.9j)])
    clean = make_linear(lam, n_features=150, n_snapshots=90, dt=0.2, seed=4)
    noise = np.random.default_rng(5).standard_normal(clean.shape)
    return clean + 1e-3 * noise


def travelling_wave() -> xr.DataArray:
    """Two plane waves on a (time, y, x) grid: rank 4, eigenvalues exp(+-0.3i), exp(+-0.7i)."""
    t = np.arange(60) * 0.1
    y = np.linspace(-1, 1, 20)
    x = np.linspace(0, 2 * np.pi, 32)
    tt, yy, xx = np.meshgrid(t, y, x, indexing="ij")
    u = np.cos(2 * xx - 3 * tt) * np.exp(-(yy**2)) + 0.5 * np.sin(3 * xx + 7 * tt) * yy
    return xr.DataArray(u, dims=("time", "y", "x"), coords={"time": t, "y": y, "x": x})


DATASETS = {
    "pydmd_sample": (pydmd_sample, 2),
    "noisy_linear": (noisy_linear, 5),
    "travelling_wave": (travelling_wave, 4),
}


# ---------------------------------------------------------------------- helpers
def paired(found: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """For each reference eigenvalue, the index of the nearest found one (a bijection)."""
    idx = np.abs(reference[:, None] - found[None, :]).argmin(axis=1)
    assert len(set(idx.tolist())) == len(reference), "eigenvalues do not pair up one-to-one"
    return idx


def alignment(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``|<a_k, b_k>| / (|a_k| |b_k|)`` row by row: 1 when equal up to a complex scale."""
    a = a.reshape(len(a), -1)
    b = b.reshape(len(b), -1)
    inner = np.abs(np.sum(a.conj() * b, axis=1))
    return inner / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def pydmd_reference(data: xr.DataArray, rank: int, exact: bool) -> pydmd.DMD:
    """PyDMD fitted on the same snapshots, columns = snapshots."""
    matrix = data.values.reshape(data.sizes["time"], -1)
    return pydmd.DMD(svd_rank=rank, exact=exact).fit(matrix.T)


# ------------------------------------------------------------ (a) analytic truth
@pytest.mark.parametrize("cls", [DMD, ExactDMD])
def test_pydmd_sample_has_its_analytic_spectrum(cls):
    data = pydmd_sample()
    spec = cls(rank=2).fit(data).spectrum_
    assert match(spec.eigenvalues.values, SAMPLE_TRUTH).max() < 1e-8
    np.testing.assert_allclose(
        np.sort(spec.frequencies.values), [2.3 / (2 * np.pi), 2.8 / (2 * np.pi)], rtol=1e-8
    )
    np.testing.assert_allclose(spec.growth_rates.values, 0, atol=1e-8)
    assert spec.frequencies.attrs["units"] == "cycles per s"


# --------------------------------------------------- (b) koopkit DMD == pydmd.DMD
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("cls", [DMD, ExactDMD])
@pytest.mark.parametrize("name", sorted(DATASETS))
def test_koopkit_matches_pydmd(name, cls, solver):
    make, rank = DATASETS[name]
    data = make()
    ref = pydmd_reference(data, rank, exact=cls is ExactDMD)
    model = cls(rank=rank, solver=solver).fit(data)
    spec = model.spectrum_
    lam, ref_lam = spec.eigenvalues.values, np.asarray(ref.eigs)
    idx = paired(lam, ref_lam)
    rel = np.abs(lam[idx] - ref_lam) / np.abs(ref_lam)
    assert rel.max() < EIG_TOL[solver], rel
    modes = spec.modes.values.reshape(rank, -1)[idx]
    assert alignment(modes, np.asarray(ref.modes).T).min() > 1 - MODE_TOL[solver]


# --------------------------------------------------------------- (c) the adapter
@pytest.mark.parametrize("name", sorted(DATASETS))
def test_adapter_dmd_equals_koopkit_dmd(name):
    make, rank = DATASETS[name]
    data = make()
    ours = DMD(rank=rank, solver="svd", amplitudes="first").fit(data)
    theirs = PyDMDBackend(pydmd.DMD(svd_rank=rank)).fit(data)
    a, b = ours.spectrum_, theirs.spectrum_
    assert b.backend == "pydmd:DMD" and b.params["svd_rank"] == rank
    assert b.modes.dims == a.modes.dims
    # the same order (both sorted by RMS amplitude), eigenvalues and unit-norm modes
    np.testing.assert_allclose(b.eigenvalues.values, a.eigenvalues.values, rtol=1e-8)
    np.testing.assert_allclose(np.linalg.norm(b.modes.values.reshape(rank, -1), axis=1), 1)
    assert alignment(a.modes.values, b.modes.values).min() > 1 - 1e-8
    # amplitude x mode is scale-free: identical contributions at the first snapshot
    np.testing.assert_allclose(
        (b.amplitudes * b.modes).values, (a.amplitudes * a.modes).values, atol=1e-7
    )
    np.testing.assert_allclose(b.rms_amplitudes.values, a.rms_amplitudes.values, rtol=1e-7)
    np.testing.assert_allclose(
        theirs.predict(steps=3).values, ours.predict(steps=3).values, atol=1e-6
    )


def test_adapter_hankel_modes_are_koopkit_delay_states():
    # pydmd.HankelDMD(d) and koopkit DMD(delays=d) fit the same embedded states, oldest
    # frame first: the adapter must hand back the same (mode, delay, feature) blocks.
    data = noisy_linear()
    ours = DMD(rank=5, delays=3, solver="svd", amplitudes="first").fit(data)
    theirs = PyDMDBackend(pydmd.HankelDMD(svd_rank=5, d=3)).fit(data)
    assert theirs.delays_ == 3
    np.testing.assert_allclose(
        theirs.spectrum_.eigenvalues.values, ours.spectrum_.eigenvalues.values, rtol=1e-8
    )
    assert alignment(ours._linear.modes, theirs._linear.modes).min() > 1 - 1e-8
    np.testing.assert_allclose(theirs.reconstruct().values, ours.reconstruct().values, atol=1e-6)


# A noiseless system with a known spectrum: one neutral and one damped oscillation.
OMEGA = np.array([3j, -3j, -0.2 + 7j, -0.2 - 7j])  # continuous-time, per second
DT = 0.05


def oscillator(n_snapshots: int, n_features: int = 12) -> xr.DataArray:
    return make_linear(np.exp(OMEGA * DT), n_features=n_features, n_snapshots=n_snapshots, dt=DT)


@pytest.mark.parametrize(
    "estimator, n_train, tol",
    [
        (pydmd.DMD(svd_rank=4), 160, 1e-9),
        (pydmd.DMD(svd_rank=4, exact=True, opt=True), 160, 1e-9),
        (pydmd.DMD(svd_rank=4, opt=-1), 160, 1e-9),  # amplitudes of the last snapshot
        # PyDMD's FbDMD takes the backward operator in the POD basis of Y, not of X, so it
        # is only right where those bases nearly coincide (a long record); on 160 snapshots
        # of this system PyDMD itself returns eigenvalues off by ~100%.
        (pydmd.FbDMD(svd_rank=4), 400, 1e-6),
        (pydmd.HODMD(svd_rank=4, d=6), 160, 1e-9),
        (pydmd.BOPDMD(svd_rank=4), 160, 1e-6),
        (pydmd.OptDMD(svd_rank=4), 160, 1e-9),  # no amplitudes of its own: fitted here
    ],
    ids=["DMD", "ExactDMD-opt", "DMD-opt-last", "FbDMD", "HODMD", "BOPDMD", "OptDMD"],
)
def test_wrapped_estimators_find_the_spectrum_and_forecast(estimator, n_train, tol):
    full = oscillator(n_train + 40)
    train, test = full.isel(time=slice(0, n_train)), full.isel(time=slice(n_train, None))
    model = PyDMDBackend(estimator).fit(train)
    spec = model.spectrum_
    assert spec.backend == f"pydmd:{type(estimator).__name__}"
    # exactly PyDMD's eigenvalues, as discrete-time lam for one step of dt
    raw = np.asarray(model.estimator_.eigs)
    raw = np.exp(raw * DT) if isinstance(estimator, pydmd.BOPDMD) else raw
    np.testing.assert_allclose(np.sort_complex(spec.eigenvalues.values), np.sort_complex(raw))
    # ... which are the truth
    assert match(spec.continuous_eigenvalues.values, OMEGA).max() < tol * 10
    assert match(spec.eigenvalues.values, np.exp(OMEGA * DT)).max() < tol
    # growth rates ln|lam|/dt: 0 and -0.2 per second; frequencies 3 and 7 rad/s
    np.testing.assert_allclose(np.sort(spec.growth_rates.values), [-0.2, -0.2, 0, 0], atol=tol * 20)
    np.testing.assert_allclose(
        np.sort(np.abs(spec.frequencies.values)), np.repeat([3, 7], 2) / (2 * np.pi), rtol=tol * 10
    )
    pred = model.predict(steps=40)
    np.testing.assert_allclose(pred.time.values, test.time.values)
    scale = np.abs(test.values).max()
    assert np.abs(pred.values - test.values).max() < 500 * tol * scale
    assert np.abs(model.reconstruct().values - train.values).max() < 500 * tol * scale
    # the user's estimator is left untouched (the adapter fits a copy)
    assert model.estimator_ is not estimator
    assert np.asarray(model.estimator_.eigs).size == 4


def test_hodmd_on_a_scalar_series_uses_its_delay_states():
    # One feature, four eigenvalues: only a delay embedding can hold them.
    t = np.arange(300) * DT
    signal = np.cos(3 * t) + 0.5 * np.exp(-0.2 * t) * np.sin(7 * t)
    data = xr.DataArray(signal, dims="time", coords={"time": t})
    model = PyDMDBackend(pydmd.HODMD(svd_rank=4, d=20)).fit(data.isel(time=slice(0, 250)))
    assert model.delays_ == 20
    assert model._linear.modes.shape == (4, 20, 1)
    assert match(model.spectrum_.continuous_eigenvalues.values, OMEGA).max() < 1e-6
    pred = model.predict(steps=50)
    assert pred.dims == ("time",)
    np.testing.assert_allclose(pred.values, signal[250:], atol=1e-6)
    # a forecast from a given history of frames
    again = model.predict(steps=5, initial=data.isel(time=slice(100, 120)))
    np.testing.assert_allclose(again.values, signal[120:125], atol=1e-6)


def test_bopdmd_eigenvalues_are_continuous_time_and_converted():
    data = oscillator(120)
    # a time axis that does not start at 0 must not shift the amplitudes
    data = data.assign_coords(time=data.time + 100.0)
    model = PyDMDBackend(pydmd.BOPDMD(svd_rank=4)).fit(data)
    raw = np.asarray(model.estimator_.eigs)
    assert match(raw, OMEGA).max() < 1e-6  # PyDMD's own: continuous time
    np.testing.assert_allclose(
        np.sort_complex(model.spectrum_.eigenvalues.values), np.sort_complex(np.exp(raw * DT))
    )
    x0 = (model.spectrum_.amplitudes * model.spectrum_.modes).sum("mode").real
    np.testing.assert_allclose(x0.values, data.values[0], atol=1e-6)


def test_adapter_growth_rate_is_log_modulus_not_pydmd_real_part():
    t = np.arange(50) * 0.1
    x = np.stack([np.cos(2 * np.pi * t), np.sin(2 * np.pi * t)], axis=1)
    model = PyDMDBackend(pydmd.DMD(svd_rank=2)).fit(x, dt=0.1)
    np.testing.assert_allclose(np.abs(model.spectrum_.eigenvalues.values), 1, rtol=1e-12)
    np.testing.assert_allclose(model.spectrum_.growth_rates.values, 0, atol=1e-10)
    # PyDMD reports Re(lam)/dt (its dt is one sample): cos(2 pi 0.1) = 0.809, not 0.
    pydmd_growth = np.asarray(model.estimator_.growth_rate)
    np.testing.assert_allclose(pydmd_growth, np.cos(2 * np.pi * 0.1), rtol=1e-10)
    np.testing.assert_allclose(np.abs(model.spectrum_.frequencies.values), 1, rtol=1e-10)


def test_float32_data_stay_single_precision():
    data = travelling_wave().astype(np.float32)
    model = PyDMDBackend(pydmd.DMD(svd_rank=4)).fit(data)
    assert model.spectrum_.modes.dtype == np.complex64
    pred = model.predict(steps=2)
    assert pred.dtype == np.float32 and pred.dims == ("time", "y", "x")


# -------------------------------------------------------------- (d) the registry
def test_registry_builds_the_adapter():
    model = koopkit.backends.get("pydmd", estimator=pydmd.DMD(svd_rank=2))
    assert isinstance(model, PyDMDBackend)
    assert koopkit.backends.get_class("pydmd") is PyDMDBackend
    spec = model.fit(pydmd_sample()).spectrum_
    assert match(spec.eigenvalues.values, SAMPLE_TRUTH).max() < 1e-8
    # keywords alone build pydmd.DMD; a class plus keywords builds that class
    default = koopkit.backends.get("pydmd", svd_rank=2).fit(pydmd_sample())
    assert default.spectrum_.backend == "pydmd:DMD" and default.rank_ == 2
    hodmd = PyDMDBackend(pydmd.HODMD, svd_rank=4, d=5).fit(oscillator(80))
    assert hodmd.spectrum_.backend == "pydmd:HODMD" and hodmd.delays_ == 5
    assert hodmd.get_params() == {"estimator": pydmd.HODMD, "svd_rank": 4, "d": 5}
    assert repr(hodmd) == "PyDMDBackend(pydmd.HODMD, svd_rank=4, d=5)"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: PyDMDBackend(pydmd.DMD(svd_rank=2), svd_rank=3), "only apply when"),
        (lambda: PyDMDBackend(object()), "not a PyDMD estimator"),
        (lambda: PyDMDBackend(pydmd.DMD, rank=2), "does not accept"),
        (lambda: PyDMDBackend(pydmd.DMDc(svd_rank=2)), "not supported"),
        (
            lambda: PyDMDBackend(
                pydmd.preprocessing.zero_mean_preprocessing(pydmd.DMD(svd_rank=2))
            ),
            "not linear",
        ),
    ],
)
def test_bad_estimators_give_one_line_errors(make, message):
    with pytest.raises(KoopkitError, match=message) as err:
        make().fit(oscillator(40))
    assert "\n" not in str(err.value)


def test_bad_data_and_unfitted_use_give_koopkit_errors():
    bad = oscillator(40)
    bad[5, 0] = np.nan
    with pytest.raises(KoopkitError, match="NaN"):
        PyDMDBackend(pydmd.DMD(svd_rank=2)).fit(bad)
    with pytest.raises(KoopkitError, match="not fitted"):
        PyDMDBackend().predict(steps=2)

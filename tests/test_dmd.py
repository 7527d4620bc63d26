"""DMD and exact DMD against systems whose spectrum is known exactly."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from conftest import TRUE_EIGENVALUES, make_linear, match

import koopkit
from koopkit import DMD, ExactDMD, KoopkitError
from koopkit.backends.dmd import RankWarning

TRUE = TRUE_EIGENVALUES
BACKENDS = [DMD, ExactDMD]
SOLVERS = ["svd", "gram", "randomized"]


@pytest.fixture(scope="module")
def linear():
    return make_linear(TRUE, n_features=1000, n_snapshots=200, dt=0.05)


@pytest.mark.parametrize("cls", BACKENDS)
@pytest.mark.parametrize("solver", SOLVERS)
def test_prescribed_eigenvalues(linear, cls, solver):
    model = cls(rank=6, solver=solver).fit(linear)
    spec = model.spectrum_
    assert model.solver_ == solver
    assert match(spec.eigenvalues.values, TRUE).max() < 1e-8
    # lam = 1 has growth rate exactly 0, not (Re(lam) - ...) / dt
    one = np.argmin(np.abs(spec.eigenvalues.values - 1))
    assert abs(spec.growth_rates.values[one]) < 1e-10
    # frequencies in cycles per time unit of the coordinate (dt = 0.05 s)
    f_true = np.angle(TRUE) / (2 * np.pi * 0.05)
    assert match(spec.frequencies.values + 1e-300, f_true[f_true > 0]).max() < 1e-8
    g_true = np.log(np.abs(TRUE)) / 0.05
    found_g = spec.growth_rates.values
    for g in g_true:
        assert np.min(np.abs(found_g - g)) < 1e-7
    assert spec.frequencies.attrs["units"] == "cycles per s"
    assert spec.time_units == "s"


@pytest.mark.parametrize("cls", BACKENDS)
def test_rank_rules_find_the_six_modes(linear, cls):
    for rank in ("auto", None, 0.999999999):
        model = cls(rank=rank).fit(linear)
        assert model.rank_ == 6, rank
        assert match(model.spectrum_.eigenvalues.values, TRUE).max() < 1e-8


@pytest.mark.parametrize("cls", BACKENDS)
def test_forecast_continues_the_true_system(cls):
    full = make_linear(TRUE, n_features=300, n_snapshots=260, dt=0.05)
    train, test = full.isel(time=slice(0, 200)), full.isel(time=slice(200, None))
    model = cls(rank=6).fit(train)
    pred = model.predict(steps=60)
    np.testing.assert_allclose(pred.time.values, test.time.values, rtol=0, atol=1e-12)
    assert pred.dims == test.dims and pred.name == "x"
    err = np.abs(pred.values - test.values).max() / np.abs(test.values).max()
    assert err < 1e-8
    # non-integer times interpolate: the truth at t = 10.025 (half a step) from the formula
    half = make_linear(TRUE, n_features=300, n_snapshots=0, dt=0.05, steps=[200.5])[0]
    mid = model.predict(times=[10.025])
    assert np.abs(mid.values[0] - half.values).max() / np.abs(half.values).max() < 1e-8
    # from a given initial state (a frame with its time) instead of the last fitted one
    start = test.isel(time=slice(9, 10))
    again = model.predict(steps=5, initial=start)
    np.testing.assert_allclose(again.time.values, test.time.values[10:15])
    assert np.abs(again.values - test.values[10:15]).max() < 1e-8 * np.abs(test.values).max()
    # reconstruction of the fitted span
    assert np.abs(model.reconstruct().values - train.values).max() < 1e-8


def test_delays_represent_a_scalar_oscillation():
    # x_k = cos(w k): one feature, two eigenvalues; without delays DMD cannot see them.
    dt, w = 0.1, 2 * np.pi * 0.7
    t = np.arange(120) * dt
    data = xr.DataArray(np.cos(w * t), dims="time", coords={"time": t})
    plain = ExactDMD(rank=None).fit(data)
    assert plain.rank_ == 1
    model = ExactDMD(rank=2, delays=3).fit(data)
    f = np.sort(model.spectrum_.frequencies.values)
    np.testing.assert_allclose(f, [-0.7, 0.7], rtol=1e-9)
    pred = model.predict(steps=10)
    np.testing.assert_allclose(pred.values, np.cos(w * (t[-1] + dt * np.arange(1, 11))), atol=1e-9)
    recon = model.reconstruct()
    np.testing.assert_allclose(recon.values, data.values, atol=1e-9)
    # initial history must hold `delays` frames
    with pytest.raises(KoopkitError, match="delays=3"):
        model.predict(steps=3, initial=data.isel(time=slice(0, 2)))
    hist = model.predict(steps=4, initial=data.isel(time=slice(10, 13)))
    np.testing.assert_allclose(hist.values, data.values[13:17], atol=1e-9)


@pytest.mark.parametrize("solver", ["svd", "gram"])
def test_tlsq_and_forward_backward_remove_noise_bias(solver):
    # Noisy damped oscillation: plain DMD biases the damping; TLS and FB correct it.
    rng = np.random.default_rng(7)
    lam = np.exp(np.array([0.4j, -0.4j]))  # on the unit circle
    clean = make_linear(lam, n_features=40, n_snapshots=400, dt=1.0, seed=3)
    errs = {}
    for label, kw in {
        "plain": {},
        "tlsq": {"tlsq_rank": 2},
        "fb": {"forward_backward": True},
    }.items():
        e = []
        for _trial in range(8):
            noisy = clean + 0.05 * rng.standard_normal(clean.shape)
            spec = DMD(rank=2, solver=solver, **kw).fit(noisy).spectrum_
            e.append(np.abs(spec.eigenvalues.values).mean() - 1)
        errs[label] = np.mean(e)
    assert errs["plain"] < -2e-4  # plain DMD damps noisy data
    assert abs(errs["tlsq"]) < abs(errs["plain"]) / 3
    assert abs(errs["fb"]) < abs(errs["plain"]) / 3


def test_forward_backward_keeps_high_frequencies():
    # Re(lam) < 0: the principal square root would flip these eigenvalues' sign.
    lam = np.exp(np.array([2.5j, -2.5j, 0.5j, -0.5j]))
    data = make_linear(lam, n_features=20, n_snapshots=100, dt=0.1)
    spec = DMD(rank=4, forward_backward=True).fit(data).spectrum_
    assert match(spec.eigenvalues.values, lam).max() < 1e-8


def test_amplitudes_first_and_optimal_agree_without_noise():
    data = make_linear(TRUE, n_features=50, n_snapshots=120, dt=0.05)
    a = DMD(rank=6, amplitudes="first").fit(data).spectrum_
    b = DMD(rank=6, amplitudes="optimal").fit(data).spectrum_
    for i, lam in enumerate(a.eigenvalues.values):
        j = int(np.argmin(np.abs(b.eigenvalues.values - lam)))
        np.testing.assert_allclose(
            a.amplitudes.values[i] * a.modes.values[i],
            b.amplitudes.values[j] * b.modes.values[j],
            atol=1e-8,
        )
    # amplitudes are those of unit-norm modes: reconstructing the first snapshot from them
    x0 = (a.amplitudes * a.modes).sum("mode").real
    np.testing.assert_allclose(x0.values, data.values[0], atol=1e-9)


def test_modes_keep_the_inputs_dims_and_coords():
    rng = np.random.default_rng(0)
    y, x = np.linspace(0, 1, 12), np.linspace(-2, 2, 9)
    base = rng.standard_normal((4, 12, 9))
    t = np.arange(40) * 0.25
    lam = np.exp([0.6j, -0.6j, -0.05 + 1.3j, -0.05 - 1.3j])
    coeff = np.stack(
        [
            np.cos(0.6 * np.arange(40)),
            np.sin(0.6 * np.arange(40)),
            np.exp(-0.05 * np.arange(40)) * np.cos(1.3 * np.arange(40)),
            np.exp(-0.05 * np.arange(40)) * np.sin(1.3 * np.arange(40)),
        ],
        1,
    )
    data = xr.DataArray(
        np.einsum("tk,kyx->tyx", coeff, base).astype(np.float32),
        dims=("time", "lat", "lon"),
        coords={"time": ("time", t, {"units": "days"}), "lat": y, "lon": x},
    )
    model = ExactDMD(rank=4).fit(data)
    modes = model.spectrum_.modes
    assert modes.dims == ("mode", "lat", "lon")
    np.testing.assert_array_equal(modes.lat, y)
    assert modes.dtype == np.complex64  # float32 in, single precision modes out
    assert match(model.spectrum_.eigenvalues.values, lam).max() < 1e-4
    np.testing.assert_allclose(np.linalg.norm(modes.values.reshape(4, -1), axis=1), 1, rtol=1e-5)
    pred = model.predict(steps=3)
    assert pred.dtype == np.float32 and pred.dims == ("time", "lat", "lon")
    assert pred.time.attrs["units"] == "days"
    assert model.spectrum_.frequencies.attrs["units"] == "cycles per days"


def test_time_not_first_and_numpy_input_agree():
    data = make_linear(TRUE, n_features=30, n_snapshots=80, dt=0.05)
    a = ExactDMD(rank=6).fit(data.transpose("feature", "time")).spectrum_
    b = ExactDMD(rank=6).fit(data.values, dt=0.05).spectrum_
    np.testing.assert_allclose(a.eigenvalues.values, b.eigenvalues.values, rtol=1e-10)
    assert b.modes.dims == ("mode", "dim_1")


def test_registry_and_params():
    assert {"dmd", "exact_dmd", "pydmd"} <= set(koopkit.backends.available())
    m = koopkit.backends.get("exact_dmd", rank=3, delays=2)
    assert isinstance(m, ExactDMD) and m.get_params()["delays"] == 2
    assert repr(m) == "ExactDMD(rank=3, delays=2)"
    with pytest.raises(KoopkitError, match="unknown backend"):
        koopkit.backends.get("nope")
    with pytest.raises(KoopkitError, match="not fitted"):
        DMD().predict(steps=2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"rank": 0}, "not positive"),
        ({"rank": 1.5}, "energy fraction"),
        ({"rank": 500}, "impossible"),
        ({"delays": 0}, "delays"),
        ({"delays": 48}, "leaves 2 states"),
        ({"solver": "qr"}, "solver"),
        ({"amplitudes": "mean"}, "amplitudes"),
    ],
)
def test_bad_parameters_give_one_line_errors(kwargs, message):
    data = make_linear(TRUE, n_features=30, n_snapshots=49, dt=0.05)
    with pytest.raises(KoopkitError, match=message) as err:
        DMD(**kwargs).fit(data)
    assert "\n" not in str(err.value)


def test_rank_above_numerical_rank_warns_and_truncates():
    data = make_linear(TRUE, n_features=30, n_snapshots=80, dt=0.05)
    with pytest.warns(RankWarning, match="using rank 6"):
        model = DMD(rank=12, solver="svd").fit(data)
    assert model.rank_ == 6


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d.where(d.time != d.time[5]), "NaN values \\(first in snapshot 5\\)"),
        (lambda d: d.isel(time=slice(0, 2)), "only 2 snapshot"),
        (lambda d: d.drop_isel(time=[7]), "uneven: step 6"),
        (lambda d: d.rename(time="t"), "no 'time' dimension"),
        (lambda d: d.to_dataset(name="a").assign(b=d), "variables a, b"),
        (lambda d: d.copy(data=np.where(d.values > 1.5, np.inf, d.values)), "Inf"),
    ],
)
def test_bad_data_give_one_line_errors(make, message):
    data = make_linear(TRUE, n_features=10, n_snapshots=30, dt=0.05)
    with pytest.raises(KoopkitError, match=message) as err:
        DMD(rank=2).fit(make(data))
    assert "\n" not in str(err.value)


def test_dataset_variable_selection():
    data = make_linear(TRUE, n_features=10, n_snapshots=30, dt=0.05)
    ds = data.to_dataset(name="a").assign(b=2 * data)
    spec = DMD(rank=6).fit(ds, variable="b").spectrum_
    assert match(spec.eigenvalues.values, TRUE).max() < 1e-8
    with pytest.raises(KoopkitError, match="no variable 'c'.*available variables are a, b"):
        DMD(rank=6).fit(ds, variable="c")


def test_no_warnings_on_clean_fit():
    data = make_linear(TRUE, n_features=10, n_snapshots=30, dt=0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DMD(rank=6).fit(data).predict(steps=3)


def four_tones(n_sensors: int = 8, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """4 sinusoids (0.3, 0.7, 1.1, 1.9 Hz) mixed into sensors, 200 samples at dt = 0.05."""
    rng = np.random.default_rng(seed)
    t = np.arange(200) * 0.05
    f = np.array([0.3, 0.7, 1.1, 1.9])
    sig = np.concatenate(
        [np.cos(2 * np.pi * f * t[:, None]), np.sin(2 * np.pi * f * t[:, None])], 1
    )
    x = sig @ rng.standard_normal((8, n_sensors))
    return x + noise * rng.standard_normal(x.shape)


def test_auto_rank_keeps_every_mode_of_a_small_clean_sensor_array():
    spec = DMD().fit(four_tones(), dt=0.05).spectrum_
    assert spec.params["rank_used"] == 8
    assert spec.params["rank_rule"] == "round-off (no noise floor)"
    found = np.sort(spec.frequencies.values[spec.frequencies.values > 0])
    np.testing.assert_allclose(found, [0.3, 0.7, 1.1, 1.9], atol=1e-8)


def test_auto_rank_is_gavish_donoho_above_a_noise_floor():
    # 24 sensors, 8 signal directions, white noise: the lower singular values are a
    # Marchenko-Pastur bulk, and the optimal hard threshold keeps the 8
    spec = DMD().fit(four_tones(n_sensors=24, noise=0.05, seed=1), dt=0.05).spectrum_
    assert spec.params["rank_rule"] == "gavish-donoho" and spec.params["rank_used"] == 8
    found = np.sort(spec.frequencies.values[spec.frequencies.values > 0])
    np.testing.assert_allclose(found, [0.3, 0.7, 1.1, 1.9], atol=2e-3)


@pytest.mark.parametrize("cls", BACKENDS)
@pytest.mark.parametrize("solver", SOLVERS)
def test_any_finite_scale_gives_the_same_spectrum_without_warnings(cls, solver):
    x = four_tones()
    kw = {"rank": 8} if solver == "randomized" else {}
    ref = cls(solver=solver, **kw).fit(x, dt=0.05)
    lam = np.sort_complex(ref.spectrum_.eigenvalues.values)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for scale in (1e300, 1e-300, 1e-30, 1e30):
            model = cls(solver=solver, **kw).fit(x * scale, dt=0.05)
            got = np.sort_complex(model.spectrum_.eigenvalues.values)
            np.testing.assert_allclose(got, lam, atol=1e-10)
            # amplitudes (and so forecasts) come back in the data's units
            np.testing.assert_allclose(
                model.predict(steps=3).values / scale, ref.predict(steps=3).values, atol=1e-10
            )
        half = cls(solver=solver, **kw).fit(x.astype(np.float16), dt=0.05).spectrum_
        assert np.abs(np.sort_complex(half.eigenvalues.values) - lam).max() < 1e-2
        ints = cls(solver=solver, **kw).fit(np.round(x * 1000).astype(np.int64), dt=0.05)
        assert np.abs(np.sort_complex(ints.spectrum_.eigenvalues.values) - lam).max() < 1e-2


def test_pydmd_adapter_is_scale_free_too():
    pydmd = pytest.importorskip("pydmd")
    from koopkit.backends import PyDMDBackend

    x = four_tones()
    ref = PyDMDBackend(pydmd.DMD(svd_rank=8)).fit(x, dt=0.05)
    for scale in (1e300, 1e-300):
        model = PyDMDBackend(pydmd.DMD(svd_rank=8)).fit(x * scale, dt=0.05)
        np.testing.assert_allclose(
            np.sort_complex(model.spectrum_.eigenvalues.values),
            np.sort_complex(ref.spectrum_.eigenvalues.values),
            atol=1e-10,
        )
        np.testing.assert_allclose(
            model.predict(steps=3).values / scale, ref.predict(steps=3).values, atol=1e-10
        )


@pytest.mark.parametrize("cls", BACKENDS)
def test_frames_spanning_few_dimensions_are_fitted_in_their_span(cls, monkeypatch):
    """64 sensors of a 4-dimensional linear state, 8 delays: the SVD solver works on 4
    coordinates per frame (32 per state, not 512) and gives the full problem's answer."""
    from koopkit.backends import _dmd_reduce

    x = make_linear(TRUE_EIGENVALUES[1:5], n_features=64, n_snapshots=400, dt=0.1)
    seen = []
    for name in ("rows_svd", "tall_svd"):  # whichever SVD the shape takes
        real = getattr(_dmd_reduce, name)
        monkeypatch.setattr(
            _dmd_reduce, name, lambda rows, real=real: seen.append(rows.shape) or real(rows)
        )
    small = cls(rank=4, delays=8, solver="svd").fit(x)
    assert seen and seen[-1][1] == 4 * 8  # the span, not 64 * 8 features
    full = cls(rank=4, delays=8, solver="gram").fit(x)  # the Gram route does not compress
    a, b = small.spectrum_, full.spectrum_
    np.testing.assert_allclose(a.eigenvalues.values, b.eigenvalues.values, atol=1e-10)
    assert match(a.eigenvalues.values, TRUE_EIGENVALUES[1:5]).max() < 1e-10
    assert a.modes.shape == (4, 64)
    np.testing.assert_allclose(
        a.amplitudes.values[:, None] * a.modes.values,
        b.amplitudes.values[:, None] * b.modes.values,
        atol=1e-9,
    )
    np.testing.assert_allclose(
        small.predict(steps=5).values, full.predict(steps=5).values, atol=1e-9
    )
    history = x.isel(time=slice(100, 108))
    np.testing.assert_allclose(
        small.predict(steps=3, initial=history).values,
        full.predict(steps=3, initial=history).values,
        atol=1e-9,
    )
    held = DMD(rank=4, delays=8, solver="svd").fit(x[:300], residual_data=x[300:])
    assert held.spectrum_.residuals.max() < 1e-8


@pytest.mark.parametrize("delays", [1, 4])
def test_gram_route_on_small_data_equals_the_svd_and_falls_back_when_it_would_not(
    delays, monkeypatch
):
    """An explicit rank on small double-precision data takes a Gram matrix of the smaller
    side (features without delays, snapshots with them) only where the kept singular values
    are within 1e-2 of the largest: there the eigenvalues equal the SVD solver's; a kept
    value far below the largest sends the fit to the SVD (no warning from the trial)."""
    from koopkit.backends import _dmd_reduce

    calls = []
    for name in ("feature_gram_svd", "reduce_gram", "rows_svd", "tall_svd"):
        real = getattr(_dmd_reduce, name)
        monkeypatch.setattr(
            _dmd_reduce,
            name,
            lambda *a, real=real, name=name, **k: calls.append(name) or real(*a, **k),
        )
    from koopkit.backends import dmd as dmd_module

    monkeypatch.setattr(dmd_module, "reduce_gram", _dmd_reduce.reduce_gram)
    monkeypatch.setattr(dmd_module, "reduce_svd", _dmd_reduce.reduce_svd)
    rng = np.random.default_rng(7)
    x = make_linear(TRUE_EIGENVALUES, n_features=40, n_snapshots=120, dt=0.1)
    noisy = x + 1e-3 * rng.standard_normal(x.shape)
    gram = ExactDMD(rank=6, delays=delays).fit(noisy)
    route = "feature_gram_svd" if delays == 1 else "reduce_gram"
    assert route in calls and not {"rows_svd", "tall_svd"} & set(calls)
    svd = ExactDMD(rank=6, delays=delays, solver="svd").fit(noisy)
    np.testing.assert_allclose(
        np.sort_complex(gram.spectrum_.eigenvalues.values),
        np.sort_complex(svd.spectrum_.eigenvalues.values),
        atol=1e-12,
    )
    # a seventh mode 1e-5 of the others: its singular value is far below the largest, so
    # a Gram matrix would lose its digits -- the SVD decides, exactly as asked
    k = np.arange(x.sizes["time"])
    weak = x + 1e-5 * np.outer(0.9**k, rng.standard_normal(40))
    calls.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RankWarning from the trial that fell back
        model = ExactDMD(rank=7, delays=delays).fit(weak)
    assert {"rows_svd", "tall_svd"} & set(calls)
    ref = ExactDMD(rank=7, delays=delays, solver="svd").fit(weak)
    assert np.abs(model.spectrum_.eigenvalues.values - 0.9).min() < 1e-6  # the weak mode
    np.testing.assert_allclose(
        np.sort_complex(model.spectrum_.eigenvalues.values),
        np.sort_complex(ref.spectrum_.eigenvalues.values),
        atol=1e-12,
    )


@pytest.mark.parametrize(
    "n_features, n_snapshots",
    [(40, 150), (200, 120)],  # more frames than features (feature Gram), and fewer
)
@pytest.mark.parametrize("frame_rank", [6, "auto"])
@pytest.mark.parametrize("kwargs", [{}, {"tlsq_rank": 6}])
def test_frame_rank_is_pydmds_higher_order_dmd(n_features, n_snapshots, frame_rank, kwargs):
    """frame_rank projects the frames on their leading POD directions before the delays:
    HODMD's first reduction. On the same noisy data koopkit's eigenvalues equal PyDMD's
    HODMD with the same reduction (svd_rank_extra; 0 is its Gavish-Donoho rule, koopkit's
    "auto") to round-off, and the modes come back over every feature."""
    pydmd = pytest.importorskip("pydmd")
    rng = np.random.default_rng(3)
    x = make_linear(TRUE_EIGENVALUES, n_features=n_features, n_snapshots=n_snapshots, dt=0.1)
    noisy = x + 1e-3 * rng.standard_normal(x.shape)
    model = ExactDMD(rank=6, delays=4, frame_rank=frame_rank, **kwargs).fit(noisy)
    extra = 0 if frame_rank == "auto" else frame_rank
    peer = pydmd.HODMD(
        svd_rank=6, d=4, exact=True, svd_rank_extra=extra, tlsq_rank=kwargs.get("tlsq_rank", 0)
    ).fit(noisy.values.T)
    np.testing.assert_allclose(
        np.sort_complex(model.spectrum_.eigenvalues.values),
        np.sort_complex(peer.eigs),
        atol=1e-10,
    )
    assert match(model.spectrum_.eigenvalues.values, TRUE_EIGENVALUES).max() < 1e-3
    modes = model.spectrum_.modes
    assert modes.shape == (6, n_features)
    np.testing.assert_allclose(np.linalg.norm(modes.values, axis=1), 1.0, atol=1e-12)
    # the reconstruction is in the data's own space and close to the clean signal
    rec = model.reconstruct().values
    err = np.abs(rec - x.values[-len(rec) :]).max() / np.abs(x.values).max()
    assert err < 1e-2


def test_frame_rank_on_tiny_directions_takes_the_svd_and_on_dask_the_gram():
    """An explicit frame_rank that keeps directions 1e-5 of the largest (too small for a
    Gram matrix) gives the SVD's answer; dask-backed frames give the in-memory answer."""
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(5)
    x = make_linear(TRUE_EIGENVALUES[1:5], n_features=30, n_snapshots=200, dt=0.1)
    k = np.arange(x.sizes["time"])
    weak = x + 1e-5 * np.outer(0.9**k, rng.standard_normal(30))
    model = DMD(rank=5, delays=3, frame_rank=5, solver="svd").fit(weak)
    assert np.abs(model.spectrum_.eigenvalues.values - 0.9).min() < 1e-6  # the weak mode
    # the same fit with the frames projected by hand on their exact leading 5 directions
    _, _, vt = np.linalg.svd(weak.values, full_matrices=False)
    coords = weak.copy(data=weak.values @ vt[:5].T @ vt[:5])
    ref = DMD(rank=5, delays=3, solver="svd").fit(coords)
    np.testing.assert_allclose(
        np.sort_complex(model.spectrum_.eigenvalues.values),
        np.sort_complex(ref.spectrum_.eigenvalues.values),
        atol=1e-9,
    )
    noisy = x + 1e-3 * rng.standard_normal(x.shape)
    lazy = noisy.copy(data=da.from_array(noisy.values, chunks=(50, 30)))
    a = ExactDMD(rank=4, delays=3, frame_rank="auto").fit(noisy)
    b = ExactDMD(rank=4, delays=3, frame_rank="auto").fit(lazy)
    np.testing.assert_allclose(
        np.sort_complex(a.spectrum_.eigenvalues.values),
        np.sort_complex(b.spectrum_.eigenvalues.values),
        atol=1e-9,
    )
    np.testing.assert_allclose(
        np.abs(np.asarray(b.spectrum_.modes.values)), np.abs(a.spectrum_.modes.values), atol=1e-8
    )
    # held-out residuals: the same with dask-backed and in-memory fitted frames
    held = [
        ExactDMD(rank=4, delays=3, frame_rank="auto").fit(d[:150], residual_data=noisy[150:])
        for d in (noisy, lazy)
    ]
    np.testing.assert_allclose(
        np.sort(held[0].spectrum_.residuals.values),
        np.sort(held[1].spectrum_.residuals.values),
        atol=1e-8,
    )


@pytest.mark.parametrize("bad", [0, 1.5, "big", True])
def test_bad_frame_rank_is_a_one_line_error(bad):
    x = make_linear(TRUE_EIGENVALUES, n_features=10, n_snapshots=50, dt=0.1)
    with pytest.raises(KoopkitError, match="frame_rank="):
        DMD(rank=4, delays=2, frame_rank=bad).fit(x)


def test_auto_rank_on_more_snapshots_than_features_is_the_same_for_every_solver():
    """The snapshot-space Gram of 30 features x 200 snapshots has 170 round-off
    eigenvalues; Gavish & Donoho's median must come from the 30 singular values, so the
    Gram solver keeps the 6 modes the SVD keeps (it kept all 30)."""
    x = make_linear(TRUE_EIGENVALUES, n_features=30, n_snapshots=200, dt=0.1)
    noisy = x + 1e-3 * np.random.default_rng(0).standard_normal(x.shape)
    fits = {s: DMD(rank="auto", solver=s).fit(noisy) for s in ("svd", "gram")}
    assert {f.rank_ for f in fits.values()} == {6}
    np.testing.assert_allclose(
        fits["gram"].singular_values_, fits["svd"].singular_values_, rtol=1e-8
    )

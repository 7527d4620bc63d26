"""Optimized DMD (koopkit.OptDMD) against known truth: PyDMD's BOPDMD test system,
analytic solutions on uneven times, datetimes, and pydmd.BOPDMD on the same data."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.optimize import linear_sum_assignment

import koopkit
from koopkit import KoopkitError
from koopkit._validation import as_snapshots

#: PyDMD's BOPDMD truth case: z' = A z, eigenvalues +-i
A = np.array([[1.0, -2.0], [1.0, -1.0]])
Z0 = np.array([1.0, 0.1])
TRUE_ALPHA = np.array([1j, -1j])


def solution(t: np.ndarray, a: np.ndarray = A, z0: np.ndarray = Z0) -> np.ndarray:
    """Analytic z(t) = V exp(diag(w) t) V^-1 z0 (an independent NumPy computation)."""
    w, v = np.linalg.eig(a)
    c = np.linalg.solve(v, z0.astype(complex))
    return np.real((np.exp(np.outer(t, w)) * c) @ v.T)


def series(t: np.ndarray, values: np.ndarray) -> xr.DataArray:
    return xr.DataArray(values, dims=("time", "x"), coords={"time": t})


T_EVEN = np.arange(4000) * 0.01
#: every other sample of the first 1000 removed
KEEP = np.r_[np.arange(0, 1000, 2), np.arange(1000, 4000)]
T_UNEVEN = T_EVEN[KEEP]


def alpha_error(model, truth=TRUE_ALPHA) -> float:
    """Largest distance between found and true eigenvalues, paired one to one."""
    cost = np.abs(np.asarray(model.eigenvalues_)[:, None] - np.asarray(truth)[None, :])
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].max())


def test_truth_case_even_samples():
    model = koopkit.OptDMD(rank=2).fit(series(T_EVEN, solution(T_EVEN)))
    assert alpha_error(model) < 1e-8
    # the spectrum's continuous eigenvalues are the same (dt = 0.01)
    cont = model.spectrum_.continuous_eigenvalues.values
    assert np.abs(cont - model.eigenvalues_).max() < 1e-12
    assert model.converged_


def test_truth_case_uneven_samples():
    data = series(T_UNEVEN, solution(T_UNEVEN))
    model = koopkit.OptDMD(rank=2).fit(data)
    assert alpha_error(model) < 1e-8
    assert model.spectrum_.dt == pytest.approx(0.01)  # the median step
    np.testing.assert_allclose(model.reconstruct().values, data.values, atol=1e-8)
    np.testing.assert_allclose(model.reconstruct().time.values, T_UNEVEN)


def test_truth_case_with_bagging():
    model = koopkit.OptDMD(rank=2, n_bags=20, seed=1).fit(series(T_UNEVEN, solution(T_UNEVEN)))
    assert alpha_error(model) < 1e-8
    bags = model.bag_eigenvalues_
    assert bags.shape == (20, 2)
    assert np.abs(bags - model.eigenvalues_[None, :]).max() < 1e-8
    ds = model.spectrum_.to_dataset()
    assert ds["eigenvalue_std_real"].max() < 1e-8 and ds["eigenvalue_std_imag"].max() < 1e-8


def test_truth_case_in_noise_recovers_a():
    rng = np.random.default_rng(0)
    clean = solution(T_EVEN)
    model = koopkit.OptDMD(rank=2).fit(
        series(T_EVEN, clean + 0.01 * rng.standard_normal(clean.shape))
    )
    assert alpha_error(model) < 1e-3
    phi = model.spectrum_.modes.values.T  # (features, modes)
    alpha = model.spectrum_.continuous_eigenvalues.values
    a_hat = np.real(phi @ np.diag(alpha) @ np.linalg.inv(phi))
    assert np.linalg.norm(a_hat - A) / np.linalg.norm(A) < 1e-3


def test_predict_at_any_time_is_the_continuous_solution():
    model = koopkit.OptDMD(rank=2).fit(series(T_UNEVEN, solution(T_UNEVEN)))
    times = np.array([40.005, 41.3, 45.0])
    np.testing.assert_allclose(model.predict(times=times).values, solution(times), atol=1e-7)
    ahead = model.predict(steps=3)
    np.testing.assert_allclose(ahead.values, solution(ahead.time.values), atol=1e-7)


def test_random_times_two_tones_match_the_truth():
    rng = np.random.default_rng(3)
    t = np.sort(rng.uniform(0, 20, 300))
    alpha = np.array([-0.05 + 2j * np.pi * 0.6, -0.1 + 2j * np.pi * 1.5])
    c = rng.standard_normal((2, 5)) + 1j * rng.standard_normal((2, 5))
    x = 2 * np.real(np.exp(np.outer(t, alpha)) @ c)
    model = koopkit.OptDMD(rank=4).fit(series(t, x))
    truth = np.concatenate([alpha, alpha.conj()])
    assert alpha_error(model, truth) < 1e-8


def test_constraints_hold():
    growing = A + 0.05 * np.eye(2)  # eigenvalues 0.05 +- i
    t = T_UNEVEN[:1500]
    data = series(t, solution(t, growing))
    free = koopkit.OptDMD(rank=2).fit(data)
    assert alpha_error(free, TRUE_ALPHA + 0.05) < 1e-8
    stable = koopkit.OptDMD(rank=2, constraints="stable").fit(data)
    assert (stable.eigenvalues_.real <= 0).all()
    imag = koopkit.OptDMD(rank=2, constraints={"imaginary", "conjugate_pairs"}).fit(data)
    assert (imag.eigenvalues_.real == 0).all()
    assert np.abs(np.sort(imag.eigenvalues_.imag) - [-1, 1]).max() < 0.05
    # the truth itself is stable and purely imaginary: the constraints keep it exactly
    clean = series(T_UNEVEN, solution(T_UNEVEN))
    for cons in ("stable", "imaginary", ["stable", "conjugate_pairs"]):
        assert alpha_error(koopkit.OptDMD(rank=2, constraints=cons).fit(clean)) < 1e-8


def test_conjugate_pairs_default_for_real_data_only():
    rng = np.random.default_rng(1)
    clean = solution(T_UNEVEN)
    noisy = clean + 0.05 * rng.standard_normal(clean.shape)
    paired = koopkit.OptDMD(rank=2).fit(series(T_UNEVEN, noisy)).eigenvalues_
    assert paired[0] == paired[1].conjugate()
    free = koopkit.OptDMD(rank=2, constraints=()).fit(series(T_UNEVEN, noisy)).eigenvalues_
    assert free[0] != free[1].conjugate()
    # complex data: one complex exponential per mode, no pairing
    t = T_UNEVEN[:800]
    z = np.exp(np.outer(t, [0.3j - 0.01, -1.7j])) @ np.array([[1, 1j], [0.5, -0.2]])
    model = koopkit.OptDMD(rank=2).fit(series(t, z))
    assert alpha_error(model, np.array([0.3j - 0.01, -1.7j])) < 1e-8
    assert model.constraints_ == []


def test_monthly_datetime_series_frequency():
    times = xr.date_range("1990-01-01", periods=240, freq="MS")
    years = np.asarray((times - times[0]) / np.timedelta64(1, "D")) / 365.2425
    decay = np.exp(-0.1 * years)
    x = np.stack([np.cos(2 * np.pi * years), np.sin(2 * np.pi * years + 0.3), decay], axis=1)
    data = xr.DataArray(x, dims=("time", "x"), coords={"time": times})
    for part in (data, data.isel(time=np.r_[0:50, 58:130, 131:240])):  # with gaps: uneven
        model = koopkit.OptDMD(rank=3).fit(part)
        f = model.spectrum_.frequencies.values
        lead = np.abs(f[np.argmax(np.abs(f))])
        assert abs(lead - 1.0) < 0.005
        assert model.spectrum_.time_units == "year"
    out = model.predict(steps=2)
    assert out.time.dtype.kind == "M"


def test_several_trajectories_share_eigenvalues():
    rng = np.random.default_rng(2)
    t1 = np.sort(rng.uniform(0, 15, 400))
    t2 = np.sort(rng.uniform(0, 12, 300))
    trajs = [
        series(t1, solution(t1, z0=np.array([1.0, 0.1]))),
        series(t2, solution(t2, z0=np.array([-0.3, 0.8]))),
    ]
    model = koopkit.OptDMD(rank=2).fit(trajs)
    assert alpha_error(model) < 1e-8
    np.testing.assert_allclose(model.reconstruct().values, trajs[-1].values, atol=1e-8)


def test_save_load_keeps_error_bars(tmp_path):
    rng = np.random.default_rng(4)
    clean = solution(T_UNEVEN[:1500])
    data = series(T_UNEVEN[:1500], clean + 0.01 * rng.standard_normal(clean.shape))
    model = koopkit.OptDMD(rank=2, n_bags=5, constraints={"stable", "conjugate_pairs"}).fit(data)
    model.save(tmp_path / "opt.nc")
    loaded = koopkit.load_model(tmp_path / "opt.nc")
    xr.testing.assert_identical(loaded.spectrum_.to_dataset(), model.spectrum_.to_dataset())
    np.testing.assert_array_equal(loaded.bag_eigenvalues_, model.bag_eigenvalues_)
    for kwargs in (dict(steps=4), dict(times=[1.234, 30.0])):
        xr.testing.assert_identical(loaded.predict(**kwargs), model.predict(**kwargs))
    xr.testing.assert_identical(loaded.reconstruct(), model.reconstruct())


def test_agrees_with_pydmd_bopdmd_on_clean_data():
    pydmd = pytest.importorskip("pydmd")
    for t in (T_EVEN[:1000], T_UNEVEN[:1000]):
        z = solution(t)
        bop = pydmd.BOPDMD(svd_rank=2).fit(z.T, t)
        ours = koopkit.OptDMD(rank=2).fit(series(t, z))
        assert alpha_error(ours, np.asarray(bop.eigs)) < 1e-6


def test_uniform_false_in_validation():
    info = as_snapshots(series(T_UNEVEN, solution(T_UNEVEN)), uniform=False)
    assert info.dt == pytest.approx(0.01)
    np.testing.assert_array_equal(info.times, T_UNEVEN)
    with pytest.raises(KoopkitError, match="uneven"):
        as_snapshots(series(T_UNEVEN, solution(T_UNEVEN)))


@pytest.mark.parametrize(
    "params, data, message",
    [
        (dict(constraints="stabel"), None, "unknown constraint 'stabel'"),
        (dict(constraints={"stable", 3}), None, "unknown constraint 3"),
        (dict(bag_fraction=1.5), None, "bag_fraction"),
        (dict(n_bags=-1), None, "n_bags"),
        (dict(rank=2), series(np.array([0.0, 0.1, 0.1, 0.3]), np.ones((4, 2))), "increase"),
        (dict(rank=2), series(np.array([0.0, 0.2, 0.1, 0.3]), np.ones((4, 2))), "increase"),
        (dict(rank=3), series(np.arange(3.0), np.eye(3)), "rank"),
    ],
)
def test_bad_input_one_line_errors(params, data, message):
    if data is None:
        data = series(T_EVEN[:100], solution(T_EVEN[:100]))
    with pytest.raises(KoopkitError, match=message) as err:
        koopkit.OptDMD(**params).fit(data)
    assert "\n" not in str(err.value)


@pytest.mark.slow
def test_bagged_std_matches_the_monte_carlo_spread():
    """The jackknife-scaled bag std estimates the spread of the full fit over independent
    noise draws (computed here by Monte Carlo)."""
    rng = np.random.default_rng(5)
    t = np.sort(rng.uniform(0, 20, 200))
    clean = solution(t, A - 0.05 * np.eye(2))
    fits, stds = [], []
    for k in range(40):
        noisy = clean + 0.05 * rng.standard_normal(clean.shape)
        model = koopkit.OptDMD(rank=2, n_bags=30, seed=k).fit(series(t, noisy))
        up = np.argmax(model.eigenvalues_.imag)
        fits.append(model.eigenvalues_[up])
        stds.append(model.spectrum_.to_dataset()["eigenvalue_std_imag"].values[up])
    spread = np.std(np.imag(fits), ddof=1)
    ratio = np.sqrt(np.mean(np.square(stds))) / spread
    print(f"jackknife std / Monte Carlo spread = {ratio:.3f}")
    assert 0.7 < ratio < 1.4, ratio


def test_frequency_above_the_median_steps_nyquist():
    """Steps of 0.2 (60%) and 0.01: a tone at 3 per unit aliases on a grid of the median (or
    mean) step; the periodogram start finds it, and the spectrum's dt is shortened so the
    discrete eigenvalues keep the continuous ones."""
    rng = np.random.default_rng(0)
    t = np.r_[0.0, np.cumsum(np.where(rng.uniform(size=299) < 0.6, 0.2, 0.01))]
    alpha = -0.02 + 2j * np.pi * 3.0
    x = np.stack([np.exp(alpha * t).real, (np.exp(alpha * t) * np.exp(0.4j)).imag], axis=1)
    model = koopkit.OptDMD(rank=2).fit(series(t, x))
    assert alpha_error(model, np.array([alpha, alpha.conjugate()])) < 1e-8
    spec = model.spectrum_
    assert spec.dt < 0.2 and np.abs(spec.frequencies.values).max() == pytest.approx(3.0, 1e-10)
    later = np.array([34.5, 35.123])
    truth = np.stack([np.exp(alpha * later).real, (np.exp(alpha * later) * np.exp(0.4j)).imag], 1)
    np.testing.assert_allclose(model.predict(times=later).values, truth, atol=1e-8)


def test_video_with_irregular_timestamps_without_resampling(tmp_path):
    """A clip whose frames last 20 to 50 ms (as in GIFs), written with PyAV at those exact
    timestamps: open_video keeps them and OptDMD finds the pattern's 1.3 Hz within 0.5%."""
    av = pytest.importorskip("av")
    from fractions import Fraction

    rng = np.random.default_rng(5)
    pts = np.concatenate([[0], np.cumsum(rng.integers(20, 51, 159))])  # milliseconds
    t = pts / 1000.0
    f_true = 1.3
    yy, xx = np.mgrid[0:32, 0:32] / 32.0
    p1, p2 = np.cos(2 * np.pi * xx), np.sin(2 * np.pi * yy)
    path = tmp_path / "irregular.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=1000)
        stream.height, stream.width, stream.pix_fmt = 32, 32, "gray"
        for k, tk in enumerate(t):
            phase = 2 * np.pi * f_true * tk
            img = 0.5 + 0.2 * np.cos(phase) * p1 + 0.2 * np.sin(phase) * p2
            frame = av.VideoFrame.from_ndarray(np.round(255 * img).astype(np.uint8), "gray")
            frame.pts, frame.time_base = int(pts[k]), Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    video = koopkit.open_video(path, irregular="keep")
    np.testing.assert_allclose(video.time.values, t, atol=1e-12)  # the true times, kept
    assert np.ptp(np.diff(video.time.values)) > 0.02  # really uneven
    model = koopkit.OptDMD(rank=3).fit(video)
    f = np.abs(model.spectrum_.frequencies.values)
    lead = f[np.argmin(np.abs(f - f_true))]
    assert abs(lead - f_true) / f_true < 0.005

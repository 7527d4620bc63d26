"""Tests for koopkit.datasets: every generator is checked against independent ground truth."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.integrate import solve_ivp
from scipy.optimize import linear_sum_assignment

from koopkit._errors import KoopkitError
from koopkit.datasets import (
    bouncing_balls,
    linear_system,
    pendulum,
    pendulum_period,
    pendulum_state,
)

G_OVER_L = 9.81


def assert_one_line_error(excinfo: pytest.ExceptionInfo, *fragments: str) -> None:
    message = str(excinfo.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


def match_eigenvalues(found: np.ndarray, expected: np.ndarray) -> float:
    """Largest distance between the two sets after optimal one-to-one matching."""
    cost = np.abs(found[:, None] - expected[None, :])
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].max())


def dynamics_on_span(data: np.ndarray, rank: int) -> tuple[np.ndarray, float, np.ndarray]:
    """Least-squares A with y_{k+1} = A y_k on the rank-``rank`` span of the snapshots.

    Returns A, the relative residual of the fit, and the singular values of the snapshots.
    """
    snapshots = data.T  # (feature, time)
    u, s, _ = np.linalg.svd(snapshots, full_matrices=False)
    basis = u[:, :rank]
    reduced = basis.conj().T @ snapshots
    past, future = reduced[:, :-1], reduced[:, 1:]
    a_t, *_ = np.linalg.lstsq(past.T, future.T, rcond=None)
    a = a_t.T
    residual = np.linalg.norm(future - a @ past) / np.linalg.norm(future)
    return a, float(residual), s


# ------------------------------------------------------------------------------------------
# linear_system

REAL_EIGS = np.array(
    [
        0.97 * np.exp(0.3j),
        0.97 * np.exp(-0.3j),
        0.9 * np.exp(-1.1j),
        0.9 * np.exp(1.1j),
        1.0,
        0.8,
        -0.6,
    ]
)


def test_linear_system_real_spectrum_is_exact():
    da = linear_system(REAL_EIGS, n_features=30, n_snapshots=60, seed=3)
    data = da.values
    assert da.dims == ("time", "feature")
    assert data.dtype == np.float64
    assert data.shape == (60, 30)
    a, residual, s = dynamics_on_span(data, REAL_EIGS.size)
    # the snapshots span exactly as many dimensions as there are eigenvalues
    assert s[REAL_EIGS.size] < 1e-12 * s[0]
    assert residual < 1e-12
    assert match_eigenvalues(np.linalg.eigvals(a), REAL_EIGS) < 1e-10


def test_linear_system_complex_data_any_spectrum():
    eigs = np.array([0.95 * np.exp(0.4j), 0.7 * np.exp(2.0j), 0.99, 0.5j])
    da = linear_system(eigs, n_features=12, n_snapshots=40, complex_data=True, seed=1)
    assert da.dtype == np.complex128
    a, residual, s = dynamics_on_span(da.values, eigs.size)
    assert s[eigs.size] < 1e-12 * s[0]
    assert residual < 1e-12
    assert match_eigenvalues(np.linalg.eigvals(a), eigs) < 1e-10


def test_linear_system_snapshots_follow_one_linear_map_in_full_space():
    # x_{k+1} = A x_k with A = Phi diag(lam) Phi^+ built from the data alone
    eigs = [0.9 * np.exp(0.5j), 0.9 * np.exp(-0.5j), 0.7]
    data = linear_system(eigs, n_features=8, n_snapshots=30, seed=5).values.T
    a = data[:, 1:] @ np.linalg.pinv(data[:, :-1], rcond=1e-12)
    np.testing.assert_allclose(a @ data[:, :-1], data[:, 1:], atol=1e-12)
    nonzero = np.linalg.eigvals(a)
    nonzero = nonzero[np.abs(nonzero) > 1e-8]
    assert match_eigenvalues(nonzero, np.asarray(eigs)) < 1e-10


def test_linear_system_metadata_and_amplitudes():
    da = linear_system(REAL_EIGS, n_features=10, n_snapshots=5, dt=0.25, seed=2)
    np.testing.assert_allclose(da["time"].values, 0.25 * np.arange(5))
    assert da["time"].attrs["units"]
    np.testing.assert_array_equal(da.attrs["eigenvalues_real"], REAL_EIGS.real)
    np.testing.assert_array_equal(da.attrs["eigenvalues_imag"], REAL_EIGS.imag)
    assert da.attrs["dt"] == 0.25
    assert da.attrs["noise"] == 0.0
    assert da.attrs["seed"] == 2
    # amplitudes of order one: the first snapshot is neither tiny nor huge
    assert 0.5 < np.linalg.norm(da.values[0]) < 10


def test_linear_system_is_seeded_and_noise_is_independent():
    clean = linear_system(REAL_EIGS, n_features=40, n_snapshots=500, seed=7)
    again = linear_system(REAL_EIGS, n_features=40, n_snapshots=500, seed=7)
    other = linear_system(REAL_EIGS, n_features=40, n_snapshots=500, seed=8)
    noisy = linear_system(REAL_EIGS, n_features=40, n_snapshots=500, seed=7, noise=0.1)
    np.testing.assert_array_equal(clean.values, again.values)
    assert not np.allclose(clean.values, other.values)
    residual = noisy.values - clean.values
    assert abs(residual.std() - 0.1) < 0.005
    assert abs(residual.mean()) < 0.005
    assert noisy.attrs["noise"] == 0.1


def test_linear_system_complex_noise_std():
    clean = linear_system([0.9j], n_features=50, n_snapshots=400, complex_data=True)
    noisy = linear_system([0.9j], n_features=50, n_snapshots=400, complex_data=True, noise=0.2)
    residual = noisy.values - clean.values
    assert abs(np.sqrt(np.mean(np.abs(residual) ** 2)) - 0.2) < 0.005


def test_linear_system_missing_conjugate():
    with pytest.raises(KoopkitError) as excinfo:
        linear_system([0.9 * np.exp(0.3j), 0.5], n_features=5)
    assert_one_line_error(excinfo, "conjugate", "complex_data=True")


def test_linear_system_unbalanced_conjugates():
    lam = 0.9 * np.exp(0.3j)
    with pytest.raises(KoopkitError) as excinfo:
        linear_system([lam, lam, np.conj(lam)], n_features=5)
    assert_one_line_error(excinfo, "conjugate")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"eigenvalues": [0.5, 0.4, 0.3], "n_features": 2}, "n_features"),
        ({"eigenvalues": []}, "empty"),
        ({"eigenvalues": [np.nan]}, "finite"),
        ({"eigenvalues": [0.5], "n_snapshots": 0}, "n_snapshots"),
        ({"eigenvalues": [0.5], "dt": -1.0}, "dt"),
        ({"eigenvalues": [0.5], "noise": -0.1}, "noise"),
        ({"eigenvalues": [5.0], "n_snapshots": 1000}, "snapshots"),
    ],
)
def test_linear_system_bad_arguments(kwargs, fragment):
    with pytest.raises(KoopkitError) as excinfo:
        linear_system(**kwargs)
    assert_one_line_error(excinfo, fragment)


# ------------------------------------------------------------------------------------------
# pendulum


def integrate(theta0: float, times: np.ndarray) -> np.ndarray:
    def rhs(_t, state):
        return [state[1], -G_OVER_L * np.sin(state[0])]

    sol = solve_ivp(
        rhs,
        (0.0, times[-1]),
        [theta0, 0.0],
        t_eval=times,
        method="DOP853",
        rtol=1e-13,
        atol=1e-13,
    )
    assert sol.success
    return sol.y


@pytest.mark.parametrize("theta0", [0.8, 2.0, -1.5])
def test_pendulum_state_matches_numerical_integration(theta0):
    times = np.arange(100) * 0.1
    theta, theta_dot = pendulum_state(theta0, times)
    reference = integrate(theta0, times)
    np.testing.assert_allclose(theta, reference[0], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(theta_dot, reference[1], rtol=1e-10, atol=1e-10)


def test_pendulum_data_is_lifted_state():
    da = pendulum(theta0=0.8, n_snapshots=120, dt=0.1, n_features=16, seed=4)
    assert da.dims == ("time", "feature")
    assert da.shape == (120, 16)
    assert da["time"].attrs["units"] == "s"
    np.testing.assert_allclose(da["time"].values, 0.1 * np.arange(120))
    lift = np.stack([da["lift_theta"].values, da["lift_theta_dot"].values], axis=1)
    np.testing.assert_allclose(lift.T @ lift, np.eye(2), atol=1e-14)
    state = da.values @ lift
    reference = integrate(0.8, da["time"].values)
    np.testing.assert_allclose(state.T, reference, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(da["theta"].values, reference[0], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(da["theta_dot"].values, reference[1], rtol=1e-10, atol=1e-10)
    # the data lie in the 2-D span of the lift
    np.testing.assert_allclose(da.values, state @ lift.T, atol=1e-13)


def test_pendulum_release_from_rest():
    theta, theta_dot = pendulum_state(1.3, np.array([0.0]))
    assert theta[0] == 1.3
    assert theta_dot[0] == 0.0
    # it starts by swinging towards zero
    theta, theta_dot = pendulum_state(1.3, np.array([0.01]))
    assert theta[0] < 1.3
    assert theta_dot[0] < 0


def arithmetic_geometric_mean(a: float, b: float) -> float:
    for _ in range(60):
        a, b = (a + b) / 2, np.sqrt(a * b)
    return a


@pytest.mark.parametrize("theta0", [1e-6, 0.1, 0.8, 2.0, 3.0])
def test_pendulum_period_formula(theta0):
    # independent closed form: T = 2 pi / (omega0 * AGM(1, cos(theta0 / 2)))
    omega0 = np.sqrt(G_OVER_L)
    expected = 2 * np.pi / (omega0 * arithmetic_geometric_mean(1.0, np.cos(theta0 / 2)))
    assert pendulum_period(theta0) == pytest.approx(expected, rel=1e-12)
    assert pendulum_period(-theta0) == pytest.approx(expected, rel=1e-12)


def test_pendulum_period_small_angle_limit():
    small = 2 * np.pi / np.sqrt(G_OVER_L)
    assert pendulum_period(1e-7) == pytest.approx(small, rel=1e-12)
    # the period grows with amplitude: T ~ T0 (1 + theta0^2 / 16)
    assert pendulum_period(0.05) == pytest.approx(small * (1 + 0.05**2 / 16), rel=1e-7)
    assert pendulum_period(0.8) > pendulum_period(0.4) > small


def test_pendulum_period_matches_integration_and_attrs():
    da = pendulum(theta0=1.2, n_snapshots=10, dt=0.1, n_features=4)
    period = da.attrs["period"]
    assert da.attrs["frequency"] == pytest.approx(1 / period, rel=1e-15)
    assert da.attrs["theta0"] == 1.2
    assert da.attrs["dt"] == 0.1
    assert da.attrs["g_over_L"] == G_OVER_L

    def crossing(_t, state):
        return state[1]

    crossing.direction = -1  # theta_dot going from + to -: back at the release point

    sol = solve_ivp(
        lambda _t, s: [s[1], -G_OVER_L * np.sin(s[0])],
        (0.0, 2.5 * period),
        [1.2, 0.0],
        method="DOP853",
        rtol=1e-13,
        atol=1e-13,
        events=crossing,
    )
    returns = sol.t_events[0][sol.t_events[0] > 0.5 * period]
    assert returns[0] == pytest.approx(period, rel=1e-10)
    assert returns[1] == pytest.approx(2 * period, rel=1e-10)
    # and the exact solution is periodic with that period
    times = np.linspace(0, 3, 31)
    np.testing.assert_allclose(
        np.array(pendulum_state(1.2, times + period)),
        np.array(pendulum_state(1.2, times)),
        atol=1e-12,
    )


@pytest.mark.parametrize("theta0", [0.8, 2.5, -3.0])
def test_pendulum_energy_is_conserved(theta0):
    theta, theta_dot = pendulum_state(theta0, np.linspace(0, 200, 2001))
    energy = 0.5 * theta_dot**2 - G_OVER_L * np.cos(theta)
    np.testing.assert_allclose(energy, -G_OVER_L * np.cos(theta0), rtol=0, atol=1e-11)


def test_pendulum_seed_and_noise():
    clean = pendulum(n_snapshots=400, n_features=32, seed=1)
    again = pendulum(n_snapshots=400, n_features=32, seed=1)
    noisy = pendulum(n_snapshots=400, n_features=32, seed=1, noise=0.05)
    other = pendulum(n_snapshots=400, n_features=32, seed=2)
    np.testing.assert_array_equal(clean.values, again.values)
    assert not np.allclose(clean.values, other.values)
    assert abs((noisy.values - clean.values).std() - 0.05) < 0.002
    # noise does not change the lift or the noise-free state
    np.testing.assert_array_equal(noisy["lift_theta"].values, clean["lift_theta"].values)
    np.testing.assert_array_equal(noisy["theta"].values, clean["theta"].values)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"theta0": np.pi}, "theta0"),
        ({"theta0": -4.0}, "theta0"),
        ({"theta0": float("nan")}, "theta0"),
        ({"n_features": 1}, "n_features"),
        ({"dt": 0.0}, "dt"),
        ({"n_snapshots": 2.5}, "n_snapshots"),
        ({"seed": -1}, "seed"),
    ],
)
def test_pendulum_bad_arguments(kwargs, fragment):
    with pytest.raises(KoopkitError) as excinfo:
        pendulum(**kwargs)
    assert_one_line_error(excinfo, fragment)


def test_pendulum_state_bad_times():
    with pytest.raises(KoopkitError) as excinfo:
        pendulum_state(0.5, [0.0, np.inf])
    assert_one_line_error(excinfo, "times")


# ------------------------------------------------------------------------------------------
# bouncing balls


def ball_centroids(video) -> np.ndarray:
    """Intensity-weighted mean row in each ball's column band, shape (ball, time)."""
    frames = video.values.astype(np.float64)
    size = frames.shape[-1]
    n_balls = len(video.attrs["frequencies"])
    rows = video["y"].values
    width = size // n_balls
    out = []
    for i in range(n_balls):
        band = frames[:, :, i * width : (i + 1) * width]
        weights = band.sum(axis=2)  # (time, y)
        out.append((weights * rows).sum(axis=1) / weights.sum(axis=1))
    return np.array(out)


def test_bouncing_balls_shape_and_coords():
    video = bouncing_balls()
    assert video.dims == ("time", "y", "x")
    assert video.shape == (300, 64, 64)
    assert video.dtype == np.float32
    assert float(video.min()) == 0.0
    assert float(video.max()) == 1.0
    np.testing.assert_allclose(video["time"].values, 0.05 * np.arange(300))
    assert video["time"].attrs["units"]
    assert video["x"].attrs["units"] == "pixel"
    assert video["y"].attrs["units"] == "pixel"
    np.testing.assert_array_equal(video["x"].values, np.arange(64))
    for key in ("frequencies", "amplitudes", "radii", "phases"):
        assert isinstance(video.attrs[key], list)
        assert len(video.attrs[key]) == 2
    assert video.attrs["dt"] == 0.05
    assert isinstance(video.attrs["description"], str)


def test_bouncing_balls_default_frequencies_are_well_resolved():
    video = bouncing_balls()
    duration = 300 * 0.05
    nyquist = 0.5 / 0.05
    for f in video.attrs["frequencies"]:
        assert f * duration >= 5  # at least five periods in the record
        assert 5 * f < nyquist  # room for several harmonics
    f1, f2 = video.attrs["frequencies"]
    assert abs(f1 - f2) > 5 / duration


def test_bouncing_balls_follow_prescribed_sinusoids():
    video = bouncing_balls(seed=3)
    attrs = video.attrs
    times = video["time"].values
    centroids = ball_centroids(video)
    for i, centroid in enumerate(centroids):
        expected = attrs["center_y"] + attrs["amplitudes"][i] * np.sin(
            2 * np.pi * attrs["frequencies"][i] * times + attrs["phases"][i]
        )
        assert np.max(np.abs(centroid - expected)) < 0.05  # pixels


def test_bouncing_balls_spectral_peak_at_attr_frequency():
    video = bouncing_balls()
    dt = video.attrs["dt"]
    for i, centroid in enumerate(ball_centroids(video)):
        signal = (centroid - centroid.mean()) * np.hanning(centroid.size)
        n_fft = 64 * centroid.size
        spectrum = np.abs(np.fft.rfft(signal, n=n_fft))
        freqs = np.fft.rfftfreq(n_fft, d=dt)
        peak = freqs[np.argmax(spectrum)]
        assert peak == pytest.approx(video.attrs["frequencies"][i], abs=0.01)


def test_bouncing_balls_do_not_overlap_and_stay_in_frame():
    video = bouncing_balls(n_snapshots=200, size=48, frequencies=(0.2, 0.5, 1.3), seed=2)
    frames = video.values
    width = 48 // 3
    for i, x in enumerate(video.attrs["centers_x"]):
        band = frames[:, :, i * width : (i + 1) * width]
        mass = band.sum(axis=(1, 2))
        # each band holds a whole ball in every frame: its area is about pi r^2
        r = video.attrs["radii"][i]
        np.testing.assert_allclose(mass, np.pi * r**2, rtol=0.03)
        # and nothing touches the band edges
        assert band[:, :, 0].max() == 0 and band[:, :, -1].max() == 0
        assert i * width < x < (i + 1) * width
    # no pixel on the first/last row is lit: balls stay in the frame
    assert frames[:, 0, :].max() == 0 and frames[:, -1, :].max() == 0


def test_bouncing_balls_seeded():
    a = bouncing_balls(n_snapshots=20, size=32, seed=1)
    b = bouncing_balls(n_snapshots=20, size=32, seed=1)
    c = bouncing_balls(n_snapshots=20, size=32, seed=2)
    np.testing.assert_array_equal(a.values, b.values)
    assert a.attrs["phases"] != c.attrs["phases"]
    assert not np.array_equal(a.values, c.values)


def test_bouncing_balls_noise_stays_in_unit_range():
    video = bouncing_balls(n_snapshots=20, size=32, noise=0.1)
    assert video.dtype == np.float32
    assert 0.0 <= float(video.min()) and float(video.max()) <= 1.0
    assert video.attrs["noise"] == 0.1


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"frequencies": (0.35, 10.0)}, "Nyquist"),
        ({"frequencies": (0.0, 1.0)}, "frequencies"),
        ({"frequencies": ()}, "frequencies"),
        ({"amplitudes": (10.0,)}, "amplitudes"),
        ({"amplitudes": (40.0, 5.0)}, "amplitudes"),
        ({"radii": (20.0, 20.0)}, "radii"),
        ({"radii": (-1.0, 2.0)}, "radii"),
        ({"size": 2}, "size"),
        ({"n_snapshots": 0}, "n_snapshots"),
        ({"dt": float("inf")}, "dt"),
    ],
)
def test_bouncing_balls_bad_arguments(kwargs, fragment):
    with pytest.raises(KoopkitError) as excinfo:
        bouncing_balls(**kwargs)
    assert_one_line_error(excinfo, fragment)


# ------------------------------------------------------------------ renamed keywords
def test_every_generator_calls_the_number_of_snapshots_n_snapshots():
    import inspect

    from koopkit.datasets import cylinder_flow

    for generator in (bouncing_balls, linear_system, pendulum, cylinder_flow):
        assert "n_snapshots" in inspect.signature(generator).parameters, generator.__name__


def test_bouncing_balls_old_n_frames_keyword_warns_and_gives_the_same_video():
    with pytest.warns(DeprecationWarning, match="'n_frames' is deprecated; use 'n_snapshots'"):
        old = bouncing_balls(n_frames=20, size=32, seed=1, noise=0.1)
    new = bouncing_balls(n_snapshots=20, size=32, seed=1, noise=0.1)
    assert old.sizes["time"] == 20
    xr.testing.assert_identical(old, new)
    # positional calls are unchanged
    xr.testing.assert_identical(bouncing_balls(20, 32, 1, noise=0.1), new)


def test_old_and_new_keyword_together_is_a_one_line_error():
    with pytest.raises(KoopkitError) as excinfo:
        bouncing_balls(n_frames=20, n_snapshots=20)
    assert_one_line_error(excinfo, "n_snapshots", "n_frames")


def test_renamed_kwarg_warns_at_the_callers_line():
    from koopkit._util import renamed_kwarg

    @renamed_kwarg("old", "new")
    def f(new=0):
        return new

    with pytest.warns(DeprecationWarning) as record:
        assert f(old=3) == 3
    assert record[0].filename == __file__
    assert f(new=4) == 4 and f(5) == 5

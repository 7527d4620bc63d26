"""EDMD against systems whose Koopman eigenvalues and eigenfunctions are known exactly."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from conftest import TRUE_EIGENVALUES, make_linear, match

import koopkit
from koopkit import DMD, EDMD, ExactDMD, KoopkitError
from koopkit.backends.edmd import ResidualWarning
from koopkit.observables import RBF, Delays, GaussianKernel, Identity, Polynomial, RandomFourier

#: Williams, Kevrekidis & Rowley (2015), section 4.1: a linear map with a polynomial dictionary
J = np.array([[0.9, -0.1], [0.0, 0.8]])
DEGREES = [(i, j) for i in range(5) for j in range(5) if i + j <= 4]


def williams_pairs(n: int = 500, seed: int = 0) -> list[np.ndarray]:
    x0 = np.random.default_rng(seed).uniform(-1, 1, (n, 2))
    return [np.stack([a, J @ a]) for a in x0]  # n trajectories of 2 snapshots


@pytest.mark.parametrize("form", ["primal", "kernel"])
def test_williams_linear_map_eigenvalues_and_eigenfunctions(form):
    model = EDMD(Polynomial(4), form=form).fit(williams_pairs(), dt=1.0)
    lam = model.spectrum_.eigenvalues.values
    truth = np.array([0.9**i * 0.8**j for i, j in DEGREES])
    assert len(lam) == 15 and model.form_ == form
    np.testing.assert_allclose(np.sort(lam.real), np.sort(truth), atol=1e-10)
    assert np.abs(lam.imag).max() < 1e-10
    # eigenfunction of 0.9^i 0.8^j is ((x - y)/sqrt 2)^i y^j, up to scale, on a grid
    grid = np.stack(np.meshgrid(np.linspace(-1, 1, 9), np.linspace(-1, 1, 9)), -1).reshape(-1, 2)
    values = model.eigenfunctions(grid)
    assert values.dims == ("point", "mode") and values.shape == (81, 15)
    for k, ev in enumerate(lam.real):
        i, j = DEGREES[int(np.argmin(np.abs(truth - ev)))]
        expect = ((grid[:, 0] - grid[:, 1]) / np.sqrt(2)) ** i * grid[:, 1] ** j
        got = values.values[:, k]
        scale = np.vdot(expect, got) / np.vdot(expect, expect)
        assert np.linalg.norm(got - scale * expect) <= 1e-6 * np.linalg.norm(got)
    # exact dictionary: every eigenpair is confirmed by the data
    assert model.spectrum_.residuals.max() < 1e-10


def finite_subspace(mu: float, lam: float, dt: float = 0.5, seed: int = 0) -> list[np.ndarray]:
    """x1' = mu x1, x2' = lam (x2 - x1^2): 20 trajectories of 30 steps, solved exactly."""
    rng = np.random.default_rng(seed)
    b = lam / (lam - 2 * mu)
    t = np.arange(31) * dt
    out = []
    for x10, x20 in rng.uniform(-1, 1, (20, 2)):
        x1 = x10 * np.exp(mu * t)
        x2 = (x20 - b * x10**2) * np.exp(lam * t) + b * x1**2
        out.append(np.stack([x1, x2], axis=1))
    return out


@pytest.mark.parametrize(
    "mu, lam", [(-0.05, -1.0), (-0.1, -0.8), (0.1, -1.0), (-0.3, -0.1), (-0.5, -0.05)]
)
def test_invariant_subspace_is_exact_and_the_rest_is_flagged(mu, lam):
    dt = 0.5
    model = EDMD(Polynomial(2)).fit(finite_subspace(mu, lam, dt), dt=dt)
    ev = model.spectrum_.eigenvalues.values
    res = model.spectrum_.residuals.values
    truth = np.exp(np.array([0.0, mu, 2 * mu, lam]) * dt)  # 1, x1, x1^2, x2 - b x1^2
    found = [int(np.argmin(np.abs(ev - t))) for t in truth]
    assert len(set(found)) == 4
    np.testing.assert_allclose(ev[found], truth, atol=1e-10)
    assert res[found].max() <= 1e-6
    # x1 x2 and x2^2 are not closed in the dictionary: their eigenpairs are flagged
    rest = np.setdiff1d(np.arange(6), found)
    assert res[rest].min() >= 1e-3


def test_many_short_trajectories_dmd_and_edmd():
    x = make_linear(TRUE_EIGENVALUES, 12, 200, 0.1)
    parts = [x.isel(time=slice(4 * i, 4 * i + 4)) for i in range(50)]
    for model in (
        DMD(rank=None, solver="svd"),
        DMD(rank=None, solver="gram"),
        ExactDMD(rank=6, solver="randomized"),
        DMD(rank=None, delays=2),
        EDMD(),
        EDMD(Delays(2)),
    ):
        spec = model.fit(parts).spectrum_
        assert len(spec) == 6
        assert match(spec.eigenvalues.values, TRUE_EIGENVALUES).max() < 1e-8, model
    # the same trajectories along a `trajectory` dimension (common time coordinate)
    stacked = xr.concat(
        [p.assign_coords(time=x.time[:4].values) for p in parts], dim="trajectory", join="exact"
    )
    a = DMD(rank=None).fit(stacked).spectrum_.eigenvalues.values
    b = DMD(rank=None).fit(parts).spectrum_.eigenvalues.values
    np.testing.assert_allclose(np.sort_complex(a), np.sort_complex(b), atol=1e-12)


def test_pairs_never_cross_trajectories():
    # two trajectories of different systems glued end to end would mix; as a list, each
    # pair is exact, so a 2-mode dictionary recovers both decay rates exactly
    a = 0.5 ** np.arange(3)[:, None] * np.array([[1.0, 0.0]])
    b = 0.8 ** np.arange(3)[:, None] * np.array([[0.0, 1.0]])
    lam = np.sort(EDMD().fit([a, b], dt=1.0).spectrum_.eigenvalues.values.real)
    np.testing.assert_allclose(lam, [0.5, 0.8], atol=1e-13)
    glued = np.sort(EDMD().fit(np.concatenate([a, b]), dt=1.0).spectrum_.eigenvalues.values.real)
    assert np.abs(glued - [0.5, 0.8]).max() > 0.01  # the crossing pair spoils it


def test_identity_dictionary_is_dmd_and_forecasts_the_system():
    x = make_linear(TRUE_EIGENVALUES, 10, 120, 0.1)
    edmd = EDMD(Identity()).fit(x.isel(time=slice(0, 100)))
    dmd = DMD(rank=None).fit(x.isel(time=slice(0, 100)))
    np.testing.assert_allclose(
        np.sort_complex(edmd.spectrum_.eigenvalues.values),
        np.sort_complex(dmd.spectrum_.eigenvalues.values),
        atol=1e-10,
    )
    future = edmd.predict(steps=20)
    assert future.dims == x.dims and np.allclose(future.time, x.time[100:])
    np.testing.assert_allclose(future.values, x.values[100:], atol=1e-9)
    np.testing.assert_allclose(edmd.reconstruct().values, x.values[:100], atol=1e-9)
    # eigenfunctions at the first state are the amplitudes (same scaling)
    phi = edmd.eigenfunctions(x.isel(time=slice(0, 100)))
    np.testing.assert_allclose(phi.values[0], edmd.spectrum_.amplitudes.values, atol=1e-9)
    np.testing.assert_allclose(phi.time, x.time[:100])
    # from any initial state
    start = edmd.predict(steps=5, initial=x.isel(time=49))
    np.testing.assert_allclose(start.values, x.values[50:55], atol=1e-9)


def test_delays_in_the_dictionary_forecast_a_scalar_oscillation():
    t = np.arange(150) * 0.05
    y = xr.DataArray(
        (np.cos(2 * np.pi * 1.5 * t) + 0.5 * np.sin(2 * np.pi * 0.4 * t))[:, None],
        dims=("time", "sensor"),
        coords={"time": t},
    )
    model = EDMD(Delays(4)).fit(y.isel(time=slice(0, 120)))
    np.testing.assert_allclose(
        np.sort(model.spectrum_.leading_frequencies(2, exclude_harmonics=False)), [0.4, 1.5]
    )
    np.testing.assert_allclose(model.predict(steps=30).values, y.values[120:], atol=1e-8)
    recon = model.reconstruct()
    assert recon.sizes["time"] == 120
    np.testing.assert_allclose(recon.values, y.values[:120], atol=1e-8)
    hist = model.predict(steps=3, initial=y.isel(time=slice(60, 64)))
    np.testing.assert_allclose(hist.values, y.values[64:67], atol=1e-8)
    with pytest.raises(KoopkitError, match="needs the last 4 frames"):
        model.predict(steps=3, initial=y.isel(time=slice(60, 62)))
    with pytest.raises(KoopkitError, match="4 snapshots of history"):
        model.eigenfunctions(np.ones((3, 1)))


def test_regularization_is_tikhonov_in_the_dictionary():
    x = np.random.default_rng(3).standard_normal((60, 2)).cumsum(0) * 0.1
    reg = 0.5
    model = EDMD(Polynomial(2), regularization=reg).fit(x, dt=1.0)
    psi = Polynomial(2).fit(x).transform(x)
    px, py = psi[:-1], psi[1:]
    # in the basis of the right singular vectors of Psi_X: K = (S^2 + reg)^-1 Z^H A Z
    _, s, zh = np.linalg.svd(px, full_matrices=False)
    z = zh.T
    k = np.diag(1 / (s**2 + reg)) @ z.T @ (px.T @ py) @ z
    np.testing.assert_allclose(
        np.sort_complex(model.spectrum_.eigenvalues.values),
        np.sort_complex(np.linalg.eigvals(k)),
        atol=1e-10,
    )


def test_kernel_form_residuals_need_held_out_pairs():
    trajs = finite_subspace(-0.1, -0.8, dt=0.1)
    train, held = trajs[:4], trajs[4:]  # 120 pairs, 200 random Fourier features
    with pytest.warns(ResidualWarning, match="residual_data"):
        model = EDMD(RandomFourier(200, seed=0)).fit(train, dt=0.1)
    assert model.form_ == "kernel" and np.isnan(model.spectrum_.residuals.values).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        checked = EDMD(RandomFourier(200, seed=0)).fit(train, dt=0.1, residual_data=held)
    res = checked.spectrum_.residuals.values
    ev = checked.spectrum_.eigenvalues.values
    assert np.isfinite(res).all() and checked.residual_matrices_.n_pairs == 16 * 30
    # the slowest true eigenvalues (1 and e^{mu dt}) are among the best-confirmed ones
    for true in np.exp(np.array([0.0, -0.1]) * 0.1):
        k = int(np.argmin(np.abs(ev - true)))
        assert abs(ev[k] - true) < 1e-3 and res[k] <= np.quantile(res, 0.1)


def test_kernel_and_primal_forms_agree_on_the_same_dictionary():
    trajs = finite_subspace(-0.2, -0.5)
    train, held = trajs[:10], trajs[10:]
    obs = RBF(40, seed=1)
    a = EDMD(obs, rank=20, form="primal").fit(train, residual_data=held, dt=0.5).spectrum_
    b = EDMD(obs, rank=20, form="kernel").fit(train, residual_data=held, dt=0.5).spectrum_
    np.testing.assert_allclose(
        np.sort_complex(a.eigenvalues.values), np.sort_complex(b.eigenvalues.values), atol=1e-8
    )
    np.testing.assert_allclose(np.sort(a.residuals.values), np.sort(b.residuals.values), atol=1e-7)


def test_out_of_core_fit_equals_in_memory(monkeypatch):
    da = pytest.importorskip("dask.array")
    from koopkit.backends import edmd as edmd_module

    monkeypatch.setattr(edmd_module, "DASK_BLOCK_BYTES", 7 * 2 * 8)  # 7-row blocks
    trajs = finite_subspace(-0.1, -0.8)[:3]
    frames = [
        xr.DataArray(
            da.from_array(t, chunks=(5, 2)),
            dims=("time", "x"),
            coords={"time": np.arange(31) * 0.1},
        )
        for t in trajs
    ]
    obs = Delays(2) + Polynomial(2)
    lazy = EDMD(obs).fit(frames)
    eager = EDMD(obs).fit([f.compute() for f in frames])
    assert lazy.form_ == "primal"
    a, b = lazy.spectrum_, eager.spectrum_
    np.testing.assert_allclose(a.eigenvalues.values, b.eigenvalues.values, atol=1e-9)
    np.testing.assert_allclose(a.residuals.values, b.residuals.values, atol=1e-6)
    # each mode times its amplitude (the eigenvectors' scale and sign are arbitrary)
    contrib = [s.amplitudes.values[:, None] * s.modes.values for s in (a, b)]
    np.testing.assert_allclose(contrib[0], contrib[1], atol=1e-7)
    np.testing.assert_allclose(
        lazy.predict(steps=5).values, eager.predict(steps=5).values, atol=1e-7
    )
    with pytest.raises(KoopkitError, match="form='kernel' needs the data in memory"):
        EDMD(obs, form="kernel").fit(frames)


def test_registry_params_and_errors():
    model = koopkit.backends.get("edmd", observables=Polynomial(3), rank=4)
    assert isinstance(model, EDMD) and model.get_params()["observables"].degree == 3
    assert repr(model) == "EDMD(observables=Polynomial(degree=3), rank=4)"
    x = np.random.default_rng(0).standard_normal((20, 2))
    for kwargs, message in [
        (dict(observables="poly"), "not an Observable"),
        (dict(regularization=-1.0), "regularization"),
        (dict(form="dual"), "form="),
        (dict(rank=0), "rank=0"),
    ]:
        with pytest.raises(KoopkitError, match=message):
            EDMD(**kwargs).fit(x, dt=1.0)
    with pytest.raises(KoopkitError, match="trajectory 1 has 2 snapshots"):
        EDMD(Delays(2)).fit([x, x[:2]], dt=1.0)
    with pytest.raises(KoopkitError, match="trajectory 1 has frames of shape"):
        EDMD().fit([x, x[:, :1]], dt=1.0)
    with pytest.raises(KoopkitError, match="not fitted"):
        EDMD().eigenfunctions(x)
    fitted = EDMD().fit(x, dt=1.0)
    with pytest.raises(KoopkitError, match="do not match the fitted frames"):
        fitted.eigenfunctions(np.ones((3, 5)))


def test_out_of_core_refuses_a_dictionary_too_large_to_sum(monkeypatch):
    da = pytest.importorskip("dask.array")
    from koopkit.backends import edmd as edmd_module

    monkeypatch.setattr(edmd_module, "LAZY_SUMS_BYTES", 10_000)
    frames = xr.DataArray(
        da.from_array(np.random.default_rng(0).standard_normal((30, 6)), chunks=(10, 6)),
        dims=("time", "x"),
        coords={"time": np.arange(30.0)},
    )
    with pytest.raises(KoopkitError, match="28 functions of 6 features"):
        EDMD(Polynomial(2)).fit(frames)


@pytest.mark.parametrize("rank", [8, 14])
@pytest.mark.parametrize("form", ["primal", "kernel"])
def test_gram_and_qr_paths_give_the_same_fit(monkeypatch, rank, form):
    """Large problems square the pairs into Gram matrices; small ones factor them by QR.

    (rank=None differs on purpose: Gram-based singular values resolve only down to
    sqrt(eps), so their round-off rule keeps fewer directions.)
    """
    from koopkit.backends import edmd as edmd_module

    trajs = finite_subspace(-0.1, -0.8)[:6]
    obs = RBF(30, seed=3) + Polynomial(2)
    held = finite_subspace(-0.1, -0.8, seed=5)[:4]
    fits = []
    for limit in (np.inf, 0):  # QR everywhere, then Gram everywhere
        monkeypatch.setattr(edmd_module, "QR_WORK_LIMIT", limit)
        model = EDMD(obs, rank=rank, form=form, regularization=1e-10)
        fits.append(model.fit(trajs, dt=0.5, residual_data=held))
    a, b = (m.spectrum_ for m in fits)
    np.testing.assert_allclose(a.eigenvalues.values, b.eigenvalues.values, atol=1e-7)
    np.testing.assert_allclose(a.residuals.values, b.residuals.values, atol=1e-5)
    contrib = [s.amplitudes.values[:, None] * s.modes.values for s in (a, b)]
    np.testing.assert_allclose(contrib[0], contrib[1], atol=1e-6)
    np.testing.assert_allclose(
        fits[0].predict(steps=5).values, fits[1].predict(steps=5).values, atol=1e-6
    )
    # eigenfunctions relative to their amplitude (each eigenvector's phase is arbitrary)
    ratio = [m.eigenfunctions(trajs[0]).values / m.spectrum_.amplitudes.values for m in fits]
    np.testing.assert_allclose(ratio[0], ratio[1], rtol=1e-5, atol=1e-7)


ROTATION = 0.95 * np.array([[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]])


@pytest.mark.parametrize("n_time", [40, 10])  # tall pairs (QR of them) and few pairs
@pytest.mark.parametrize("dictionary", ["independent", "duplicated"])
def test_small_primal_fit_of_a_rotation_is_exact(n_time, dictionary):
    """A damped rotation x' = J x: Polynomial(2) spans an invariant subspace, so EDMD's
    eigenvalues are the products of J's (complex pairs), forecasts follow J exactly and
    residuals vanish. With the state twice in the dictionary the rank rule drops the
    repeated directions (the reduced basis path)."""
    x = np.empty((n_time, 2))
    x[0] = [1.0, 0.5]
    for k in range(1, n_time):
        x[k] = ROTATION @ x[k - 1]
    obs = Polynomial(2) if dictionary == "independent" else Polynomial(2) + Identity()
    model = EDMD(obs).fit(x, dt=1.0)
    mu = np.linalg.eigvals(ROTATION)
    truth = np.array([1, mu[0], mu[1], mu[0] ** 2, mu[0] * mu[1], mu[1] ** 2])
    lam = model.spectrum_.eigenvalues.values
    assert model.rank_ == 6 and len(lam) == 6
    assert match(lam, truth).max() < 1e-10
    assert np.nanmax(model.spectrum_.residuals.values) < 1e-8
    forecast = model.predict(steps=4).values
    expected = [np.linalg.matrix_power(ROTATION, k) @ x[-1] for k in range(1, 5)]
    np.testing.assert_allclose(forecast, expected, atol=1e-10)


def test_real_eigenvector_helpers_equal_numpy():
    """The real-arithmetic solve with eigenvectors, the shared residual of conjugate pairs
    and the unpivoted least squares against plain NumPy."""
    from koopkit.backends._edmd_system import lstsq_independent, paired_residuals, solve_vectors
    from koopkit.backends._linalg import ResidualMatrices

    rng = np.random.default_rng(4)
    k = rng.standard_normal((12, 12))
    lam, c = np.linalg.eig(k)
    assert (lam.imag > 0).sum() >= 2  # conjugate pairs present
    b = rng.standard_normal((12, 3))
    np.testing.assert_allclose(solve_vectors(lam, c, b, True), np.linalg.solve(c, b), atol=1e-12)
    psi = rng.standard_normal((40, 12))
    for mats in (
        ResidualMatrices.from_values(psi[:-1], psi[1:]),
        ResidualMatrices(psi[:-1].T @ psi[:-1], psi[:-1].T @ psi[1:], psi[1:].T @ psi[1:], 39),
    ):
        num = np.linalg.norm(psi[1:] @ c - psi[:-1] @ c * lam, axis=0)
        expected = num / np.linalg.norm(psi[:-1] @ c, axis=0)
        np.testing.assert_allclose(paired_residuals(mats, lam, c, True), expected, rtol=1e-7)
    target = rng.standard_normal((40, 5))
    np.testing.assert_allclose(
        lstsq_independent(psi, target), np.linalg.lstsq(psi, target, rcond=None)[0], atol=1e-12
    )


# ------------------------------------------------------------------ exact Gaussian kernel
def _rotation(n: int = 200, omega: float = 0.3) -> np.ndarray:
    """A rotation by ``omega`` per step on the unit circle: the Koopman operator's
    eigenfunctions there are ``exp(i k theta)``, eigenvalues ``exp(i k omega)``."""
    t = np.arange(n)
    return np.stack([np.cos(omega * t), np.sin(omega * t)], axis=1)


def test_gaussian_kernel_finds_and_forecasts_a_rotation():
    """Kernel EDMD on 150 states of a rotation: exp(0.3i) to the Tikhonov bias (measured
    3e-10 with 1e-8; 1e-8 allowed), and 50 steps beyond the data to 1e-6 (measured 2e-8)."""
    x = _rotation()
    with pytest.warns(ResidualWarning):
        model = EDMD(GaussianKernel(0.5), regularization=1e-8).fit(x[:150], dt=1.0)
    assert model.form_ == "kernel" and model.n_observables_ == 149
    lam = model.spectrum_.eigenvalues.values
    assert np.min(np.abs(lam - np.exp(0.3j))) < 1e-8
    forecast = model.predict(50)
    np.testing.assert_allclose(np.asarray(forecast), x[150:], atol=1e-6)
    # the fitted states are reconstructed too
    np.testing.assert_allclose(np.asarray(model.reconstruct()), x[:150], atol=1e-6)


def test_gaussian_kernel_eigenfunctions_are_kernel_expansions():
    """At new states the eigenfunctions are ``k(u, X) a_j`` for the pairs' first states
    ``X``: evaluated here with NumPy's own Gaussian kernel, with ``a_j`` the least-squares
    fit on the fitted states; and the leading one is ``exp(i theta)`` up to a factor."""
    x = _rotation()
    with pytest.warns(ResidualWarning):
        model = EDMD(GaussianKernel(0.5), regularization=1e-8).fit(x[:150], dt=1.0)
    lam = model.spectrum_.eigenvalues.values
    j = int(np.argmin(np.abs(lam - np.exp(0.3j))))
    theta = np.linspace(0, 2 * np.pi, 17)
    new = np.stack([np.cos(theta), np.sin(theta)], 1)
    phi = model.eigenfunctions(new).values[:, j]
    scale = phi[0] / np.exp(1j * theta[0])
    np.testing.assert_allclose(phi, scale * np.exp(1j * theta), atol=1e-6 * abs(scale))
    d2 = ((new[:, None] - x[None, :149]) ** 2).sum(-1)
    direct = np.exp(-d2 / (2 * 0.5**2))
    fitted = model.eigenfunctions(x[:149]).values
    k_fit = np.exp(-((x[:149, None] - x[None, :149]) ** 2).sum(-1) / 0.5)
    coef = np.linalg.lstsq(k_fit, fitted, rcond=None)[0]
    np.testing.assert_allclose(direct @ coef[:, j], phi, atol=1e-6 * np.abs(phi).max())


def test_random_fourier_features_approach_the_exact_kernel():
    """``EDMD(RandomFourier(N, bandwidth=sigma))`` tends to ``EDMD(GaussianKernel(sigma))``:
    the six leading exact eigenvalues are found ever closer with 500, 5000 and 50000
    features (Monte Carlo error about 1/sqrt(N); measured 0.058, 0.016, 0.004)."""
    rng = np.random.default_rng(2)
    a = np.linalg.qr(rng.standard_normal((5, 5)))[0] * 0.95
    x = rng.uniform(-1, 1, (150, 5))
    pairs = [np.stack([u, np.tanh(a @ u)]) for u in x]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResidualWarning)
        exact = EDMD(GaussianKernel(0.5), regularization=1e-8).fit(pairs, dt=1.0)
        lam = exact.spectrum_.eigenvalues.values
        lead = lam[np.argsort(-np.abs(lam))[:6]]
        errors = []
        for n in (500, 5000, 50000):
            approx = EDMD(RandomFourier(n, bandwidth=0.5, seed=0), regularization=1e-8)
            mu = approx.fit(pairs, dt=1.0).spectrum_.eigenvalues.values
            errors.append(np.abs(lead[:, None] - mu[None, :]).min(axis=1).max())
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.01


def test_gaussian_kernel_weights_are_weighted_distances():
    """Weights over the features: the kernel of ``sqrt(w) x`` (the same eigenvalues as on
    data scaled by hand), modes back in the data's units."""
    x = _rotation(120) * np.array([1.0, 3.0])
    w = np.array([4.0, 1.0 / 9.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResidualWarning)
        weighted = EDMD(GaussianKernel(0.7), regularization=1e-8).fit(x, dt=1.0, weights=w)
        scaled = EDMD(GaussianKernel(0.7), regularization=1e-8).fit(x * np.sqrt(w), dt=1.0)
    a = weighted.spectrum_.eigenvalues.values
    b = scaled.spectrum_.eigenvalues.values
    assert match(a, b).max() < 1e-9
    np.testing.assert_allclose(
        np.asarray(weighted.predict(10)), _rotation(130)[120:] * [1, 3], atol=1e-5
    )


def test_gaussian_kernel_model_saves_and_loads(tmp_path):
    x = _rotation(100)
    with pytest.warns(ResidualWarning):
        model = EDMD(GaussianKernel(delays=2), regularization=1e-8).fit(x, dt=0.5)
    model.save(tmp_path / "kernel.nc")
    loaded = EDMD.load(tmp_path / "kernel.nc")
    assert loaded.observables_.bandwidth_ == model.observables_.bandwidth_
    assert loaded.observables_.delays == 2 and not hasattr(loaded.observables, "bandwidth_")
    np.testing.assert_array_equal(
        loaded.spectrum_.eigenvalues.values, model.spectrum_.eigenvalues.values
    )
    series = xr.DataArray(
        _rotation(30), dims=("time", "feature"), coords={"time": np.arange(30) * 0.5}
    )
    xr.testing.assert_identical(loaded.eigenfunctions(series), model.eigenfunctions(series))
    np.testing.assert_array_equal(np.asarray(loaded.predict(5)), np.asarray(model.predict(5)))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda x: EDMD(GaussianKernel(), form="primal").fit(x, dt=1.0), "primal form"),
        (lambda x: EDMD(GaussianKernel()).fit(x + 1j, dt=1.0), "real data"),
        (lambda x: EDMD(GaussianKernel(bandwidth=-1.0)).fit(x, dt=1.0), "bandwidth=-1.0"),
        (lambda x: EDMD(GaussianKernel(delays=0)).fit(x, dt=1.0), "delays"),
        (lambda x: EDMD(GaussianKernel(delays=30)).fit(x, dt=1.0), "snapshots"),
    ],
)
def test_gaussian_kernel_errors(make, message):
    x = _rotation(20)
    with pytest.raises(KoopkitError, match=message) as err:
        make(x)
    assert "\n" not in str(err.value)


def test_gaussian_kernel_refuses_dask_backed_data():
    da = pytest.importorskip("dask.array")
    x = xr.DataArray(da.from_array(_rotation(40), chunks=(10, 2)), dims=("time", "feature"))
    with pytest.raises(KoopkitError, match="needs the data in memory") as err:
        EDMD(GaussianKernel()).fit(x, dt=1.0)
    assert "\n" not in str(err.value)

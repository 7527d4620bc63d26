"""ResDMD residuals and pseudospectra: known systems, and an independent NumPy computation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
from conftest import TRUE_EIGENVALUES, make_linear

import koopkit
from koopkit import DMD, ExactDMD, KoopkitError, KoopmanSpectrum, open_spectrum
from koopkit.backends._linalg import ResidualMatrices

#: 7 true eigenvalues: lam = 1 and three decaying pairs
SEVEN = np.array(
    [
        1.0,
        0.99 * np.exp(0.2j),
        0.99 * np.exp(-0.2j),
        0.98 * np.exp(0.5j),
        0.98 * np.exp(-0.5j),
        0.995 * np.exp(1.1j),
        0.995 * np.exp(-1.1j),
    ]
)


def seven_mode_system(noise: float = 1e-3, seed: int = 2, n: int = 64, t: int = 400):
    """Real data from 7 eigenvalues with random complex modes, plus white noise."""
    rng = np.random.default_rng(seed)
    modes = rng.standard_normal((7, n)) + 1j * rng.standard_normal((7, n))
    modes[0] = modes[0].real
    for k in (1, 3, 5):
        modes[k + 1] = modes[k].conj()
    x = ((SEVEN[None, :] ** np.arange(t)[:, None]) @ modes).real
    return x + noise * rng.standard_normal(x.shape), rng


def _split(spectrum):
    ev, res = spectrum.eigenvalues.values, spectrum.residuals.values
    true = [int(np.argmin(np.abs(ev - z))) for z in SEVEN]
    assert len(set(true)) == 7
    rest = np.setdiff1d(np.arange(len(ev)), true)
    return res[true], res[rest]


@pytest.mark.parametrize("cls", [DMD, ExactDMD])
@pytest.mark.parametrize("solver", ["svd", "gram", "randomized"])
def test_spurious_eigenvalues_are_named(cls, solver):
    x, _ = seven_mode_system()
    spec = cls(rank=20, solver=solver).fit(x, dt=1.0).spectrum_
    assert len(spec) == 20
    true, spurious = _split(spec)
    assert true.max() <= 0.05 and spurious.min() >= 0.5
    kept = spec.select(max_residual=0.05)
    assert len(kept) == 7
    np.testing.assert_allclose(
        np.sort_complex(kept.eigenvalues.values), np.sort_complex(SEVEN), atol=1e-4
    )


def test_residuals_equal_an_independent_resdmd_computation():
    x, _ = seven_mode_system(noise=1e-2)
    model = DMD(rank=12, solver="svd").fit(x, dt=1.0)
    # ResDMD written out: POD dictionary psi(x) = U^H x, Koopman matrix K = Psi_X^+ Psi_Y,
    # residual of (lam, v) as the quadratic form v^H (L - lam A^H - conj(lam) A + |lam|^2 G) v
    xc, yc = x[:-1].T, x[1:].T
    u = np.linalg.svd(xc, full_matrices=False)[0][:, :12]
    px, py = (u.T @ xc).T, (u.T @ yc).T
    g, a, l_ = px.T @ px, px.T @ py, py.T @ py
    lam, v = np.linalg.eig(np.linalg.solve(g, a))
    quad = [
        (vi.conj() @ (l_ - z * a.T - np.conj(z) * a + abs(z) ** 2 * g) @ vi).real
        / (vi.conj() @ g @ vi).real
        for z, vi in zip(lam, v.T, strict=True)
    ]
    expect = np.sqrt(np.clip(quad, 0, None))
    got = model.spectrum_.residuals.values
    order = [int(np.argmin(np.abs(lam - z))) for z in model.spectrum_.eigenvalues.values]
    np.testing.assert_allclose(got, expect[order], rtol=1e-6, atol=1e-8)


def test_residuals_on_held_out_pairs():
    x, rng = seven_mode_system()
    held, _ = seven_mode_system(seed=9)  # another trajectory of other modes: not the system
    same_system = x[200:]
    model = DMD(rank=20).fit(x[:200], dt=1.0, residual_data=same_system)
    true, spurious = _split(model.spectrum_)
    assert model.residual_matrices_.n_pairs == 199
    assert true.max() <= 0.05 and spurious.min() >= 0.5
    # data of a different system do not confirm the eigenpairs
    other = DMD(rank=20).fit(x[:200], dt=1.0, residual_data=held)
    assert np.median(_split(other.spectrum_)[0]) > 0.5
    with pytest.raises(KoopkitError, match="residual_data has frames of shape"):
        DMD(rank=5).fit(x, dt=1.0, residual_data=x[:, :3])


def test_many_trajectories_and_delays_carry_residuals():
    x = make_linear(TRUE_EIGENVALUES, 6, 300, 0.1)
    parts = [x.isel(time=slice(30 * i, 30 * i + 30)) for i in range(10)]
    spec = DMD(rank=6, delays=3).fit(parts).spectrum_
    assert len(spec) == 6 and spec.residuals.max() < 1e-8


def test_pseudospectrum_matches_the_generalized_eigenproblem():
    x, _ = seven_mode_system(noise=1e-2, n=20, t=120)
    model = DMD(rank=10).fit(x, dt=1.0)
    z = np.array([0.3 + 0.2j, 0.99 * np.exp(0.2j), -0.5j, 1.2])
    got = koopkit.pseudospectrum(model, z)
    m = model.residual_matrices_
    for zi, tau in zip(z, got.values, strict=True):
        big = m.L - zi * m.A.conj().T - np.conj(zi) * m.A + abs(zi) ** 2 * m.G
        low = sla.eigh(big, m.G, eigvals_only=True)[0]
        assert tau == pytest.approx(np.sqrt(max(low, 0)), rel=1e-6, abs=1e-9)
    # at each eigenvalue it is at most that eigenpair's residual (a minimum over the span)
    spec = model.spectrum_
    at = koopkit.pseudospectrum(model, spec.eigenvalues.values).values
    assert (at <= spec.residuals.values * (1 + 1e-8) + 1e-12).all()
    grid = koopkit.pseudospectrum(model, (np.linspace(-1.1, 1.1, 23), np.linspace(-1, 1, 21)))
    assert grid.dims == ("imag", "real") and grid.shape == (21, 23)
    assert grid.attrs["n_pairs"] == 119 and (grid.values >= 0).all()


def test_factor_and_gram_paths_agree():
    rng = np.random.default_rng(4)
    px = rng.standard_normal((300, 6))
    py = px @ rng.standard_normal((6, 6)) * 0.3 + 0.01 * rng.standard_normal((300, 6))
    exact = ResidualMatrices.from_values(px, py, exact=True)
    grams = ResidualMatrices.from_values(px, py, exact=False)
    lam, v = np.linalg.eig(np.linalg.solve(exact.G, exact.A))
    np.testing.assert_allclose(exact.residuals(lam, v), grams.residuals(lam, v), rtol=1e-6)
    z = np.array([0.1, 0.5j, -0.3 + 0.3j])
    np.testing.assert_allclose(exact.pseudospectrum(z), grams.pseudospectrum(z), rtol=1e-6)
    # the residual is the relative misfit of g = psi v on the pairs
    direct = np.linalg.norm(py @ v - px @ v * lam, axis=0) / np.linalg.norm(px @ v, axis=0)
    np.testing.assert_allclose(exact.residuals(lam, v), direct, rtol=1e-10)


def test_spectrum_carries_residuals_through_files_tables_and_selection(tmp_path):
    x, _ = seven_mode_system()
    spec = DMD(rank=20).fit(x, dt=1.0).spectrum_
    path = tmp_path / "s.nc"
    spec.to_netcdf(path)
    back = open_spectrum(path)
    np.testing.assert_array_equal(back.residuals.values, spec.residuals.values)
    assert back.residuals.attrs["units"] == "1"
    assert "residual" in spec.table().splitlines()[1]
    assert spec.to_dict()["modes"][0]["residual"] == pytest.approx(spec.residuals.values[0])
    assert "residual" in spec.to_dataframe().columns
    ranked = spec.sort("residual", ascending=True)
    assert (np.diff(ranked.residuals.values) >= -1e-12).all()
    # a spectrum without residuals reads NaN and refuses to select by them
    plain = KoopmanSpectrum([1.0, 0.5], [1.0, 1.0])
    assert np.isnan(plain.residuals.values).all() and not plain.has_residuals
    with pytest.raises(KoopkitError, match="has no residuals"):
        plain.select(max_residual=0.1)
    with pytest.raises(KoopkitError, match="no residual matrices"):
        koopkit.pseudospectrum(DMD(), [0.5])


def _harmonic(freq: np.ndarray, bases: list[float], rtol: float) -> np.ndarray:
    """True where |freq| is k * base (k = 0, 1, ...) for some base, within rtol."""
    f = np.abs(freq)[:, None]
    b = np.asarray(bases)[None, :]
    k = np.round(f / b)
    return (np.abs(f - k * b) <= rtol * np.maximum(k, 1) * b).any(axis=1)


def test_cylinder_wake_trusts_the_shedding_frequency_and_its_harmonics():
    from koopkit.datasets import cylinder_flow

    small = dict(resolution=6, height=8.0, length=16.0, upstream=3.0, n_snapshots=80)
    wake = cylinder_flow(reynolds=100, dtype="float64", progress=False, **small)
    spec = DMD(rank="auto").fit(wake["vorticity"]).spectrum_
    f_s = wake.attrs["strouhal"]  # from the lift coefficient, not from DMD
    res, f = spec.residuals.values, spec.frequencies.values
    best7 = np.argsort(res)[:7]
    # the mean flow and the shedding frequency with its first two harmonics (+-k f_s,
    # k = 0..3) are the seven best-confirmed eigenpairs of the rank-auto fit
    assert sorted(np.round(np.abs(f[best7]) / f_s).astype(int)) == [0, 1, 1, 2, 2, 3, 3]
    np.testing.assert_allclose(np.abs(f[best7]), np.round(np.abs(f[best7]) / f_s) * f_s, rtol=0.01)
    others = np.setdiff1d(np.arange(len(spec)), best7)
    assert res[best7].max() < res[others].min()


def test_bouncing_balls_with_delays_trust_the_balls_frequencies():
    from koopkit.datasets import bouncing_balls

    frames = bouncing_balls(n_snapshots=300, size=64)
    truth = frames.attrs["frequencies"]  # 0.35 and 0.9 cycles per time unit
    spec = ExactDMD(rank="auto", delays=4).fit(frames).spectrum_
    res, f = spec.residuals.values, spec.frequencies.values
    harmonic = _harmonic(f, truth, rtol=0.005)
    assert len(spec) > 100 and harmonic.sum() < len(spec) - 40
    # the 40 best-confirmed eigenvalues all sit at the balls' frequencies or harmonics
    assert harmonic[np.argsort(res)[:40]].all()
    # and the fundamentals with their 2nd and 3rd harmonics beat every other eigenvalue
    for base in truth:
        for k in (1, 2, 3):
            i = int(np.argmin(np.abs(f - k * base)))
            assert abs(f[i] - k * base) < 0.005 * k * base
            assert res[i] < res[~harmonic].min()

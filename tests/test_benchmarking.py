"""Benchmarking: the Cramér-Rao bound against closed forms, the noise study, the suite."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from koopkit.benchmarking import noise, suite
from koopkit.cli import main


# --------------------------------------------------------------------- the bound
@pytest.mark.parametrize("n", [16, 64, 257])
@pytest.mark.parametrize("amplitude", [0.5, 2.0])
def test_crb_of_complex_exponential_is_rife_boorstyn(n, amplitude):
    """``A exp(i (w k + phi))`` in complex noise: Rife & Boorstyn (1974), unit step."""
    theta = np.array([amplitude, 0.4, 0.7])
    sigma = 0.3
    jac = noise.numerical_jacobian(lambda t: noise.complex_exponential(t, n), theta)
    crb = noise.cramer_rao_bound(jac, sigma, complex_noise=True)
    s2 = sigma**2
    var_w = 6 * s2 / (amplitude**2 * n * (n**2 - 1))
    var_phi = s2 * (2 * n - 1) / (amplitude**2 * n * (n + 1))  # k = 0 .. N-1
    var_a = s2 / (2 * n)
    np.testing.assert_allclose(np.diag(crb), [var_a, var_phi, var_w], rtol=1e-6)


def test_crb_of_real_sinusoid_matches_the_asymptotic_formula():
    """Undamped real sinusoid away from 0 and Nyquist: Kay (1993, eq. 3.41).

    ``var(w) >= 12 / (eta N (N^2 - 1))`` with the SNR ``eta = A^2 / (2 sigma^2)``; here the
    growth rate is estimated too (it is asymptotically uncorrelated with the frequency).
    """
    n, a, sigma = 200, 1.3, 0.2
    case = noise.DampedSinusoid(
        amplitude=a, phase=0.2, frequency=0.21, growth_rate=0.0, n_samples=n, dt=1.0
    )
    var_w = case.crb(sigma)[2, 2] * (2 * np.pi) ** 2  # f -> w = 2 pi f
    expected = 24 * sigma**2 / (a**2 * n * (n**2 - 1))
    assert var_w == pytest.approx(expected, rel=0.02)


def test_numerical_jacobian_matches_closed_form():
    case = noise.DampedSinusoid()
    num, exact = case.jacobian(), case.analytic_jacobian()
    assert np.abs(num - exact).max() <= 1e-7 * np.abs(exact).max()


def test_crb_scales_with_noise_variance():
    case = noise.LinearModes()
    f1, g1 = case.crb_std(0.1)
    f2, g2 = case.crb_std(0.3)
    np.testing.assert_allclose(f2 / f1, 3.0, rtol=1e-9)
    np.testing.assert_allclose(g2 / g1, 3.0, rtol=1e-9)
    assert case.theta.size == 2 * 2 + 2 * 2 * case.n_features  # f, g and every mode vector


def test_linear_modes_model_reproduces_the_dataset():
    case = noise.LinearModes()
    np.testing.assert_allclose(case.model(case.theta), case.clean(), atol=1e-12)


def test_singular_fisher_information_is_an_error():
    from koopkit import KoopkitError

    jac = np.ones((10, 2))  # two parameters with the same effect
    with pytest.raises(KoopkitError, match="singular"):
        noise.cramer_rao_bound(jac, 1.0)


def test_maximum_likelihood_attains_the_bound():
    """Monte Carlo: NLS (the MLE) at 20 dB has RMSE within 20% of the CRB."""
    case = noise.DampedSinusoid()
    clean = case.clean()
    sigma = noise.noise_sigma(clean, 20.0)
    crb_f, crb_g = case.crb_std(sigma)
    rng = np.random.default_rng(1)
    errs = []
    for _ in range(150):
        y = clean + sigma * rng.standard_normal(clean.shape)
        f, g = noise.nls_fit(y, case.dt, np.array([0.8]), np.array([-0.1]))
        errs.append((f[0] - 0.8, g[0] + 0.1))
    rmse = np.sqrt(np.mean(np.square(errs), axis=0))
    assert 0.8 < rmse[0] / crb_f[0] < 1.2
    assert 0.8 < rmse[1] / crb_g[0] < 1.2


def test_snr_definition():
    x = np.sin(np.arange(1000) * 0.1)
    sigma = noise.noise_sigma(x, 20.0)
    assert 10 * np.log10(np.mean(x**2) / sigma**2) == pytest.approx(20.0)


def test_match_modes_pairs_by_nearest_eigenvalue():
    f, g = noise.match_modes(
        np.array([0.12, -0.05, 0.05, -0.12]),
        np.array([-0.02, -0.01, -0.01, -0.02]),
        np.array([0.05, 0.12]),
        np.array([0.0, 0.0]),
        dt=1.0,
    )
    np.testing.assert_allclose(f, [0.05, 0.12])
    np.testing.assert_allclose(g, [-0.01, -0.02])
    f, g = noise.match_modes(np.array([-0.1]), np.array([0.0]), np.array([0.1]), [0.0], 1.0)
    assert np.isnan(f[0]) and np.isnan(g[0])


# --------------------------------------------------------------------- the study
def test_summarise_gives_bias_rmse_and_ratio_to_the_bound_by_hand():
    """Three trials with frequency errors +1, -1, +3 (one more failed): bias 1, RMSE
    sqrt(11/3); the report's table and headline quote them."""
    base = {"case": "c", "mode": 1, "koopkit": True, "settings": "", "snr_db": 20.0}
    base |= {"f_true": 0.5, "g_true": -0.1, "crb_f": 0.5, "crb_g": 2.0, "fit_seconds": 0.001}
    rows = [
        {**base, "method": "m", "trial": i, "f_hat": 0.5 + e, "g_hat": -0.1 + 2 * e, "failed": ""}
        for i, e in enumerate([1.0, -1.0, 3.0])
    ]
    rows.append({**base, "method": "m", "trial": 3, "f_hat": np.nan, "g_hat": np.nan})
    rows[-1]["failed"] = "no mode"
    (r,) = noise.summarise(rows)
    assert (r["n_trials"], r["n_failed"]) == (4, 1)
    assert r["bias_f"] == pytest.approx(1.0) and r["bias_g"] == pytest.approx(2.0)
    assert r["rmse_f"] == pytest.approx(math.sqrt(11 / 3))
    assert r["rmse_g"] == pytest.approx(2 * math.sqrt(11 / 3))
    assert r["rmse_f_over_crb"] == pytest.approx(2 * math.sqrt(11 / 3))
    assert r["rmse_g_over_crb"] == pytest.approx(math.sqrt(11 / 3))
    case = noise.DampedSinusoid(name="c")
    assert noise.headline([r]) == {
        ("c", 1): {
            "method": "m",
            "rmse_f": r["rmse_f"],
            "crb_f": 0.5,
            "ratio": r["rmse_f_over_crb"],
        }
    }
    text = noise.markdown([r], [case])
    assert f"| m |  | 1 | {r['rmse_f']:.3g} | {r['rmse_f_over_crb']:.3g} |" in text


@pytest.mark.slow
def test_noise_study_efficient_and_biased_estimators():
    """Hankel TLS DMD is near the bound; minimal-delay DMD is biased in the growth rate."""
    case = noise.DampedSinusoid()
    chosen = {"DMD d=2", "TLS DMD"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = noise.run_noise_study(
            [case],
            snrs_db=[20.0],
            n_trials=40,
            methods=lambda c: [m for m in noise.default_methods(c) if m.name in chosen],
        )
    table = {r["method"]: r for r in noise.summarise(rows)}
    assert table["TLS DMD"]["n_failed"] == 0
    assert table["TLS DMD"]["rmse_f_over_crb"] < 1.5
    assert table["TLS DMD"]["rmse_g_over_crb"] < 1.5
    # Plain least-squares DMD on the smallest embedding: noise drags the growth rate down.
    assert table["DMD d=2"]["bias_g"] < -20 * table["DMD d=2"]["crb_g"]
    text = noise.markdown(noise.summarise(rows), [case])
    assert "| **CRB** |" in text and "TLS DMD" in text
    best = noise.headline(noise.summarise(rows))
    assert best[(case.name, 1)]["method"] == "TLS DMD"


# --------------------------------------------------------------------- the suite
def test_quick_benchmark_writes_its_table(tmp_path):
    """``koopkit benchmark --quick`` on two cases: the table, the CSV, the plots, the truth."""
    out = tmp_path / "bench"
    methods = ["DMD", "exact DMD delays", "TLS DMD delays", "pydmd HODMD", "EDMD poly"]
    args = ["benchmark", "--quick", "-o", str(out), "--case", "linear", "--case", "pendulum"]
    for m in methods:
        args += ["--method", m]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = (out / "results.md").read_text()
    assert "## linear" in text and "## pendulum" in text
    for m in methods:
        assert m in text
    for name in ("results.csv", "results_horizon.png", "results_fit_time.png"):
        assert (out / name).stat().st_size > 0
    # koopkit's fit time beside the fastest peer of its family (the ratio is not asserted)
    assert "## Fit time against the fastest peer of the same family" in text
    assert "| pendulum | DMD with delays | exact DMD delays |" in text
    assert "*pydmd HODMD*" in text.split("## Fit time against")[1].split("## linear")[0]
    import csv

    rows = {(r["case"], r["method"]): r for r in csv.DictReader(open(out / "results.csv"))}
    assert float(rows["linear", "exact DMD delays"]["eig_error"]) < 1e-3
    assert float(rows["pendulum", "exact DMD delays"]["freq_error"]) < 1e-8
    assert float(rows["pendulum", "exact DMD delays"]["fc_mean"]) < 1e-6
    assert float(rows["linear", "DMD"]["fit_s"]) > 0
    assert (
        rows["linear", "DMD"]["family"] == "DMD" and rows["linear", "DMD"]["package"] == "koopkit"
    )
    assert rows["pendulum", "pydmd HODMD"]["family"] == "DMD with delays"
    assert 1 <= int(rows["linear", "DMD"]["fit_repeats"]) <= suite.MAX_SHORT_REPEATS
    # EDMD with the state and a constant on a linear system: DMD's accuracy, and the
    # residual separates the 7 true eigenpairs from those fitted to the noise.
    assert "residual true (max)" in text and "residual spurious (min)" in text
    edmd = rows["linear", "EDMD poly"]
    assert float(edmd["eig_error"]) < 1e-3
    assert float(edmd["res_true"]) < 0.01 < 0.5 < float(edmd["res_spurious"])
    assert np.isnan(float(rows["linear", "pydmd HODMD"]["res_true"]))  # PyDMD: no residuals


def test_benchmark_rejects_unknown_case_and_method(tmp_path):
    r = CliRunner().invoke(main, ["benchmark", "--case", "nope", "-o", str(tmp_path)])
    assert r.exit_code == 2 and "unknown case 'nope'" in r.output
    r = CliRunner().invoke(
        main, ["benchmark", "--quick", "--case", "linear", "--method", "x", "-o", str(tmp_path)]
    )
    assert r.exit_code == 2 and "unknown method" in r.output


def test_unavailable_method_is_reported_not_run():
    case = suite.BenchCase("linear", None, rank=2, delays=1)
    method = suite.BenchMethod("ghost", lambda c: None, unavailable="no such package")
    rows = suite.run_suite([case], [method])
    assert rows[0]["error"] == "not available: no such package"


@pytest.mark.slow
def test_full_quick_benchmark(tmp_path):
    # The whole quick benchmark, with the slow tests (its time is reported in results.md,
    # not asserted).
    result = CliRunner().invoke(main, ["benchmark", "--quick", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "## cylinder" in (tmp_path / "results.md").read_text()


# --------------------------------------------------------------------- EDMD rows
def _fake_case() -> suite.BenchCase:
    import xarray as xr

    data = xr.DataArray(
        np.ones((10, 2)), dims=("time", "feature"), coords={"time": np.arange(10.0)}
    )
    return suite.BenchCase("toy", data, rank=2, delays=1, eigenvalues=np.array([0.9, 0.5]))


class _FixedSpectrum:
    """A "method" whose fit returns a given spectrum (to check the scoring alone)."""

    def __init__(self, spectrum):
        self.spectrum_ = spectrum

    def fit(self, data):
        self._data = data
        return self

    def predict(self, steps):
        return self._data.isel(time=slice(0, steps))


def test_residual_columns_on_a_constructed_spectrum():
    """Truth 0.9 and 0.5; fitted: both (residuals 0.01 and 0.02), the constant's 1 and the
    product 0.81 = 0.9^2 (known Koopman eigenvalues: counted in neither column), and two
    spurious ones (0.3i and -0.6, residuals 0.4 and 0.7)."""
    from koopkit import KoopmanSpectrum

    lam = np.array([0.9 + 1e-4, 0.5, 1.0, 0.81 + 0.005j, 0.3j, -0.6])
    res = np.array([0.01, 0.02, 0.0, 0.001, 0.4, 0.7])
    spec = KoopmanSpectrum(lam, np.ones(6), dt=1.0, extras={"residuals": res})
    case = _fake_case()
    method = suite.BenchMethod("fixed", lambda c: _FixedSpectrum(spec))
    (row,) = suite.run_suite([case], [method], memory=False)
    assert row["error"] == ""
    assert row["eig_error"] == pytest.approx(1e-4)
    assert row["res_true"] == 0.02
    assert row["res_spurious"] == 0.4
    # no residuals: both NaN; no spurious mode: only res_spurious is NaN
    bare = KoopmanSpectrum(lam[:2], np.ones(2), dt=1.0)
    assert np.isnan(suite.residual_summary(case, bare, [0, 1])).all()
    clean = KoopmanSpectrum(lam[:3], np.ones(3), dt=1.0, extras={"residuals": res[:3]})
    true, spurious = suite.residual_summary(case, clean, [0, 1])
    assert true == 0.02 and np.isnan(spurious)


def test_known_eigenvalues_of_a_periodic_case_are_its_harmonics():
    """One frequency: every harmonic below Nyquist (the pendulum's spectrum) and 1."""
    case = suite.BenchCase("p", None, rank=2, delays=1, frequencies=[0.48])
    lam = suite.known_eigenvalues(case, dt=0.1)  # Nyquist 5 Hz: harmonics 1 .. 10
    freqs = np.sort(np.angle(lam) / (2 * np.pi * 0.1))
    expected = np.sort(np.concatenate([[0.0], 0.48 * np.arange(1, 11), -0.48 * np.arange(1, 11)]))
    np.testing.assert_allclose(freqs, expected, atol=1e-12)


def test_edmd_rows_and_deeptime_peers_on_the_quick_cases():
    """koopkit's EDMD rows beside deeptime's on the linear system and the pendulum."""
    pytest.importorskip("deeptime")
    cases = suite.build_cases(quick=True, names=["linear", "pendulum"])
    image = suite.BenchCase("img", np.zeros((4, 2, 2)), rank=2, delays=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = suite.run_suite([*cases, image], suite.edmd_methods(quick=True), memory=False)
    table = {(r["case"], r["method"]): r for r in rows}
    assert len(table) == 3 * 7
    lin = table["linear", "EDMD poly"], table["linear", "deeptime EDMD poly"]
    assert all(r["error"] == "" for r in lin)
    # the same span (the state and a constant): the same eigenvalues, hence errors
    assert lin[0]["eig_error"] < 1e-3
    assert lin[1]["eig_error"] == pytest.approx(lin[0]["eig_error"], rel=1e-6)
    # the pendulum's frequency (exact, from the elliptic integral) from Gaussian-kernel
    # EDMD: koopkit's exact kernel and random features, deeptime's exact kernel, to 1e-6
    ours, theirs = (
        table["pendulum", "EDMD Gaussian kernel"],
        table["pendulum", "deeptime kernel EDMD"],
    )
    fourier = table["pendulum", "EDMD Fourier"]
    assert max(ours["freq_error"], theirs["freq_error"], fourier["freq_error"]) < 1e-6
    # a kernel (or 2000 functions) for 320 pairs could interpolate them: no residuals
    assert np.isnan(ours["res_true"]) and np.isnan(fourier["res_true"])
    assert np.isnan(theirs["res_true"])  # nor does deeptime
    # RBF(100): the residual tells the pendulum's eigenpair from the spurious ones
    rbf = table["pendulum", "EDMD RBF"]
    assert rbf["freq_error"] < 1e-4
    assert rbf["res_true"] < 0.01 < 0.05 < rbf["res_spurious"]
    assert "monomials" in table["pendulum", "deeptime EDMD poly"]["error"]  # too big for quick
    assert all("image data" in table["img", m.name]["error"] for m in suite.edmd_methods())


def test_deeptime_peers_are_listed_not_run_without_deeptime(monkeypatch):
    """Without deeptime the suite still runs: its rows say "not available", koopkit's run."""
    import sys

    from koopkit import KoopkitError
    from koopkit.benchmarking.peers import DeeptimeDMD, DeeptimeEDMD, deeptime_status

    for name in [m for m in sys.modules if m == "deeptime" or m.startswith("deeptime.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "deeptime", None)  # import deeptime -> ImportError
    assert "pip install 'koopkit[benchmark]'" in deeptime_status()
    with pytest.raises(KoopkitError, match="deeptime"):
        DeeptimeEDMD(basis=np.cos).fit(np.ones((5, 1)), dt=1.0)
    with pytest.raises(KoopkitError, match="deeptime"):
        DeeptimeDMD(rank=2).fit(np.ones((5, 3)), dt=1.0)
    methods = suite.build_methods(quick=True)
    peers = [m for m in methods if m.package == "deeptime"]
    assert [m.name for m in peers] == [
        "deeptime DMD",
        "deeptime exact DMD",
        "deeptime EDMD poly",
        "deeptime EDMD RBF",
        "deeptime kernel EDMD",
    ]
    assert all(m.unavailable.startswith("deeptime:") for m in peers)
    (case,) = suite.build_cases(quick=True, names=["linear"])
    names = ("DMD", "EDMD poly", "pydmd DMD", "deeptime DMD", "deeptime kernel EDMD")
    chosen = [m for m in methods if m.name in names]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = suite.run_suite([case], chosen, memory=False)
    table = {r["method"]: r for r in rows}
    assert table["DMD"]["error"] == table["EDMD poly"]["error"] == ""
    assert table["deeptime DMD"]["error"].startswith("not available: deeptime:")
    assert table["deeptime kernel EDMD"]["error"].startswith("not available: deeptime:")
    # the comparison skips them: DMD against PyDMD's alone, EDMD poly has no peer that ran
    entries = {e["method"]: e for e in suite.versus_peers(rows)}
    assert entries["DMD"]["peer"] == "pydmd DMD" and np.isfinite(entries["DMD"]["ratio"])
    assert entries["EDMD poly"]["peer"] == "" and entries["EDMD poly"]["holds"] is None
    assert "no peer in this family" in entries["EDMD poly"]["note"]  # its peer not chosen


# --------------------------------------------------------------------- fit time vs peers
def test_every_method_has_a_family_and_every_koopkit_family_a_peer():
    methods = suite.build_methods(quick=True)
    for m in methods:
        if m.package in ("pydmd", "deeptime"):
            assert m.family in suite.FAMILIES and m.library is not None, m.name
        elif m.package == "koopkit" and m.name not in ("autoencoder", "EDMD Fourier"):
            assert m.family in suite.FAMILIES, m.name
            peers = [p.name for p in methods if p.family == m.family and p.package != "koopkit"]
            assert peers, m.name
    by_name = {m.name: m.family for m in methods}
    assert by_name["exact DMD delays"] == by_name["pydmd HODMD"] == "DMD with delays"
    assert by_name["DMD"] == by_name["pydmd DMD"] == by_name["deeptime DMD"] == "DMD"
    assert by_name["exact DMD"] == by_name["deeptime exact DMD"] == "exact DMD"
    assert by_name["EDMD Gaussian kernel"] == by_name["deeptime kernel EDMD"] == "kernel EDMD"
    # random Fourier features are not the exact kernel: no peer runs that algorithm
    assert by_name["autoencoder"] == by_name["copy last frame"] == by_name["EDMD Fourier"] == ""


def _row(case, method, package, family, fit_s, error=""):
    return {
        "case": case,
        "method": method,
        "package": package,
        "family": family,
        "fit_s": fit_s,
        "error": error,
    }


def test_versus_peers_picks_the_fastest_peer_of_the_same_family_and_case():
    rows = [
        _row("a", "DMD", "koopkit", "DMD", 0.010),
        _row("a", "exact DMD", "koopkit", "exact DMD", 0.030),
        _row("a", "exact DMD delays", "koopkit", "DMD with delays", 0.050, error="boom"),
        _row("a", "pydmd DMD", "pydmd", "DMD", 0.020),
        _row("a", "deeptime DMD", "deeptime", "DMD", 0.008),  # fastest of DMD on case a
        _row("a", "pydmd exact DMD", "pydmd", "exact DMD", 0.001, error="failed"),  # not it
        _row("a", "deeptime exact DMD", "deeptime", "exact DMD", 0.040),
        _row("a", "pydmd HODMD", "pydmd", "DMD with delays", 0.002),
        _row("a", "pydmd BOPDMD", "pydmd", "optimized DMD (BOP)", 0.5),
        _row("a", "copy last frame", "baseline", "", 0.0001),  # never a peer
        _row("b", "DMD", "koopkit", "DMD", 0.010),
        _row("b", "pydmd DMD", "pydmd", "DMD", 0.015),
        _row("b", "deeptime DMD", "deeptime", "DMD", math.nan),  # not timed
        _row("b", "deeptime exact DMD", "deeptime", "exact DMD", 0.0001),  # no koopkit row
        _row("b", "EDMD RBF", "koopkit", "EDMD, RBF", math.nan, error="not run"),  # none ran:
        _row("b", "deeptime EDMD RBF", "deeptime", "EDMD, RBF", math.nan, error="not run"),
    ]
    got = {(e["case"], e["family"], e["method"]): e for e in suite.versus_peers(rows)}
    assert list(got) == [
        ("a", "DMD", "DMD"),
        ("a", "exact DMD", "exact DMD"),
        ("a", "DMD with delays", "exact DMD delays"),
        ("a", "optimized DMD (BOP)", ""),
        ("b", "DMD", "DMD"),
        ("b", "exact DMD", ""),
    ]  # no EDMD RBF entry: neither ran
    e = got["a", "DMD", "DMD"]
    assert (e["peer"], e["peer_fit_s"], e["holds"]) == ("deeptime DMD", 0.008, False)
    assert e["ratio"] == pytest.approx(0.010 / 0.008)
    e = got["a", "exact DMD", "exact DMD"]  # the failed, faster pydmd row is passed over
    assert (e["peer"], e["holds"]) == ("deeptime exact DMD", True)
    assert e["ratio"] == pytest.approx(0.75)
    e = got["a", "DMD with delays", "exact DMD delays"]
    assert e["holds"] is None and e["note"] == "boom" and e["peer"] == "pydmd HODMD"
    assert got["a", "optimized DMD (BOP)", ""]["note"] == "no koopkit method in this family"
    e = got["b", "DMD", "DMD"]  # case b's own peers only
    assert (e["peer"], e["holds"]) == ("pydmd DMD", True)
    text = "\n".join(suite.peer_table(rows))
    assert "at most the fastest peer's in 2 of 3 comparisons" in text
    assert "slower in a DMD (1.25 x deeptime DMD)" in text
    assert "| exact DMD | 0.03 | *deeptime exact DMD* | 0.04 | 0.750 | yes |" in text
    assert "| a | DMD with delays | exact DMD delays | — | *pydmd HODMD* | 0.002 | — | — |" in text


class _Logged:
    """A stand-in estimator whose ``fit`` only records its name in ``calls``."""

    def __init__(self, name, calls):
        self.name, self.calls = name, calls

    def fit(self, data):
        self.calls.append(self.name)
        return self


def _toy_case():
    """A 10-snapshot case for the timing tests (8 of them train)."""
    import xarray as xr

    data = xr.DataArray(np.ones((10, 2)), dims=("time", "x"), coords={"time": np.arange(10.0)})
    return suite.BenchCase("toy", data, rank=1, delays=1)


@pytest.fixture
def planned_on_scoring_fits(monkeypatch):
    """``(calls, make, case)`` for timing tests whose repeats are planned on the scoring
    fits' times (no warm-up fit): ``make(name)`` is a :class:`_Logged` on ``calls``."""
    monkeypatch.setattr(suite.timing, "WARM_PLAN_S", 0.0)
    calls = []
    return calls, (lambda name: _Logged(name, calls)), _toy_case()


def test_time_fits_repeats_short_fits_in_turn(planned_on_scoring_fits):
    """Short fits get up to MAX_REPEATS timed fits, taken in turn; a long koopkit fit
    keeps its time; a peer is timed through its library call only (planned on the
    scoring fits' times: no warm-up fit)."""
    calls, Logged, case = planned_on_scoring_fits  # noqa: N806 -- an estimator class
    short = suite.BenchMethod("short", lambda c: Logged("short"))
    medium = suite.BenchMethod("medium", lambda c: Logged("medium"))
    long = suite.BenchMethod("long", lambda c: Logged("long"))

    def library(c, train):
        assert train.sizes["time"] == 8  # the training span
        return lambda: calls.append("peer library")

    peer = suite.BenchMethod(
        "peer", lambda c: Logged("peer adapter"), package="pydmd", library=library
    )
    rows = [{"fit_s": t, "error": ""} for t in (0.1, 0.7, 30.0, 30.0)]
    suite.time_fits(case, list(zip([short, medium, long, peer], rows, strict=True)))
    assert calls == ["short", "medium", "peer library", "short", "medium"] + ["short"] * 3
    assert [r["fit_repeats"] for r in rows] == [5, 2, 1, 1]
    assert rows[2]["fit_s"] == 30.0  # not refitted
    # the others are replaced by the best of their timed fits
    kept = [r["fit_s"] == t for r, t in zip(rows, (0.1, 0.7, 30.0, 30.0), strict=True)]
    assert kept == [False, False, True, False]


def test_deeptime_dmd_peer_matches_koopkit_and_the_truth():
    """deeptime's DMD solves the same least-squares problem: the same eigenvalues as
    koopkit's DMD, within 1e-3 of the linear system's 7 true ones; the exact modes
    forecast as koopkit's exact DMD does."""
    pytest.importorskip("deeptime")
    (case,) = suite.build_cases(quick=True, names=["linear"])
    names = ("DMD", "exact DMD", "deeptime DMD", "deeptime exact DMD")
    methods = [m for m in suite.build_methods(quick=True) if m.name in names]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = {r["method"]: r for r in suite.run_suite([case], methods, memory=False)}
    assert all(r["error"] == "" for r in rows.values())
    for ours, theirs in (("DMD", "deeptime DMD"), ("exact DMD", "deeptime exact DMD")):
        assert rows[ours]["eig_error"] < 1e-3
        assert rows[theirs]["eig_error"] == pytest.approx(rows[ours]["eig_error"], rel=1e-6)
        assert rows[theirs]["fc_mean"] == pytest.approx(rows[ours]["fc_mean"], rel=0.05)
    from koopkit.backends.dmd import DMD
    from koopkit.benchmarking.peers import DeeptimeDMD

    train = case.data.isel(time=slice(0, 160))
    lam = np.sort_complex(DMD(rank=7).fit(train).spectrum_.eigenvalues.values)
    for mode in ("standard", "exact"):
        theirs = DeeptimeDMD(mode=mode, rank=7).fit(train).spectrum_.eigenvalues.values
        np.testing.assert_allclose(np.sort_complex(theirs), lam, atol=1e-10)


def test_time_fits_times_millisecond_fits_in_bursts(planned_on_scoring_fits):
    """A fit under 5 ms is timed in bursts of BURST back-to-back fits per round (so its
    time does not depend on which method ran before it), up to MAX_SHORT_REPEATS fits."""
    calls, Logged, case = planned_on_scoring_fits  # noqa: N806 -- an estimator class
    fast = suite.BenchMethod("fast", lambda c: Logged("fast"))
    slow = suite.BenchMethod("slow", lambda c: Logged("slow"))
    rows = [{"fit_s": t, "error": ""} for t in (0.001, 0.1)]
    suite.time_fits(case, list(zip([fast, slow], rows, strict=True)))
    burst = suite.timing.BURST
    assert calls[: burst + 1] == ["fast"] * burst + ["slow"]
    assert rows[0]["fit_repeats"] == suite.MAX_SHORT_REPEATS
    assert rows[1]["fit_repeats"] == suite.MAX_REPEATS
    assert calls.count("fast") == suite.MAX_SHORT_REPEATS


def test_time_fits_plans_on_a_second_fit():
    """A scoring fit that carried one-time costs (0.02 s here; the fit itself takes
    microseconds) is timed again before the repeats are planned: the method then counts as
    short (bursts, MAX_SHORT_REPEATS fits)."""
    calls = []
    row = {"fit_s": 0.02, "error": ""}
    method = suite.BenchMethod("m", lambda c: _Logged("fit", calls))
    suite.time_fits(_toy_case(), [(method, row)])
    assert row["fit_repeats"] == suite.MAX_SHORT_REPEATS == len(calls)
    assert row["fit_s"] < 0.02

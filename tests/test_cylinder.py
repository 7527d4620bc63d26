"""Physics checks of the lattice-Boltzmann cylinder wake (the koopkit.datasets.cylinder package).

Everything runs on small grids, so the whole file stays in the default (not slow) suite.
"""

from __future__ import annotations

import numpy as np
import pytest

import koopkit.datasets.cylinder as cyl
from koopkit import DMD
from koopkit._errors import KoopkitError
from koopkit.datasets import cylinder_flow
from koopkit.datasets.cylinder import (
    LatticeBoltzmann,
    backend,
    driver,
    lift_cycles,
    shedding_settled,
    spectral_peak,
    strouhal_williamson,
)

#: A small but real wake: D = 6 cells, 96 x 48 grid, blockage 1/8.
SMALL = dict(resolution=6, height=8.0, length=16.0, upstream=3.0, n_snapshots=80, progress=False)


@pytest.fixture(scope="module")
def wake():
    return cylinder_flow(reynolds=100, dtype="float64", **SMALL)


def taylor_green(n: int, tau: float, u0: float = 0.01) -> tuple[LatticeBoltzmann, float]:
    """A periodic box holding a Taylor-Green vortex, and its wavenumber."""
    lb = LatticeBoltzmann(n, n, tau=tau, periodic=True)
    y, x = np.mgrid[0:n, 0:n].astype(float)
    k = 2 * np.pi / n
    ux = -u0 * np.cos(k * x) * np.sin(k * y)
    uy = u0 * np.sin(k * x) * np.cos(k * y)
    rho = 1 - 0.75 * u0**2 * (np.cos(2 * k * x) + np.cos(2 * k * y))  # p = rho / 3
    lb.initialise(ux, uy, rho)
    return lb, k


# ------------------------------------------------------------------------ the kernel
@pytest.mark.parametrize("tau", [0.52, 0.6, 0.9])
def test_taylor_green_decays_at_the_lattice_viscosity(tau):
    """Kinetic energy of a Taylor-Green vortex decays as exp(-4 nu k^2 t), nu = (tau-1/2)/3."""
    n = 64
    lb, k = taylor_green(n, tau)
    y, x = np.mgrid[0:n, 0:n].astype(float)
    shape_x, shape_y = -np.cos(k * x) * np.sin(k * y), np.sin(k * x) * np.cos(k * y)
    norm = np.sum(shape_x**2 + shape_y**2)
    times, amplitude = [], []
    for _ in range(10):
        _, ux, uy = lb.moments()
        times.append(lb.step_count)
        # project onto the vortex: the sound waves the start-up sends out do not count
        amplitude.append(np.sum(ux * shape_x + uy * shape_y) / norm)
        lb.run(150)
    rate = -np.polyfit(times, np.log(amplitude), 1)[0]  # velocity decays at 2 nu k^2
    nu = rate / (2 * k * k)
    assert nu == pytest.approx((tau - 0.5) / 3, rel=0.01)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mass_is_conserved_in_a_closed_box(dtype):
    lb = LatticeBoltzmann(24, 20, tau=0.55, periodic=True, ops=backend.NumpyOps(dtype))
    rng = np.random.default_rng(0)
    lb.initialise(
        0.05 * rng.standard_normal((20, 24)),
        0.05 * rng.standard_normal((20, 24)),
        1 + 0.01 * rng.standard_normal((20, 24)),
    )
    before = lb.mass()
    lb.run(300)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    assert lb.mass() == pytest.approx(before, rel=tol)
    _, ux, uy = lb.moments()
    assert np.all(np.isfinite(ux)) and np.abs(ux).max() < 0.05  # decayed, did not blow up


def test_uniform_stream_in_the_empty_channel_stays_uniform():
    """Inflow, outflow and free-slip walls are consistent with uniform flow (no cylinder)."""
    lb = LatticeBoltzmann(60, 24, tau=0.52, u_inflow=0.1)
    lb.initialise(np.full((24, 60), 0.1), np.zeros((24, 60)))
    lb.run(500)
    rho, ux, uy = lb.moments()
    assert np.abs(rho - 1).max() < 1e-10
    assert np.abs(ux - 0.1).max() < 1e-10
    assert np.abs(uy).max() < 1e-10


def test_collision_conserves_mass_and_momentum_and_keeps_equilibria():
    lb = LatticeBoltzmann(8, 4, tau=0.53, periodic=True)
    rng = np.random.default_rng(1)
    lb.work[:9] = 0.01 * rng.standard_normal((9, 32))
    lb._collide()
    moments = np.stack([np.ones(9), cyl.CX, cyl.CY])
    np.testing.assert_allclose(moments @ lb.post, moments @ lb.work[:9], atol=1e-15)
    # an equilibrium is a fixed point
    h = cyl.equilibrium(1.02, 0.05, -0.03)
    lb.work[:9] = h[:, None]
    lb._collide()
    np.testing.assert_allclose(lb.post, lb.work[:9], atol=1e-15)


def test_cylinder_links_have_exact_wall_distances():
    lb = LatticeBoltzmann(40, 30, tau=0.6, u_inflow=0.05, cylinder=(15.0, 14.5, 5.0))
    links = lb.links
    nx = lb.nx
    x, y = links.node % nx, links.node // nx
    wall_x = x + links.q * cyl.CX[links.direction]
    wall_y = y + links.q * cyl.CY[links.direction]
    assert np.allclose(np.hypot(wall_x - 15.0, wall_y - 14.5), 5.0)
    assert np.all((links.q > 0) & (links.q <= 1))
    # symmetric about the channel centre line: as many links above as below
    assert np.sum(y > 14.5) == np.sum(y < 14.5)


# ------------------------------------------------------------------ shedding detector
def test_detector_waits_for_the_amplitude_to_saturate():
    t = np.arange(40_000, dtype=float)
    period = 600.0
    amplitude = 0.3 / (1 + np.exp(-(t - 15_000) / 1500))  # logistic growth to 0.3
    lift = amplitude * np.sin(2 * np.pi * t / period + 0.3)
    drag = 1.4 + 0.01 * np.cos(4 * np.pi * t / period)
    first = None
    for end in range(3000, t.size, 600):
        done, _ = shedding_settled(lift_cycles(lift[:end], drag[:end]), 4, 0.005)
        if done:
            first = end
            break
    assert first is not None
    assert amplitude[first - 4 * 600] > 0.99 * 0.3  # all four cycles within 1% of the limit
    cycles = lift_cycles(lift, drag)
    assert np.allclose(cycles.period[-10:], period, rtol=1e-4)


def test_detector_rejects_a_steady_wake_and_a_drifting_period():
    t = np.arange(20_000, dtype=float)
    steady = 1e-4 * np.sin(2 * np.pi * t / 600)  # periodic but far too weak
    assert not shedding_settled(lift_cycles(steady, np.ones_like(t)), 4, 0.005)[0]
    assert not shedding_settled(lift_cycles(np.zeros_like(t)), 4, 0.005)[0]
    chirp = 0.3 * np.sin(2 * np.pi * (t / 600 + 0.5 * (t / 20_000) ** 2 * 5))
    settled, spreads = shedding_settled(lift_cycles(chirp, np.ones_like(t)), 4, 0.005)
    assert not settled and spreads["period_spread"] > 0.005


def test_spectral_peak_and_williamson():
    t = np.arange(5000) * 0.01
    assert spectral_peak(np.sin(2 * np.pi * 0.1749 * t), 0.01) == pytest.approx(0.1749, rel=1e-3)
    assert [round(strouhal_williamson(r), 3) for r in (60, 100, 150)] == [0.136, 0.164, 0.183]


# ---------------------------------------------------------------------- the data set
def test_shedding_is_detected_then_sampled(wake):
    a = wake.attrs
    assert 0 < a["transient_steps"] < a["steps_total"]
    assert a["transient_cycles"] >= a["transient_settle_cycles"]
    assert max(a["transient_period_spread"], a["transient_amplitude_spread"]) <= 0.005
    # the sampled window really is periodic: cycles agree to a small fraction
    after = wake.lift_coefficient.sel(force_time=slice(wake.time[0], None)).values
    drag = wake.drag_coefficient.sel(force_time=slice(wake.time[0], None)).values
    cycles = lift_cycles(after, drag)
    assert len(cycles) >= 2
    assert np.ptp(cycles.period) / np.mean(cycles.period) < 0.005
    assert np.ptp(cycles.amplitude) / np.mean(cycles.amplitude) < 0.01
    # and the shedding frequency is right for Re = 100 (coarse grid, 12.5% blockage)
    assert 0.16 < a["strouhal"] < 0.2
    assert a["strouhal_zero_crossing"] == pytest.approx(a["strouhal"], rel=0.01)
    assert 0.15 < a["lift_amplitude"] < 0.5
    assert 1.0 < a["drag_mean"] < 2.0
    # mass: the boundaries are open, but in periodic flow as much leaves as enters
    assert abs(a["mass_drift"]) < 1e-5
    assert abs(a["mean_density"] - 1) < 5e-3


def test_layout_units_and_coordinates(wake):
    a = wake.attrs
    assert wake.vorticity.dims == ("time", "y", "x")
    assert wake.vorticity.shape == (80, 48, 96)
    for name in ("vorticity", "u", "v"):
        assert wake[name].dtype == np.float32
        assert np.all(np.isfinite(wake[name].values))
    assert wake.time.attrs["units"] == "D/U"
    assert wake.x.attrs["units"] == "D" and wake.y.attrs["units"] == "D"
    assert np.allclose(np.diff(wake.time), a["dt"])
    assert a["dt"] == pytest.approx(a["sample_every"] * a["u_lattice"] / a["diameter_cells"])
    # the cylinder is centred at (0, 0) and one diameter across
    solid = wake.solid.values.astype(bool)
    yy, xx = np.meshgrid(wake.y.values, wake.x.values, indexing="ij")
    assert abs(xx[solid].mean()) < 1e-9 and abs(yy[solid].mean()) < 1e-9
    assert np.sqrt(solid.sum() * (1 / 6) ** 2 / np.pi) * 2 == pytest.approx(1.0, rel=0.08)
    assert a["blockage"] == pytest.approx(1 / 8)
    assert a["grid"] == "96 x 48"
    assert a["tau"] == pytest.approx(0.5 + 3 * 0.1 * 6 / 100)
    # free stream far upstream, no flow inside the cylinder
    assert np.allclose(wake.u.isel(x=0), 1.0, atol=1e-3)
    assert np.all(wake.u.values[:, solid] == 0) and np.all(wake.vorticity.values[:, solid] == 0)
    assert wake.lift_coefficient.dims == ("force_time",)
    assert wake.lift_coefficient.size == a["steps_total"]


def test_dmd_with_the_mean_finds_the_lift_frequency_and_harmonics(wake):
    """lam = 1 is the mean flow; f_s, 2 f_s and 3 f_s match the lift spectrum within 1%."""
    spectrum = DMD(rank=7).fit(wake.vorticity).spectrum_
    lam = spectrum.eigenvalues.values
    assert np.all(np.abs(np.abs(lam) - 1) < 1e-2)
    f_s = wake.attrs["strouhal"]
    freqs = np.sort(spectrum.frequencies.values[spectrum.frequencies.values > 1e-6])
    assert freqs[0] == pytest.approx(f_s, rel=0.01)
    for k, f in enumerate(freqs, start=1):
        assert f == pytest.approx(k * f_s, rel=0.01)
    assert np.sum(np.abs(lam - 1) < 1e-3) == 1  # the mean


@pytest.mark.torch
def test_torch_kernel_matches_numpy():
    has_torch, _ = backend.torch_status()
    if not has_torch:
        pytest.skip("torch is not importable")
    runs = []
    for ops in (
        backend.NumpyOps(np.float64),
        backend.make_ops("torch", np.dtype(np.float64), "cpu"),
    ):
        lb = LatticeBoltzmann(60, 30, tau=0.53, u_inflow=0.1, cylinder=(15.0, 14.5, 4.0), ops=ops)
        lb.initialise(np.full((30, 60), 0.1), 0.01 * np.ones((30, 60)))
        lb.run(200)
        runs.append((lb.moments(), lb.force))
    (m_np, f_np), (m_t, f_t) = runs
    for a, b in zip(m_np, m_t, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-12)
    np.testing.assert_allclose(f_np, f_t, atol=1e-12)


def test_old_snapshots_keyword_warns_and_gives_the_same_wake(wake):
    old_kwargs = {k: v for k, v in SMALL.items() if k != "n_snapshots"}
    with pytest.warns(DeprecationWarning, match="'snapshots' is deprecated; use 'n_snapshots'"):
        old = cylinder_flow(reynolds=100, dtype="float64", snapshots=80, **old_kwargs)
    for name in wake.variables:
        np.testing.assert_array_equal(old[name].values, wake[name].values)
    timing = ("wall_seconds", "mlups")
    assert {k: v for k, v in old.attrs.items() if k not in timing} == {
        k: v for k, v in wake.attrs.items() if k not in timing
    }


# ---------------------------------------------------------------------- bad input
def _one_line(excinfo: pytest.ExceptionInfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


BAD = [
    (dict(reynolds=0), "reynolds must be positive"),
    (dict(reynolds=-10), "reynolds must be positive"),
    (dict(reynolds=30), "steady wake"),
    (dict(reynolds=float("nan")), "finite"),
    (dict(reynolds="100"), "real number"),
    (dict(reynolds=1000), "tau"),  # tau = 0.503
    (dict(reynolds=100, resolution=10, u_lattice=0.01), "tau"),
    (dict(u_lattice=0.25), "Mach"),
    (dict(u_lattice=0.0), "u_lattice must be positive"),
    (dict(resolution=2), "resolution must be at least"),
    (dict(resolution=10.5), "resolution must be an integer"),
    (dict(upstream=0.3), "does not fit"),
    (dict(upstream=29.8), "does not fit"),
    (dict(height=1.2), "does not fit"),
    (dict(n_snapshots=1), "n_snapshots must be at least"),
    (dict(n_snapshots=10, sample_every=5), "less than one shedding period"),
    (dict(n_snapshots=150, sample_every=2), "less than one shedding period"),
    (dict(sample_every=0), "sample_every must be at least"),
    (dict(max_time=0), "max_time must be positive"),
    (dict(settle_cycles=1), "settle_cycles must be at least"),
    (dict(tolerance=0.0), "tolerance must be in"),
    (dict(tolerance=2.0), "tolerance must be in"),
    (dict(dtype="int16"), "dtype must be float32 or float64"),
    (dict(dtype="nonsense"), "dtype must be float32 or float64"),
    (dict(backend="jax"), "backend must be"),
]


@pytest.mark.parametrize(("kwargs", "fragment"), BAD)
def test_bad_parameters_fail_before_any_computation(monkeypatch, kwargs, fragment):
    def no_compute(*args, **kw):
        raise AssertionError("the solver was started")

    monkeypatch.setattr(driver, "LatticeBoltzmann", no_compute)
    with pytest.raises(KoopkitError) as excinfo:
        cylinder_flow(**{"progress": False, **kwargs})
    assert fragment in _one_line(excinfo)


def test_torch_backend_without_torch_names_the_fix(monkeypatch):
    monkeypatch.setattr(backend, "torch_status", lambda: (False, False))
    with pytest.raises(KoopkitError) as excinfo:
        cylinder_flow(backend="torch", progress=False)
    assert "pip install" in _one_line(excinfo)
    # "auto" quietly falls back to numpy
    assert backend.make_ops("auto", np.dtype(np.float32), None).name == "numpy"


def test_no_periodic_shedding_within_max_time_is_one_line():
    with pytest.raises(KoopkitError) as excinfo:
        cylinder_flow(reynolds=100, max_time=8, **{**SMALL, "progress": True})
    assert "max_time" in _one_line(excinfo)


def test_a_blow_up_is_reported_in_one_line(monkeypatch):
    class Exploding(LatticeBoltzmann):
        def step(self) -> None:
            super().step()
            if self.step_count > 50:
                self.force = np.array([np.nan, np.inf])

    monkeypatch.setattr(driver, "LatticeBoltzmann", Exploding)
    with pytest.raises(KoopkitError) as excinfo:
        cylinder_flow(**SMALL)
    assert "unstable" in _one_line(excinfo)


# ---------------------------------------------------------------------- command line
def test_cli_generate_cylinder_writes_compressed_netcdf(tmp_path):
    import xarray as xr
    from click.testing import CliRunner

    from koopkit.cli import main
    from koopkit.io import open_timeseries

    out = tmp_path / "cylinder.nc"
    args = ["generate", "cylinder", "-o", str(out), "--resolution", "6", "--snapshots", "40"]
    result = CliRunner().invoke(main, [*args, "--sample-every", "20"])
    assert result.exit_code == 0, result.output
    vorticity = open_timeseries(out, variable="vorticity")
    assert vorticity.dims == ("time", "y", "x") and vorticity.shape == (40, 120, 180)
    assert vorticity.time.attrs["units"] == "D/U"
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        assert ds.vorticity.encoding["zlib"] and ds.vorticity.encoding["chunksizes"]
        assert 0.13 < ds.attrs["strouhal"] < 0.2
        assert ds.lift_coefficient.dims == ("force_time",)


def test_cli_generate_cylinder_bad_reynolds_is_one_line(tmp_path):
    from click.testing import CliRunner

    from koopkit.cli import main

    out = tmp_path / "cylinder.nc"
    result = CliRunner().invoke(main, ["generate", "cylinder", "-o", str(out), "--reynolds", "-1"])
    assert result.exit_code == 2
    assert "reynolds must be positive" in result.output and not out.exists()


def test_example_quick_mode_writes_every_figure(tmp_path, capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "cylinder_wake.py"
    spec = importlib.util.spec_from_file_location("cylinder_wake_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    assert example.main(["--quick", "--out", str(tmp_path)]) == 0
    for name in ("eigenvalues.png", "modes.png", "forecast.png", "lift.png", "frequencies.txt"):
        assert (tmp_path / name).stat().st_size > 0
    printed = capsys.readouterr().out
    assert "lift-spectrum peak f_s" in printed and "forecast of" in printed

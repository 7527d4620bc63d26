"""The cylinder-wake data set: check, start, wait for periodic shedding, sample, package.

:func:`cylinder_flow` runs in named phases: :func:`~.params.check_parameters`, then
:func:`_start_solver` (uniform flow with a kick), :meth:`_Run.wait_for_shedding`,
:meth:`_Run.sample` and :func:`_to_dataset`.
"""

from __future__ import annotations

import contextlib
import time as _time
from collections.abc import Iterator
from typing import Any

import numpy as np
import xarray as xr

from koopkit._errors import KoopkitError
from koopkit._util import renamed_kwarg
from koopkit._validation import TIME
from koopkit.datasets.cylinder.backend import NumpyOps, TorchOps, make_ops
from koopkit.datasets.cylinder.lbm import LatticeBoltzmann
from koopkit.datasets.cylinder.params import CylinderSetup, check_parameters
from koopkit.datasets.cylinder.shedding import (
    lift_cycles,
    shedding_settled,
    spectral_peak,
    strouhal_williamson,
)

__all__ = ["cylinder_flow"]

#: Lift-coefficient magnitude taken as a blow-up of the simulation.
_BLOW_UP = 1e3


@renamed_kwarg("snapshots", "n_snapshots")
def cylinder_flow(
    reynolds: float = 100.0,
    resolution: int = 10,
    n_snapshots: int = 150,
    sample_every: int | None = None,
    *,
    u_lattice: float = 0.1,
    length: float = 30.0,
    height: float = 20.0,
    upstream: float = 6.0,
    max_time: float = 1000.0,
    settle_cycles: int = 4,
    tolerance: float = 0.005,
    dtype: str | np.dtype = "float32",
    backend: str = "numpy",
    device: str | None = None,
    progress: bool = True,
) -> xr.Dataset:
    """Periodic vortex shedding behind a circular cylinder, by a lattice-Boltzmann solver.

    A uniform stream ``U`` flows past a cylinder of diameter ``D`` in a channel with free-slip
    walls (the solver is described in the data-set docs). The run starts from uniform flow,
    waits until the shedding is periodic -- detected from the lift coefficient: the last
    ``settle_cycles`` cycles (upward zero crossing to upward zero crossing) must agree in
    period, lift amplitude and mean drag within ``tolerance`` -- and then records
    ``n_snapshots`` frames every ``sample_every`` steps.

    Parameters
    ----------
    reynolds : float, default 100
        Reynolds number ``U D / nu``; at least 50 (the wake is steady below Re ~ 47).
    resolution : int, default 10
        Cells per cylinder diameter ``D``.
    n_snapshots : int, default 150
        Number of frames (formerly ``snapshots``, still accepted with a
        ``DeprecationWarning`` for one release).
    sample_every : int, optional
        Steps between frames; by default ``0.25 D/U`` (``resolution / u_lattice / 4``
        steps), so 150 frames span 37 D/U, over six shedding periods at Re = 100.
    u_lattice : float, default 0.1
        Inflow velocity in lattice units (Mach number ``u_lattice * sqrt(3)`` at most 0.3).
    length, height : float, default 30 and 20
        Channel size in diameters; the blockage is ``1 / height`` (5% by default; at
        Re = 100 and D = 10 cells the Strouhal number is 0.174 at 10%, 0.170 at 5%).
    upstream : float, default 6
        Distance of the cylinder centre from the inlet, in diameters.
    max_time : float, default 1000
        Longest start-up, in ``D/U``, before giving up on periodic shedding.
    settle_cycles : int, default 4
        Consecutive lift cycles that must agree.
    tolerance : float, default 0.005
        Largest relative spread ``(max - min) / mean`` of their periods, lift amplitudes and
        mean drag.
    dtype : {"float32", "float64"}, default "float32"
        Precision of the populations (stored shifted by the weights: float32 is accurate).
    backend : {"numpy", "torch", "auto"}, default "numpy"
        Array library of the time loop: "torch" runs the same kernel in PyTorch (on
        ``device``, CUDA when available); "auto" takes torch only when CUDA is available.
    device : str, optional
        Torch device, e.g. "cuda" or "cpu".
    progress : bool, default True
        Show a progress bar (tqdm) on the time loop.

    Returns
    -------
    xarray.Dataset
        ``vorticity`` (units ``U/D``), ``u`` and ``v`` (units ``U``) on ``(time, y, x)``,
        float32; coordinates ``x`` and ``y`` in diameters with the cylinder centre at
        ``(0, 0)`` and ``time`` in convective units ``D/U`` counted from the start (attr
        ``units = "D/U"``). ``solid`` ``(y, x)`` marks the cylinder. ``lift_coefficient``
        and ``drag_coefficient`` hold every step's force coefficients on their own
        ``force_time`` dim. ``attrs`` record the Reynolds and Strouhal numbers, grid,
        blockage, lattice parameters (``tau``, ``u_lattice``, ``diameter_cells``), and how
        and when the transient was judged over (``transient_*``).

    Raises
    ------
    KoopkitError
        Before any computation, if ``reynolds < 50``, ``tau = 1/2 + 3 u_lattice D / Re`` is
        below 0.51, the Mach number exceeds 0.3, the cylinder does not fit, the frames span
        less than one shedding period (estimated with St = 0.2), or an argument is invalid;
        after ``max_time`` if the shedding never settles.

    Examples
    --------
    >>> ds = cylinder_flow(reynolds=100, resolution=6, n_snapshots=30, length=20, height=8,
    ...                    upstream=4, progress=False)  # doctest: +SKIP
    >>> ds.vorticity.dims  # doctest: +SKIP
    ('time', 'y', 'x')
    >>> 0.15 < ds.attrs["strouhal"] < 0.2  # doctest: +SKIP
    True
    """
    setup = check_parameters(
        reynolds=reynolds,
        resolution=resolution,
        n_snapshots=n_snapshots,
        sample_every=sample_every,
        u_lattice=u_lattice,
        length=length,
        height=height,
        upstream=upstream,
        max_time=max_time,
        settle_cycles=settle_cycles,
        tolerance=tolerance,
        dtype=dtype,
        backend=backend,
    )
    ops = make_ops(str(backend), setup.dtype, device)
    started = _time.perf_counter()
    lb = _start_solver(setup, ops)
    total = setup.max_steps + _sample_steps(setup)
    quiet = np.errstate(over="ignore", invalid="ignore")  # a blow-up is reported by _Run
    with ops.limits(), quiet, _progress(progress, total, f"cylinder Re={setup.reynolds:g}") as bar:
        run = _Run(lb, setup, bar)
        run.wait_for_shedding()
        run.sample()
    return _to_dataset(run, ops, _time.perf_counter() - started)


# ------------------------------------------------------------------------ the phases
def _sample_steps(setup: CylinderSetup) -> int:
    """Steps from the first frame to the last."""
    return (setup.n_snapshots - 1) * setup.sample_every


def _start_solver(setup: CylinderSetup, ops: NumpyOps | TorchOps) -> LatticeBoltzmann:
    """The solver at uniform flow, with a transverse kick one diameter behind the cylinder.

    The kick breaks the symmetry, so shedding starts within a few tens of D/U instead of
    hundreds; it does not change the periodic state the run waits for.
    """
    d, u = setup.resolution, setup.u_lattice
    lb = LatticeBoltzmann(
        setup.nx,
        setup.ny,
        tau=setup.tau,
        u_inflow=u,
        cylinder=(setup.xc, setup.yc, d / 2.0),
        ops=ops,
    )
    yy, xx = np.mgrid[0 : setup.ny, 0 : setup.nx].astype(float)
    kick = 0.3 * u * np.exp(-(((xx - setup.xc - d) ** 2 + (yy - setup.yc) ** 2) / (0.5 * d) ** 2))
    lb.initialise(np.full(xx.shape, u), kick)
    return lb


class _Run:
    """The time loop: every step's lift and drag, the frames, and when shedding settled."""

    def __init__(self, lb: LatticeBoltzmann, setup: CylinderSetup, bar: Any) -> None:
        self.lb, self.setup, self.bar = lb, setup, bar
        self.force_scale = 2.0 / (setup.u_lattice**2 * setup.resolution)  # C = F/(rho U^2 D/2)
        self.check_every = max(1, int(round(setup.steps_per_unit)))  # about once per D/U
        capacity = setup.max_steps + self.check_every + _sample_steps(setup) + 1
        self.lift = np.zeros(capacity)
        self.drag = np.zeros(capacity)
        self.fields = np.zeros((3, setup.n_snapshots, setup.ny, setup.nx), dtype=np.float32)
        self.step = 0
        self.detected = 0  # step at which the shedding was judged periodic
        self.mass_at_detection = np.nan
        self.cycles = lift_cycles(self.lift[:0])
        self.spreads: dict[str, float] = {}

    def advance(self) -> None:
        """One step: record the force coefficients, and stop at a blow-up."""
        lb, step = self.lb, self.step
        lb.step()
        self.lift[step] = lb.force[1] * self.force_scale
        self.drag[step] = lb.force[0] * self.force_scale
        self.step = step = step + 1
        if self.bar is not None and step % 200 == 0:
            self.bar.update(200)
        if step % self.check_every == 0:
            recent = self.lift[step - self.check_every : step]
            if not np.all(np.abs(recent) < _BLOW_UP):
                raise KoopkitError(
                    f"the simulation became unstable at t = "
                    f"{step / self.setup.steps_per_unit:.1f} D/U (tau = {self.setup.tau:.4f}): "
                    "pass a larger resolution or a smaller u_lattice"
                )

    def wait_for_shedding(self) -> None:
        """Step until the last ``settle_cycles`` lift cycles agree (checked once per D/U)."""
        setup = self.setup
        while True:
            self.advance()
            if self.step % self.check_every:
                continue
            self.cycles = lift_cycles(self.lift[: self.step], self.drag[: self.step])
            done, self.spreads = shedding_settled(self.cycles, setup.settle_cycles, setup.tolerance)
            if done:
                break
            if self.step >= setup.max_steps:
                raise KoopkitError(
                    f"no periodic shedding within max_time={setup.extra['max_time']:g} "
                    f"D/U (last {setup.settle_cycles} lift cycles: "
                    + ", ".join(f"{k} {v:.3g}" for k, v in self.spreads.items())
                    + "): pass a larger max_time or tolerance"
                )
        self.detected = self.step
        self.mass_at_detection = self.lb.mass()
        if self.bar is not None:
            self.bar.total = self.step + _sample_steps(setup)
            self.bar.refresh()

    def sample(self) -> None:
        """Vorticity and velocity (in ``U/D`` and ``U``) every ``sample_every`` steps."""
        d, u = self.setup.resolution, self.setup.u_lattice
        for k in range(self.setup.n_snapshots):
            for _ in range(self.setup.sample_every if k else 0):
                self.advance()
            _, ux, uy = self.lb.moments()
            self.fields[0, k] = _vorticity(ux, uy) * (d / u)
            self.fields[1, k] = ux / u
            self.fields[2, k] = uy / u
        self.fields[0][:, self.lb.solid] = 0.0
        self.lift, self.drag = self.lift[: self.step], self.drag[: self.step]


def _to_dataset(run: _Run, ops: NumpyOps | TorchOps, elapsed: float) -> xr.Dataset:
    """The frames, force histories, coordinates and attributes as one Dataset."""
    setup, d = run.setup, run.setup.resolution
    dt_step = setup.u_lattice / d  # D/U per lattice step
    x = (np.arange(setup.nx) - setup.xc) / d
    y = (np.arange(setup.ny) - setup.yc) / d
    times = (run.detected + setup.sample_every * np.arange(setup.n_snapshots)) * dt_step
    force_time = np.arange(1, run.step + 1) * dt_step
    space = (TIME, "y", "x")
    return xr.Dataset(
        {
            "vorticity": (
                space,
                run.fields[0],
                {"units": "U/D", "long_name": "vorticity dv/dx-du/dy"},
            ),
            "u": (space, run.fields[1], {"units": "U", "long_name": "streamwise velocity"}),
            "v": (space, run.fields[2], {"units": "U", "long_name": "transverse velocity"}),
            "solid": (
                ("y", "x"),
                run.lb.solid.astype(np.int8),
                {"long_name": "1 inside the cylinder"},
            ),
            "lift_coefficient": (
                "force_time",
                run.lift,
                {"units": "1", "long_name": "lift coefficient 2 F_y / (rho U^2 D)"},
            ),
            "drag_coefficient": (
                "force_time",
                run.drag,
                {"units": "1", "long_name": "drag coefficient 2 F_x / (rho U^2 D)"},
            ),
        },
        coords={
            TIME: (TIME, times, {"units": "D/U", "long_name": "time since the impulsive start"}),
            "y": ("y", y, {"units": "D", "long_name": "transverse position"}),
            "x": ("x", x, {"units": "D", "long_name": "streamwise position"}),
            "force_time": ("force_time", force_time, {"units": "D/U", "long_name": "time"}),
        },
        attrs=_attrs(run, ops, elapsed),
    )


def _attrs(run: _Run, ops: NumpyOps | TorchOps, elapsed: float) -> dict[str, Any]:
    """Ground truth and provenance: Strouhal numbers, lattice parameters, the transient."""
    setup, lb = run.setup, run.lb
    d, u, step, detected = setup.resolution, setup.u_lattice, run.step, run.detected
    dt_step = u / d
    window = slice(detected, step)
    sampled = lift_cycles(run.lift[window], run.drag[window])
    st_crossings = float(1.0 / (np.mean(sampled.period) * dt_step)) if len(sampled) else np.nan
    settled = slice(len(run.cycles) - setup.settle_cycles, None)
    return {
        "long_name": "flow past a circular cylinder (2-D lattice Boltzmann)",
        "description": (
            "2-D incompressible flow past a circular cylinder, D2Q9 lattice Boltzmann "
            "(MRT collision), regularised velocity inflow, convective "
            "outflow, free-slip channel walls, interpolated (Bouzidi) bounce-back on the "
            "cylinder; snapshots taken once periodic shedding was detected"
        ),
        "reynolds": setup.reynolds,
        "strouhal": spectral_peak(run.lift[window], dt_step),
        "strouhal_method": "lift spectrum peak (Hann window, 16x zero padding, parabolic "
        "refinement on log magnitude) over the sampled window",
        "strouhal_zero_crossing": st_crossings,
        "strouhal_williamson": strouhal_williamson(setup.reynolds),
        "lift_amplitude": float(np.mean(sampled.amplitude)) if len(sampled) else np.nan,
        "drag_mean": float(np.mean(run.drag[window])),
        "mean_density": lb.mass() / float(np.sum(~lb.solid)),
        "mass_drift": lb.mass() / run.mass_at_detection - 1.0,
        "grid": f"{setup.nx} x {setup.ny}",
        "nx": setup.nx,
        "ny": setup.ny,
        "diameter_cells": d,
        "blockage": d / setup.ny,
        "length_D": setup.extra["length"],
        "height_D": setup.extra["height"],
        "upstream_D": setup.extra["upstream"],
        "tau": setup.tau,
        "u_lattice": u,
        "mach": u * np.sqrt(3),
        "viscosity_lattice": (setup.tau - 0.5) / 3,
        "collision": "MRT (Lallemand & Luo rates 1.64, 1.54, 1.9)",
        "dtype": str(setup.dtype),
        "backend": ops.name,
        "device": str(ops.device),
        "boundary_links": lb.n_links,
        "steps_per_D_over_U": setup.steps_per_unit,
        "sample_every": setup.sample_every,
        "dt": setup.sample_every * dt_step,
        "steps_total": step,
        "transient_method": (
            f"lift-coefficient cycles between upward zero crossings; periodic once the last "
            f"{setup.settle_cycles} cycles agree in period, lift amplitude and mean drag "
            f"within a relative spread of {setup.tolerance:g}"
        ),
        "transient_steps": detected,
        "transient_time": detected * dt_step,
        "transient_cycles": len(run.cycles),
        "transient_tolerance": setup.tolerance,
        "transient_settle_cycles": setup.settle_cycles,
        "transient_period": float(np.mean(run.cycles.period[settled])) * dt_step,
        **{f"transient_{k}": v for k, v in run.spreads.items()},
        "wall_seconds": elapsed,
        "mlups": setup.nx * setup.ny * step / elapsed / 1e6,
    }


# ------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def _progress(enabled: bool, total: int, desc: str) -> Iterator[Any]:
    """A tqdm bar over ``total`` steps, or ``None`` when disabled."""
    if not enabled:
        yield None
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit="step", mininterval=0.5, leave=False)
    try:
        yield bar
    finally:
        bar.close()


def _vorticity(ux: np.ndarray, uy: np.ndarray) -> np.ndarray:
    """``dv/dx - du/dy`` by central differences (one-sided at the edges), per cell."""
    return np.gradient(uy, axis=1) - np.gradient(ux, axis=0)

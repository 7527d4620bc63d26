"""Every check of :func:`~koopkit.datasets.cylinder_flow`'s arguments, before any computation.

:func:`check_parameters` turns the user's physical parameters (Reynolds number, cells per
diameter, domain in diameters, ...) into the lattice set-up (relaxation time, grid, cylinder
centre, steps per convective time) and refuses, with the fix in one line, any combination
that would be unstable, too compressible, steady or too short to see one shedding period.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from koopkit._errors import KoopkitError
from koopkit.datasets._common import check_int, check_real

__all__ = [
    "MAX_MACH",
    "MIN_REYNOLDS",
    "MIN_TAU",
    "ST_ESTIMATE",
    "CylinderSetup",
    "check_parameters",
]

#: Smallest relaxation time accepted (tau -> 1/2 is zero viscosity: unstable).
MIN_TAU = 0.51
#: Largest Mach number u_lattice * sqrt(3) accepted (compressibility errors grow as Ma^2).
MAX_MACH = 0.3
#: Strouhal number used to size checks before the run (above the real one, so conservative).
ST_ESTIMATE = 0.2
#: Below this Reynolds number the wake is steady (Hopf bifurcation near Re = 47).
MIN_REYNOLDS = 50.0


@dataclass
class CylinderSetup:
    """The checked parameters of one run, in lattice units (cells, steps)."""

    reynolds: float
    resolution: int  # cells per diameter D
    u_lattice: float
    tau: float
    nx: int
    ny: int
    xc: float  # cylinder centre, in cells
    yc: float
    n_snapshots: int
    sample_every: int
    steps_per_unit: float  # lattice steps per convective time D/U
    max_steps: int
    settle_cycles: int
    tolerance: float
    dtype: np.dtype
    extra: dict[str, Any] = field(default_factory=dict)  # length, height, upstream, max_time


def _check_flow(reynolds: object, resolution: object, u_lattice: object) -> tuple:
    """Reynolds number, cells per diameter, lattice velocity and the relaxation time."""
    re = check_real("reynolds", reynolds)
    if re <= 0:
        raise KoopkitError(f"reynolds must be positive, got {re:g}: pass e.g. reynolds=100")
    if re < MIN_REYNOLDS:
        raise KoopkitError(
            f"reynolds={re:g} gives a steady wake (vortex shedding starts near Re = 47): "
            f"pass reynolds >= {MIN_REYNOLDS:g}"
        )
    d = check_int("resolution", resolution, 4)
    u = check_real("u_lattice", u_lattice)
    if u <= 0:
        raise KoopkitError(f"u_lattice must be positive, got {u:g}: pass e.g. u_lattice=0.1")
    if u * np.sqrt(3) > MAX_MACH:
        raise KoopkitError(
            f"u_lattice={u:g} is a Mach number of {u * np.sqrt(3):.2f} > {MAX_MACH} "
            f"(compressibility errors): pass u_lattice <= {MAX_MACH / np.sqrt(3):.3f}"
        )
    tau = 0.5 + 3.0 * u * d / re
    if tau < MIN_TAU:
        need = int(np.ceil((MIN_TAU - 0.5) * re / (3 * u)))
        raise KoopkitError(
            f"relaxation time tau = 0.5 + 3*u_lattice*resolution/reynolds = {tau:.4f} is below "
            f"{MIN_TAU} (unstable): pass resolution >= {need} or a larger u_lattice"
        )
    return re, d, u, tau


def _check_domain(d: int, length: object, height: object, upstream: object) -> tuple:
    """Grid size and cylinder centre (cells) from the domain in diameters."""
    lx = check_real("length", length)
    ly = check_real("height", height)
    x0 = check_real("upstream", upstream)
    nx, ny = int(round(lx * d)), int(round(ly * d))
    xc = float(round(x0 * d))
    yc = (ny - 1) / 2.0
    r = d / 2.0
    # at least 2 fluid cells to the inlet and the walls, 8 to the outlet
    if not (xc - r >= 2 and xc + r <= nx - 9 and yc - r >= 2):
        raise KoopkitError(
            f"the cylinder (centre {x0:g} D from the inlet, diameter 1 D) does not fit in the "
            f"{lx:g} D x {ly:g} D domain: keep it 2 cells from the inlet and walls and 8 from "
            "the outlet (change upstream, length or height)"
        )
    return lx, ly, x0, nx, ny, xc, yc


def _check_sampling(n_snapshots: object, sample_every: object, steps_per_unit: float) -> tuple:
    """Frames and steps between them; together they must span one shedding period."""
    n_snap = check_int("n_snapshots", n_snapshots, 2)
    if sample_every is None:
        every = max(1, int(round(0.25 * steps_per_unit)))
    else:
        every = check_int("sample_every", sample_every, 1)
    span = (n_snap - 1) * every / steps_per_unit
    if span < 1.0 / ST_ESTIMATE:
        raise KoopkitError(
            f"{n_snap} snapshots every {every} steps span {span:.2f} D/U, less than one "
            f"shedding period (~{1 / ST_ESTIMATE:g} D/U at St ~ {ST_ESTIMATE}): "
            "pass more snapshots or a larger sample_every"
        )
    return n_snap, every


def _check_run(
    max_time: object, settle_cycles: object, tolerance: object, dtype: object, backend: object
) -> tuple:
    """Start-up limit, settling test, precision and array back end."""
    t_max = check_real("max_time", max_time)
    if t_max <= 0:
        raise KoopkitError(f"max_time must be positive, got {t_max:g}: pass e.g. max_time=500")
    cycles = check_int("settle_cycles", settle_cycles, 2)
    tol = check_real("tolerance", tolerance)
    if not 0 < tol < 1:
        raise KoopkitError(f"tolerance must be in (0, 1), got {tol:g}: pass e.g. tolerance=0.005")
    try:
        dt = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError as exc:
        raise KoopkitError(f"dtype must be float32 or float64, got {dtype!r}") from exc
    if dt not in (np.float32, np.float64):
        raise KoopkitError(f"dtype must be float32 or float64, got {dtype!r}")
    if backend not in ("numpy", "torch", "auto"):
        raise KoopkitError(f"backend must be 'numpy', 'torch' or 'auto', got {backend!r}")
    return t_max, cycles, tol, dt


def check_parameters(
    *,
    reynolds: object,
    resolution: object,
    n_snapshots: object,
    sample_every: object,
    u_lattice: object,
    length: object,
    height: object,
    upstream: object,
    max_time: object,
    settle_cycles: object,
    tolerance: object,
    dtype: object,
    backend: object,
) -> CylinderSetup:
    """Check :func:`~koopkit.datasets.cylinder_flow`'s arguments; the run's lattice set-up.

    Raises :class:`~koopkit.KoopkitError` naming the problem and the fix.

    Examples
    --------
    >>> setup = check_parameters(
    ...     reynolds=100, resolution=10, n_snapshots=150, sample_every=None, u_lattice=0.1,
    ...     length=30, height=20, upstream=6, max_time=1000, settle_cycles=4,
    ...     tolerance=0.005, dtype="float32", backend="numpy")
    >>> setup.nx, setup.ny, round(setup.tau, 3), setup.sample_every
    (300, 200, 0.53, 25)
    """
    re, d, u, tau = _check_flow(reynolds, resolution, u_lattice)
    lx, ly, x0, nx, ny, xc, yc = _check_domain(d, length, height, upstream)
    steps_per_unit = d / u
    n_snap, every = _check_sampling(n_snapshots, sample_every, steps_per_unit)
    t_max, cycles, tol, dt = _check_run(max_time, settle_cycles, tolerance, dtype, backend)
    return CylinderSetup(
        reynolds=re,
        resolution=d,
        u_lattice=u,
        tau=tau,
        nx=nx,
        ny=ny,
        xc=xc,
        yc=yc,
        n_snapshots=n_snap,
        sample_every=every,
        steps_per_unit=steps_per_unit,
        max_steps=int(np.ceil(t_max * steps_per_unit)),
        settle_cycles=cycles,
        tolerance=tol,
        dtype=dt,
        extra={"length": lx, "height": ly, "upstream": x0, "max_time": t_max},
    )

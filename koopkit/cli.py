"""The ``koopkit`` command line: generate data, fit, inspect, plot, forecast, demo.

Every error caused by the input (a missing or corrupt file, an unknown variable, an
impossible rank, NaN data, a bad option) is printed as one line,
``koopkit: error: <message>``, on stderr with exit code 2 (1 for other operating-system
errors such as a full disk), and no traceback. Set ``KOOPKIT_DEBUG=1`` to get the traceback
instead. Every output file is written atomically: a failed or interrupted command leaves no
partial file behind.

Examples
--------
.. code-block:: bash

    koopkit generate balls -o balls.nc
    koopkit fit balls.nc --delays 4 -o spectrum.nc
    koopkit spectrum spectrum.nc --json --top 5
    koopkit spectrum spectrum.nc --max-residual 0.1
    koopkit plot spectrum.nc -o eigenvalues.png
    koopkit fit balls.nc --backend edmd --observables delays:4+rbf:200
    koopkit pseudospectrum balls.nc --delays 4 -o pseudospectrum.png
    koopkit predict balls.nc --delays 4 --steps 20 -o forecast.nc
    koopkit fit balls.nc --delays 4 --save-model model.nc
    koopkit fit gappy.nc --backend optdmd --rank 4 --bags 100
    koopkit predict --model model.nc --steps 20 -o forecast.nc
    koopkit demo --quick
"""

from __future__ import annotations

import json
import math
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import click

from koopkit import __version__
from koopkit._cli_forecast import compare, predict
from koopkit._cli_generate import generate
from koopkit._cli_options import (
    autoencoder_options,
    fit_model,
    fit_options,
    parse_rank,
    read_data,
    read_for_fit,
    read_weights,
)
from koopkit._cli_util import (
    check_image,
    check_output,
    frequency_text,
    note,
    one_blas_thread,
    parse_floats,
)
from koopkit._errors import KoopkitError, one_line
from koopkit.pipelines import run_demo
from koopkit.spectrum import SORT_KEYS

__all__ = ["main", "run_demo"]

#: Exceptions that mean "the input is wrong": one line on stderr, exit code 2.
_USER_ERRORS = (KoopkitError, ValueError, FileNotFoundError, IsADirectoryError, KeyError)
_EXIT_USER = 2
#: Raised by click >= 8.2 for a group called without a command (shows the help).
_NO_ARGS: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())
_EXIT_SYSTEM = 1


# ------------------------------------------------------------------- error handling
def _fail(message: object, code: int) -> NoReturn:
    click.echo(f"koopkit: error: {one_line(message)}", err=True)
    sys.exit(code)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """Warnings as one line on stderr, without the source location."""
    click.echo(f"koopkit: warning: {one_line(message)}", err=True)


class _KoopkitGroup(click.Group):
    """A click group that turns input errors into one line on stderr (no traceback)."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode or os.environ.get("KOOPKIT_DEBUG"):
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            try:
                code = super().main(args, prog_name, complete_var, False, **extra)
            except click.exceptions.Abort:
                _fail("interrupted", 130)
            except KeyboardInterrupt:
                _fail("interrupted", 130)
            except _NO_ARGS as exc:  # `koopkit` or `koopkit generate` alone: the help
                exc.show()
                sys.exit(exc.exit_code)
            except click.ClickException as exc:  # usage errors: bad option, missing argument
                ctx = getattr(exc, "ctx", None)
                hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
                _fail(exc.format_message() + hint, exc.exit_code)
            except _USER_ERRORS as exc:
                message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
                _fail(message, _EXIT_USER)
            except MemoryError:
                _fail("out of memory: use smaller data, a smaller rank or fewer delays", 1)
            except OSError as exc:
                name = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
                _fail(f"{name}{exc.strerror or exc}", _EXIT_SYSTEM)
        sys.exit(code if isinstance(code, int) else 0)


def _json_safe(obj: Any) -> Any:
    """Replace NaN and infinities (not valid JSON) by None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    return obj


# ------------------------------------------------------------------------ commands
@click.group(cls=_KoopkitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="koopkit", message="%(prog)s %(version)s")
def main() -> None:
    """Koopman spectral analysis of xarray time series (netCDF4/HDF5 files).

    Errors are one line on stderr (koopkit: error: ...) with a non-zero exit code.
    """


# generate, predict and compare live in their own modules; the shared model options and
# the reading of DATA in koopkit._cli_options
main.add_command(generate)
main.add_command(predict)
main.add_command(compare)


@main.command()
@click.argument("data", type=click.Path(path_type=Path))
@fit_options
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), default=None, help="Spectrum netCDF."
)
@click.option("--top", type=int, default=20, show_default=True, help="Table rows to print.")
@click.option("--no-modes", is_flag=True, help="Write the spectrum without the mode shapes.")
@autoencoder_options
@click.option(
    "--checkpoint-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for a checkpoint written after every epoch (--backend autoencoder).",
)
@click.option(
    "--resume", is_flag=True, help="Continue from --checkpoint-dir (--backend autoencoder)."
)
@click.option(
    "--save-model",
    "save_model",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write the fitted model (netCDF; the autoencoder writes a folder) for "
    "`koopkit predict --model` or koopkit.load_model.",
)
@click.option(
    "--time-unit",
    "time_unit",
    type=click.Choice(["s", "minute", "hour", "day", "week", "year", "business day"]),
    default=None,
    help="Unit of times and frequencies for a datetime time axis [default: years for "
    "monthly and longer steps, days for daily and weekly, hours for hourly].",
)
@click.option(
    "--weights",
    "weights_name",
    default=None,
    metavar="NAME",
    help="A variable of DATA's file over (some of) the space dims holding the inner "
    "product's weights (cell areas, cos(latitude)).",
)
def fit(
    data: Path,
    output: Path | None,
    top: int,
    no_modes: bool,
    variable: str | None,
    save_model: Path | None,
    size_text: str | None,
    time_unit: str | None,
    weights_name: str | None,
    **opts: Any,
) -> None:
    """Fit a Koopman model to DATA, print its spectrum and write it to a netCDF file.

    The table gives each eigenpair's residual ||Kg - lam g|| / ||g|| where the backend
    measures one: near 0 the data confirm the eigenpair, near 1 it is spurious.

    With --backend optdmd (optimized DMD) the sample times may be uneven (a video keeps its
    true timestamps), and with --bags N the frequencies and growth rates are printed as
    value ± standard deviation over the bags.

    With --backend autoencoder, what is not given is chosen from the data and printed: the
    size of video frames (longer side at most 64 pixels) and a training budget of about
    3e8 frame values (epochs x steps x batch x frames per window x values per frame).
    Progress (reading, statistics, training epochs) goes to stderr.
    """
    if output is not None:
        check_output(output)
    if save_model is not None and not save_model.parent.is_dir():
        raise KoopkitError(
            f"cannot write {save_model}: directory {save_model.parent} does not exist: create it"
        )
    if top < 1:
        raise KoopkitError(f"--top {top} must be a positive integer")
    frames, plan = read_for_fit(data, variable, size_text, opts)
    extra: dict[str, Any] = {}
    if time_unit is not None:
        extra["time_unit"] = time_unit
    if weights_name is not None:
        extra["weights"] = read_weights(data, weights_name)
    model = fit_model(frames, opts, **extra)
    spectrum = model.spectrum_
    click.echo(spectrum.table(max_rows=top))
    params = spectrum.params
    if "rank_rule" in params:
        click.echo(f"rank: {params['rank_used']} (rule: {params['rank_rule']})")
    for line in plan:
        click.echo(line)
    lead = spectrum.leading_frequencies(2)
    unit = spectrum.time_units if spectrum.time_units not in ("", "time units") else "time unit"
    click.echo(f"leading frequencies [cycles per {unit}]: {frequency_text(lead)}")
    if output is not None:
        spectrum.to_netcdf(output, modes=not no_modes)
        note(f"wrote {output}: {len(spectrum)} modes")
    if save_model is not None:
        model.save(save_model)
        note(f"wrote {save_model}: the fitted {model.name} model (koopkit predict --model)")


@main.command("spectrum")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--sort-by", type=click.Choice(SORT_KEYS), default="rms_amplitude", show_default=True)
@click.option("--ascending", is_flag=True, help="Smallest first.")
@click.option("--top", type=int, default=None, help="Only the first N modes after sorting.")
@click.option("--positive", is_flag=True, help="Only modes with a positive frequency.")
@click.option(
    "--max-residual",
    type=float,
    default=None,
    metavar="X",
    help="Only the eigenpairs whose residual ||Kg - lam g|| / ||g|| is at most X (those the "
    "data confirm; e.g. 0.1).",
)
def spectrum_cmd(
    path: Path,
    as_json: bool,
    sort_by: str,
    ascending: bool,
    top: int | None,
    positive: bool,
    max_residual: float | None,
) -> None:
    """Print a spectrum file written by `koopkit fit` (a table, or JSON).

    Both carry each eigenpair's residual where the fit measured one, and the standard
    deviations of frequency and growth rate where it bagged (--backend optdmd --bags N;
    the table prints them as value ± std).
    """
    from koopkit.spectrum import open_spectrum

    if top is not None and top < 1:
        raise KoopkitError(f"--top {top} must be a positive integer")
    if max_residual is not None and not max_residual >= 0:
        raise KoopkitError(f"--max-residual {max_residual} must be a number >= 0, e.g. 0.1")
    spectrum = open_spectrum(path)
    if positive:
        spectrum = spectrum.select(positive_frequencies=True)
    if max_residual is not None:
        if not spectrum.has_residuals:
            raise KoopkitError(
                f"{path} carries no residuals (the fit did not measure them): drop "
                "--max-residual, or refit with dmd, exact_dmd, edmd or autoencoder"
            )
        spectrum = spectrum.select(max_residual=max_residual)
    spectrum = spectrum.sort(sort_by, ascending=ascending)
    if top is not None:
        spectrum = spectrum.isel(slice(0, top))
    if as_json:
        click.echo(json.dumps(_json_safe(spectrum.to_dict()), indent=2))
    else:
        click.echo(spectrum.table(max_rows=None if top is not None else 20))


#: ``koopkit plot --color-by`` besides auto, residual and none (plotting's quantities).
_EIGENVALUE_COLOURS = ("rms_amplitude", "amplitude", "growth_rate", "frequency", "magnitude")


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Image.")
@click.option(
    "--kind",
    type=click.Choice(["eigenvalues", "spectrum", "modes"]),
    default="eigenvalues",
    show_default=True,
)
@click.option("--modes", "n_modes", type=int, default=4, show_default=True, help="For modes.")
@click.option("--part", type=click.Choice(["real", "imag", "abs", "phase"]), default="real")
@click.option("--annotate", type=int, default=0, help="Label the N largest eigenvalues.")
@click.option(
    "--color-by",
    type=click.Choice(["auto", "residual", *_EIGENVALUE_COLOURS, "none"]),
    default="auto",
    show_default=True,
    help="Eigenvalue colour; auto: the residual where the spectrum has residuals (log "
    "scale, blue = trusted), else the RMS amplitude.",
)
@click.option("--dpi", type=int, default=120, show_default=True)
def plot(
    path: Path,
    output: Path,
    kind: str,
    n_modes: int,
    part: str,
    annotate: int,
    color_by: str,
    dpi: int,
) -> None:
    """Plot a spectrum file: eigenvalues, frequency spectrum or leading modes.

    Eigenvalues are sized by RMS amplitude and coloured by residual where the fit
    measured residuals.
    """
    from koopkit import plotting
    from koopkit.spectrum import open_spectrum

    check_image(output)
    spectrum = open_spectrum(path)
    if kind == "eigenvalues":
        colour = None if color_by == "none" else color_by
        figure: Any = plotting.plot_eigenvalues(spectrum, annotate=annotate, color_by=colour)
    elif kind == "spectrum":
        figure = plotting.plot_spectrum(spectrum)
    else:
        figure = plotting.plot_modes(spectrum, n_modes, part=part)
    plotting.save_figure(figure, output, dpi=dpi)
    note(f"wrote {output}")


@main.command("pseudospectrum")
@click.argument("data", type=click.Path(path_type=Path))
@fit_options
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="An image (.png, .pdf, ...) of the pseudospectrum with the eigenvalues, or a netCDF "
    "file (.nc) of tau on the grid (dims imag, real).",
)
@click.option(
    "--grid",
    "n_grid",
    type=int,
    default=100,
    show_default=True,
    help="Points along each axis; the cost grows with their square and the cube of the "
    "dictionary's rank.",
)
@click.option(
    "--region",
    default=None,
    metavar="RE0,RE1,IM0,IM1",
    help="The rectangle of the complex plane to map [default: a square holding the unit "
    "circle and every eigenvalue].",
)
@click.option(
    "--levels",
    default=None,
    metavar="EPS,...",
    help="Epsilon contour levels of an image, e.g. 0.01,0.1 [default: the decades of tau].",
)
@click.option("--dpi", type=int, default=120, show_default=True)
def pseudospectrum_cmd(
    data: Path,
    output: Path,
    n_grid: int,
    region: str | None,
    levels: str | None,
    dpi: int,
    variable: str | None,
    **opts: Any,
) -> None:
    """Fit DATA and map its epsilon-pseudospectrum, tau(z) = min ||Kg - zg|| / ||g||.

    tau is computed from the snapshot pairs (ResDMD); a true eigenvalue sits in a deep well
    of tau, a spurious one on open ground. The image shows tau on a log scale with epsilon
    contours, the unit circle and the eigenvalues coloured by residual.
    """
    import numpy as np

    from koopkit.residuals import pseudospectrum

    check_output(output)
    netcdf = output.suffix.lower() == ".nc"
    if not netcdf:
        check_image(output)
    elif levels is not None:
        raise KoopkitError("--levels draws contours: it applies to an image -o, not to a .nc file")
    if not 2 <= n_grid <= 2000:
        raise KoopkitError(f"--grid {n_grid} must be between 2 and 2000 points per axis")
    box = None
    if region is not None:
        box = parse_floats(region, "--region")
        if len(box) != 4 or not (box[0] < box[1] and box[2] < box[3]):
            raise KoopkitError(
                f"--region {region!r} must be RE0,RE1,IM0,IM1 with RE0 < RE1 and IM0 < IM1, "
                "e.g. 0.5,1.1,-0.1,0.9"
            )
    eps = None if levels is None else parse_floats(levels, "--levels")
    frames = read_data(data, variable)
    model = fit_model(frames, opts)
    spectrum = model.spectrum_
    if box is None:
        lam = np.abs(spectrum.eigenvalues.values)
        lam = lam[np.isfinite(lam)]
        reach = np.ceil(110 * max(1.0, float(lam.max()) if lam.size else 1.0)) / 100
        box = [-reach, reach, -reach, reach]
    grid = (np.linspace(box[0], box[1], n_grid), np.linspace(box[2], box[3], n_grid))
    note(f"evaluating tau on {n_grid} x {n_grid} points")
    with one_blas_thread():
        ps = pseudospectrum(model, grid)
    values = np.asarray(ps.values)
    k = int(np.nanargmin(values))
    z = complex(ps["real"].values[k % n_grid], ps["imag"].values[k // n_grid])
    click.echo(
        f"pseudospectrum of {spectrum.backend} ({len(spectrum)} eigenvalues, "
        f"{ps.attrs['n_pairs']} snapshot pairs) on re [{box[0]:g}, {box[1]:g}] x "
        f"im [{box[2]:g}, {box[3]:g}]: tau from {float(np.nanmin(values)):.3g} "
        f"(at z = {z.real:.4f}{z.imag:+.4f}j) to {float(np.nanmax(values)):.3g}"
    )
    if netcdf:
        from koopkit.io import atomic_path

        with atomic_path(output) as tmp:
            ps.to_netcdf(tmp, engine="h5netcdf")
        note(f"wrote {output}: tau on a {n_grid} x {n_grid} grid")
        return
    from koopkit import plotting

    ax = plotting.plot_pseudospectrum(ps, spectrum, levels=eps)
    plotting.save_figure(ax, output, dpi=dpi)
    note(f"wrote {output}")


@main.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=Path("koopkit-demo"),
    show_default=True,
    help="Directory for the files (created if missing).",
)
@click.option("--frames", type=int, default=None, help="Frames to render [300; --quick 200].")
@click.option("--size", type=int, default=None, help="Frame size in pixels [64; --quick 32].")
@click.option("--delays", type=int, default=4, show_default=True)
@click.option("--rank", default="auto", show_default=True, help="As for `koopkit fit`.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--quick", is_flag=True, help="A smaller video (for tests and slow machines).")
def demo(
    output: Path,
    frames: int | None,
    size: int | None,
    delays: int,
    rank: str,
    seed: int,
    quick: bool,
) -> None:
    """Bouncing balls end to end: DMD and exact DMD find both frequencies, plots, forecast."""
    run_demo(
        output,
        frames=frames if frames is not None else (200 if quick else 300),
        size=size if size is not None else (32 if quick else 64),
        delays=delays,
        rank=parse_rank(rank),
        seed=seed,
        echo=click.echo,
    )


# ------------------------------------------------------------------------ benchmark
@main.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=Path("benchmarks"),
    show_default=True,
    help="Directory for results.csv, results.md and the plots (created if missing).",
)
@click.option("--quick", is_flag=True, help="Small cases (CI: under 3 minutes).")
@click.option(
    "--case",
    "cases",
    multiple=True,
    help="Only this case (repeatable): linear, pendulum, balls, cylinder, video, clip.",
)
@click.option("--method", "methods", multiple=True, help="Only this method (repeatable).")
@click.option("--no-memory", is_flag=True, help="Skip the second fit that measures memory.")
def benchmark(
    output: Path, quick: bool, cases: tuple[str, ...], methods: tuple[str, ...], no_memory: bool
) -> None:
    """Every method on every case with a known truth: errors, forecast, time, memory."""
    from koopkit.benchmarking import suite

    unknown = [c for c in cases if c not in suite.CASES]
    if unknown:
        raise KoopkitError(f"unknown case {unknown[0]!r}; choose from {', '.join(suite.CASES)}")
    if output.exists() and not output.is_dir():
        raise KoopkitError(f"benchmark output {output} is a file: pass a directory with -o")
    _, paths = suite.run(
        output,
        quick=quick,
        case_names=cases or None,
        method_names=methods or None,
        memory=not no_memory,
        progress=note,
    )
    note("wrote " + ", ".join(str(p) for p in paths))


if __name__ == "__main__":  # pragma: no cover
    main(prog_name="koopkit")

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

import inspect
import json
import math
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import click

from koopkit import __version__
from koopkit._cli_generate import generate
from koopkit._cli_util import (
    OBSERVABLE_FORMS,
    check_image,
    check_output,
    check_positive,
    frequency_text,
    note,
    one_blas_thread,
    parse_floats,
    parse_observables,
    parse_size,
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


# --------------------------------------------------------------------------- helpers
def _parse_rank(text: str) -> int | float | str | None:
    """``--rank``: an int, an energy fraction in (0, 1), ``auto`` or ``full``."""
    word = text.strip().lower()
    if word == "auto":
        return "auto"
    if word in ("full", "none", "all"):
        return None
    hint = "use an integer >= 1 (e.g. 10), an energy fraction in (0, 1) (e.g. 0.99), auto or full"
    value: int | float
    try:
        value = int(word)
    except ValueError:
        try:
            value = float(word)
        except ValueError:
            value = math.nan
    if isinstance(value, int) and value >= 1 or isinstance(value, float) and 0 < value < 1:
        return value
    raise KoopkitError(f"--rank {text!r} is not valid: {hint}")


def _estimator(backend: str, **options: Any) -> Any:
    """A new estimator of ``backend`` with the options the user gave (None: not given)."""
    from koopkit import backends

    try:
        cls = backends.get_class(backend)
    except ImportError as exc:
        raise KoopkitError(
            f"backend {backend!r} needs a package that is not installed ({one_line(exc)}): "
            "install koopkit's extras, e.g. pip install 'koopkit[torch]'"
        ) from None
    params = {k: v for k, v in options.items() if v is not None and v is not False}
    if "rank" in params:
        params["rank"] = _parse_rank(str(params["rank"]))
    signature = inspect.signature(cls.__init__)
    takes_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    unknown = [k for k in params if k not in signature.parameters]
    if unknown and not takes_any:
        flags = ", ".join(_FLAGS.get(k, "--" + k.replace("_", "-")) for k in unknown)
        hint = _HINTS.get(unknown[0], "drop it")
        raise KoopkitError(f"backend {backend!r} does not take {flags}: {hint}")
    if isinstance(params.get("observables"), str):
        params["observables"] = parse_observables(params["observables"])
    return cls(**params)


#: The backend that fits any sample times (videos are read with their true timestamps).
IRREGULAR_TIMES_BACKEND = "optdmd"

#: Options whose flag is not the parameter's name.
_FLAGS = {"n_bags": "--bags"}

#: What to do instead of an option a backend does not take.
_HINTS = {
    "n_bags": "bagging (error bars on every eigenvalue) is optimized DMD's: add --backend "
    "optdmd or drop it",
    "bag_fraction": "bagging is optimized DMD's: add --backend optdmd --bags N or drop it",
    "observables": "add --backend edmd (--observables is EDMD's dictionary) or drop it",
    "delays": "for EDMD put the delays in the dictionary, e.g. --observables delays:4+polynomial:2",
}


def _fit_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options shared by ``fit``, ``predict`` (model choice and settings)."""
    options = [
        click.option(
            "--variable",
            default=None,
            metavar="NAME",
            help="Variable to read (needed when the file holds several with a time dim).",
        ),
        click.option(
            "--backend",
            default="exact_dmd",
            show_default=True,
            help="Estimator: dmd, exact_dmd, edmd (EDMD on --observables), optdmd "
            "(optimized DMD: any sample times, error bars with --bags), or another registered "
            "backend (autoencoder, pydmd).",
        ),
        click.option(
            "--rank",
            default=None,
            metavar="R",
            help="Truncation: an integer (10), an energy fraction (0.99), auto "
            "(Gavish-Donoho, the default of dmd and exact_dmd) or full (edmd's default).",
        ),
        click.option(
            "--observables",
            default=None,
            metavar="SPEC",
            help=f"EDMD's dictionary (--backend edmd; default identity): {OBSERVABLE_FORMS}.",
        ),
        click.option(
            "--regularization",
            type=float,
            default=None,
            help="Tikhonov regularization of EDMD's regression (--backend edmd).",
        ),
        click.option(
            "--delays",
            type=int,
            default=None,
            help="Time-delay embedding: frames stacked per state (default 1). Needed for "
            "moving objects: one frame cannot tell rising from falling.",
        ),
        click.option("--tlsq-rank", type=int, default=None, help="Total-least-squares rank."),
        click.option(
            "--forward-backward", is_flag=True, help="Forward-backward DMD (removes noise bias)."
        ),
        click.option("--solver", default=None, help="auto, svd, gram or randomized."),
        click.option(
            "--bags",
            "n_bags",
            type=click.IntRange(min=0),
            default=None,
            metavar="N",
            help="Bagging (--backend optdmd): refit on N random subsets of the snapshots; the "
            "spread gives each eigenvalue, frequency and growth rate a standard deviation "
            "(printed as value ± std) [default: 0, no bagging].",
        ),
        click.option(
            "--bag-fraction",
            "bag_fraction",
            type=click.FloatRange(0, 1, min_open=True, max_open=True),
            default=None,
            metavar="F",
            help="Fraction of the snapshots in each bag (--backend optdmd --bags N) "
            "[default: 0.6].",
        ),
        click.option(
            "--residual-rank",
            type=int,
            default=None,
            help="POD rank of ResDMD's dictionary (dmd, exact_dmd; default: the fit's rank). "
            "`koopkit pseudospectrum` minimises over this larger span; each eigenpair's own "
            "residual does not change.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _read(
    path: Path,
    variable: str | None,
    size: tuple[int, int] | None = None,
    progress: Callable[[str], None] | None = None,
    irregular: str = "error",
) -> Any:
    from koopkit.io import open_timeseries
    from koopkit.video import is_video, open_video

    if is_video(path):  # mp4, avi, gif, webm, ...: frames (time, y, x, channel) in [0, 1]
        if variable is not None:
            raise KoopkitError(f"--variable does not apply to the video {path}: drop it")
        return open_video(path, size=size, progress=progress, irregular=irregular)
    if size is not None:
        raise KoopkitError(
            f"--size resizes video frames as they are read, but {path} is not a video: drop "
            "--size (coarsen gridded data first, e.g. with xarray's coarsen)"
        )
    return open_timeseries(path, variable=variable)


def _autoencoder_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``fit``'s frame size and training budget options (chosen from the data when absent)."""
    options = [
        click.option(
            "--size",
            "size_text",
            default=None,
            metavar="HxW",
            help="Resize video frames to H x W pixels as they are read (any backend) "
            "[default: the clip's size; with --backend autoencoder the longer side is capped "
            "at 64 pixels, aspect kept].",
        ),
        click.option(
            "--epochs",
            type=int,
            default=None,
            help="Training epochs (--backend autoencoder) [default: chosen from the data, "
            "20 to 60].",
        ),
        click.option(
            "--steps-per-epoch",
            type=int,
            default=None,
            help="Optimizer steps per epoch (--backend autoencoder) [default: chosen from the "
            "data, at most 100].",
        ),
        click.option(
            "--batch-size",
            type=int,
            default=None,
            help="Training windows per step (--backend autoencoder) [default: chosen from the "
            "data, at most 64].",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _read_for_fit(
    path: Path, variable: str | None, size_text: str | None, opts: dict[str, Any]
) -> tuple[Any, list[str]]:
    """Read DATA for ``fit``; for the autoencoder choose what the user left open.

    The frame size of a video (longer side capped, before reading), then the epochs, steps
    and batch from the frames read (:mod:`koopkit.backends.autoencoder.budget`): they go
    into ``opts`` with a progress callback, and the returned lines say what was chosen.
    """
    from koopkit.video import is_video, open_video

    size = None if size_text is None else parse_size(size_text)
    for key in ("epochs", "steps_per_epoch", "batch_size"):
        check_positive(opts.get(key), "--" + key.replace("_", "-"))
    if opts.get("backend") != "autoencoder":
        # optimized DMD fits any sample times: a video's irregular timestamps are kept
        keep = "keep" if opts.get("backend") == IRREGULAR_TIMES_BACKEND else "error"
        return _read(path, variable, size, progress=note, irregular=keep), []
    from koopkit.backends.autoencoder.budget import MAX_SIDE, frame_size, training_budget

    model = _estimator(**opts)  # the user's settings and the estimator's defaults
    video = is_video(path)
    source = None
    if video and size is None:
        source = tuple(open_video(path, frames=1).attrs["source_size"])
        size = frame_size(*source)
    frames = _read(path, variable, size, progress=note)
    space = [d for d in frames.dims if d not in ("time", "trajectory")]
    n_traj = frames.sizes.get("trajectory", 1)
    values = math.prod(frames.sizes[d] for d in space)
    budget = training_budget(
        [frames.sizes["time"]] * n_traj,
        values,
        horizon=model.horizon,
        delays=model.delays,
        val_fraction=model.val_fraction,
        epochs=opts.get("epochs"),
        steps_per_epoch=opts.get("steps_per_epoch"),
        batch_size=opts.get("batch_size"),
    )
    opts.update(
        epochs=budget.epochs,
        steps_per_epoch=budget.steps_per_epoch,
        batch_size=budget.batch_size,
        progress=note,
    )
    lines = []
    if len(space) >= 2:
        shape = f"{frames.sizes[space[0]]}x{frames.sizes[space[1]]}"
        if source is None:
            why = "given" if size_text is not None else "the data's frames"
        elif tuple(size) == source:
            why = f"the clip's size: at most {MAX_SIDE} pixels a side"
        else:
            why = (
                f"chosen: the clip's {source[0]}x{source[1]} with the longer side capped at "
                f"{MAX_SIDE} pixels; --size to change"
            )
        lines.append(f"autoencoder size: {shape} ({why})")
    names = {"epochs": "epochs", "steps_per_epoch": "steps", "batch_size": "batch"}
    chosen = ", ".join(names[k] for k in budget.chosen)
    given = ", ".join(names[k] for k in names if k not in budget.chosen)
    how = "; ".join(
        part
        for part in (
            f"{chosen} chosen from the data" if chosen else "",
            f"{given} given" if given else "",
        )
        if part
    )
    lines.append(
        f"autoencoder budget: {budget.epochs} epochs x {budget.steps_per_epoch} steps x batch "
        f"{budget.batch_size} from {budget.windows} training windows ({how}; --epochs, "
        "--steps-per-epoch, --batch-size to change)"
    )
    for line in lines:
        note(line)
    return frames, lines


def _fit(data: Any, options: dict[str, Any], **fit_options: Any) -> Any:
    model = _estimator(**options)
    return model.fit(data, **fit_options)


def _weights(path: Path, name: str) -> Any:
    """The variable ``name`` of the file (or zarr store) ``path``, for ``--weights``."""
    import xarray as xr

    from koopkit.io import is_zarr, open_dataset

    if is_zarr(path):
        ds = xr.open_dataset(path, engine="zarr", chunks=None)
    else:
        ds = open_dataset(path)
    if name not in ds:
        listing = ", ".join(map(str, ds.data_vars)) or "none"
        raise KoopkitError(f"no variable {name!r} in {path} for --weights (variables: {listing})")
    return ds[name].load()


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


main.add_command(generate)


@main.command()
@click.argument("data", type=click.Path(path_type=Path))
@_fit_options
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), default=None, help="Spectrum netCDF."
)
@click.option("--top", type=int, default=20, show_default=True, help="Table rows to print.")
@click.option("--no-modes", is_flag=True, help="Write the spectrum without the mode shapes.")
@_autoencoder_options
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
    frames, plan = _read_for_fit(data, variable, size_text, opts)
    extra: dict[str, Any] = {}
    if time_unit is not None:
        extra["time_unit"] = time_unit
    if weights_name is not None:
        extra["weights"] = _weights(data, weights_name)
    model = _fit(frames, opts, **extra)
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
@_fit_options
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
    frames = _read(data, variable)
    model = _fit(frames, opts)
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
@click.argument("data", type=click.Path(path_type=Path), required=False)
@click.option(
    "--model",
    "model_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Forecast with a saved model (koopkit fit --save-model, model.save) instead of "
    "fitting DATA; with DATA the forecast starts from DATA's last frames.",
)
@_fit_options
@click.option("--steps", type=int, default=20, show_default=True, help="Frames to forecast.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Forecast netCDF; or an image (.png, .pdf, ...: truth / forecast / error strip) or a "
    "video (.mp4, .gif, .webm, .avi: truth | forecast | error side by side), which imply "
    "--holdout. Without -o the forecast is printed.",
)
@click.option(
    "--holdout",
    is_flag=True,
    help="Fit all but the last --steps frames and forecast those, to compare with the truth.",
)
@click.option(
    "--strip",
    type=click.Path(path_type=Path),
    default=None,
    help="Image of truth, forecast and error (needs --holdout and frames (time, y, x)).",
)
def predict(
    data: Path | None,
    model_path: Path | None,
    steps: int,
    output: Path | None,
    holdout: bool,
    strip: Path | None,
    variable: str | None,
    **opts: Any,
) -> None:
    """Fit DATA (or load --model) and forecast --steps frames past its end.

    The forecast goes to a netCDF file (-o), or is printed. With an image or video -o, the
    last --steps frames of DATA are held out and the file shows them beside the forecast
    and the squared error.
    """
    import numpy as np
    from matplotlib.backend_bases import FigureCanvasBase

    from koopkit.evaluation import forecast_mse
    from koopkit.video import WRITABLE_SUFFIXES, side_by_side, write_video

    if data is None and model_path is None:
        raise KoopkitError(
            "give DATA to fit and forecast, or --model FILE to forecast with a saved model"
        )
    if model_path is not None:
        _check_no_fit_options(opts)
    shown = None
    if output is not None:
        check_output(output)
        suffix = output.suffix.lower()
        shown = "video" if suffix in WRITABLE_SUFFIXES else None
        if shown is None and suffix.lstrip(".") in FigureCanvasBase.get_supported_filetypes():
            shown = "image"
    holdout = holdout or shown is not None  # a strip or video compares with the truth
    if data is None and (holdout or strip is not None):
        raise KoopkitError(
            "--holdout, --strip and image or video output compare the forecast with the "
            "truth: pass DATA too (the forecast then starts from its frames)"
        )
    if strip is not None:
        if not holdout:
            raise KoopkitError(
                "--strip compares the forecast with the truth: add --holdout (fit all but the "
                "last --steps frames and forecast those)"
            )
        check_image(strip)
    if steps < 1:
        raise KoopkitError(f"--steps {steps} must be a positive integer")
    if data is None:
        from koopkit.backends.saving import load_model

        _show_forecast(load_model(model_path).predict(steps=steps), output, steps)
        return
    frames = _read(data, variable)
    pictures = strip is not None or shown is not None
    if pictures and not (frames.ndim == 3 or frames.ndim == 4 and frames.shape[-1] == 3):
        what = "--strip" if strip is not None else f"-o {output.name}"
        raise KoopkitError(
            f"{what} shows image frames (time, y, x) or (time, y, x, 3), but {data} holds "
            f"dims {frames.dims}: write the forecast to a .nc file instead"
        )
    n_time = frames.sizes["time"]
    truth = None
    if holdout:
        if steps > n_time - 3:
            raise KoopkitError(
                f"--holdout with --steps {steps} leaves {n_time - steps} of {n_time} frames "
                f"to fit: use --steps <= {max(n_time - 3, 0)}"
            )
        truth = frames.isel(time=slice(n_time - steps, None))
        frames = frames.isel(time=slice(0, n_time - steps))
    if model_path is None:
        forecast = _fit(frames, opts).predict(steps=steps)
    else:
        from koopkit.backends.saving import load_model

        forecast = load_model(model_path).predict(steps=steps, initial=frames)
    if truth is not None:
        mse = float(forecast_mse(forecast, truth).mean())
        scale = float(np.mean(np.asarray(truth.values, dtype=float) ** 2)) or 1.0
        click.echo(
            f"forecast of the last {steps} frames: MSE {mse:.4g} "
            f"({100 * mse / scale:.3g}% of the mean square of the truth)"
        )
    if shown == "video":
        dt = float(frames["time"].values[1] - frames["time"].values[0])
        write_video(side_by_side(truth, forecast), output, fps=1.0 / dt)
        note(f"wrote {output}: truth | forecast | squared error, {steps} frames")
    elif shown == "image":
        from koopkit import plotting

        plotting.save_figure(plotting.plot_strip(truth, forecast), output)
        note(f"wrote {output}: truth / forecast / squared error")
    else:
        _show_forecast(forecast, output, steps)
    if strip is not None:
        from koopkit import plotting

        plotting.save_figure(plotting.plot_strip(truth, forecast), strip)
        note(f"wrote {strip}")


def _check_no_fit_options(opts: dict[str, Any]) -> None:
    """--model forecasts with a saved model: the options that choose a fit do not apply."""
    ctx = click.get_current_context()
    given = [
        k
        for k, v in opts.items()
        if v not in (None, False)
        and ctx.get_parameter_source(k) is not click.core.ParameterSource.DEFAULT
    ]
    if given:
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        verb, it = ("chooses", "it") if len(given) == 1 else ("choose", "them")
        raise KoopkitError(
            f"{flags} {verb} a fit, but --model forecasts with a saved model: drop {it} "
            "(or drop --model to fit DATA)"
        )


def _show_forecast(forecast: Any, output: Path | None, steps: int) -> None:
    """Write the forecast to a netCDF file, or print it (a column per feature, up to 8)."""
    import numpy as np

    if output is not None:
        from koopkit.io import save_timeseries

        save_timeseries(forecast, output)
        note(f"wrote {output}: {steps} forecast frames")
        return
    times = forecast["time"].values
    values = np.asarray(forecast.values).reshape(len(times), -1)
    space = forecast.dims[1:]
    if values.shape[1] <= 8:
        if len(space) == 1 and space[0] in forecast.coords:
            names = [str(v) for v in forecast[space[0]].values]
        else:
            names = [f"x{i}" for i in range(values.shape[1])]
        header = ["time", *names]
        rows = [
            [f"{t:.6g}", *(f"{v:.6g}" for v in row)] for t, row in zip(times, values, strict=True)
        ]
    else:
        header = ["time", "min", "mean", "max"]
        rows = [
            [f"{t:.6g}", *(f"{f(row):.6g}" for f in (np.min, np.mean, np.max))]
            for t, row in zip(times, values.real, strict=True)
        ]
        note(f"{values.shape[1]} values per frame: pass -o FILE to write them all")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))


def _param(text: str) -> tuple[str, Any]:
    """``--param NAME=VALUE``: the value as an int, float or bool where it reads as one."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise KoopkitError(f"--param {text!r} is not NAME=VALUE, e.g. --param epochs=5")
    value: Any = raw.strip()
    lowered = value.lower()
    if lowered in ("true", "false"):
        value = lowered == "true"
    else:
        for kind in (int, float):
            try:
                value = kind(value)
                break
            except ValueError:
                continue
    return name.strip().replace("-", "_"), value


@main.command()
@click.argument("data", type=click.Path(path_type=Path))
@click.option(
    "--backends",
    default="dmd,exact_dmd",
    show_default=True,
    help="Comma-separated backends to compare, e.g. dmd,exact_dmd,autoencoder.",
)
@click.option("--steps", type=int, default=20, show_default=True, help="Forecast horizon.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Image of the error against the horizon; the numbers go to a CSV of the same stem.",
)
@click.option("--variable", default=None, metavar="NAME", help="Variable to read.")
@click.option("--rank", default=None, metavar="R", help="As for `koopkit fit`.")
@click.option("--delays", type=int, default=None, help="Time delays (backends that take it).")
@click.option(
    "--train-fraction",
    type=float,
    default=None,
    help="Fraction of the frames to fit [default: all but the last --steps].",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A setting for every backend that takes it, e.g. --param epochs=5 or --param "
    "observables=delays:4+polynomial:2 (edmd) (repeatable).",
)
@click.option("--linear", is_flag=True, help="Linear error axis (default: logarithmic).")
def compare(
    data: Path,
    backends: str,
    steps: int,
    output: Path,
    variable: str | None,
    rank: str | None,
    delays: int | None,
    train_fraction: float | None,
    params: tuple[str, ...],
    linear: bool,
) -> None:
    """Forecast error against the horizon for several backends, on held-out final frames.

    Fits each backend to the start of DATA, forecasts the next --steps frames and writes
    the per-step mean squared error of each, and of copying the last fitted frame, as a
    plot (-o) and a CSV beside it.
    """
    from koopkit import backends as registry
    from koopkit.pipelines import compare_forecasts

    check_image(output)
    names = list(dict.fromkeys(n.strip() for n in backends.split(",") if n.strip()))
    if not names:
        raise KoopkitError("--backends is empty: name at least one, e.g. dmd,exact_dmd")
    settings: dict[str, Any] = dict(_param(p) for p in params)
    if isinstance(settings.get("observables"), str):  # --param observables=delays:4+rbf:100
        settings["observables"] = parse_observables(settings["observables"])
    if rank is not None:
        settings["rank"] = _parse_rank(rank)
    if delays is not None:
        settings["delays"] = delays
    accepted = {}
    for name in names:
        try:
            accepted[name] = inspect.signature(registry.get_class(name).__init__).parameters
        except ImportError as exc:
            raise KoopkitError(
                f"backend {name!r} needs a package that is not installed ({one_line(exc)}): "
                "install koopkit's extras, e.g. pip install 'koopkit[torch]'"
            ) from None
    unused = [k for k in settings if not any(k in a for a in accepted.values())]
    if unused:
        raise KoopkitError(f"no chosen backend takes {unused[0]!r}: drop it")
    models = {}
    for name in names:
        given = {k: v for k, v in settings.items() if k in accepted[name]}
        for key in sorted(set(settings) - set(given)):
            note(f"koopkit: note: backend {name!r} does not take {key!r}; ignored for it")
        models[name] = registry.get(name, **given)
    image, table = compare_forecasts(
        _read(data, variable),
        models,
        steps,
        output,
        train_fraction=train_fraction,
        log=not linear,
        title=f"forecast error on held-out frames of {data.name}",
        echo=click.echo,
    )
    note(f"wrote {image} and {table}")


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
        rank=_parse_rank(rank),
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

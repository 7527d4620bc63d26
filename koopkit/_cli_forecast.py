"""``koopkit predict`` and ``koopkit compare``: forecasts written, printed or beside the truth."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import click

from koopkit._cli_options import fit_model, fit_options, parse_rank, read_data
from koopkit._cli_util import check_image, check_output, note, parse_observables
from koopkit._errors import KoopkitError, one_line
from koopkit._validation import TIME

__all__ = ["compare", "predict"]


@click.command()
@click.argument("data", type=click.Path(path_type=Path), required=False)
@click.option(
    "--model",
    "model_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Forecast with a saved model (koopkit fit --save-model, model.save) instead of "
    "fitting DATA; with DATA the forecast starts from DATA's last frames.",
)
@fit_options
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
    frames = read_data(data, variable)
    pictures = strip is not None or shown is not None
    if pictures and not (frames.ndim == 3 or frames.ndim == 4 and frames.shape[-1] == 3):
        what = "--strip" if strip is not None else f"-o {output.name}"
        raise KoopkitError(
            f"{what} shows image frames (time, y, x) or (time, y, x, 3), but {data} holds "
            f"dims {frames.dims}: write the forecast to a .nc file instead"
        )
    n_time = frames.sizes[TIME]
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
        forecast = fit_model(frames, opts).predict(steps=steps)
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
        dt = float(frames[TIME].values[1] - frames[TIME].values[0])
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
    times = forecast[TIME].values
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


@click.command()
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
        settings["rank"] = parse_rank(rank)
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
        read_data(data, variable),
        models,
        steps,
        output,
        train_fraction=train_fraction,
        log=not linear,
        title=f"forecast error on held-out frames of {data.name}",
        echo=click.echo,
    )
    note(f"wrote {image} and {table}")

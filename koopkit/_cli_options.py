"""What the ``koopkit`` commands that fit share: their options, reading DATA, the estimator.

``fit``, ``predict`` and ``pseudospectrum`` take the same model options (:func:`fit_options`)
and build the estimator the same way (:func:`build_estimator`, which names the option a
backend does not take and what to do instead); ``fit`` also chooses the autoencoder's frame
size and training budget from the data (:func:`read_for_fit`).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from koopkit._cli_util import OBSERVABLE_FORMS, check_positive, note, parse_observables, parse_size
from koopkit._errors import KoopkitError, one_line
from koopkit._validation import TIME, TRAJECTORY

__all__ = [
    "IRREGULAR_TIMES_BACKEND",
    "autoencoder_options",
    "build_estimator",
    "fit_model",
    "fit_options",
    "parse_rank",
    "read_data",
    "read_for_fit",
    "read_weights",
]


def parse_rank(text: str, flag: str = "--rank") -> int | float | str | None:
    """``--rank`` (or ``flag``): an int, an energy fraction in (0, 1), ``auto`` or ``full``."""
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
    raise KoopkitError(f"{flag} {text!r} is not valid: {hint}")


def build_estimator(backend: str, **options: Any) -> Any:
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
        params["rank"] = parse_rank(str(params["rank"]))
    if "frame_rank" in params:
        params["frame_rank"] = parse_rank(str(params["frame_rank"]), flag="--frame-rank")
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
    "frame_rank": "--frame-rank is DMD's (--backend dmd or exact_dmd) or drop it",
}


def fit_options(func: Callable[..., Any]) -> Callable[..., Any]:
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
        click.option(
            "--frame-rank",
            default=None,
            metavar="R",
            help="Higher-order DMD (with --delays): project the frames on their leading POD "
            "directions first, as many as R keeps (same forms as --rank; auto is PyDMD "
            "HODMD's default).",
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


def read_data(
    path: Path,
    variable: str | None,
    size: tuple[int, int] | None = None,
    progress: Callable[[str], None] | None = None,
    irregular: str = "error",
) -> Any:
    """DATA as a DataArray: a video through :func:`~koopkit.video.open_video`, else a file."""
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


def autoencoder_options(func: Callable[..., Any]) -> Callable[..., Any]:
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


def read_for_fit(
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
        return read_data(path, variable, size, progress=note, irregular=keep), []
    from koopkit.backends.autoencoder.budget import MAX_SIDE, frame_size, training_budget

    model = build_estimator(**opts)  # the user's settings and the estimator's defaults
    video = is_video(path)
    source = None
    if video and size is None:
        source = tuple(open_video(path, frames=1).attrs["source_size"])
        size = frame_size(*source)
    frames = read_data(path, variable, size, progress=note)
    space = [d for d in frames.dims if d not in (TIME, TRAJECTORY)]
    n_traj = frames.sizes.get(TRAJECTORY, 1)
    values = math.prod(frames.sizes[d] for d in space)
    budget = training_budget(
        [frames.sizes[TIME]] * n_traj,
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


def fit_model(data: Any, options: dict[str, Any], **fit_kwargs: Any) -> Any:
    """A new estimator with the user's ``options``, fitted to ``data``."""
    model = build_estimator(**options)
    return model.fit(data, **fit_kwargs)


def read_weights(path: Path, name: str) -> Any:
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

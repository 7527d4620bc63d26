"""Small helpers shared by the ``koopkit`` command-line modules."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from koopkit._errors import KoopkitError


def note(message: str) -> None:
    """Progress and file notes go to stderr, so stdout stays clean for tables and JSON."""
    click.echo(message, err=True)


def check_output(path: Path) -> Path:
    """Fail before any work when ``path`` cannot be written."""
    if path.is_dir():
        raise KoopkitError(f"cannot write {path}: it is a directory: pass a file path")
    parent = path.parent
    if not parent.is_dir():
        raise KoopkitError(f"cannot write {path}: directory {parent} does not exist: create it")
    return path


def check_image(path: Path) -> Path:
    """Fail before any work when ``path`` is not a writable image of a known format."""
    from koopkit.plotting import image_format

    image_format(path)
    return check_output(path)


def parse_numbers(
    text: str, name: str, convert: Callable[[str], Any] = float, example: str = "0.35,0.9"
) -> list[Any]:
    """A non-empty comma-separated list of numbers (``convert``: float or complex)."""
    try:
        values = [convert(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise KoopkitError(
            f"{name} {text!r} is not a comma-separated list of numbers such as {example}"
        ) from None
    if not values:
        raise KoopkitError(f"{name} is empty: give at least one number, e.g. {example}")
    return values


def parse_floats(text: str, name: str) -> list[float]:
    """A comma-separated list of floats given to the option ``name``."""
    return parse_numbers(text, name)


def frequency_text(values: Sequence[float]) -> str:
    """Frequencies for a message: ``"0.1, 0.25"`` (``"none"`` when there are none)."""
    return ", ".join(f"{v:.6g}" for v in values) if len(values) else "none"


#: The forms ``--observables`` accepts, for its help and its errors.
OBSERVABLE_FORMS = (
    "identity, delays:N, polynomial:DEGREE, rbf:N_CENTERS, fourier:N_FEATURES (random "
    "Fourier features), joined by + (e.g. delays:4+polynomial:2); or gaussian (the exact "
    "Gaussian kernel, alone)"
)


def parse_observables(spec: str) -> Any:
    """``--observables``: a dictionary of :mod:`koopkit.observables` from a short spec.

    ``"delays:4+polynomial:2"`` is ``Delays(4) + Polynomial(2)``.
    """
    from koopkit import observables as obs

    makers: dict[str, Callable[[int], Any]] = {
        "delays": obs.Delays,
        "polynomial": obs.Polynomial,
        "rbf": obs.RBF,
        "fourier": obs.RandomFourier,
    }
    parts = []
    for raw in spec.split("+"):
        part = raw.strip().lower()
        name, _, arg = part.partition(":")
        if part in ("identity", "gaussian"):
            parts.append(obs.Identity() if part == "identity" else obs.GaussianKernel())
            continue
        if not part:
            problem = "an empty part"
        elif name in ("identity", "gaussian"):
            problem = f"{name} takes no number"
        elif name not in makers:
            problem = f"unknown dictionary {raw.strip()!r}"
        elif not (arg.isascii() and arg.isdigit() and int(arg) >= 1):
            problem = f"{name} needs a positive integer after the colon, got {raw.strip()!r}"
        else:
            parts.append(makers[name](int(arg)))
            continue
        raise KoopkitError(
            f"--observables {spec!r} is not valid ({problem}): use {OBSERVABLE_FORMS}"
        )
    out = parts[0]
    for extra in parts[1:]:
        out = out + extra
    return out


def parse_size(text: str) -> tuple[int, int]:
    """``--size HxW``: a frame height and width in pixels, e.g. ``"48x64"``.

    Examples
    --------
    >>> parse_size("48x64")
    (48, 64)
    """
    parts = text.strip().lower().replace("*", "x").split("x")
    if len(parts) == 2 and all(p.strip().isascii() and p.strip().isdigit() for p in parts):
        height, width = (int(p) for p in parts)
        if height >= 1 and width >= 1:
            return height, width
    raise KoopkitError(
        f"--size {text!r} is not HEIGHTxWIDTH in pixels with both at least 1: use e.g. 48x64"
    )


def check_positive(value: int | None, flag: str) -> None:
    """A count option (``--epochs``, ``--batch-size``, ...) that must be at least 1."""
    if value is not None and value < 1:
        raise KoopkitError(f"{flag} {value} must be a positive integer, e.g. {flag} 20")


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Limit BLAS to one thread where threadpoolctl is installed (else do nothing).

    For the small matrices of the demo and the pseudospectrum grid: more BLAS threads gain
    nothing on them, and OpenBLAS's spin-waiting threads slow everything down when the
    cores are shared.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield

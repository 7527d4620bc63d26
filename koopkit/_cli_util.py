"""Small helpers shared by the ``koopkit`` command-line modules."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from koopkit._errors import KoopkitError


def _note(message: str) -> None:
    """Progress and file notes go to stderr, so stdout stays clean for tables and JSON."""
    click.echo(message, err=True)


def _check_output(path: Path) -> Path:
    """Fail before any work when ``path`` cannot be written."""
    if path.is_dir():
        raise KoopkitError(f"cannot write {path}: it is a directory: pass a file path")
    parent = path.parent
    if not parent.is_dir():
        raise KoopkitError(f"cannot write {path}: directory {parent} does not exist: create it")
    return path


def _check_image(path: Path) -> Path:
    from koopkit.plotting import image_format

    image_format(path)
    return _check_output(path)


def _floats(text: str, name: str) -> list[float]:
    try:
        values = [float(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise KoopkitError(
            f"{name} {text!r} is not a comma-separated list of numbers, e.g. 0.35,0.9"
        ) from None
    if not values:
        raise KoopkitError(f"{name} is empty: give at least one number")
    return values


def _frequency_text(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.6g}" for v in values) if len(values) else "none"

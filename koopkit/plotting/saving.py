"""Writing figures: atomic saves, the image format from the file name."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from koopkit._errors import KoopkitError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def save_figure(fig: Figure | Axes, path: str | os.PathLike[str], *, dpi: int = 120) -> None:
    """Write a figure atomically; the format comes from the file extension.

    The image goes to a temporary file next to ``path`` that replaces it only once it is
    complete (:func:`koopkit.io.atomic_path`), so an interrupted save leaves no half file.

    Parameters
    ----------
    fig : Figure or Axes
        The figure (an Axes stands for its figure).
    path : str or os.PathLike
        Output file, e.g. ``eigenvalues.png`` or ``.pdf``/``.svg``.
    dpi : int

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> from koopkit.plotting import plot_eigenvalues
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "eigs.png"
    >>> save_figure(plot_eigenvalues(np.exp([0.3j, -0.3j])), out)
    >>> out.read_bytes()[:4]
    b'\\x89PNG'
    """
    from koopkit.io import atomic_path

    figure = getattr(fig, "figure", None) if not hasattr(fig, "savefig") else fig
    if figure is None or not hasattr(figure, "savefig"):
        raise KoopkitError(f"save_figure needs a matplotlib Figure or Axes, got {type(fig)}")
    suffix = image_format(path)
    with atomic_path(path) as tmp:
        # The temporary name ends in .tmp, so the format is given explicitly.
        figure.savefig(tmp, format=suffix, dpi=dpi)


def image_format(path: str | os.PathLike[str]) -> str:
    """The matplotlib format named by ``path``'s extension, or a one-line error.

    Examples
    --------
    >>> image_format("eigenvalues.PNG")
    'png'
    """
    from matplotlib.backend_bases import FigureCanvasBase

    suffix = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    supported = FigureCanvasBase.get_supported_filetypes()
    if suffix not in supported:
        raise KoopkitError(
            f"cannot tell the image format of {os.fspath(path)!r}: end the name with one of "
            f"{', '.join('.' + k for k in sorted(supported))}"
        )
    return suffix

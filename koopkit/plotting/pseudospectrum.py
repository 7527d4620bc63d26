"""The epsilon-pseudospectrum: contours of the data's residual ``tau(z)`` over the plane."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from koopkit._errors import KoopkitError
from koopkit.plotting._style import new_axes
from koopkit.plotting.spectra import plot_eigenvalues
from koopkit.spectrum import KoopmanSpectrum

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def _decades(values: np.ndarray) -> np.ndarray:
    """Default epsilon levels within the values' range.

    The powers of ten (at most 8), or 1, 2 and 5 times them when fewer than three fit.
    """
    lo, hi = float(values.min()), float(values.max())
    top = int(np.floor(np.log10(hi)))
    bottom = max(int(np.ceil(np.log10(lo))), top - 7)
    if top - bottom >= 2:
        return 10.0 ** np.arange(bottom, top + 1)
    steps = np.outer(10.0 ** np.arange(bottom - 1, top + 1), [1, 2, 5]).ravel()
    inside = steps[(steps >= lo) & (steps <= hi)]
    return inside if inside.size else np.geomspace(lo, hi, 5)[1:-1]


def plot_pseudospectrum(
    ps: xr.DataArray,
    spectrum: KoopmanSpectrum | None = None,
    levels: Sequence[float] | None = None,
    ax: Axes | None = None,
    *,
    filled: bool = True,
    unit_circle: bool = True,
    color_by: str | None = "auto",
    cmap: str = "bone",
    colorbar: bool = True,
    title: str | None = None,
    eigenvalue_kw: Mapping[str, Any] | None = None,
) -> Axes:
    """The epsilon-pseudospectrum as contours of ``tau(z)``, with the eigenvalues on top.

    ``tau(z) = min_g ||K g - z g|| / ||g||`` (:func:`koopkit.pseudospectrum`) is small
    only near points the data confirm as eigenvalues; the contour ``tau = epsilon`` bounds
    the epsilon-pseudospectrum. Contours are drawn at decades of ``epsilon`` on a log
    scale; a true eigenvalue sits in a deep well, a spurious one on open ground.

    Parameters
    ----------
    ps : xr.DataArray
        ``koopkit.pseudospectrum(model, (real, imag))``: dims ``("imag", "real")`` with
        those coordinates.
    spectrum : KoopmanSpectrum, optional
        Eigenvalues to overlay with :func:`plot_eigenvalues` (coloured by residual where
        the spectrum has them; sized by RMS amplitude).
    levels : sequence of float, optional
        The ``epsilon`` values of the contours (positive). Default: the powers of ten
        within the range of ``tau`` (at most 8; 1, 2 and 5 times them when fewer than
        three fit).
    ax : matplotlib Axes, optional
    filled : bool
        Filled contours with a colourbar; otherwise labelled contour lines only.
    unit_circle : bool
        Draw the unit circle (dashed).
    color_by : str or None
        Colour of the overlaid eigenvalues (:func:`plot_eigenvalues`; "auto": the
        residual where the spectrum has residuals).
    cmap : str
        Colormap of the filled contours (dark: small ``tau``).
    colorbar : bool
        Colourbars for the contours and the eigenvalues' colours.
    title : str, optional
    eigenvalue_kw : dict, optional
        More arguments of :func:`plot_eigenvalues` for the overlay, e.g.
        ``{"annotate": 4}`` or ``{"colorbar": False}``.

    Returns
    -------
    matplotlib.axes.Axes
        Its collection ``gid="pseudospectrum"`` holds the contour lines, one level per
        ``epsilon`` (``.levels`` are ``log10(epsilon)``); with a spectrum, the collection
        ``gid="eigenvalues"`` holds its eigenvalues.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> re = im = np.linspace(-1.5, 1.5, 61)
    >>> z = re[None, :] + 1j * im[:, None]
    >>> tau = np.abs(np.abs(z) - 1) + 1e-3  # a ring of near-eigenvalues
    >>> ps = xr.DataArray(tau, dims=("imag", "real"), coords={"imag": im, "real": re})
    >>> ax = plot_pseudospectrum(ps, levels=[0.01, 0.1])
    >>> [float(v) for v in ax.collections[-1].levels]
    [-2.0, -1.0]
    """
    if not isinstance(ps, xr.DataArray) or set(ps.dims) != {"imag", "real"}:
        dims = ps.dims if isinstance(ps, xr.DataArray) else type(ps).__name__
        raise KoopkitError(
            f"plot_pseudospectrum needs a grid from koopkit.pseudospectrum(model, (real, imag)) "
            f"with dims ('imag', 'real'), got {dims}"
        )
    if spectrum is not None and not isinstance(spectrum, KoopmanSpectrum):
        raise KoopkitError(
            f"spectrum must be a KoopmanSpectrum (model.spectrum_), got {type(spectrum).__name__}"
        )
    ps = ps.transpose("imag", "real")
    re = np.asarray(ps["real"].values, dtype=float)
    im = np.asarray(ps["imag"].values, dtype=float)
    if re.size < 2 or im.size < 2:
        raise KoopkitError("the pseudospectrum grid needs at least 2 points along each axis")
    tau = np.asarray(ps.values, dtype=float)
    finite = tau[np.isfinite(tau)]
    if finite.size == 0:
        raise KoopkitError("the pseudospectrum holds no finite value to draw")
    floor = max(float(finite[finite > 0].min()) if (finite > 0).any() else 1e-300, 1e-300)
    logtau = np.log10(np.clip(tau, floor, None))
    if levels is None:
        eps = _decades(np.clip(finite, floor, None))
    else:
        eps = np.unique(np.asarray(levels, dtype=float).ravel())
        if eps.size == 0 or not np.all(np.isfinite(eps) & (eps > 0)):
            raise KoopkitError(
                f"levels={levels!r} must be positive epsilon values, e.g. [0.01, 0.1]"
            )
    log_eps = np.log10(eps)
    ax = new_axes(ax, (6.0, 5.0))

    labels = {float(v): f"{e:.3g}" for v, e in zip(log_eps, eps, strict=True)}
    lines_colour = "w" if filled else "0.2"
    if filled:  # a continuous log scale: 8 bands a decade over the data and the levels
        lo = max(min(float(logtau.min()), float(log_eps.min())), float(logtau.max()) - 10)
        hi = max(float(logtau.max()), float(log_eps.max()))
        hi = hi if hi > lo else lo + 1
        bands = np.linspace(lo, hi, int(np.clip(np.ceil(8 * (hi - lo)), 8, 80)) + 1)
        filling = ax.contourf(re, im, logtau, levels=bands, extend="both", cmap=cmap, zorder=0.5)
    lines = ax.contour(
        re,
        im,
        logtau,
        levels=log_eps,
        colors=lines_colour,
        linewidths=0.7,
        linestyles="solid",  # log10(eps) < 0 would be dashed
        zorder=1,
    )
    lines.set_gid("pseudospectrum")
    ax.clabel(lines, fmt=labels, fontsize="x-small", colors=lines_colour)
    overlay: dict[str, Any] = {"color_by": color_by, "colorbar": colorbar}
    overlay.update(eigenvalue_kw or {})
    if filled and colorbar:
        two_bars = spectrum is not None and overlay["colorbar"]
        where = "bottom" if two_bars else "right"
        bar = ax.figure.colorbar(
            filling, ax=ax, location=where, shrink=0.85, aspect=30 if two_bars else 20
        )
        decades = np.arange(np.ceil(lo), np.floor(hi) + 1)
        bar.set_ticks(decades, labels=[f"$10^{{{int(d)}}}$" for d in decades])
        bar.add_lines(lines)
        bar.set_label("τ(z) = min ||Kg − zg|| / ||g||; lines: ε levels")

    if spectrum is not None:
        plot_eigenvalues(spectrum, ax=ax, **{"unit_circle": False, "title": "", **overlay})
    if unit_circle:
        theta = np.linspace(0, 2 * np.pi, 721)
        ax.plot(np.cos(theta), np.sin(theta), ls="--", lw=1, color="C1", zorder=2)
    ax.set_xlim(re.min(), re.max())
    ax.set_ylim(im.min(), im.max())
    ax.set_aspect("equal")
    ax.set_xlabel("Re z")
    ax.set_ylabel("Im z")
    if title is None:
        backend = ps.attrs.get("backend") or (spectrum.backend if spectrum is not None else "")
        pairs = ps.attrs.get("n_pairs")
        title = "ε-pseudospectrum" + (f" of {backend}" if backend else "")
        title += f" ({pairs} snapshot pairs)" if pairs else ""
    if title:
        ax.set_title(title)
    return ax

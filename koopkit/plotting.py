"""Figures of Koopman spectra and forecasts (matplotlib's object API, safe without a display).

Every function takes an optional ``ax`` (or ``axes``) to draw into and returns the Axes it
drew on, or the Figure for multi-panel plots. Without ``ax`` a new
:class:`matplotlib.figure.Figure` is made; it is not registered with pyplot, so nothing
accumulates in scripts and nothing needs a display. To show a plot interactively, pass an
Axes from ``plt.subplots()``; to write one, use :func:`save_figure`.

The functions use only what :class:`~koopkit.spectrum.KoopmanSpectrum` offers (eigenvalues,
frequencies, growth rates, amplitudes, modes), so every backend plots the same way.

matplotlib is imported inside the functions, so ``import koopkit`` stays light.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from koopkit._errors import KoopkitError
from koopkit.spectrum import MODE, KoopmanSpectrum

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "image_format",
    "plot_eigenvalues",
    "plot_error_vs_horizon",
    "plot_modes",
    "plot_pseudospectrum",
    "plot_spectrum",
    "plot_strip",
    "save_figure",
]

#: |lam| above ``1 + UNSTABLE_TOL`` counts as growing in :func:`plot_eigenvalues`.
UNSTABLE_TOL = 1e-6
_QUANTITIES = ("rms_amplitude", "amplitude", "growth_rate", "frequency", "magnitude", "residual")
#: Colourbar label of the residual (what the number means).
RESIDUAL_LABEL = "residual ||Kg − λg|| / ||g||"
#: Colormap of residuals: blue for small (trust), red for large (spurious).
RESIDUAL_CMAP = "RdYlBu_r"
#: Residuals below this are drawn as this (a log colour scale has no 0).
_RESIDUAL_FLOOR = 1e-16
_TIME = "time"


# ----------------------------------------------------------------------------- helpers
def _new_axes(ax: Axes | None, figsize: tuple[float, float] = (5.5, 4.5)) -> Axes:
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig.add_subplot()


def _unit(spectrum: KoopmanSpectrum) -> str:
    """The spectrum's time unit in the singular ("time units" reads "time unit")."""
    units = spectrum.time_units.strip()
    return "time unit" if units in ("", "time units") else units


def _per_unit(spectrum: KoopmanSpectrum | None, what: str) -> str:
    if spectrum is None:
        return f"{what} per step"
    return f"{what} per {_unit(spectrum)}"


def _quantity(
    name: str | None,
    spectrum: KoopmanSpectrum | None,
    lam: np.ndarray,
    amplitudes: np.ndarray | None,
) -> tuple[np.ndarray | None, str]:
    """Values and label of a per-eigenvalue quantity (``None``: no values)."""
    if name is None:
        return None, ""
    if name not in _QUANTITIES:
        raise KoopkitError(f"unknown quantity {name!r}; choose one of {', '.join(_QUANTITIES)}")
    if name == "magnitude":
        return np.abs(lam), "|λ|"
    if name == "residual":
        if spectrum is None or not spectrum.has_residuals:
            raise KoopkitError(
                "color_by='residual' needs a KoopmanSpectrum that carries residuals: fit with "
                "a backend that measures them (dmd, exact_dmd, edmd, autoencoder)"
            )
        return spectrum.residuals.values, RESIDUAL_LABEL
    if spectrum is not None:
        if name == "rms_amplitude":
            return spectrum.rms_amplitudes.values, "RMS amplitude"
        if name == "amplitude":
            return np.abs(spectrum.amplitudes.values), "|amplitude|"
        if name == "growth_rate":
            return spectrum.growth_rates.values, f"growth rate [{_per_unit(spectrum, '1')}]"
        return spectrum.frequencies.values, f"frequency [{_per_unit(spectrum, 'cycles')}]"
    with np.errstate(divide="ignore"):
        logs = np.log(lam.astype(complex))
    if name == "growth_rate":
        return logs.real, "growth rate [1 per step]"
    if name == "frequency":
        return logs.imag / (2 * np.pi), "frequency [cycles per step]"
    if amplitudes is None:
        return None, ""
    return np.abs(amplitudes), "|amplitude|"


def _amplitude_norm(values: np.ndarray) -> Any:
    """Log colour scale for positive values spanning more than two decades, else linear."""
    from matplotlib.colors import LogNorm, Normalize

    finite = values[np.isfinite(values)]
    positive = finite[finite > 0]
    if positive.size and positive.size == finite.size and positive.max() > 100 * positive.min():
        return LogNorm(vmin=positive.min(), vmax=positive.max())
    if finite.size == 0:
        return Normalize(0, 1)
    lo, hi = float(finite.min()), float(finite.max())
    return Normalize(lo, hi if hi > lo else lo + 1)


def _residual_norm(values: np.ndarray) -> Any:
    """Log colour scale over the finite residuals, always spanning [1e-3, 1].

    The fixed span keeps colours comparable between figures: a residual near 1 (the
    eigenpair explains nothing of the data) is red everywhere, 0.03 the centre.
    """
    from matplotlib.colors import LogNorm

    finite = np.maximum(values[np.isfinite(values)], _RESIDUAL_FLOOR)
    lo = min(float(finite.min()), 1e-3) if finite.size else 1e-3
    hi = max(float(finite.max()), 1.0) if finite.size else 1.0
    return LogNorm(lo, hi)


def _centred_norm(values: np.ndarray) -> Any:
    """Linear colour scale symmetric about 0 (a diverging map then shows 0 as its centre)."""
    from matplotlib.colors import Normalize

    finite = np.abs(values[np.isfinite(values)])
    lim = float(finite.max()) if finite.size else 0.0
    lim = lim if lim > 0 else 1e-12
    return Normalize(-lim, lim)


#: Colour of the interval bars drawn where a spectrum carries standard deviations.
INTERVAL_COLOR = "0.2"


def _check_level(intervals: float | None) -> float | None:
    if intervals is None:
        return None
    if not (isinstance(intervals, (int, float, np.floating)) and 0 < float(intervals) < 1):
        raise KoopkitError(
            f"intervals={intervals!r} must be a probability in (0, 1) (e.g. 0.95) or None"
        )
    return float(intervals)


def _eigenvalue_intervals(
    spectrum: KoopmanSpectrum, level: float
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The continuous-eigenvalue interval box mapped into the lam-plane by ``exp(. dt)``.

    Per mode with stds: a radial segment (the growth-rate interval: ``|lam|`` from
    ``exp(g_lo dt)`` to ``exp(g_hi dt)`` at the eigenvalue's angle) and an arc (the
    angular-frequency interval: angle from ``w_lo dt`` to ``w_hi dt`` at radius ``|lam|``).
    """
    dt = spectrum.dt
    lam = spectrum.eigenvalues.values.astype(complex)
    g = spectrum.interval("growth_rate", level).values
    w = spectrum.interval("angular_frequency", level).values
    radial: list[np.ndarray] = []
    arcs: list[np.ndarray] = []
    angle, radius = np.angle(lam), np.abs(lam)
    for i in range(lam.size):
        if not np.isfinite(lam[i]):
            continue
        if np.isfinite(g[i]).all():
            r = np.exp(g[i] * dt)
            radial.append(np.c_[r * np.cos(angle[i]), r * np.sin(angle[i])])
        if np.isfinite(w[i]).all():
            half = min((w[i, 1] - w[i, 0]) * dt / 2, np.pi)  # at most the whole circle
            theta = angle[i] + np.linspace(-half, half, 33)
            arcs.append(np.c_[radius[i] * np.cos(theta), radius[i] * np.sin(theta)])
    return radial, arcs


# ----------------------------------------------------------------------- eigenvalues
def plot_eigenvalues(
    spectrum_or_eigenvalues: KoopmanSpectrum | Any,
    amplitudes: Any = None,
    ax: Axes | None = None,
    *,
    unit_circle: bool = True,
    size_by: str | None = "rms_amplitude",
    color_by: str | None = "auto",
    mark_unstable: bool = True,
    annotate: int = 0,
    cmap: str | None = None,
    colorbar: bool = True,
    title: str | None = None,
    intervals: float | None = 0.95,
) -> Axes:
    """Eigenvalues in the complex plane with the unit circle (Lusch et al., Figure 4).

    Marker area follows the RMS amplitude. The colour shows how far to trust each
    eigenvalue: when the spectrum carries residuals (``spectrum.has_residuals``), markers
    are coloured by the residual ``||K g - lam g|| / ||g||`` on a log scale (blue: small,
    the data confirm the eigenpair; red: large, spurious), and modes without a residual
    (NaN) are hollow grey rings; otherwise by the RMS amplitude. Eigenvalues outside the
    unit circle (growing modes, ``|lam| > 1``) get a red ring. The aspect ratio is equal,
    so the circle looks like one.

    A spectrum with uncertainty (``spectrum.has_uncertainty``, from bagged optimized DMD)
    gets interval bars drawn where they belong in this plane: the normal interval of the
    continuous eigenvalue ``log(lam)/dt`` (:meth:`KoopmanSpectrum.interval`) is a box,
    and ``lam = exp(dt * .)`` maps it onto an annular sector, so each eigenvalue gets a
    radial bar (the growth-rate interval, ``|lam|`` from ``exp(g_lo dt)`` to
    ``exp(g_hi dt)``) and an arc of the circle through it (the frequency interval, angle
    from ``w_lo dt`` to ``w_hi dt``).

    Parameters
    ----------
    spectrum_or_eigenvalues : KoopmanSpectrum or array_like of complex
        A spectrum, or bare discrete-time eigenvalues.
    amplitudes : array_like, optional
        With bare eigenvalues: amplitudes used for ``"rms_amplitude"``/``"amplitude"``
        (absolute values). Without them, markers have one size and colour.
    ax : matplotlib Axes, optional
        Where to draw; a new Figure is made by default.
    unit_circle : bool
        Draw the unit circle (dashed).
    size_by, color_by : {"rms_amplitude", "amplitude", "growth_rate", "frequency", \
"magnitude", "residual"} or None
        Quantity setting marker area / colour. None gives a constant. ``color_by="auto"``
        (the default) is "residual" for a spectrum with residuals, else "rms_amplitude".
    mark_unstable : bool
        Ring the eigenvalues with ``|lam| > 1 + 1e-6`` in red.
    annotate : int
        Label this many of the largest (by ``size_by``) eigenvalues in the upper half-plane
        with their frequency.
    cmap : str, optional
        Colormap; "viridis" for amplitudes, a diverging map for growth rates and
        frequencies, "RdYlBu_r" for residuals.
    colorbar : bool
        Add a colourbar when ``color_by`` is set.
    title : str, optional
        Axes title (by default the backend's name for a spectrum).
    intervals : float or None
        Level of the interval bars (0.95: 95% normal intervals) for a spectrum with
        uncertainty; None draws none.

    Returns
    -------
    matplotlib.axes.Axes
        Its first collection (``gid="eigenvalues"``) holds one point per eigenvalue, in
        the given order; its colour array (``get_array()``) holds the ``color_by`` values.
        With intervals, collections ``gid="growth_intervals"`` (radial segments) and
        ``gid="frequency_intervals"`` (arcs) hold one path per mode with a std.

    Examples
    --------
    >>> import numpy as np
    >>> ax = plot_eigenvalues(np.exp([0.3j, -0.3j, 0.01]), amplitudes=[1, 1, 0.2])
    >>> ax.collections[0].get_offsets().shape
    (3, 2)
    >>> from koopkit.spectrum import KoopmanSpectrum
    >>> s = KoopmanSpectrum(np.exp([0.3j, -0.3j]), [1, 1], extras={"residuals": [1e-3, 0.5]})
    >>> ax = plot_eigenvalues(s)
    >>> ax.collections[0].get_array().tolist()
    [0.001, 0.5]
    """
    spectrum = (
        spectrum_or_eigenvalues if isinstance(spectrum_or_eigenvalues, KoopmanSpectrum) else None
    )
    if spectrum is not None:
        lam = spectrum.eigenvalues.values.astype(complex)
        amps = None
    else:
        lam = np.asarray(spectrum_or_eigenvalues, dtype=complex).ravel()
        amps = None if amplitudes is None else np.asarray(amplitudes, dtype=complex).ravel()
        if amps is not None and amps.shape != lam.shape:
            raise KoopkitError(
                f"{lam.size} eigenvalues but {amps.size} amplitudes: give one amplitude each"
            )
    finite = np.isfinite(lam)
    ax = _new_axes(ax)

    if unit_circle:
        theta = np.linspace(0, 2 * np.pi, 361)
        ax.plot(np.cos(theta), np.sin(theta), ls="--", lw=1, color="0.55", zorder=1)
    ax.axhline(0, lw=0.5, color="0.8", zorder=0)
    ax.axvline(0, lw=0.5, color="0.8", zorder=0)

    sizes, _ = _quantity(size_by, spectrum, lam, amps)
    if sizes is None:
        area: Any = 36.0
    else:
        mag = np.abs(np.where(np.isfinite(sizes), sizes, 0.0))
        top = mag.max() if mag.size and mag.max() > 0 else 1.0
        area = 12.0 + 200.0 * mag / top
    if color_by == "auto":
        has_res = spectrum is not None and spectrum.has_residuals
        color_by = "residual" if has_res else "rms_amplitude"
    colors, clabel = _quantity(color_by, spectrum, lam, amps)
    scatter_kw: dict[str, Any] = {"s": area, "zorder": 3, "edgecolors": "k", "linewidths": 0.4}
    missing = np.zeros(lam.size, dtype=bool)
    if colors is not None and color_by == "residual":
        import matplotlib as mpl
        from matplotlib.colors import to_rgba

        missing = ~np.isfinite(colors)
        colors = np.where(missing, np.nan, np.maximum(colors, _RESIDUAL_FLOOR))
        scatter_kw.update(
            c=colors,
            norm=_residual_norm(colors),
            cmap=mpl.colormaps[cmap or RESIDUAL_CMAP].with_extremes(bad="none"),
            plotnonfinite=True,  # NaN residuals: hollow grey rings
            edgecolors=[to_rgba("0.5" if m else "k") for m in missing],
            linewidths=np.where(missing, 1.2, 0.4),
        )
    elif colors is not None:
        diverging = color_by in ("growth_rate", "frequency")
        norm = _centred_norm(colors) if diverging else _amplitude_norm(colors)
        scatter_kw.update(
            c=colors, norm=norm, cmap=cmap or ("coolwarm" if diverging else "viridis")
        )
    else:
        scatter_kw.update(color="C0")
    sc = ax.scatter(lam.real, lam.imag, gid="eigenvalues", **scatter_kw)
    if colors is not None and colorbar:
        ax.figure.colorbar(sc, ax=ax, label=clabel, shrink=0.85)

    growing = finite & (np.abs(lam) > 1 + UNSTABLE_TOL) & bool(mark_unstable)
    if growing.any():
        ring = area[growing] * 2.2 + 30 if np.ndim(area) else area * 2.2 + 30
        ax.scatter(
            lam.real[growing],
            lam.imag[growing],
            s=ring,
            facecolors="none",
            edgecolors="red",
            linewidths=1.2,
            zorder=4,
            gid="unstable",
            label=f"growing, |λ| > 1 ({int(growing.sum())})",
        )
    if missing.any():  # a legend entry for the hollow rings (no extra collection)
        n_missing = int(missing.sum())
        ax.plot([], [], "o", mfc="none", mec="0.5", mew=1.2, label=f"no residual ({n_missing})")
    level = _check_level(intervals)
    bars = level is not None and spectrum is not None and spectrum.has_uncertainty
    bar_reach = 0.0
    if bars:
        from matplotlib.collections import LineCollection

        radial, arcs = _eigenvalue_intervals(spectrum, level)
        for gid, paths in (("growth_intervals", radial), ("frequency_intervals", arcs)):
            ax.add_collection(
                LineCollection(paths, colors=INTERVAL_COLOR, linewidths=1.2, zorder=3.5, gid=gid),
                autolim=False,
            )
        ax.plot([], [], color=INTERVAL_COLOR, lw=1.2, label=f"{level:.0%} intervals")
        bar_reach = max((float(np.hypot(*p.T).max()) for p in radial), default=0.0)
    if growing.any() or missing.any() or bars:
        ax.legend(loc="lower left", fontsize="small", framealpha=0.8)

    if annotate:
        key = sizes if sizes is not None else np.abs(lam)
        freqs, _ = _quantity("frequency", spectrum, lam, amps)
        upper = np.flatnonzero(finite & (lam.imag >= 0))
        order = upper[np.argsort(-np.nan_to_num(key[upper]), kind="stable")][: int(annotate)]
        for i in order:
            ax.annotate(
                f"{freqs[i]:.3g}",
                (lam[i].real, lam[i].imag),
                xytext=(4, 4),
                textcoords="offset points",
                fontsize="x-small",
            )

    pts = lam[finite]
    reach = max(
        1.0 if unit_circle else 0.0, float(np.abs(pts).max()) if pts.size else 1.0, bar_reach
    )
    lim = 1.12 * reach if reach > 0 else 1.0
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xlabel("Re λ")
    ax.set_ylabel("Im λ")
    if title is None and spectrum is not None:
        title = f"{spectrum.backend or 'spectrum'}: {len(lam)} eigenvalues"
    if title:
        ax.set_title(title)
    return ax


# ------------------------------------------------------------------- pseudospectrum
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
    ax = _new_axes(ax, (6.0, 5.0))

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


# -------------------------------------------------------------------------- spectrum
def plot_spectrum(
    spectrum: KoopmanSpectrum,
    ax: Axes | None = None,
    *,
    positive_only: bool = True,
    log: bool = True,
    cmap: str = "coolwarm",
    colorbar: bool = True,
    intervals: float | None = 0.95,
) -> Axes:
    """Frequency against RMS amplitude as stems, coloured by growth rate.

    A spectrum with uncertainty (``spectrum.has_uncertainty``) gets horizontal bars: the
    normal interval of each frequency (:meth:`KoopmanSpectrum.interval`). The growth rate
    is a colour here, so its interval is drawn by :func:`plot_eigenvalues`.

    Parameters
    ----------
    spectrum : KoopmanSpectrum
    ax : matplotlib Axes, optional
    positive_only : bool
        Show only frequencies >= 0 (for real data the negative ones mirror them).
    log : bool
        Logarithmic amplitude axis (DMD amplitudes span decades).
    cmap : str
        Diverging colormap; its centre is growth rate 0 (neutral modes).
    colorbar : bool
    intervals : float or None
        Level of the frequency bars (0.95: 95% normal intervals); None draws none.

    Returns
    -------
    matplotlib.axes.Axes
        Its collection ``gid="spectrum"`` holds one point (frequency, RMS amplitude) per
        plotted mode; with intervals, ``gid="frequency_intervals"`` one horizontal segment
        per plotted mode with a std.

    Examples
    --------
    >>> import numpy as np
    >>> from koopkit.spectrum import KoopmanSpectrum
    >>> s = KoopmanSpectrum(np.exp([0.2j, -0.2j, 0.0]), [1, 1, 2], dt=0.1)
    >>> ax = plot_spectrum(s)
    >>> len(ax.collections[-1].get_offsets())
    2
    """
    if not isinstance(spectrum, KoopmanSpectrum):
        raise KoopkitError(f"plot_spectrum needs a KoopmanSpectrum, got {type(spectrum).__name__}")
    level = _check_level(intervals)
    f = spectrum.frequencies.values
    r = spectrum.rms_amplitudes.values
    g = spectrum.growth_rates.values
    keep = np.isfinite(f) & np.isfinite(r) & np.isfinite(g)
    if positive_only:
        keep &= f >= 0
    if log:
        keep &= r > 0
    bounds = None
    if level is not None and spectrum.has_uncertainty:
        bounds = spectrum.interval("frequency", level).values[keep]
    f, r, g = f[keep], r[keep], g[keep]
    ax = _new_axes(ax, (6.5, 4.0))
    import matplotlib as mpl

    norm = _centred_norm(g)
    cm = mpl.colormaps[cmap]
    base = 0.0
    if log:
        base = float(r.min()) / 3 if r.size else 1e-3
        ax.set_yscale("log")
    ax.vlines(f, base, r, colors=cm(norm(g)), lw=1.5, zorder=2)
    sc = ax.scatter(
        f,
        r,
        c=g,
        cmap=cm,
        norm=norm,
        s=28,
        edgecolors="k",
        linewidths=0.4,
        zorder=3,
        gid="spectrum",
    )
    if bounds is not None:
        has = np.isfinite(bounds).all(axis=1)
        if has.any():
            bars = ax.errorbar(
                f[has],
                r[has],
                xerr=np.abs(bounds[has] - f[has, None]).T,
                fmt="none",
                ecolor=INTERVAL_COLOR,
                elinewidth=1.2,
                capsize=3,
                zorder=3.5,
                label=f"{level:.0%} intervals",
            )
            bars.lines[2][0].set_gid("frequency_intervals")
            ax.legend(loc="upper right", fontsize="small", framealpha=0.8)
    if colorbar:
        ax.figure.colorbar(sc, ax=ax, label=f"growth rate [{_per_unit(spectrum, '1')}]")
    if r.size:
        ax.set_ylim(base, float(r.max()) * (2.0 if log else 1.08))
    ax.set_xlabel(f"frequency [{_per_unit(spectrum, 'cycles')}]")
    ax.set_ylabel("RMS amplitude")
    ax.set_title(f"{spectrum.backend or 'Koopman'} spectrum")
    ax.grid(alpha=0.3)
    return ax


# ----------------------------------------------------------------------------- modes
def _grid(n: int, ncols: int, panel: tuple[float, float]) -> tuple[Figure, list[Axes]]:
    from matplotlib.figure import Figure

    ncols = max(1, min(n, ncols))
    nrows = -(-n // ncols)
    fig = Figure(figsize=(panel[0] * ncols, panel[1] * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for extra in axes[n:]:
        extra.set_visible(False)
    return fig, axes[:n]


def _extent(da: xr.DataArray) -> tuple[tuple[float, float, float, float] | None, str]:
    """imshow extent from the coords of a 2-D (row, column) array, and the origin to use."""
    ydim, xdim = da.dims[:2]
    if ydim not in da.coords or xdim not in da.coords:
        return None, "upper"
    try:
        y = np.asarray(da[ydim].values, dtype=float)
        x = np.asarray(da[xdim].values, dtype=float)
    except (TypeError, ValueError):
        return None, "upper"
    dy = (y[-1] - y[0]) / (len(y) - 1) if len(y) > 1 else 1.0
    dx = (x[-1] - x[0]) / (len(x) - 1) if len(x) > 1 else 1.0
    image = str(da[ydim].attrs.get("units", "")) == "pixel"
    origin = "upper" if image else "lower"
    left, right = x[0] - dx / 2, x[-1] + dx / 2
    if origin == "upper":
        return (left, right, y[-1] + dy / 2, y[0] - dy / 2), origin
    return (left, right, y[0] - dy / 2, y[-1] + dy / 2), origin


def _part(values: np.ndarray, part: str) -> np.ndarray:
    if part == "real":
        return values.real
    if part == "imag":
        return values.imag
    if part == "abs":
        return np.abs(values)
    if part == "phase":
        return np.angle(values)
    raise KoopkitError(f"part={part!r} is not one of 'real', 'imag', 'abs', 'phase'")


def _is_rgb(da: xr.DataArray) -> bool:
    return da.ndim == 3 and da.shape[-1] == 3


def _draw_field(ax: Axes, da: xr.DataArray, part: str, cmap: str | None = None) -> None:
    """One mode (any space shape) on ``ax``: a line, an image or an RGB image."""
    values = np.asarray(da.values)
    if da.ndim == 1:
        dim = da.dims[0]
        x = da[dim].values if dim in da.coords else np.arange(da.size)
        ax.plot(x, _part(values, part), lw=1.2)
        ax.axhline(0, lw=0.5, color="0.7")
        ax.set_xlabel(str(dim))
        return
    if da.ndim == 0:
        raise KoopkitError("modes have no space dimension to plot")
    if _is_rgb(da) and part in ("real", "imag"):
        rgb = _part(values, part)
        lo, hi = float(rgb.min()), float(rgb.max())
        rgb = (rgb - lo) / (hi - lo) if hi > lo else np.zeros_like(rgb)
        extent, origin = _extent(da)
        ax.imshow(rgb, extent=extent, origin=origin, interpolation="nearest")
        return
    img = _part(values, part)
    if img.ndim > 2:  # channels or deeper dims: their magnitude
        img = np.sqrt(np.sum(np.abs(img.reshape(*img.shape[:2], -1)) ** 2, axis=-1))
        signed = False
    else:
        signed = part in ("real", "imag")
    extent, origin = _extent(da)
    if signed:
        lim = float(np.abs(img).max()) or 1.0
        kw: dict[str, Any] = {"cmap": cmap or "RdBu_r", "vmin": -lim, "vmax": lim}
    elif part == "phase":
        kw = {"cmap": cmap or "twilight", "vmin": -np.pi, "vmax": np.pi}
    else:
        kw = {"cmap": cmap or "magma"}
    ax.imshow(img, extent=extent, origin=origin, interpolation="nearest", **kw)
    ax.set_xlabel(str(da.dims[1]))
    ax.set_ylabel(str(da.dims[0]))


def plot_modes(
    spectrum: KoopmanSpectrum,
    n: int = 4,
    *,
    part: str = "real",
    axes: Sequence[Axes] | None = None,
    ncols: int = 4,
    cmap: str | None = None,
) -> Figure:
    """The ``n`` leading modes (by RMS amplitude, frequencies >= 0) in their own space dims.

    2-D modes are images (with the coordinates as extent), 1-D modes lines; modes whose
    last dim has size 3 (RGB channels) show the real (or imaginary) part, normalised to
    [0, 1], as colour, and the channel magnitude for ``part="abs"``. Each panel is titled
    with the mode's frequency and growth rate.

    Parameters
    ----------
    spectrum : KoopmanSpectrum
        A spectrum holding modes.
    n : int
        How many modes; fewer are shown if the spectrum has fewer.
    part : {"real", "imag", "abs", "phase"}
        Which part of the complex modes to show.
    axes : sequence of Axes, optional
        Panels to draw into (at least ``n``); by default a new grid of ``ncols`` columns.
    ncols : int
    cmap : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from koopkit.spectrum import KoopmanSpectrum
    >>> modes = xr.DataArray(np.ones((2, 4, 5), complex), dims=("mode", "y", "x"))
    >>> s = KoopmanSpectrum(np.exp([0.2j, -0.2j]), [1, 1], modes, dt=0.1)
    >>> fig = plot_modes(s, n=2)
    >>> sum(len(ax.images) for ax in fig.axes)
    1
    """
    if not isinstance(spectrum, KoopmanSpectrum):
        raise KoopkitError(f"plot_modes needs a KoopmanSpectrum, got {type(spectrum).__name__}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise KoopkitError(f"n={n!r} must be a positive integer")
    _part(np.zeros(1), part)  # validate early
    modes = spectrum.modes
    f = spectrum.frequencies.values
    g = spectrum.growth_rates.values
    order = np.argsort(-np.nan_to_num(spectrum.rms_amplitudes.values), kind="stable")
    chosen = [int(i) for i in order if f[i] >= 0][: int(n)]
    if not chosen:
        raise KoopkitError("the spectrum has no modes with frequency >= 0 to plot")
    if axes is None:
        fig, panels = _grid(len(chosen), ncols, (3.2, 3.0))
    else:
        panels = list(np.ravel(np.asarray(axes, dtype=object)))
        if len(panels) < len(chosen):
            raise KoopkitError(f"axes has {len(panels)} panels but {len(chosen)} modes are shown")
        fig = panels[0].figure
    for ax, i in zip(panels, chosen, strict=False):
        field = modes.isel({MODE: i})
        _draw_field(ax, field, part, cmap)
        ax.set_title(f"f = {f[i]:.4g}, growth = {g[i]:.2g}", fontsize="small")
    fig.suptitle(
        f"leading {spectrum.backend or 'Koopman'} modes ({part} part); frequency in cycles "
        f"and growth rate per {_unit(spectrum)}"
    )
    return fig


# ----------------------------------------------------------------------- forecasts
def _frames(da: Any, name: str) -> xr.DataArray:
    if not isinstance(da, xr.DataArray):
        raise KoopkitError(f"{name} must be an xarray DataArray with a 'time' dim")
    if _TIME not in da.dims:
        raise KoopkitError(f"{name} has dims {da.dims} but no 'time' dimension")
    da = da.transpose(_TIME, ...)
    if da.ndim not in (3, 4) or (da.ndim == 4 and da.shape[-1] != 3):
        raise KoopkitError(
            f"{name} must be frames with dims (time, y, x) or (time, y, x, channel=3), "
            f"got {da.dims} with shape {da.shape}"
        )
    return da


def plot_strip(
    truth: xr.DataArray,
    forecast: xr.DataArray,
    n: int = 8,
    ax_grid: Any = None,
    *,
    cmap: str = "gray",
) -> Figure:
    """Truth, forecast and squared error for ``n`` frames (Lusch et al., Figure 6).

    Parameters
    ----------
    truth, forecast : xr.DataArray
        Frames with dims ``(time, y, x)`` or ``(time, y, x, 3)``. When both have a time
        coordinate, truth frames are matched to the forecast's times; otherwise they must
        have the same length.
    n : int
        Number of columns: frames spread evenly over the forecast.
    ax_grid : 2-D array of Axes, shape (3, >= n), optional
        Panels to draw into; a new Figure by default.
    cmap : str
        Colormap of single-channel frames (errors use "magma").

    Returns
    -------
    matplotlib.figure.Figure
        ``3 * n`` images: truth row, forecast row, squared-error row.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = xr.DataArray(np.random.rand(10, 8, 8), dims=("time", "y", "x"))
    >>> fig = plot_strip(t, t * 0.9, n=4)
    >>> sum(len(ax.images) for ax in fig.axes)
    12
    """
    truth = _frames(truth, "truth")
    forecast = _frames(forecast, "forecast")
    if truth.shape[1:] != forecast.shape[1:]:
        raise KoopkitError(
            f"truth frames have shape {truth.shape[1:]} but forecast frames {forecast.shape[1:]}"
        )
    if (
        _TIME in truth.coords
        and _TIME in forecast.coords
        and truth.sizes[_TIME] != forecast.sizes[_TIME]
    ):
        tt = np.asarray(truth[_TIME].values, dtype=float)
        ft = np.asarray(forecast[_TIME].values, dtype=float)
        step = float(np.median(np.diff(tt))) if tt.size > 1 else 1.0
        idx = np.abs(tt[None, :] - ft[:, None]).argmin(axis=1)
        if np.any(np.abs(tt[idx] - ft) > 0.5 * abs(step)):
            raise KoopkitError("truth does not cover the forecast's times: pass matching frames")
        truth = truth.isel({_TIME: idx})
    elif truth.sizes[_TIME] != forecast.sizes[_TIME]:
        raise KoopkitError(
            f"truth has {truth.sizes[_TIME]} frames but forecast {forecast.sizes[_TIME]}"
        )
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise KoopkitError(f"n={n!r} must be a positive integer")
    total = forecast.sizes[_TIME]
    cols = np.unique(np.linspace(0, total - 1, min(int(n), total)).round().astype(int))
    tv = np.asarray(truth.values, dtype=float)[cols]
    fv = np.asarray(forecast.values, dtype=float)[cols]
    err = (fv - tv) ** 2
    if err.ndim == 4:
        err = err.sum(axis=-1)
    lo, hi = float(np.nanmin(tv)), float(np.nanmax(tv))
    hi = hi if hi > lo else lo + 1
    emax = float(np.nanmax(err)) or 1.0
    if ax_grid is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(1.6 * len(cols) + 0.8, 5.2), layout="constrained")
        grid = fig.subplots(3, len(cols), squeeze=False)
    else:
        grid = np.asarray(ax_grid, dtype=object)
        if grid.ndim != 2 or grid.shape[0] != 3 or grid.shape[1] < len(cols):
            raise KoopkitError(f"ax_grid must be 3 x {len(cols)} Axes, got shape {grid.shape}")
        fig = grid[0, 0].figure
    times = forecast[_TIME].values if _TIME in forecast.coords else cols
    err_image = None
    for j, k in enumerate(cols):
        for row, (img, kw) in enumerate(
            (
                (tv[j], {"cmap": cmap, "vmin": lo, "vmax": hi}),
                (fv[j], {"cmap": cmap, "vmin": lo, "vmax": hi}),
                (err[j], {"cmap": "magma", "vmin": 0.0, "vmax": emax}),
            )
        ):
            ax = grid[row, j]
            if img.ndim == 3:
                img = np.clip((img - lo) / (hi - lo), 0, 1)
                kw = {}
            im = ax.imshow(img, interpolation="nearest", **kw)
            if row == 2:
                err_image = im
            ax.set_xticks([])
            ax.set_yticks([])
        t = times[k] if _TIME in forecast.coords else k
        grid[0, j].set_title(f"t = {float(t):.4g}", fontsize="small")
    for row, label in enumerate(("truth", "forecast", "squared error")):
        grid[row, 0].set_ylabel(label)
    if err_image is not None:
        fig.colorbar(err_image, ax=list(grid[2, : len(cols)]), shrink=0.9, label="error²")
    return fig


def plot_error_vs_horizon(
    errors: Mapping[str, Any],
    dt: float | None = None,
    ax: Axes | None = None,
    *,
    time_units: str = "",
    log: bool = True,
) -> Axes:
    """Per-step forecast MSE against the horizon for several methods (Lusch et al., Fig. 7).

    Parameters
    ----------
    errors : dict of str to array_like
        Method name to its MSE at horizons 1, 2, ... steps.
    dt : float, optional
        Time step: the horizon axis is then in time units instead of steps.
    ax : matplotlib Axes, optional
    time_units : str
        Units of ``dt`` for the axis label.
    log : bool
        Logarithmic error axis.

    Returns
    -------
    matplotlib.axes.Axes
        One line per method, labelled with its name.

    Examples
    --------
    >>> ax = plot_error_vs_horizon({"dmd": [0.1, 0.2, 0.4], "persistence": [0.3, 0.5, 0.6]})
    >>> [line.get_label() for line in ax.get_lines()]
    ['dmd', 'persistence']
    """
    if not isinstance(errors, Mapping) or not errors:
        raise KoopkitError("errors must be a non-empty dict of method name -> per-step MSE")
    ax = _new_axes(ax, (6.0, 4.0))
    for name, values in errors.items():
        e = np.asarray(values, dtype=float).ravel()
        steps = np.arange(1, e.size + 1, dtype=float)
        x = steps * dt if dt is not None else steps
        ax.plot(x, e, marker="o", ms=3, lw=1.3, label=str(name))
    if log:
        ax.set_yscale("log")
    if dt is None:
        ax.set_xlabel("forecast horizon [steps]")
    else:
        ax.set_xlabel(f"forecast horizon [{time_units or 'time units'}]")
    ax.set_ylabel("mean squared error")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return ax


# ---------------------------------------------------------------------------- saving
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

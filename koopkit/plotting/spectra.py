"""Per-mode views of a spectrum: eigenvalues in the complex plane, frequency against amplitude."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from koopkit._errors import KoopkitError
from koopkit.plotting._style import (
    INTERVAL_COLOR,
    RESIDUAL_CMAP,
    RESIDUAL_FLOOR,
    UNSTABLE_TOL,
    amplitude_norm,
    centred_norm,
    check_level,
    new_axes,
    per_unit,
    quantity,
    residual_norm,
)
from koopkit.spectrum import KoopmanSpectrum

if TYPE_CHECKING:
    from matplotlib.axes import Axes


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

    A spectrum with uncertainty (``spectrum.has_uncertainty``) gets interval bars: the
    normal-interval box of the continuous eigenvalue (:meth:`KoopmanSpectrum.interval`)
    maps through ``lam = exp(dt * .)`` onto a radial bar (growth rate) and an arc
    (frequency) through each eigenvalue.

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
    ax = new_axes(ax)

    if unit_circle:
        theta = np.linspace(0, 2 * np.pi, 361)
        ax.plot(np.cos(theta), np.sin(theta), ls="--", lw=1, color="0.55", zorder=1)
    ax.axhline(0, lw=0.5, color="0.8", zorder=0)
    ax.axvline(0, lw=0.5, color="0.8", zorder=0)

    sizes, _ = quantity(size_by, spectrum, lam, amps)
    if sizes is None:
        area: Any = 36.0
    else:
        mag = np.abs(np.where(np.isfinite(sizes), sizes, 0.0))
        top = mag.max() if mag.size and mag.max() > 0 else 1.0
        area = 12.0 + 200.0 * mag / top
    if color_by == "auto":
        has_res = spectrum is not None and spectrum.has_residuals
        color_by = "residual" if has_res else "rms_amplitude"
    colors, clabel = quantity(color_by, spectrum, lam, amps)
    scatter_kw: dict[str, Any] = {"s": area, "zorder": 3, "edgecolors": "k", "linewidths": 0.4}
    missing = np.zeros(lam.size, dtype=bool)
    if colors is not None and color_by == "residual":
        import matplotlib as mpl
        from matplotlib.colors import to_rgba

        missing = ~np.isfinite(colors)
        colors = np.where(missing, np.nan, np.maximum(colors, RESIDUAL_FLOOR))
        scatter_kw.update(
            c=colors,
            norm=residual_norm(colors),
            cmap=mpl.colormaps[cmap or RESIDUAL_CMAP].with_extremes(bad="none"),
            plotnonfinite=True,  # NaN residuals: hollow grey rings
            edgecolors=[to_rgba("0.5" if m else "k") for m in missing],
            linewidths=np.where(missing, 1.2, 0.4),
        )
    elif colors is not None:
        diverging = color_by in ("growth_rate", "frequency")
        norm = centred_norm(colors) if diverging else amplitude_norm(colors)
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
    level = check_level(intervals)
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
        freqs, _ = quantity("frequency", spectrum, lam, amps)
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
    level = check_level(intervals)
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
    ax = new_axes(ax, (6.5, 4.0))
    import matplotlib as mpl

    norm = centred_norm(g)
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
        ax.figure.colorbar(sc, ax=ax, label=f"growth rate [{per_unit(spectrum, '1')}]")
    if r.size:
        ax.set_ylim(base, float(r.max()) * (2.0 if log else 1.08))
    ax.set_xlabel(f"frequency [{per_unit(spectrum, 'cycles')}]")
    ax.set_ylabel("RMS amplitude")
    ax.set_title(f"{spectrum.backend or 'Koopman'} spectrum")
    ax.grid(alpha=0.3)
    return ax

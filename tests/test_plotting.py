"""Plotting: what is drawn matches the spectrum (points, colours, images), not just 'no crash'."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

pytest.importorskip("matplotlib")

from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from koopkit import KoopkitError  # noqa: E402
from koopkit.plotting import (  # noqa: E402
    plot_eigenvalues,
    plot_error_vs_horizon,
    plot_modes,
    plot_spectrum,
    plot_strip,
    save_figure,
)
from koopkit.spectrum import KoopmanSpectrum  # noqa: E402

DT = 0.1


def _spectrum(space: str = "2d") -> KoopmanSpectrum:
    """Five modes: a mean mode, a neutral pair, a decaying pair; one growing real mode."""
    lam = np.array(
        [1.0, np.exp(0.3j), np.exp(-0.3j), 0.9 * np.exp(0.8j), 0.9 * np.exp(-0.8j), 1.05]
    )
    amps = np.array([3.0, 2.0, 2.0, 1.0, 1.0, 0.1])
    rng = np.random.default_rng(0)
    if space == "2d":
        shape, dims = (6, 5, 7), ("mode", "y", "x")
        coords = {"y": np.arange(5) * 2.0, "x": 10 + np.arange(7) * 0.5}
    elif space == "1d":
        shape, dims, coords = (6, 9), ("mode", "feature"), {"feature": np.linspace(0, 1, 9)}
    else:
        shape, dims = (6, 4, 5, 3), ("mode", "y", "x", "channel")
        coords = {"y": np.arange(4.0), "x": np.arange(5.0)}
    values = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    modes = xr.DataArray(values, dims=dims, coords=coords)
    return KoopmanSpectrum(lam, amps, modes, dt=DT, time_units="s", n_snapshots=50)


def _collection(ax: Axes, gid: str):
    found = [c for c in ax.collections if c.get_gid() == gid]
    assert len(found) == 1, [c.get_gid() for c in ax.collections]
    return found[0]


def test_eigenvalue_points_are_the_eigenvalues_with_a_colourbar_and_unit_circle():
    spec = _spectrum()
    ax = plot_eigenvalues(spec)
    assert isinstance(ax, Axes)
    offsets = np.asarray(_collection(ax, "eigenvalues").get_offsets())
    lam = spec.eigenvalues.values
    np.testing.assert_allclose(offsets[:, 0] + 1j * offsets[:, 1], lam)
    assert len(ax.figure.axes) == 2  # the plot and its colourbar
    circle = ax.get_lines()[0]
    np.testing.assert_allclose(np.hypot(*circle.get_data()), 1.0)
    assert ax.get_aspect() == 1.0


def test_only_growing_eigenvalues_are_ringed():
    spec = _spectrum()
    ax = plot_eigenvalues(spec)
    ring = np.asarray(_collection(ax, "unstable").get_offsets())
    np.testing.assert_allclose(ring, [[1.05, 0.0]])
    stable = KoopmanSpectrum(np.exp([0.2j, -0.2j]), [1, 1], dt=DT)
    ax = plot_eigenvalues(stable)
    assert not [c for c in ax.collections if c.get_gid() == "unstable"]


def test_marker_area_and_colour_follow_the_rms_amplitude():
    spec = _spectrum()
    sc = _collection(plot_eigenvalues(spec), "eigenvalues")
    rms = spec.rms_amplitudes.values
    sizes = sc.get_sizes()
    assert np.all(np.diff(sizes[np.argsort(rms)]) >= 0)
    assert sizes[np.argmax(rms)] > 5 * sizes[np.argmin(rms)]
    np.testing.assert_allclose(sc.get_array(), rms)


def test_bare_eigenvalues_with_amplitudes_and_given_axes():
    from matplotlib.figure import Figure

    ax0 = Figure().add_subplot()
    lam = np.exp([0.1j, -0.1j, 0.5])
    ax = plot_eigenvalues(lam, amplitudes=[1, 1, 4], ax=ax0, color_by="growth_rate", annotate=1)
    assert ax is ax0
    sc = _collection(ax, "eigenvalues")
    np.testing.assert_allclose(sc.get_array(), np.log(np.abs(lam)), atol=1e-12)
    assert sc.norm(0.0) == pytest.approx(0.5)  # diverging map centred on 0
    assert [t.get_text() for t in ax.texts] == ["0"]  # the largest is the real eigenvalue
    with pytest.raises(KoopkitError, match="amplitudes"):
        plot_eigenvalues(lam, amplitudes=[1, 2])


def test_spectrum_stems_are_positive_frequencies_against_rms_coloured_by_growth():
    spec = _spectrum()
    ax = plot_spectrum(spec)
    sc = _collection(ax, "spectrum")
    f, r, g = (spec.frequencies.values, spec.rms_amplitudes.values, spec.growth_rates.values)
    keep = f >= 0
    np.testing.assert_allclose(np.asarray(sc.get_offsets()), np.c_[f[keep], r[keep]])
    np.testing.assert_allclose(sc.get_array(), g[keep])
    assert sc.norm(0.0) == pytest.approx(0.5)
    assert "cycles per s" in ax.get_xlabel()


def test_modes_2d_are_images_with_coordinate_extent_and_titles():
    spec = _spectrum("2d")
    fig = plot_modes(spec, n=3)
    assert isinstance(fig, Figure)
    images = [im for ax in fig.axes for im in ax.images]
    assert len(images) == 3  # modes 0 (f=0), the +0.3 pair member, the +0.8 pair member
    left, right, bottom, top = images[0].get_extent()
    assert (left, right) == pytest.approx((10 - 0.25, 13 + 0.25))
    assert sorted((bottom, top)) == pytest.approx([-1.0, 9.0])
    # the first panel is the largest mode, shown as its real part
    np.testing.assert_allclose(images[0].get_array(), spec.modes.isel(mode=0).values.real)
    f_pair = spec.frequencies.values[1]
    assert f"{f_pair:.4g}" in fig.axes[1].get_title()


def test_modes_1d_are_lines_and_rgb_modes_are_colour_images():
    fig = plot_modes(_spectrum("1d"), n=2)
    lines = [ln for ax in fig.axes for ln in ax.get_lines() if len(ln.get_xdata()) == 9]
    assert len(lines) == 2
    fig = plot_modes(_spectrum("rgb"), n=2)
    arrays = [im.get_array() for ax in fig.axes for im in ax.images]
    assert len(arrays) == 2 and arrays[0].shape == (4, 5, 3)
    assert arrays[0].min() >= 0 and arrays[0].max() <= 1
    fig = plot_modes(_spectrum("rgb"), n=1, part="abs")
    assert fig.axes[0].images[0].get_array().shape == (4, 5)


def test_modes_need_modes_and_a_valid_part():
    bare = KoopmanSpectrum([1.0], [1.0], dt=DT)
    with pytest.raises(KoopkitError, match="no modes"):
        plot_modes(bare)
    with pytest.raises(KoopkitError, match="part"):
        plot_modes(_spectrum(), part="bogus")


def _frames(n: int = 12) -> xr.DataArray:
    rng = np.random.default_rng(1)
    return xr.DataArray(
        rng.random((n, 6, 8)), dims=("time", "y", "x"), coords={"time": np.arange(n) * DT}
    )


def test_strip_has_truth_forecast_and_error_rows():
    truth = _frames()
    forecast = truth + 0.1
    fig = plot_strip(truth, forecast, n=4)
    assert isinstance(fig, Figure)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 12
    # third row: squared error of the matching frame (0.01 everywhere)
    errors = [im.get_array() for im in images[8:]]
    np.testing.assert_allclose(np.asarray(errors), 0.01, rtol=1e-9)


def test_strip_matches_truth_frames_by_time_and_rejects_mismatches():
    truth = _frames(20)
    forecast = truth.isel(time=slice(10, 15))
    fig = plot_strip(truth, forecast, n=10)  # n larger than the forecast: 5 columns
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 15
    np.testing.assert_allclose(images[0].get_array(), truth.isel(time=10).values)
    np.testing.assert_allclose(np.asarray(images[10].get_array()), 0.0)
    with pytest.raises(KoopkitError, match="shape"):
        plot_strip(truth, truth.isel(x=slice(0, 4)))


def test_error_vs_horizon_has_one_line_per_method_in_time_units():
    ax = plot_error_vs_horizon({"dmd": [1e-3, 2e-3, 4e-3], "copy": [1e-2, 2e-2, 3e-2]}, dt=0.5)
    lines = ax.get_lines()
    assert [ln.get_label() for ln in lines] == ["dmd", "copy"]
    np.testing.assert_allclose(lines[0].get_xdata(), [0.5, 1.0, 1.5])
    np.testing.assert_allclose(lines[1].get_ydata(), [1e-2, 2e-2, 3e-2])
    with pytest.raises(KoopkitError):
        plot_error_vs_horizon({})


def test_save_figure_writes_the_format_of_the_extension_atomically(tmp_path):
    ax = plot_eigenvalues(np.exp([0.2j, -0.2j]))
    save_figure(ax, tmp_path / "e.png")
    save_figure(ax.figure, tmp_path / "e.svg")
    assert (tmp_path / "e.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (tmp_path / "e.svg").read_bytes()[:500]
    with pytest.raises(KoopkitError, match="image format"):
        save_figure(ax, tmp_path / "e.notaformat")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.png", "e.svg"]


# -------------------------------------------------------------------------- residuals
RESIDUALS = np.array([1e-4, 2e-3, 2e-3, 0.05, 0.05, 0.9])


def _with_residuals(residuals=RESIDUALS) -> KoopmanSpectrum:
    spec = _spectrum()
    return KoopmanSpectrum(
        spec.eigenvalues.values,
        spec.amplitudes.values,
        dt=DT,
        time_units="s",
        n_snapshots=50,
        extras={"residuals": residuals},
    )


def test_eigenvalues_are_coloured_by_residual_on_a_log_scale_by_default():
    from matplotlib.colors import LogNorm

    from koopkit.plotting import RESIDUAL_CMAP, RESIDUAL_LABEL

    spec = _with_residuals()
    ax = plot_eigenvalues(spec)
    sc = _collection(ax, "eigenvalues")
    np.testing.assert_allclose(sc.get_array(), RESIDUALS)  # in the spectrum's order
    assert isinstance(sc.norm, LogNorm)
    # the scale covers [1e-3, 1] at least (comparable between figures) and every residual
    assert (sc.norm.vmin, sc.norm.vmax) == pytest.approx((1e-4, 1.0))
    narrow = _collection(plot_eigenvalues(_with_residuals(np.full(6, 0.02))), "eigenvalues")
    assert (narrow.norm.vmin, narrow.norm.vmax) == pytest.approx((1e-3, 1.0))
    # the drawn face colours are the colormap at the log-scaled residuals
    sc.update_scalarmappable()
    import matplotlib as mpl

    expected = mpl.colormaps[RESIDUAL_CMAP]((np.log10(RESIDUALS) + 4) / 4)
    np.testing.assert_allclose(sc.get_facecolors(), expected, atol=1 / 255)
    bar = ax.figure.axes[1]
    assert bar.get_ylabel() == RESIDUAL_LABEL == "residual ||Kg − λg|| / ||g||"
    # size still follows the RMS amplitude
    rms = spec.rms_amplitudes.values
    assert np.argmax(sc.get_sizes()) == np.argmax(rms)


def test_nan_residuals_are_hollow_grey_rings_and_stay_in_order():
    res = RESIDUALS.copy()
    res[[3, 4]] = np.nan
    ax = plot_eigenvalues(_with_residuals(res))
    sc = _collection(ax, "eigenvalues")
    offsets = sc.get_offsets()
    assert offsets.shape == (6, 2)  # every eigenvalue is drawn, NaN residual or not
    assert not np.ma.getmaskarray(offsets).any()
    colours = np.asarray(sc.get_array(), dtype=float)
    np.testing.assert_array_equal(np.isnan(colours), np.isnan(res))
    np.testing.assert_allclose(colours[~np.isnan(res)], res[~np.isnan(res)])
    sc.update_scalarmappable()
    faces, edges = sc.get_facecolors(), sc.get_edgecolors()
    assert np.all(faces[[3, 4], 3] == 0)  # hollow
    assert np.all(faces[[0, 1, 2, 5], 3] == 1)
    np.testing.assert_allclose(edges[[3, 4], :3], 0.5)  # grey rings
    np.testing.assert_allclose(edges[[0, 5], :3], 0.0)
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "no residual (2)" in texts and any(t.startswith("growing") for t in texts)


def test_explicit_color_by_wins_and_residual_needs_residuals():
    spec = _with_residuals()
    sc = _collection(plot_eigenvalues(spec, color_by="rms_amplitude"), "eigenvalues")
    np.testing.assert_allclose(sc.get_array(), spec.rms_amplitudes.values)
    sc = _collection(plot_eigenvalues(spec, color_by=None), "eigenvalues")
    assert sc.get_array() is None
    # no residuals: the default falls back to the RMS amplitude, asking for them fails
    sc = _collection(plot_eigenvalues(_spectrum()), "eigenvalues")
    np.testing.assert_allclose(sc.get_array(), _spectrum().rms_amplitudes.values)
    with pytest.raises(KoopkitError, match="residuals"):
        plot_eigenvalues(_spectrum(), color_by="residual")
    with pytest.raises(KoopkitError, match="residuals"):
        plot_eigenvalues(np.exp([0.2j, -0.2j]), color_by="residual")
    with pytest.raises(KoopkitError, match="residual"):
        plot_eigenvalues(spec, color_by="bogus")


# --------------------------------------------------------------------- pseudospectrum
def _distance_pseudospectrum(lam: np.ndarray, step: float = 0.01) -> xr.DataArray:
    """A normal operator's tau(z): the distance to the nearest eigenvalue."""
    re = np.arange(-1.3, 1.3 + step / 2, step)
    im = np.arange(-1.25, 1.25 + step / 2, step)
    z = re[None, :] + 1j * im[:, None]
    tau = np.abs(z[..., None] - lam).min(axis=-1)
    return xr.DataArray(tau, dims=("imag", "real"), coords={"imag": im, "real": re})


def _level_vertices(cs, level: float) -> np.ndarray:
    from matplotlib.path import Path as MplPath

    i = int(np.argmin(np.abs(np.asarray(cs.levels) - np.log10(level))))
    assert cs.levels[i] == pytest.approx(np.log10(level))
    path = cs.get_paths()[i]
    codes = path.codes if path.codes is not None else np.ones(len(path.vertices))
    v = path.vertices[codes != MplPath.CLOSEPOLY]
    assert len(v) > 20
    return v[:, 0] + 1j * v[:, 1]


def test_pseudospectrum_contours_are_discs_around_a_normal_operators_eigenvalues():
    from koopkit.plotting import plot_pseudospectrum

    lam = np.array([np.exp(0.5j), np.exp(-0.5j), 0.303])  # 0.003 from the nearest point
    ps = _distance_pseudospectrum(lam)
    ax = plot_pseudospectrum(ps)
    cs = _collection(ax, "pseudospectrum")
    # default levels: the decades inside the range of tau
    np.testing.assert_allclose(cs.levels, [-2.0, -1.0, 0.0])
    for eps in (0.01, 0.1):
        v = _level_vertices(cs, eps)
        dist = np.abs(v[:, None] - lam).min(axis=1)
        np.testing.assert_allclose(dist, eps, atol=2e-3)  # circles of radius eps
    circle = [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 100][0]
    np.testing.assert_allclose(np.hypot(*circle.get_data()), 1.0)
    assert ax.get_xlim() == pytest.approx((-1.3, 1.3)) and ax.get_aspect() == 1.0
    ax = plot_pseudospectrum(ps.transpose("real", "imag"), levels=[0.2], filled=False)
    cs = _collection(ax, "pseudospectrum")
    dist = np.abs(_level_vertices(cs, 0.2)[:, None] - lam).min(axis=1)
    np.testing.assert_allclose(dist, 0.2, atol=2e-3)
    assert {t.get_text() for t in cs.labelTexts} == {"0.2"}  # labelled lines


def test_pseudospectrum_of_a_fitted_rotation_with_its_eigenvalues_by_residual():
    """DMD of a rotation sampled over whole periods: K is normal, tau(z) = min |z - lam|."""
    import koopkit
    from koopkit.plotting import plot_pseudospectrum

    theta = 2 * np.pi / 40
    k = np.arange(121)
    data = np.stack([np.cos(k * theta), np.sin(k * theta)], axis=1)  # 3 periods
    model = koopkit.DMD(rank=2).fit(data, dt=1.0)
    grid = (np.linspace(0.6, 1.2, 61), np.linspace(-0.5, 0.5, 51))
    ps = koopkit.pseudospectrum(model, grid)
    ax = plot_pseudospectrum(ps, model.spectrum_, levels=[0.03, 0.1])
    lam = np.exp([1j * theta, -1j * theta])
    dist = np.abs(_level_vertices(_collection(ax, "pseudospectrum"), 0.1)[:, None] - lam)
    np.testing.assert_allclose(dist.min(axis=1), 0.1, atol=2e-3)
    sc = _collection(ax, "eigenvalues")
    offsets = np.asarray(sc.get_offsets())
    np.testing.assert_allclose(offsets[:, 0] + 1j * offsets[:, 1], model.spectrum_.eigenvalues)
    np.testing.assert_allclose(sc.get_array(), model.spectrum_.residuals.values)
    assert ax.get_xlim() == pytest.approx((0.6, 1.2))  # the grid, not the eigenvalues
    assert "exact" not in ax.get_title() and "dmd" in ax.get_title()
    assert len(ax.figure.axes) == 3  # the plot, the tau colourbar, the residual colourbar
    ax = plot_pseudospectrum(ps, model.spectrum_, eigenvalue_kw={"colorbar": False, "annotate": 1})
    assert len(ax.figure.axes) == 2 and len(ax.texts) >= 1


def test_pseudospectrum_rejects_points_and_bad_levels():
    from koopkit.plotting import plot_pseudospectrum

    points = xr.DataArray(np.ones(3), dims=("point",))
    with pytest.raises(KoopkitError, match="grid"):
        plot_pseudospectrum(points)
    ps = _distance_pseudospectrum(np.array([0.5]), step=0.1)
    with pytest.raises(KoopkitError, match="levels"):
        plot_pseudospectrum(ps, levels=[-0.1, 0.1])
    with pytest.raises(KoopkitError, match="KoopmanSpectrum"):
        plot_pseudospectrum(ps, spectrum=np.array([0.5]))


# ------------------------------------------------------------------------- intervals
def _uncertain() -> KoopmanSpectrum:
    """The five-mode spectrum with stds: Re 0.05 * k, Im 2 pi 0.02 * k; mode 5 has none."""
    k = np.arange(1, 7)
    std = 0.05 * k + 2j * np.pi * 0.02 * k
    std[5] = complex(np.nan, np.nan)
    return _spectrum().with_uncertainty(std)


def test_eigenvalue_intervals_are_the_continuous_box_mapped_by_exp():
    spec = _uncertain()
    z = 1.959963984540054
    ax = plot_eigenvalues(spec)
    lam = spec.eigenvalues.values
    g, w = spec.growth_rates.values, spec.angular_frequencies.values
    sr, si = spec.eigenvalue_std.values.real, spec.eigenvalue_std.values.imag
    radial = _collection(ax, "growth_intervals").get_segments()
    arcs = _collection(ax, "frequency_intervals").get_segments()
    assert len(radial) == len(arcs) == 5  # mode 5 carries no std
    for i in range(5):
        ends = radial[i][:, 0] + 1j * radial[i][:, 1]
        # radial: from exp((g - z sr) dt) to exp((g + z sr) dt) along the eigenvalue's ray
        np.testing.assert_allclose(
            np.abs(ends), np.exp((g[i] + np.array([-1, 1]) * z * sr[i]) * DT)
        )
        np.testing.assert_allclose(np.angle(ends), np.angle(lam[i]), atol=1e-12)
        # arc: at |lam|, angles from (w - z si) dt to (w + z si) dt
        arc = arcs[i][:, 0] + 1j * arcs[i][:, 1]
        np.testing.assert_allclose(np.abs(arc), np.abs(lam[i]))
        turn = np.unwrap(np.angle(arc))
        np.testing.assert_allclose(turn[[0, -1]], (w[i] + np.array([-1, 1]) * z * si[i]) * DT)
    assert "95% intervals" in [t.get_text() for t in ax.get_legend().get_texts()]
    # the bars stay inside the axes
    assert ax.get_xlim()[1] >= max(np.abs(seg).max() for seg in radial)
    none = plot_eigenvalues(spec, intervals=None)
    assert not [c for c in none.collections if "intervals" in str(c.get_gid())]
    plain = plot_eigenvalues(_spectrum())
    assert not [c for c in plain.collections if "intervals" in str(c.get_gid())]
    with pytest.raises(KoopkitError, match="probability"):
        plot_eigenvalues(spec, intervals=1.5)


def test_spectrum_frequency_bars_span_the_normal_interval():
    spec = _uncertain()
    ax = plot_spectrum(spec, intervals=0.9)
    bars = _collection(ax, "frequency_intervals").get_segments()
    f, r = spec.frequencies.values, spec.rms_amplitudes.values
    fstd = spec.frequency_std.values
    z = 1.6448536269514722  # the 90% normal quantile
    keep = (f >= 0) & np.isfinite(fstd)  # modes 0, 1, 3 (mode 5 is real with no std)
    assert len(bars) == int(keep.sum()) == 3
    for seg, fi, ri, si in zip(bars, f[keep], r[keep], fstd[keep], strict=True):
        np.testing.assert_allclose(seg[:, 0], [fi - z * si, fi + z * si])
        np.testing.assert_allclose(seg[:, 1], [ri, ri])
    assert not [
        c for c in plot_spectrum(_spectrum()).collections if c.get_gid() == "frequency_intervals"
    ]

"""Koopman spectrum of the cylinder wake: eigenvalues, modes, forecast, frequency table.

Simulates 2-D flow past a cylinder (:func:`koopkit.datasets.cylinder_flow`, lattice
Boltzmann, sampled once the shedding is periodic), fits DMD to the vorticity with the mean
kept (``lam = 1`` is the mean flow) and checks the spectrum against the lift coefficient:
the DMD frequencies must be ``k * f_s`` with ``f_s`` the peak of the lift spectrum, and
every leading eigenvalue must sit on the unit circle (a limit cycle neither grows nor
decays).

Writes into ``--out`` (default ``cylinder_wake/``):

* ``eigenvalues.png`` -- DMD eigenvalues and the unit circle (cf. Figure 5 of the paper);
* ``modes.png`` -- the mean flow and the leading oscillating modes as images;
* ``forecast.png`` -- vorticity forecast beyond the fitted span against the simulation;
* ``lift.png`` -- lift coefficient, with the detected end of the transient;
* ``frequencies.txt`` -- the frequency table printed below.

Examples
--------
.. code-block:: bash

    python examples/cylinder_wake.py --quick        # small grid, well under a minute
    python examples/cylinder_wake.py                # the default data set (about a minute)
    koopkit generate cylinder -o cylinder.nc && python examples/cylinder_wake.py --data cylinder.nc
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from koopkit import DMD, KoopkitError  # noqa: E402
from koopkit.datasets import cylinder_flow  # noqa: E402
from koopkit.plotting import plot_eigenvalues, plot_modes, save_figure  # noqa: E402

#: The small grid of --quick: D = 6 cells, 96 x 48, 80 frames (about 3.7 shedding periods).
QUICK = dict(resolution=6, height=8.0, length=16.0, upstream=3.0, n_snapshots=80)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small grid for CI (< 1 minute)")
    p.add_argument("--data", type=Path, help="a file from `koopkit generate cylinder`")
    p.add_argument("--reynolds", type=float, default=100.0)
    p.add_argument("--resolution", type=int, default=None, help="cells per diameter")
    p.add_argument("--snapshots", type=int, default=None)
    p.add_argument("--rank", type=int, default=7, help="DMD rank (mean + 3 harmonic pairs)")
    p.add_argument("--train", type=float, default=0.7, help="fraction of frames to fit")
    p.add_argument("--out", type=Path, default=Path("cylinder_wake"))
    return p.parse_args(argv)


def load(args: argparse.Namespace) -> xr.Dataset:
    if args.data is not None:
        if not args.data.is_file():
            raise KoopkitError(f"no such file: {args.data}: run `koopkit generate cylinder` first")
        with xr.open_dataset(args.data, engine="h5netcdf") as ds:
            return ds.load()
    kwargs: dict = dict(QUICK) if args.quick else {}
    if args.resolution is not None:
        kwargs["resolution"] = args.resolution
    if args.snapshots is not None:
        kwargs["n_snapshots"] = args.snapshots
    return cylinder_flow(reynolds=args.reynolds, **kwargs)


def frequency_table(spectrum, f_s: float) -> tuple[list[dict], str]:
    """One row per non-negative DMD frequency: the nearest multiple k f_s and the mismatch."""
    freqs = spectrum.frequencies.values
    lam = spectrum.eigenvalues.values
    rms = spectrum.rms_amplitudes.values
    rows = []
    for i in np.argsort(freqs):
        if freqs[i] < -1e-9:
            continue
        k = int(round(freqs[i] / f_s))
        target = k * f_s
        rows.append(
            {
                "k": k,
                "f_dmd": float(freqs[i]),
                "k_fs": float(target),
                "rel_error": float(abs(freqs[i] - target) / target) if k else float(abs(freqs[i])),
                "abs_lam": float(abs(lam[i])),
                "rms": float(rms[i]),
            }
        )
    lines = [
        f"lift-spectrum peak f_s = {f_s:.5f} cycles per D/U (Strouhal number)",
        "",
        f"{'k':>3} {'DMD f':>10} {'k*f_s':>10} {'rel. err':>10} {'|lam|':>10} {'rms amp':>10}",
    ]
    for r in rows:
        lines.append(
            f"{r['k']:>3} {r['f_dmd']:>10.5f} {r['k_fs']:>10.5f} {r['rel_error']:>10.2e} "
            f"{r['abs_lam']:>10.6f} {r['rms']:>10.4g}"
        )
    return rows, "\n".join(lines)


def plot_lift(ds: xr.Dataset) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(9, 3))
    t = ds.force_time.values
    ax.plot(t, ds.lift_coefficient.values, lw=0.8, label="lift coefficient")
    ax.plot(t, ds.drag_coefficient.values, lw=0.8, label="drag coefficient")
    start = float(ds.time.values[0])
    ax.axvspan(start, float(ds.time.values[-1]), color="0.9", label="sampled (periodic)")
    ax.axvline(start, color="k", ls="--", lw=0.8)
    ax.set_xlabel("time (D/U)")
    ax.set_ylim(-1.0, 2.5)
    ax.set_title(
        f"Re = {ds.attrs['reynolds']:g}: periodic after {ds.attrs['transient_time']:.0f} D/U "
        f"({ds.attrs['transient_cycles']} lift cycles), St = {ds.attrs['strouhal']:.4f}"
    )
    ax.legend(loc="upper right", fontsize=8, ncol=3)
    fig.tight_layout()
    return fig


def plot_forecast(truth: xr.DataArray, forecast: xr.DataArray, n: int = 4) -> plt.Figure:
    window = {"x": slice(-2.0, 20.0), "y": slice(-4.0, 4.0)}  # the wake, not the free stream
    truth, forecast = truth.sel(window), forecast.sel(window)
    picks = np.linspace(0, forecast.sizes["time"] - 1, n).round().astype(int)
    lim = float(np.percentile(np.abs(truth.values), 99))
    fig, axes = plt.subplots(3, n, figsize=(3.6 * n, 4.6), sharex=True, sharey=True)
    extent = [float(truth.x[0]), float(truth.x[-1]), float(truth.y[0]), float(truth.y[-1])]
    for j, k in enumerate(picks):
        f = forecast.isel(time=k).values
        t = truth.isel(time=k).values
        for row, (img, cmap, vmin) in enumerate(
            [(t, "RdBu_r", -lim), (f, "RdBu_r", -lim), (np.abs(f - t), "magma", 0.0)]
        ):
            axes[row, j].imshow(
                img, origin="lower", extent=extent, cmap=cmap, vmin=vmin, vmax=lim, aspect="equal"
            )
        axes[0, j].set_title(f"t = {float(forecast.time[k]):.1f} D/U", fontsize=9)
    for row, name in enumerate(["simulation", "DMD forecast", "|error|"]):
        axes[row, 0].set_ylabel(f"{name}\ny (D)")
    for ax in axes[-1]:
        ax.set_xlabel("x (D)")
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    ds = load(args)
    a = ds.attrs
    print(
        f"cylinder wake: Re = {a['reynolds']:g}, grid {a['grid']}, D = {a['diameter_cells']} "
        f"cells, blockage {a['blockage']:.3f}, tau = {a['tau']:.4f}, u_lattice = {a['u_lattice']}"
    )
    print(
        f"transient: periodic after {a['transient_time']:.1f} D/U ({a['transient_cycles']} lift "
        f"cycles; last {a['transient_settle_cycles']} agree in period within "
        f"{a['transient_period_spread']:.1e} and amplitude within "
        f"{a['transient_amplitude_spread']:.1e})"
    )
    print(
        f"Strouhal number: {a['strouhal']:.4f} (lift spectrum), "
        f"{a['strouhal_zero_crossing']:.4f} (zero crossings); Williamson (1996) "
        f"{a['strouhal_williamson']:.4f}"
    )

    vorticity = ds.vorticity
    n_train = int(round(args.train * vorticity.sizes["time"]))
    train, test = vorticity.isel(time=slice(0, n_train)), vorticity.isel(time=slice(n_train, None))
    periods = (float(train.time[-1]) - float(train.time[0])) * a["strouhal"]
    if periods < 2:
        raise KoopkitError(
            f"the fitted span covers {periods:.1f} shedding periods: DMD needs at least 2, "
            "pass more --snapshots or a larger --train"
        )
    model = DMD(rank=args.rank).fit(train)
    spectrum = model.spectrum_
    f_s = float(a["strouhal"])
    rows, table = frequency_table(spectrum, f_s)
    print(f"\nDMD (rank {model.rank_}, mean kept) on {n_train} frames = {periods:.1f} periods:")
    print(table)

    lam = spectrum.sort("rms_amplitude").eigenvalues.values
    lead = lam[: min(7, lam.size)]
    off_circle = float(np.max(np.abs(np.abs(lead) - 1)))
    leading = min((r for r in rows if r["k"] >= 1), key=lambda r: r["k"], default=None)
    print(f"\nleading {lead.size} eigenvalues: max ||lam| - 1| = {off_circle:.2e}")
    if leading is not None:
        print(f"leading frequency / f_s - 1 = {leading['f_dmd'] / f_s - 1:+.2e}")

    forecast = model.predict(steps=test.sizes["time"])
    err = float(np.linalg.norm(forecast.values - test.values) / np.linalg.norm(test.values))
    print(f"forecast of {test.sizes['time']} frames beyond the fit: relative error {err:.2e}")

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    ax = plot_eigenvalues(spectrum, annotate=0, title="DMD eigenvalues of the cylinder wake")
    save_figure(ax, out / "eigenvalues.png")
    save_figure(plot_modes(spectrum, n=min(4, (model.rank_ + 1) // 2)), out / "modes.png")
    save_figure(plot_forecast(test, forecast), out / "forecast.png")
    save_figure(plot_lift(ds), out / "lift.png")
    (out / "frequencies.txt").write_text(table + "\n")
    plt.close("all")
    print(f"\nwrote {out}/eigenvalues.png, modes.png, forecast.png, lift.png, frequencies.txt")
    print(f"total {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KoopkitError as exc:
        print(f"cylinder_wake: error: {exc}", file=sys.stderr)
        sys.exit(2)

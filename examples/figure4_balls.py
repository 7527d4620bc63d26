"""Figure 4: Koopman eigenvalues of the bouncing-balls video on the unit circle.

Renders two balls bouncing at 0.35 and 0.9 cycles per time unit
(:func:`koopkit.datasets.bouncing_balls`), fits exact DMD on 8 stacked frames (time delays:
one frame cannot tell a rising ball from a falling one) and plots the eigenvalues in the
complex plane with the unit circle, sized by RMS amplitude and coloured by residual. The balls'
frequencies and their harmonics sit on the circle at angles ``2 pi f dt``; frame-to-frame
DMD (no delays) is shown beside it for contrast.

Writes into ``--out`` (default ``figure4/``): ``figure4_balls.png``.

Examples
--------
.. code-block:: bash

    python examples/figure4_balls.py --quick       # 32x32 frames, a few seconds
    python examples/figure4_balls.py --out docs/gallery/images
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from koopkit import ExactDMD  # noqa: E402
from koopkit.datasets import bouncing_balls  # noqa: E402
from koopkit.plotting import plot_eigenvalues, save_figure  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="32x32 frames")
    p.add_argument("--delays", type=int, default=8)
    p.add_argument("--out", type=Path, default=Path("figure4"))
    args = p.parse_args(argv)

    video = bouncing_balls(n_snapshots=300, size=32 if args.quick else 64, seed=0)
    truth = [float(f) for f in video.attrs["frequencies"]]
    dt = float(video.attrs["dt"])
    delayed = ExactDMD(rank="auto", delays=args.delays).fit(video)
    flat = ExactDMD(rank="auto").fit(video)
    found = delayed.spectrum_.leading_frequencies(2)
    print(f"true ball frequencies: {truth}")
    print(f"exact DMD, delays={args.delays} (rank {delayed.rank_}): leading {np.round(found, 5)}")
    print(
        f"exact DMD, no delays (rank {flat.rank_}): leading "
        f"{np.round(flat.spectrum_.leading_frequencies(2), 5)}"
    )
    lam = delayed.spectrum_.eigenvalues.values
    print(f"largest ||lam| - 1| of the 10 leading modes: {np.abs(np.abs(lam[:10]) - 1).max():.2e}")

    fig = Figure(figsize=(11, 5), layout="constrained")
    left, right = fig.subplots(1, 2)
    plot_eigenvalues(
        delayed.spectrum_,
        ax=left,
        annotate=4,
        title=f"exact DMD, {args.delays} delays: balls at {truth[0]:g} and {truth[1]:g}",
    )
    for f in truth:  # the true eigenvalues exp(+-2 pi i f dt)
        z = np.exp(2j * np.pi * f * dt)
        left.plot([z.real, z.real], [z.imag, -z.imag], "x", color="k", ms=9, mew=2)
    left.plot([], [], "x", color="k", ms=9, mew=2, label="truth exp(±2πi f dt)")
    left.legend(loc="lower left", fontsize=8)
    plot_eigenvalues(flat.spectrum_, ax=right, title="exact DMD, frame to frame (no delays)")
    args.out.mkdir(parents=True, exist_ok=True)
    save_figure(fig, args.out / "figure4_balls.png", dpi=100)
    print(f"wrote {args.out / 'figure4_balls.png'}")
    ok = all(np.min(np.abs(found - f)) < 0.01 * f for f in truth)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Figure 6: video prediction -- truth, forecast and error frames side by side.

The bouncing-balls video (:func:`koopkit.datasets.bouncing_balls`) is written as an H.264
mp4 and read back with :func:`koopkit.open_video` (so the frames carry real codec noise),
or any clip given with ``--clip``. Exact DMD on 8 stacked frames is fitted on the first
80% of the frames and forecasts the rest; the strip shows truth, forecast and squared
error for 8 frames spread over the forecast (:func:`koopkit.plotting.plot_strip`).

Writes into ``--out`` (default ``figure6/``): ``figure6_strip.png`` and, with
``--video``, ``figure6_side_by_side.mp4`` (truth | forecast | error).

Examples
--------
.. code-block:: bash

    python examples/figure6_video.py --quick
    python examples/figure6_video.py --clip my_clip.mp4 --size 48 64
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import koopkit  # noqa: E402
from koopkit.datasets import bouncing_balls  # noqa: E402
from koopkit.evaluation import Persistence, forecast_mse  # noqa: E402
from koopkit.plotting import plot_strip, save_figure  # noqa: E402


def load(args: argparse.Namespace):
    """Frames ``(time, y, x)`` through the video reader."""
    from koopkit.video import write_video

    if args.clip is not None:
        size = tuple(args.size) if args.size else None
        return koopkit.open_video(args.clip, gray=True, size=size, frames=args.frames)
    balls = bouncing_balls(n_snapshots=args.frames or 300, size=32 if args.quick else 64, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "balls.mp4"
        write_video(balls, path)
        return koopkit.open_video(path, gray=True).load()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="32x32 frames")
    p.add_argument("--clip", type=Path, default=None, help="a video file instead of the balls")
    p.add_argument("--size", type=int, nargs=2, default=None, metavar=("H", "W"))
    p.add_argument("--frames", type=int, default=None)
    p.add_argument("--delays", type=int, default=8)
    p.add_argument("--train", type=float, default=0.8)
    p.add_argument("--video", action="store_true", help="also write an mp4 side by side")
    p.add_argument("--out", type=Path, default=Path("figure6"))
    args = p.parse_args(argv)
    frames = load(args)
    n_train = int(round(args.train * frames.sizes["time"]))
    train = frames.isel(time=slice(0, n_train))
    test = frames.isel(time=slice(n_train, None))
    model = koopkit.ExactDMD(rank="auto", delays=args.delays).fit(train)
    forecast = model.predict(steps=test.sizes["time"])
    err = forecast_mse(forecast, test)
    last = forecast_mse(Persistence().fit(train).predict(steps=test.sizes["time"]), test)
    print(
        f"{frames.sizes['time']} frames {frames.shape[1:]}; exact DMD rank {model.rank_}, "
        f"delays {args.delays}, fitted {n_train}, forecast {test.sizes['time']}"
    )
    print(f"per-frame MSE: mean {err.mean():.3g} (copy last frame: {last.mean():.3g})")
    args.out.mkdir(parents=True, exist_ok=True)
    fig = plot_strip(test, forecast, n=8)
    save_figure(fig, args.out / "figure6_strip.png", dpi=100)
    print(f"wrote {args.out / 'figure6_strip.png'}")
    if args.video:
        from koopkit.video import side_by_side, write_video

        write_video(side_by_side(test, forecast), args.out / "figure6_side_by_side.mp4")
        print(f"wrote {args.out / 'figure6_side_by_side.mp4'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

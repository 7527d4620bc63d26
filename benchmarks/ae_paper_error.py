"""Forecast error of koopkit's vision autoencoder against the paper's network, same training.

The other half of the throughput target in ``benchmarks/ae_throughput.py`` ("at least 3x
the paper's throughput at equal or lower forecast error"): both networks are trained by
the same :class:`~koopkit.backends.autoencoder.KoopmanAutoencoder` on the same frames, with
the same seed, windows, optimiser, loss schedule and number of steps; they differ only where
the throughput benchmark's models differ:

* **paper**: ``encoder="vision"`` with ``segmentation_resolution="input"`` (the printed heads
  on the upsampled class map) and ``decoder="paper"`` (the printed decoder, 116 x 116 output
  resized to the frame);
* **koopkit**: ``encoder="vision"`` (segmentation logits at their native stride) and
  ``decoder="conv"`` (the lean sub-pixel decoder).

Both use ResNet18 + LR-ASPP MobileNetV3 with random weights (nothing can be downloaded
here) and train every layer. Data: the bouncing-balls video (two balls at 0.35 and 0.9
cycles per time unit), ``--size`` pixels, trained on the first 400 of 600 frames with a
2-frame history; the held-out frames are forecast 5 and 20 steps ahead from every 8th
start. Printed beside them: DMD with the same 2-frame history, and the mean training frame
(the error of a model that has learned nothing).

Run (about 45 minutes on 2 CPU cores, 38 of them training the paper's network)::

    python benchmarks/ae_paper_error.py
    python benchmarks/ae_paper_error.py --epochs 4 --steps 5   # smoke run
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch
from ae_balls import forecast_mse as balls_forecast_mse  # benchmarks/ae_balls.py

from koopkit import DMD
from koopkit.backends.autoencoder import KoopmanAutoencoder
from koopkit.datasets import bouncing_balls

TRAIN, HISTORY, STRIDE = 400, 2, 8


def forecast_mse(model, video, steps: int) -> float:
    """Mean squared error of ``steps``-step forecasts from every STRIDE-th held-out start."""
    return balls_forecast_mse(model, video, TRAIN, HISTORY, stride=STRIDE, steps=steps)


def mean_frame_mse(video, steps: int) -> float:
    mean = video.values[:TRAIN].mean(axis=0)
    errs = []
    for k in range(TRAIN + HISTORY - 1, video.sizes["time"] - steps, STRIDE):
        errs.append(np.mean((video.values[k + 1 : k + 1 + steps] - mean) ** 2))
    return float(np.mean(errs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--horizon", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--steps", type=int, default=40, help="steps per epoch")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--models", nargs="*", default=["koopkit", "paper"])
    args = parser.parse_args()

    video = bouncing_balls(n_snapshots=600, size=args.size)
    train = video.isel(time=slice(0, TRAIN))
    truth = video.attrs["frequencies"]
    rows = []
    for kind in args.models:
        paper = kind == "paper"
        model = KoopmanAutoencoder(
            encoder="vision",
            decoder="paper" if paper else "conv",
            latent_pairs=args.pairs,
            delays=HISTORY,
            horizon=args.horizon,
            epochs=args.epochs,
            steps_per_epoch=args.steps,
            batch_size=args.batch,
            warmup_epochs=max(1, args.epochs // 10),
            ramp_epochs=max(1, args.epochs // 10),
            lr=args.lr,
            progress=False,
            encoder_options={
                "pretrained": False,
                "segmentation_pretrained": False,
                "segmentation_resolution": "input" if paper else "native",
            },
        )
        t0 = time.perf_counter()
        model.fit(train)
        seconds = time.perf_counter() - t0
        freqs = np.abs(model.spectrum_.frequencies.values)
        found = [float(freqs[np.argmin(np.abs(freqs - f))]) for f in truth]
        ferr = max(abs(g - f) / f for f, g in zip(truth, found, strict=True))
        params = sum(p.numel() for p in model.model_.parameters()) / 1e6
        rows.append(
            (
                kind,
                f"{params:.1f}",
                f"{seconds:.0f}",
                f"{model.train_losses_[-1]:.4f}",
                f"{model.val_losses_[-1]:.4f}",
                f"{forecast_mse(model, video, 5):.5f}",
                f"{forecast_mse(model, video, 20):.5f}",
                f"{ferr:.2%}",
            )
        )
        print(f"{kind}: trained in {seconds:.0f} s", flush=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dmd = DMD(delays=HISTORY).fit(train)
    n_steps = args.epochs * args.steps
    print(
        f"\n### Forecast error after {n_steps} training steps: bouncing balls "
        f"{args.size}x{args.size}, batch {args.batch}, T = {args.horizon}, "
        f"{2 * args.pairs}-dim latent, CPU ({torch.get_num_threads()} threads)\n"
    )
    print(
        "| model | params (M) | train s | final train loss | final val loss | "
        "5-step MSE | 20-step MSE | worst ball frequency error |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(
        f"| DMD, same 2-frame history (rank {dmd.rank_}) | | | | | "
        f"{forecast_mse(dmd, video, 5):.5f} | {forecast_mse(dmd, video, 20):.5f} | |"
    )
    print(
        f"| mean training frame | | | | | {mean_frame_mse(video, 5):.5f} | "
        f"{mean_frame_mse(video, 20):.5f} | |"
    )


if __name__ == "__main__":
    main()

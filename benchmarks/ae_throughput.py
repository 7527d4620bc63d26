"""Training and decoding throughput: koopkit's vision autoencoder against the paper's network.

Both models use the paper's encoder design (torchvision ResNet18 + LR-ASPP MobileNetV3
segmentation net in parallel, with the printed heads; random weights, nothing downloaded)
and the Koopman layer (128 pairs, a 256-dimensional latent). They differ where koopkit's
network is designed differently:

* **paper**: the segmentation logits upsampled to the frame size before the printed heads
  (``segmentation_resolution="input"``), and the printed decoder (Linear 256->4096->4096->
  9216, Unflatten(256, 6, 6), Upsample x2, five ConvTranspose2d) whose 116 x 116 output is
  resized to the frame size;
* **koopkit**: the heads read the logits at their native stride (same 980 features at 224 px),
  and the lean :class:`~koopkit.backends.autoencoder.layers.ConvDecoder` (a small MLP to a
  64-channel 7 x 7 map, then five sub-pixel stages, each a 3 x 3 convolution and
  PixelShuffle(2), with halving channels; nothing runs at full resolution).

Both run in channels_last and share the training code (one-pass window loss). One training
step = encode the batch, advance every latent by K^0..K^T in one call, decode
``batch * (T + 1)`` frames, ``alpha L_recon + (1 - alpha) L_pred``, backward, Adam step (bf16
autocast on CUDA, for both models). Decoding = ``batch * (T + 1)`` latents to frames without
gradients. The two models alternate step by step, so both see the same machine load; the
best and the median per-step times are reported (on a shared machine noise only adds time).
``--freeze`` freezes both models' backbones (pretrained backbones are often kept fixed).
The forecast-error side of the comparison is ``benchmarks/ae_paper_error.py``.

Run::

    python benchmarks/ae_throughput.py                 # the paper's setting: 224 px, batch 50, T 20
    python benchmarks/ae_throughput.py --batch 8       # 224 px on a CPU
    python benchmarks/ae_throughput.py --small         # CPU-sized: 64 px, batch 4, T 5

It prints a markdown table with the ratio (target: 3x the paper's throughput).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from koopkit.backends.autoencoder.layers import (
    ConvDecoder,
    KoopmanLayer,
    PaperDecoder,
    VisionEncoder,
)
from koopkit.backends.autoencoder.train import KoopmanAE, window_losses


def build(kind: str, size: int, pairs: int, segmentation: str, freeze: bool = False) -> KoopmanAE:
    torch.manual_seed(0)
    latent = 2 * pairs
    encoder = VisionEncoder(
        3,
        (size, size),
        latent,
        segmentation=segmentation,
        pretrained=False,
        segmentation_pretrained=False,
        segmentation_resolution="input" if kind == "paper" else "native",
        freeze=freeze,
    )
    if kind == "paper":
        decoder = PaperDecoder(latent, 3, (size, size))
    else:
        decoder = ConvDecoder(latent, 3, (size, size))
    return KoopmanAE(encoder, KoopmanLayer(pairs, 1.0, stable=True), decoder, (3, size, size), 1)


def decoder_gflops(model: KoopmanAE, latent: int, device: torch.device) -> float:
    """Forward GFLOPs of decoding one frame (FlopCounterMode: 2 per multiply-add)."""
    z = torch.zeros(1, latent, device=device)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model.decode(z)
    return counter.get_total_flops() / 1e9


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


class Runner:
    """One model with its optimizer and inputs; times single training and decoding steps."""

    def __init__(self, kind: str, args: argparse.Namespace, device: torch.device) -> None:
        self.device = device
        self.cuda = device.type == "cuda"
        self.model = build(kind, args.size, args.pairs, args.segmentation, args.freeze)
        self.model.to(device).to(memory_format=torch.channels_last)  # both, on every device
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-4)
        g = torch.Generator(device="cpu").manual_seed(0)
        shape = (args.batch, args.horizon + 1, 3, args.size, args.size)
        self.windows = torch.rand(shape, generator=g).to(device)
        self.z = torch.randn(args.batch * (args.horizon + 1), 2 * args.pairs, generator=g)
        self.z = self.z.to(device)
        self.gflops = decoder_gflops(self.model, 2 * args.pairs, device)
        self.params_m = sum(p.numel() for p in self.model.decoder.parameters()) / 1e6
        self.train_times: list[float] = []
        self.decode_times: list[float] = []

    def train_step(self) -> float:
        self.model.train()
        sync(self.device)
        t0 = time.perf_counter()
        loss, _, _ = window_losses(self.model, self.windows, 0.5, autocast=self.cuda)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        sync(self.device)
        return time.perf_counter() - t0

    def decode_step(self) -> float:
        self.model.eval()
        sync(self.device)
        t0 = time.perf_counter()
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.cuda):
            self.model.decode(self.z)
        sync(self.device)
        return time.perf_counter() - t0


def measure(args: argparse.Namespace, device: torch.device) -> dict[str, dict[str, float]]:
    """Interleave the two models step by step (both see the same machine load); medians."""
    runners = {kind: Runner(kind, args, device) for kind in ("paper", "koopkit")}
    for _ in range(args.warmup):
        for r in runners.values():
            r.train_step()
            r.decode_step()
    for _ in range(args.steps):
        for r in runners.values():
            r.train_times.append(r.train_step())
            r.decode_times.append(r.decode_step())
    return {
        kind: {
            "steps_per_s": 1.0 / min(r.train_times),
            "steps_per_s_median": 1.0 / statistics.median(r.train_times),
            "frames_per_s": r.z.shape[0] / min(r.decode_times),
            "frames_per_s_median": r.z.shape[0] / statistics.median(r.decode_times),
            "gflops": r.gflops,
            "params_m": r.params_m,
        }
        for kind, r in runners.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--horizon", type=int, default=20)
    parser.add_argument("--pairs", type=int, default=128, help="latent = 2 * pairs (paper: 256)")
    parser.add_argument("--segmentation", default="lraspp", help="lraspp, fcn or deeplabv3")
    parser.add_argument(
        "--freeze", action="store_true", help="freeze both models' trunk and segmentation net"
    )
    parser.add_argument("--steps", type=int, default=10, help="timed steps")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads")
    parser.add_argument(
        "--small", action="store_true", help="CPU-sized run: 64 px, batch 4, T 5, 6 steps"
    )
    args = parser.parse_args()
    if args.small:
        args.size, args.batch, args.horizon, args.steps, args.warmup = 64, 4, 5, 6, 3
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    results = measure(args, device)
    p, k = results["paper"], results["koopkit"]
    print(
        f"\n### Koopman autoencoder throughput on {name} ({torch.get_num_threads()} threads): "
        f"{args.size}x{args.size}, batch {args.batch}, T = {args.horizon}, "
        f"latent {2 * args.pairs}, {args.segmentation}"
        f"{', backbones frozen' if args.freeze else ''}\n"
    )
    print("| model | train steps/s | decoded frames/s | decoder GFLOP/frame | decoder params (M) |")
    print("|---|---|---|---|---|")
    for kind, r in results.items():
        print(
            f"| {kind} | {r['steps_per_s']:.3f} ({r['steps_per_s_median']:.3f}) | "
            f"{r['frames_per_s']:.1f} ({r['frames_per_s_median']:.1f}) | "
            f"{r['gflops']:.3f} | {r['params_m']:.1f} |"
        )
    print(
        f"| **ratio koopkit / paper** | **{k['steps_per_s'] / p['steps_per_s']:.2f}x** "
        f"({k['steps_per_s_median'] / p['steps_per_s_median']:.2f}x) | "
        f"**{k['frames_per_s'] / p['frames_per_s']:.2f}x** "
        f"({k['frames_per_s_median'] / p['frames_per_s_median']:.2f}x) | "
        f"{k['gflops'] / p['gflops']:.3f} | |"
    )
    print(
        f"\nbest of {args.steps} interleaved steps after {args.warmup} warm-up steps "
        "(median in parentheses; on a shared machine noise only adds time)"
    )


if __name__ == "__main__":
    main()

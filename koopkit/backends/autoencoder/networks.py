"""Encoders and decoders built from plain layers: an MLP for vectors, convolutions for frames.

* :class:`MLP` for vectors (feature time series);
* :class:`ConvEncoder` / :class:`ConvDecoder` for frames; the decoder is lean (a small MLP
  to a low-resolution map, then sub-pixel convolution stages) and returns exactly the
  input frame size;
* :class:`PaperDecoder`: the decoder layer list printed in Sanayei, *Koopman Autoencoder
  for Videos*, verbatim.

The paper's pretrained encoder is in :mod:`~koopkit.backends.autoencoder.vision`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from koopkit._errors import KoopkitError

__all__ = ["ConvDecoder", "ConvEncoder", "MLP", "PaperDecoder", "activation", "conv_out"]

ACTIVATIONS = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "softplus": nn.Softplus,
}


def activation(name: str) -> nn.Module:
    """A fresh activation module by name (``tanh``, ``relu``, ``elu``, ``gelu``, ``silu``...).

    Examples
    --------
    >>> activation("tanh")
    Tanh()
    """
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise KoopkitError(
            f"activation={name!r} is not one of {', '.join(map(repr, ACTIVATIONS))}"
        ) from None


# ------------------------------------------------------------------ MLP
class MLP(nn.Sequential):
    """Fully connected network ``in -> hidden... -> out`` with an activation between layers.

    Examples
    --------
    >>> import torch
    >>> MLP(4, (8, 8), 2)(torch.zeros(3, 4)).shape
    torch.Size([3, 2])
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int],
        out_features: int,
        activation_name: str = "tanh",
    ) -> None:
        sizes = [int(in_features), *(int(h) for h in hidden), int(out_features)]
        layers: list[nn.Module] = []
        for i in range(len(sizes) - 1):
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                layers.append(activation(activation_name))
        super().__init__(*layers)


# ------------------------------------------------------------------ conv nets
def conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output length of a convolution or pooling along one axis."""
    return (size + 2 * padding - kernel) // stride + 1


class ConvEncoder(nn.Module):
    """Strided convolutions then a small MLP: frames ``(B, C, H, W)`` to latent ``(B, L)``.

    Parameters
    ----------
    in_channels : int
        Channels of the input (frame channels times ``delays``).
    size : (int, int)
        Frame height and width.
    latent_dim : int
    channels : sequence of int, default (16, 32, 64)
        Output channels of each stride-2 ``3 x 3`` convolution.
    hidden : int, default 128
        Width of the hidden linear layer.
    activation_name : str, default "silu"

    Examples
    --------
    >>> import torch
    >>> ConvEncoder(2, (20, 30), 6)(torch.zeros(1, 2, 20, 30)).shape
    torch.Size([1, 6])
    """

    def __init__(
        self,
        in_channels: int,
        size: Sequence[int],
        latent_dim: int,
        channels: Sequence[int] = (16, 32, 64),
        hidden: int = 128,
        activation_name: str = "silu",
    ) -> None:
        super().__init__()
        h, w = (int(s) for s in size)
        layers: list[nn.Module] = []
        c = int(in_channels)
        for out in channels:
            layers += [nn.Conv2d(c, int(out), 3, stride=2, padding=1), activation(activation_name)]
            c = int(out)
            h, w = conv_out(h, 3, 2, 1), conv_out(w, 3, 2, 1)
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c * h * w, int(hidden)),
            activation(activation_name),
            nn.Linear(int(hidden), int(latent_dim)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class ConvDecoder(nn.Module):
    """Lean frame decoder: latent ``(B, L)`` to frames ``(B, C, H, W)`` of exactly ``size``.

    A small MLP maps the latent vector to a ``c0 x h0 x w0`` map with
    ``h0 = ceil(H / 2**n)``; ``n`` sub-pixel stages (a ``3 x 3`` convolution to four times
    the next stage's channels, then ``PixelShuffle(2)``; Shi et al. 2016) each double the
    size, the last one giving the output channels; a centre crop of at most ``2**n - 1``
    pixels gives exactly ``H x W``. No convolution runs at the output resolution and the
    channels halve at each stage (never below ``min_channels``), so most of the work is at
    low resolution: at 224 x 224 it costs about 3% of the paper decoder's multiply-adds,
    and it uses plain convolutions (fast everywhere) rather than transposed ones. It runs in
    ``channels_last`` memory format on every device.

    Parameters
    ----------
    latent_dim : int
    out_channels : int
    size : (int, int)
        Output height and width.
    base_channels : int, default 64
        Channels of the low-resolution map.
    stages : int, optional
        Number of upsampling stages; default ``ceil(log2(min(H, W) / 8))`` (at least 1).
    min_channels : int, default 8
    hidden : int, default 128
    activation_name : str, default "silu"

    Examples
    --------
    >>> import torch
    >>> ConvDecoder(6, 1, (50, 70))(torch.zeros(2, 6)).shape
    torch.Size([2, 1, 50, 70])
    """

    def __init__(
        self,
        latent_dim: int,
        out_channels: int,
        size: Sequence[int],
        base_channels: int = 64,
        stages: int | None = None,
        min_channels: int = 8,
        hidden: int = 128,
        activation_name: str = "silu",
    ) -> None:
        super().__init__()
        self.size = tuple(int(s) for s in size)
        h, w = self.size
        if stages is None:
            stages = max(1, math.ceil(math.log2(max(min(h, w), 1) / 8)))
        self.stages = int(stages)
        self.h0, self.w0 = math.ceil(h / 2**self.stages), math.ceil(w / 2**self.stages)
        self.c0 = int(base_channels)
        self.head = nn.Sequential(
            nn.Linear(int(latent_dim), int(hidden)),
            activation(activation_name),
            nn.Linear(int(hidden), self.c0 * self.h0 * self.w0),
            activation(activation_name),
        )
        layers: list[nn.Module] = []
        c = self.c0
        for _ in range(self.stages - 1):
            out = max(int(min_channels), c // 2)
            layers += [
                nn.Conv2d(c, 4 * out, 3, padding=1),
                nn.PixelShuffle(2),
                activation(activation_name),
            ]
            c = out
        layers += [nn.Conv2d(c, 4 * int(out_channels), 3, padding=1), nn.PixelShuffle(2)]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # channels_last: oneDNN's preferred layout for convolutions on a CPU and the tensor
        # cores' on CUDA (benchmarks/ae_throughput.py measures decoding in it)
        x = self.head(z).reshape(-1, self.c0, self.h0, self.w0)
        x = x.contiguous(memory_format=torch.channels_last)
        x = self.body(x)
        h, w = self.size
        top = (x.shape[-2] - h) // 2
        left = (x.shape[-1] - w) // 2
        return x[..., top : top + h, left : left + w]


class PaperDecoder(nn.Module):
    """The paper's decoder, layer for layer (section 4.1), with ReLU between layers.

    ``dfc3 Linear(L, 4096) -> df2 Linear(4096, 4096) -> df1 Linear(4096, 9216) ->
    Unflatten(256, 6, 6) -> Upsample(x2) -> dconv5 .. dconv1`` (the five ``ConvTranspose2d``
    with the printed kernel/stride/padding). The printed layers produce **116 x 116** frames,
    not the 224 x 224 the text states (12 -> 14 -> 16 -> 27 -> 27 -> 116), so the output is
    resized bilinearly to ``size`` when it differs (``resized`` is then True). The paper's
    ``dfc3`` takes 256 inputs (its latent size) and ``dconv1`` gives 3 channels; here they
    take ``latent_dim`` and give ``out_channels``.

    Examples
    --------
    >>> PaperDecoder(256, 3, (224, 224)).native_size
    (116, 116)
    """

    native_size = (116, 116)

    def __init__(self, latent_dim: int, out_channels: int = 3, size: Sequence[int] = (224, 224)):
        super().__init__()
        self.size = tuple(int(s) for s in size)
        self.resized = self.size != self.native_size
        self.dfc3 = nn.Linear(int(latent_dim), 4096)
        self.df2 = nn.Linear(4096, 4096)
        self.df1 = nn.Linear(4096, 9216)
        self.unflat = nn.Unflatten(1, (256, 6, 6))
        self.upsample1 = nn.Upsample(scale_factor=2.0, mode="nearest")
        self.dconv5 = nn.ConvTranspose2d(256, 256, kernel_size=3, stride=1)
        self.dconv4 = nn.ConvTranspose2d(256, 384, kernel_size=5, stride=1, padding=1)
        self.dconv3 = nn.ConvTranspose2d(384, 192, kernel_size=3, stride=2, padding=3)
        self.dconv2 = nn.ConvTranspose2d(192, 64, kernel_size=5, stride=1, padding=2)
        self.dconv1 = nn.ConvTranspose2d(64, int(out_channels), kernel_size=12, stride=4)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.dfc3(z))
        x = F.relu(self.df2(x))
        x = F.relu(self.df1(x))
        x = self.upsample1(self.unflat(x))
        for conv in (self.dconv5, self.dconv4, self.dconv3, self.dconv2):
            x = F.relu(conv(x))
        x = self.dconv1(x)
        if self.resized:
            x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False)
        return x

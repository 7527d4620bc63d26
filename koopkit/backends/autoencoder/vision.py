"""The paper's vision encoder: a pretrained trunk and a segmentation net in parallel, with heads.

Sanayei, *Koopman Autoencoder for Videos*, section 4.1. The torchvision networks are built
without weights; :mod:`~koopkit.backends.autoencoder.weights` loads local files into them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from koopkit._errors import KoopkitError
from koopkit.backends.autoencoder.networks import conv_out
from koopkit.backends.autoencoder.weights import (
    cache_file,
    import_torchvision,
    load_weights,
    match_state_dict,
    read_state_dict,
)

__all__ = ["SEGMENTATION", "TRUNKS", "VisionEncoder"]

SEGMENTATION = ("lraspp", "fcn", "deeplabv3")
TRUNKS = ("resnet18", "mobilenet_v2")


class _Trunk(nn.Module):
    """ResNet18 (512 features) or MobileNetV2 (1280 features) without its classifier."""

    def __init__(self, kind: str, weights: Any) -> None:
        super().__init__()
        tv = import_torchvision()
        if kind == "resnet18":
            net = tv.models.resnet18(weights=None)
            net.fc = nn.Identity()
            self.net = net
            self.out_features = 512
            self.pool = None
            how = load_weights(net, weights, kind=kind, what="ResNet18 trunk")
        elif kind == "mobilenet_v2":
            self.net = tv.models.mobilenet_v2(weights=None).features
            self.out_features = 1280
            self.pool = nn.AdaptiveAvgPool2d(1)
            how = load_weights(self.net, weights, kind=kind, what="MobileNetV2 trunk")
        else:
            raise KoopkitError(f"trunk={kind!r} is not one of {', '.join(map(repr, TRUNKS))}")
        self.loaded = how

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.net(x)
        if self.pool is not None:
            x = torch.flatten(self.pool(x), 1)
        return x


def _segmentation_net(kind: str, weights: Any) -> tuple[nn.Module, str | None]:
    seg = import_torchvision().models.segmentation
    builders = {
        "lraspp": seg.lraspp_mobilenet_v3_large,
        "fcn": seg.fcn_resnet50,
        "deeplabv3": seg.deeplabv3_resnet50,
    }
    if kind not in builders:
        raise KoopkitError(
            f"segmentation={kind!r} is not one of {', '.join(map(repr, SEGMENTATION))} or None"
        )
    kwargs: dict[str, Any] = {"weights": None, "weights_backbone": None, "num_classes": 21}
    if kind != "lraspp":
        kwargs["aux_loss"] = False
    net = builders[kind](**kwargs)
    if weights is not None and weights is not False:
        # torchvision's COCO files carry the auxiliary classifier too; drop what we lack
        source = cache_file(kind) if weights is True else weights
        if weights is True and not os.path.isfile(source):
            load_weights(net, True, kind=kind, what=f"{kind} segmentation net")
            return net, None
        state = {k: v for k, v in read_state_dict(source).items() if not k.startswith("aux")}
        mapped, how = match_state_dict(net.state_dict(), state, f"{kind} segmentation net")
        net.load_state_dict(mapped, strict=True)
        return net, how
    return net, None


class VisionEncoder(nn.Module):
    """The paper's encoder: a pretrained trunk and a segmentation net in parallel, with heads.

    Heads (section 4.1, layer names as printed; ReLU between linear layers)::

        trunk (512) -> lin1_res Linear(512, 512) -> lin2_res Linear(512, 256)
        segmentation (21 x H x W) -> conv1_seg Conv2d(21, 10, 4, 2, 2) -> maxpool1(2, 2, pad 1)
            -> conv2_seg Conv2d(10, 5, 4, 2, 2) -> maxpool2(2, 2) -> flat (980 at 224 x 224)
            -> lin1_seg Linear(980, 512) -> lin2_seg Linear(512, 256)
        concat (512) -> lin1_com Linear(512, 512) -> lin2_com Linear(512, 256)
            -> lin3_com Linear(256, latent_dim)        (256 in the paper)

    ``lin1_seg`` takes however many features the segmentation branch gives at ``size``
    (980 at 224 x 224). With the MobileNetV2 trunk ``lin1_res`` takes 1280 inputs. Frames
    with other than 3 channels (grey frames, or ``delays`` stacked frames) pass through a
    learned ``1 x 1`` convolution to 3 channels first.

    **Segmentation resolution.** torchvision's segmentation nets compute their 21 class
    logits at 1/8 of the frame size (28 x 28 at 224 x 224) and upsample them bilinearly to
    the frame size; the paper's heads then shrink that map by 16 again. With
    ``segmentation_resolution="native"`` (koopkit's default) the heads take the logits at
    their own stride, with the same channels and the same 5 x 14 x 14 = 980 features at
    224 x 224::

        logits (21 x H/8 x W/8) -> conv1_seg Conv2d(21, 10, 3, 1, 1) -> maxpool1(2, 2)
            -> conv2_seg Conv2d(10, 5, 3, 1, 1) -> flat -> lin1_seg ...

    The upsampled map holds no information the native one lacks, and skipping it saves the
    interpolation and the heads' work on a 64 times larger map (forward and backward).
    ``"input"`` is the paper's layout, layer for layer.

    Parameters
    ----------
    in_channels : int
    size : (int, int)
    latent_dim : int
    trunk : {"resnet18", "mobilenet_v2"}
    segmentation : {"lraspp", "fcn", "deeplabv3"} or None
        torchvision's ``lraspp_mobilenet_v3_large``, ``fcn_resnet50`` or
        ``deeplabv3_resnet50`` with 21 classes; None drops the branch.
    pretrained, segmentation_pretrained : str, os.PathLike or bool
        Weights of the trunk / segmentation net: a file path, True for torchvision's file in
        the torch cache (random initialisation with a warning when absent), False for random.
    freeze : bool, default False
        Freeze the trunk and segmentation net (no gradients; kept in eval mode so their
        batch-norm statistics do not move).
    segmentation_resolution : {"native", "input"}, default "native"
        Feed the heads the class logits at the segmentation net's stride, or upsampled to
        the frame size as in the paper (see above).

    Examples
    --------
    >>> import torch
    >>> enc = VisionEncoder(1, (64, 64), 8, trunk="mobilenet_v2", segmentation=None,
    ...                     pretrained=False)
    >>> enc(torch.zeros(2, 1, 64, 64)).shape
    torch.Size([2, 8])
    """

    def __init__(
        self,
        in_channels: int,
        size: Sequence[int],
        latent_dim: int,
        trunk: str = "resnet18",
        segmentation: str | None = "lraspp",
        pretrained: Any = True,
        segmentation_pretrained: Any = True,
        freeze: bool = False,
        segmentation_resolution: str = "native",
    ) -> None:
        super().__init__()
        h, w = (int(s) for s in size)
        if segmentation_resolution not in ("native", "input"):
            raise KoopkitError(
                f"segmentation_resolution={segmentation_resolution!r} is not 'native' or 'input'"
            )
        self.native = segmentation_resolution == "native"
        self.stem = nn.Conv2d(int(in_channels), 3, 1) if int(in_channels) != 3 else None
        self.trunk = _Trunk(trunk, pretrained)
        self.lin1_res = nn.Linear(self.trunk.out_features, 512)
        self.lin2_res = nn.Linear(512, 256)
        self.segmentation = None
        self.segmentation_loaded = None
        if segmentation is not None:
            self.segmentation, self.segmentation_loaded = _segmentation_net(
                segmentation, segmentation_pretrained
            )
            if self.native:
                self.conv1_seg = nn.Conv2d(21, 10, kernel_size=3, stride=1, padding=1)
                self.maxpool1 = nn.MaxPool2d(kernel_size=2, stride=2)
                self.conv2_seg = nn.Conv2d(10, 5, kernel_size=3, stride=1, padding=1)
                self.maxpool2 = nn.Identity()
                sh, sw = h, w
                for _ in range(3):  # the nets' three stride-2 stages (rounding up)
                    sh, sw = conv_out(sh, 3, 2, 1), conv_out(sw, 3, 2, 1)
                sh, sw = sh // 2, sw // 2
            else:
                self.conv1_seg = nn.Conv2d(21, 10, kernel_size=4, stride=2, padding=2)
                self.maxpool1 = nn.MaxPool2d(kernel_size=2, stride=2, padding=1)
                self.conv2_seg = nn.Conv2d(10, 5, kernel_size=4, stride=2, padding=2)
                self.maxpool2 = nn.MaxPool2d(kernel_size=2, stride=2, padding=0)
                sh, sw = h, w
                for k, s, p in ((4, 2, 2), (2, 2, 1), (4, 2, 2), (2, 2, 0)):
                    sh, sw = conv_out(sh, k, s, p), conv_out(sw, k, s, p)
            self.flat = nn.Flatten()
            if sh < 1 or sw < 1:
                raise KoopkitError(f"frames of {h} x {w} are too small for the vision encoder")
            self.lin1_seg = nn.Linear(5 * sh * sw, 512)
            self.lin2_seg = nn.Linear(512, 256)
        self.lin1_com = nn.Linear(512 if segmentation is not None else 256, 512)
        self.lin2_com = nn.Linear(512, 256)
        self.lin3_com = nn.Linear(256, int(latent_dim))
        self.freeze = bool(freeze)
        if self.freeze:
            for net in self._backbones():
                net.requires_grad_(False)

    def _backbones(self) -> list[nn.Module]:
        return [n for n in (self.trunk, self.segmentation) if n is not None]

    def train(self, mode: bool = True) -> VisionEncoder:
        super().train(mode)
        if self.freeze:
            for net in self._backbones():
                net.eval()
        return self

    def _segment(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits, at the net's own stride (native) or at the frame size."""
        net = self.segmentation
        if not self.native:
            return net(x)["out"]
        features = net.backbone(x)
        if isinstance(net, import_torchvision().models.segmentation.LRASPP):
            return net.classifier(features)  # uses the "low" and "high" feature maps
        return net.classifier(features["out"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stem is not None:
            x = self.stem(x)
        r = F.relu(self.lin1_res(self.trunk(x)))
        r = F.relu(self.lin2_res(r))
        if self.segmentation is not None:
            s = self._segment(x)
            s = self.maxpool1(F.relu(self.conv1_seg(s)))
            s = self.maxpool2(F.relu(self.conv2_seg(s)))
            s = F.relu(self.lin1_seg(self.flat(s)))
            s = F.relu(self.lin2_seg(s))
            r = torch.cat((r, s), dim=1)
        r = F.relu(self.lin1_com(r))
        r = F.relu(self.lin2_com(r))
        return self.lin3_com(r)

"""Pretrained weights from local files, never downloaded (as torchvision's ``models/_api.py``).

torchvision models are built with ``weights=None``; :func:`load_weights` reads a state
dict from a path, or torchvision's own file in the torch hub cache when it is there
(:func:`cache_file`), and matches its tensors to the module by name or by order.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from koopkit._errors import KoopkitError

__all__ = [
    "cache_file",
    "import_torchvision",
    "load_weights",
    "match_state_dict",
    "read_state_dict",
]


def import_torchvision() -> Any:
    try:
        import torchvision
    except ImportError:
        raise KoopkitError(
            "the vision encoder needs torchvision: pip install 'koopkit[torch]'"
        ) from None
    return torchvision


def _weights_enum(kind: str) -> Any:
    tv = import_torchvision()
    m, s = tv.models, tv.models.segmentation
    return {
        "resnet18": m.ResNet18_Weights.IMAGENET1K_V1,
        "mobilenet_v2": m.MobileNet_V2_Weights.IMAGENET1K_V1,
        "lraspp": s.LRASPP_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1,
        "fcn": s.FCN_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1,
        "deeplabv3": s.DeepLabV3_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1,
    }[kind]


def cache_file(kind: str) -> str:
    """Where torchvision would cache the pretrained file of ``kind`` (it may not exist).

    Examples
    --------
    >>> cache_file("resnet18").endswith("resnet18-f37072fd.pth")
    True
    """
    url = _weights_enum(kind).url
    return os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(url))


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise KoopkitError(f"no weights file at {path!r}: check the path")
    if path.endswith(".safetensors"):
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise KoopkitError(f"{path!r} is a safetensors file: pip install safetensors") from None
        return dict(load_file(path))
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not a state dict"
        raise KoopkitError(
            f"could not read {path!r} as a tensors-only state dict ({type(exc).__name__}): "
            "pass a file saved with torch.save(model.state_dict())"
        ) from None
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
            obj = obj[key]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise KoopkitError(f"{path!r} does not hold a state dict of tensors")
    return dict(obj)


def match_state_dict(
    target: Mapping[str, torch.Tensor], source: Mapping[str, torch.Tensor], what: str
) -> tuple[dict[str, torch.Tensor], str]:
    """Map ``source`` tensors onto ``target``'s names: by name (prefixes stripped) or by order."""
    prefixes = ("", "module.", "features.", "backbone.", "model.", "encoder.")
    for prefix in prefixes:
        renamed = {k[len(prefix) :]: v for k, v in source.items() if k.startswith(prefix)}
        if all(k in renamed and renamed[k].shape == v.shape for k, v in target.items()):
            return {k: renamed[k] for k in target}, "name"
    tk, sk = list(target), list(source)
    pairs = list(zip(tk, sk, strict=False))
    if len(tk) == len(sk) and all(target[a].shape == source[b].shape for a, b in pairs):
        return {a: source[b] for a, b in zip(tk, sk, strict=True)}, "order"
    missing = [k for k in target if k not in source]
    raise KoopkitError(
        f"the weights file does not fit the {what}: {len(source)} tensors for {len(target)} "
        f"parameters/buffers ({len(missing)} names unmatched, e.g. {missing[:1]}), and their "
        "shapes differ in order: pass the weights of the same architecture"
    )


def load_weights(
    module: nn.Module, source: Any, *, kind: str = "", what: str = "network"
) -> str | None:
    """Load pretrained weights into ``module`` without downloading anything.

    Parameters
    ----------
    module : nn.Module
    source : str, os.PathLike, bool or None
        A path to a state-dict file (``torch.save`` of tensors, read with
        ``weights_only=True``, or ``.safetensors``); ``True`` for torchvision's file of
        ``kind`` in the torch hub cache (random initialisation with a warning when it is
        not there); ``False``/``None`` to keep the random initialisation.
    kind : str
        Which torchvision weights ``True`` looks for (see :func:`cache_file`).
    what : str
        Name used in messages.

    Returns
    -------
    str or None
        How the tensors were matched: ``"name"`` (names equal after stripping a prefix such
        as ``features.``) or ``"order"`` (same number of tensors with the same shapes in
        order, e.g. MobileNetV2 feature weights saved under other names); None if nothing
        was loaded.

    Examples
    --------
    >>> import torch, tempfile, os
    >>> net = torch.nn.Linear(2, 2)
    >>> p = os.path.join(tempfile.mkdtemp(), "w.pt")
    >>> torch.save({"module.weight": torch.ones(2, 2), "module.bias": torch.zeros(2)}, p)
    >>> load_weights(net, p)
    'name'
    >>> float(net.weight.detach().sum())
    4.0
    """
    if source is None or source is False:
        return None
    if source is True:
        path = cache_file(kind)
        if not os.path.isfile(path):
            warnings.warn(
                f"no pretrained {kind} weights in the torch cache ({path}); the {what} starts "
                "from a random initialisation (pass a weights file path, or pretrained=False "
                "to silence this)",
                stacklevel=3,
            )
            return None
        source = path
    if not isinstance(source, (str, os.PathLike)):
        raise KoopkitError(
            f"pretrained weights for the {what} must be a file path, True or False; got "
            f"{type(source).__name__}"
        )
    target = module.state_dict()
    mapped, how = match_state_dict(target, read_state_dict(source), what)
    module.load_state_dict(mapped, strict=True)
    return how

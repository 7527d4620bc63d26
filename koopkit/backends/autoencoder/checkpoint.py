"""Checkpoints of a training run: written atomically after every epoch, read back to resume.

A checkpoint is ``checkpoint.safetensors`` (``checkpoint.pt`` without the safetensors
package), one flat dict of tensors: the model's state dict, Adam's moments, the sampler's
random state and the :class:`TrainState` (epochs done, loss history, early-stopping
bookkeeping and best weights), beside ``checkpoint.json``, the run's configuration and the
fingerprint of its data and settings. Both are written through
:func:`koopkit._util.atomic_path`, so a checkpoint is the old one or the new one, never half
of each; the tensors are read back with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from koopkit._errors import KoopkitError
from koopkit._util import atomic_path, atomic_write
from koopkit.spectrum import json_default

__all__ = [
    "TrainState",
    "check_fingerprint",
    "checkpoint_files",
    "checkpoint_paths",
    "checkpoint_tensors",
    "find_checkpoint",
    "load_checkpoint",
    "read_tensors",
    "restore_checkpoint",
    "safetensors_torch",
    "write_json",
    "write_tensors",
]

_NAMES = ("checkpoint.safetensors", "checkpoint.pt")


def safetensors_torch() -> Any:
    """The ``safetensors.torch`` module, or None when safetensors is not installed."""
    try:
        import safetensors.torch as st
    except ImportError:
        return None
    return st


# ------------------------------------------------------------------ files
def checkpoint_paths(directory: str | os.PathLike[str]) -> tuple[str, str]:
    """``(tensors, config)`` file names in ``directory`` (safetensors when installed)."""
    ext = ".safetensors" if safetensors_torch() is not None else ".pt"
    d = os.fspath(directory)
    return os.path.join(d, "checkpoint" + ext), os.path.join(d, "checkpoint.json")


def write_tensors(path: str, tensors: dict[str, torch.Tensor]) -> None:
    """Write a flat dict of tensors atomically (safetensors for ``.safetensors`` names).

    The folder is created when missing.

    Examples
    --------
    >>> import tempfile, os, torch
    >>> p = os.path.join(tempfile.mkdtemp(), "t.pt")
    >>> write_tensors(p, {"a": torch.ones(2)})
    >>> read_tensors(p)["a"].tolist()
    [1.0, 1.0]
    """
    clean = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    with atomic_path(path, make_dirs=True) as tmp:
        if os.fspath(path).endswith(".safetensors"):
            safetensors_torch().save_file(clean, str(tmp))
        else:
            torch.save(clean, tmp)


def read_tensors(path: str) -> dict[str, torch.Tensor]:
    """Read a file written by :func:`write_tensors` (``weights_only=True``; no pickled objects)."""
    if path.endswith(".safetensors"):
        st = safetensors_torch()
        if st is None:
            raise KoopkitError(f"{path} is a safetensors file: pip install safetensors")
        return dict(st.load_file(path))
    return dict(torch.load(path, map_location="cpu", weights_only=True))


def write_json(path: str, obj: Any) -> None:
    """Write JSON atomically (the folder is created when missing)."""
    text = json.dumps(obj, indent=2, sort_keys=True, default=json_default)
    atomic_write(path, text, make_dirs=True)


def checkpoint_files(directory: str) -> list[str]:
    """The checkpoint tensor files present in ``directory`` (either format)."""
    return [p for p in (os.path.join(directory, n) for n in _NAMES) if os.path.isfile(p)]


def find_checkpoint(directory: str) -> str | None:
    """The checkpoint tensor file in ``directory`` (safetensors first), or None."""
    found = checkpoint_files(directory)
    return found[0] if found else None


def load_checkpoint(directory: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict]:
    """The tensors and configuration of the checkpoint in ``directory``.

    Raises
    ------
    KoopkitError
        If there is none.
    """
    directory = os.fspath(directory)
    path = find_checkpoint(directory)
    cfg_path = os.path.join(directory, "checkpoint.json")
    if path is None or not os.path.isfile(cfg_path):
        raise KoopkitError(
            f"no checkpoint in {directory!r}: train with checkpoint_dir= first, or drop resume="
        )
    with open(cfg_path, encoding="utf-8") as fh:
        config = json.load(fh)
    return read_tensors(path), config


# ------------------------------------------------------------------ training state
@dataclass
class TrainState:
    """What a checkpoint holds besides the model, the optimizer and the sampler."""

    epoch: int = 0  # epochs done
    history: list[list[float]] = field(default_factory=list)
    best_val: float = math.inf
    bad_epochs: int = 0
    best_epoch: int | None = None
    best_state: dict[str, torch.Tensor] | None = None
    stopped: bool = False


def _prefixed(prefix: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {prefix + k: v for k, v in state.items()}


def _unprefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def checkpoint_tensors(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    sampler: torch.Generator,
    state: TrainState,
) -> dict[str, torch.Tensor]:
    """The flat dict of tensors that :func:`restore_checkpoint` reads back."""
    tensors = _prefixed("model/", model.state_dict())
    for idx, opt_state in opt.state_dict()["state"].items():
        for name, value in opt_state.items():
            tensors[f"optim/{idx}/{name}"] = torch.as_tensor(value)
    tensors.update(
        {
            "rng/sampler": sampler.get_state(),
            "train/epoch": torch.tensor(state.epoch),
            "train/history": torch.tensor(state.history, dtype=torch.float64),
            "train/best_val": torch.tensor(state.best_val, dtype=torch.float64),
            "train/bad_epochs": torch.tensor(state.bad_epochs),
            "train/best_epoch": torch.tensor(-1 if state.best_epoch is None else state.best_epoch),
            "train/stopped": torch.tensor(int(state.stopped)),
        }
    )
    if state.best_state is not None:
        tensors.update(_prefixed("best/", state.best_state))
    return tensors


def restore_checkpoint(
    tensors: dict[str, torch.Tensor],
    model: nn.Module,
    opt: torch.optim.Optimizer,
    sampler: torch.Generator,
) -> TrainState:
    """Load a checkpoint's tensors into ``model``, ``opt`` and ``sampler``; its state."""
    model.load_state_dict(_unprefixed("model/", tensors))
    opt_state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim/"):
            _, idx, name = key.split("/", 2)
            opt_state.setdefault(int(idx), {})[name] = value
    opt.load_state_dict({"state": opt_state, "param_groups": opt.state_dict()["param_groups"]})
    sampler.set_state(tensors["rng/sampler"])
    best_epoch = int(tensors["train/best_epoch"])
    has_best = "best/" + next(iter(model.state_dict())) in tensors
    return TrainState(
        epoch=int(tensors["train/epoch"]),
        history=tensors["train/history"].double().tolist(),
        best_val=float(tensors["train/best_val"]),
        bad_epochs=int(tensors["train/bad_epochs"]),
        best_epoch=best_epoch if best_epoch >= 0 else None,
        best_state=_unprefixed("best/", tensors) if has_best else None,
        stopped=bool(int(tensors.get("train/stopped", torch.tensor(0)))),
    )


# ------------------------------------------------------------------ fingerprint
def _same(a: Any, b: Any) -> bool:
    """Equal JSON values, floats to 1e-9 relative (data sums formed in another order)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def check_fingerprint(saved: dict, current: dict, directory: Any) -> None:
    """Raise unless a checkpoint's fingerprint matches the current data and settings.

    Raises
    ------
    KoopkitError
        Naming the first setting that differs.
    """
    saved, current = json.loads(json.dumps(saved)), json.loads(json.dumps(current, default=str))
    keys = set(saved) | set(current)
    diff = sorted(k for k in keys if not _same(saved.get(k), current.get(k)))
    if diff:
        key = diff[0]
        raise KoopkitError(
            f"the checkpoint in {os.fspath(directory)!r} was written with {key}="
            f"{saved.get(key)!r}, not {current.get(key)!r} ({len(diff)} setting(s) differ): "
            "resume with the same data and settings, or use a fresh checkpoint_dir"
        )

"""Saving and loading a fitted :class:`~koopkit.backends.autoencoder.KoopmanAutoencoder`.

A saved model is a folder: ``model.safetensors`` holding tensors only (the network's state
dict, the normalisation mean, the latent states, the spectrum as real/imaginary pairs with
its residuals, ResDMD's matrices and the fitted times), written by koopkit itself
(:mod:`koopkit._safetensors`, no extra package), and ``config.json`` (the backend's name,
the estimator's parameters, the data's labels and coordinates, the loss history).
:func:`koopkit.load_model` reads the folder too. Nothing is pickled; folders written
before, with ``model.pt``, are read with ``weights_only=True``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import nn

from koopkit._errors import KoopkitError
from koopkit._safetensors import read_safetensors, write_safetensors
from koopkit._validation import Snapshots
from koopkit.backends._linalg import ResidualMatrices
from koopkit.backends.autoencoder.checkpoint import read_tensors, write_json
from koopkit.backends.autoencoder.scaling import FrameScaling
from koopkit.backends.autoencoder.spectral import modes_dataarray
from koopkit.spectrum import KoopmanSpectrum

__all__ = ["jsonable", "load_estimator", "save_estimator"]


def save_estimator(est: Any, path: str | os.PathLike[str]) -> None:
    """Write a fitted :class:`KoopmanAutoencoder` to the folder ``path`` (see its ``save``)."""
    if os.path.isfile(path):
        raise KoopkitError(
            f"cannot write {path}: it is a file; the autoencoder saves a folder (config.json "
            "and model.safetensors): pass a folder path"
        )
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise KoopkitError(f"cannot write {path}: directory {parent} does not exist: create it")
    os.makedirs(path, exist_ok=True)
    spec, scaling = est.spectrum_, est.scaling_
    tensors = {f"model/{k}": v for k, v in est.model_.state_dict().items()}
    tensors.update(
        {
            "norm/mean": torch.from_numpy(np.asarray(scaling.mean, dtype=np.float64)),
            "state/latents": torch.from_numpy(np.asarray(est._latents)),
            "spectrum/eigenvalues": complex_tensor(spec.eigenvalues.values),
            "spectrum/amplitudes": complex_tensor(spec.amplitudes.values),
            "spectrum/modes": complex_tensor(spec.modes.values),
            "data/times": torch.from_numpy(np.asarray(est._data_info.times, dtype=float)),
        }
    )
    if scaling.root_weights is not None:  # weights= of the fit
        tensors["norm/root_weights"] = torch.from_numpy(np.asarray(scaling.root_weights, float))
    if spec.has_residuals:
        tensors["spectrum/residuals"] = torch.from_numpy(spec.residuals.values.astype(float))
    mats = getattr(est, "residual_matrices_", None)
    if mats is not None:
        for key in ("G", "A", "L"):
            tensors[f"residual/{key}"] = torch.from_numpy(np.ascontiguousarray(getattr(mats, key)))
        if mats.factor is not None:
            tensors["residual/factor"] = torch.from_numpy(np.ascontiguousarray(mats.factor))
    folder = os.fspath(path)
    write_safetensors(
        os.path.join(folder, "model.safetensors"),
        {k: v.detach().cpu().numpy() for k, v in tensors.items()},
        metadata={"format": "pt", "koopkit": "KoopmanAutoencoder"},
    )
    info = est._data_info
    params = est.get_params()
    custom = [k for k in ("encoder", "decoder") if isinstance(params[k], nn.Module)]
    for k in custom:
        params[k] = None
    if callable(params.get("progress")):  # a reporting function is not saved: a flag is
        params["progress"] = True
    config = {
        "format": 1,
        "backend": est.name,
        "class": type(est).__name__,
        "params": {k: jsonable(v) for k, v in params.items()},
        "custom_modules": custom,
        "scale": scaling.scale,
        "space_shape": list(scaling.space_shape),
        "data": info_to_json(info),
        "spectrum": {
            "n_snapshots": int(spec.attrs["n_snapshots"]),
            "t0": float(spec.attrs["t0"]),
        },
        "residual_pairs": None if mats is None else mats.n_pairs,
        "history": est.history_,
        "stopped_early": est.stopped_early_,
    }
    write_json(os.path.join(folder, "config.json"), config)
    stale = os.path.join(folder, "model.pt")  # from an older save into the same folder
    if os.path.isfile(stale):
        os.remove(stale)


def load_estimator(
    cls: Any,
    path: str | os.PathLike[str],
    encoder: nn.Module | None = None,
    decoder: nn.Module | None = None,
    device: str = "cpu",
) -> Any:
    """Read a model written by :func:`save_estimator` into a new ``cls`` instance."""
    path = os.fspath(path)
    cfg_path = os.path.join(path, "config.json")
    if not os.path.isfile(cfg_path):
        raise KoopkitError(f"no saved model in {path!r} (config.json is missing)")
    try:
        with open(cfg_path, encoding="utf-8") as fh:
            config = json.load(fh)
    except (ValueError, UnicodeDecodeError) as err:
        raise KoopkitError(
            f"cannot read {cfg_path} ({' '.join(str(err).split())}): the file is damaged; "
            "save the model again"
        ) from None
    if config.get("class") != cls.__name__:
        raise KoopkitError(f"{path!r} holds a {config.get('class')}, not a {cls.__name__}")
    tensor_path = next(
        (
            os.path.join(path, "model" + e)
            for e in (".safetensors", ".pt")
            if os.path.isfile(os.path.join(path, "model" + e))
        ),
        None,
    )
    if tensor_path is None:
        raise KoopkitError(f"no model tensors in {path!r} (model.safetensors is missing)")
    if tensor_path.endswith(".safetensors"):
        tensors = {k: torch.from_numpy(v) for k, v in read_safetensors(tensor_path).items()}
    else:  # folders saved before koopkit wrote safetensors itself
        tensors = read_tensors(tensor_path)
    params = dict(config["params"])
    for key, module in (("encoder", encoder), ("decoder", decoder)):
        if key in config.get("custom_modules", []):
            if module is None:
                raise KoopkitError(
                    f"the model was saved with a custom {key}: pass {key}=<the same "
                    "architecture> to load()"
                )
            params[key] = module
    if params.get("encoder") == "vision":  # the weights come from the file
        opts = dict(params.get("encoder_options") or {})
        opts.update(pretrained=False, segmentation_pretrained=False)
        params["encoder_options"] = opts
    params["betas"] = tuple(params["betas"])
    params["hidden"] = tuple(params["hidden"])
    params["device"] = device
    params["resume"] = False
    obj = cls(**params)
    info = info_from_json(config["data"], tensors["data/times"].numpy())
    root = tensors.get("norm/root_weights")
    obj.scaling_ = FrameScaling(
        tensors["norm/mean"].numpy(),
        float(config["scale"]),
        tuple(config["space_shape"]),
        info.space_dims,
        None if root is None else root.double().numpy(),
    )
    obj._device_ = obj._device()
    model = obj._build(obj.scaling_.frame_shape, info.dt)
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model/")})
    obj.model_ = model.to(obj._device_).eval()
    obj._latents = tensors["state/latents"].numpy()
    obj._data_info = info
    obj.n_features_in_ = int(np.prod(obj.scaling_.space_shape))
    if "residual/G" in tensors:  # absent in models saved before residuals were measured
        obj.residual_matrices_ = ResidualMatrices(
            *(tensors[f"residual/{k}"].numpy() for k in ("G", "A", "L")),
            n_pairs=int(config["residual_pairs"]),
            factor=tensors["residual/factor"].numpy() if "residual/factor" in tensors else None,
        )
    obj.history_ = config["history"]
    obj.train_losses_ = obj.history_["train"]
    obj.val_losses_ = obj.history_["val"]
    obj.stopped_early_ = config.get("stopped_early", False)
    obj.resumed_from_ = 0
    obj.data_reads_ = None
    lam = complex_array(tensors["spectrum/eigenvalues"])
    modes_da = modes_dataarray(complex_array(tensors["spectrum/modes"]), info)
    obj.spectrum_ = KoopmanSpectrum(
        lam,
        complex_array(tensors["spectrum/amplitudes"]),
        modes_da,
        dt=info.dt,
        time_units=info.time_units,
        n_snapshots=config["spectrum"]["n_snapshots"],
        t0=config["spectrum"]["t0"],
        backend=cls.name,
        params=config["params"],
        extras=(
            {"residuals": tensors["spectrum/residuals"].numpy()}
            if "spectrum/residuals" in tensors
            else None
        ),
    )
    return obj


def jsonable(value: Any) -> Any:
    if isinstance(value, nn.Module):
        return f"<{type(value).__name__}>"
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (np.generic,)):
        return value.item()
    try:
        json.dumps(value)
    except TypeError:
        return repr(value)
    return value


def complex_tensor(values: np.ndarray) -> torch.Tensor:
    v = np.asarray(values, dtype=complex)
    return torch.from_numpy(np.ascontiguousarray(np.stack([v.real, v.imag], axis=-1)))


def complex_array(tensor: torch.Tensor) -> np.ndarray:
    v = tensor.numpy()
    return v[..., 0] + 1j * v[..., 1]


def info_to_json(info: Snapshots) -> dict[str, Any]:
    coords = {}
    for name, coord in info.template.coords.items():
        values = np.asarray(coord.values)
        if values.dtype.kind not in "biufUS":
            continue
        coords[str(name)] = {
            "dims": list(coord.dims),
            "values": values.tolist(),
            "attrs": jsonable(dict(coord.attrs)),
        }
    return {
        "dt": info.dt,
        "time_units": info.time_units,
        "dims": list(info.space_dims),
        "shape": list(info.space_shape),
        "dtype": str(info.matrix.dtype),
        "coords": coords,
        "name": info.name,
        "attrs": jsonable(info.attrs),
        "time_attrs": jsonable(info.time_attrs),
    }


def info_from_json(data: dict[str, Any], times: np.ndarray) -> Snapshots:
    dims = tuple(data["dims"])
    shape = tuple(data["shape"])
    dtype = np.dtype(data["dtype"])
    coords = {
        name: xr.Variable(tuple(c["dims"]), np.asarray(c["values"]), attrs=c["attrs"])
        for name, c in data["coords"].items()
    }
    template = xr.DataArray(
        np.zeros(shape, dtype=dtype), dims=dims, coords=coords, name=data["name"]
    )
    matrix = np.zeros((0, int(np.prod(shape))), dtype=dtype)
    return Snapshots(
        matrix,
        np.asarray(times, dtype=float),
        float(data["dt"]),
        data["time_units"],
        template,
        data["name"],
        dict(data["attrs"]),
        dict(data["time_attrs"]),
    )

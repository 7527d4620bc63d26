"""Saved models: one netCDF4 file per fitted estimator, written and read without pickle.

:meth:`KoopmanEstimator.save <koopkit.backends.base.KoopmanEstimator.save>` calls
:func:`save_model`; :func:`koopkit.load_model` is :func:`load_model`. The file holds

* root attributes ``koopkit_model`` (the format version), ``backend`` (the registry name,
  so :func:`koopkit.backends.get_class` rebuilds the class) and ``koopkit_version``;
* a scalar string variable ``model``: JSON describing the constructor arguments and the
  fitted attributes, in which every array is a reference ``{"$array": name, ...}`` to a
  variable of the file;
* one variable per array (complex arrays as ``<name>.real`` and ``<name>.imag``, each with
  its dtype in ``koopkit_dtype`` and a Fletcher-32 checksum).

What a fitted attribute may be: numbers, strings, None, NumPy arrays and scalars (dask
arrays are computed, all in one pass), lists, tuples, sets and dicts of those,
:class:`~koopkit._validation.Snapshots` (labels and times only: the data matrix is not
saved), :class:`~koopkit.backends.base.LinearForecast`,
:class:`~koopkit.spectrum.KoopmanSpectrum` (modes that are the forecast's newest block
are stored once), :class:`~koopkit.backends._linalg.ResidualMatrices`, xarray DataArrays
and :class:`~koopkit.observables.Observable` objects (their class, parameters and
:meth:`~koopkit.observables.Observable.get_state`). A backend whose state holds anything
else overrides the hooks ``_saved``/``_restored`` or ``save``/``load`` (the autoencoder
writes a folder with its network in safetensors).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import xarray as xr

from koopkit._errors import KoopkitError, one_line
from koopkit.backends._model_file import JSON_VAR, ModelReader, ModelWriter, variable_encoding
from koopkit.backends.base import KoopmanEstimator

#: Version of the file layout; a file from a newer koopkit is refused with a hint.
FORMAT_VERSION = 1
#: The root attribute that marks a saved model (its value is the format version).
MARKER = "koopkit_model"
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"

__all__ = ["FORMAT_VERSION", "MARKER", "load_model", "save_model"]


# ------------------------------------------------------------------------ public
def save_model(model: KoopmanEstimator, path: str | os.PathLike[str]) -> None:
    """Write a fitted estimator to a netCDF4 file, atomically and without pickle.

    Parameters
    ----------
    model : KoopmanEstimator
        A fitted estimator whose state this module can write (every linear backend).
    path : str or os.PathLike
        The file to create or replace; its directory must exist.

    Examples
    --------
    >>> import numpy as np, os, tempfile, koopkit
    >>> t = np.arange(40) * 0.1
    >>> model = koopkit.DMD(rank=2).fit(np.stack([np.cos(t), np.sin(t)], 1), dt=0.1)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.nc")
    >>> save_model(model, path)
    >>> bool((load_model(path).predict(steps=3) == model.predict(steps=3)).all())
    True
    """
    from koopkit.io import atomic_path

    target = Path(path)
    if target.is_dir():
        raise KoopkitError(f"cannot write {target}: it is a directory: pass a file path")
    if not target.parent.is_dir():
        raise KoopkitError(
            f"cannot write {target}: directory {target.parent} does not exist: create it"
        )
    model._check_fitted()
    params, state = model._saved()
    writer = ModelWriter()
    tree = {
        "format": FORMAT_VERSION,
        "backend": model.name,
        "class": f"{type(model).__module__}:{type(model).__qualname__}",
        "params": writer.encode(params, "params"),
        "state": writer.encode(state, "state"),
    }
    writer.materialize()
    ds = writer.dataset(json.dumps(tree, sort_keys=True))
    ds.attrs.update(
        {
            MARKER: FORMAT_VERSION,
            "backend": model.name,
            "koopkit_version": _version(),
            "title": f"koopkit model ({model.name})",
            "comment": "load with koopkit.load_model(path)",
        }
    )
    encoding = {name: variable_encoding(var) for name, var in ds.variables.items()}
    with atomic_path(target) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf", encoding=encoding)


def load_model(path: str | os.PathLike[str]) -> KoopmanEstimator:
    """Read a model written by ``model.save(path)``: ``predict`` gives the same numbers.

    A netCDF file (linear backends) or a folder (the autoencoder: ``config.json`` and
    ``model.safetensors``). The estimator's class comes from its registry name, so a
    backend registered by your own code must be registered (imported) first.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    KoopmanEstimator
        The fitted estimator: ``predict``, ``reconstruct``, ``spectrum_`` and (where the
        backend measures residuals) ``residual_matrices_`` as before saving. The data
        matrix is not saved, so what needs the data (a refit) needs them again.

    Examples
    --------
    >>> import numpy as np, os, tempfile, koopkit
    >>> t = np.arange(40) * 0.1
    >>> model = koopkit.ExactDMD(rank=2).fit(np.stack([np.cos(t), np.sin(t)], 1), dt=0.1)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.nc")
    >>> model.save(path)
    >>> koopkit.load_model(path).spectrum_.backend
    'exact_dmd'
    """
    from koopkit import backends

    source = Path(path)
    if not source.exists():
        raise KoopkitError(f"no saved model at {source}: check the path (model.save writes one)")
    if source.is_dir():
        return _load_folder(source)
    with open(source, "rb") as fh:
        head = fh.read(8)
    if head != _HDF5_SIGNATURE:
        raise KoopkitError(
            f"{source} is not a saved koopkit model (not a netCDF4 file): save one with "
            "model.save(path) or koopkit fit ... --save-model"
        )
    try:
        with xr.open_dataset(source, engine="h5netcdf", decode_cf=False) as handle:
            ds = handle.load()
    except Exception as err:  # h5py/h5netcdf raise many kinds on damaged files
        raise KoopkitError(
            f"cannot read {source} ({one_line(err)}): the file is damaged or truncated; "
            "save the model again"
        ) from None
    if MARKER not in ds.attrs or JSON_VAR not in ds.variables:
        from koopkit.io import join_complex

        what = (
            "a koopkit spectrum, not a model"
            if "eigenvalues" in join_complex(ds).variables
            else "not a saved koopkit model (another program's netCDF file?)"
        )
        raise KoopkitError(
            f"{source} is {what}: save a model with model.save(path) or koopkit fit ... "
            "--save-model"
        )
    version = int(np.asarray(ds.attrs[MARKER]).ravel()[0])
    if version > FORMAT_VERSION:
        raise KoopkitError(
            f"{source} was written by a newer koopkit (model format {version}, this one "
            f"reads up to {FORMAT_VERSION}): upgrade koopkit"
        )
    try:
        tree = json.loads(str(np.asarray(ds[JSON_VAR].values).item()))
        name = tree["backend"]
    except (ValueError, KeyError, TypeError) as err:
        raise KoopkitError(
            f"cannot read {source}: its model description is damaged ({one_line(err)}); "
            "save the model again"
        ) from None
    try:
        cls = backends.get_class(name)
    except KoopkitError:
        raise KoopkitError(
            f"{source} holds a model of the backend {name!r}, which is not registered here: "
            "import the module that registers it, then load the model"
        ) from None
    reader = ModelReader(ds, source)
    try:
        params = reader.decode(tree["params"])
        state = reader.decode(tree["state"])
    except KoopkitError:
        raise
    except (ValueError, KeyError, TypeError, IndexError) as err:
        raise KoopkitError(
            f"cannot read {source}: its contents are damaged ({one_line(err)}); save the "
            "model again"
        ) from None
    return cls._restored(params, state)


def _load_folder(source: Path) -> KoopmanEstimator:
    """A model saved as a folder (the autoencoder): ``config.json`` names its backend."""
    from koopkit import backends

    config_path = source / "config.json"
    if not config_path.is_file():
        raise KoopkitError(
            f"{source} is a folder without config.json: not a saved koopkit model; pass "
            "the file (or the autoencoder's folder) that model.save wrote"
        )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        name = config.get("backend") or {"KoopmanAutoencoder": "autoencoder"}[config["class"]]
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise KoopkitError(
            f"cannot read {config_path} ({one_line(err)}): the file is damaged; save the "
            "model again"
        ) from None
    try:
        return backends.get_class(name).load(source)
    except (KeyError, ValueError, TypeError, RuntimeError) as err:  # a damaged folder
        raise KoopkitError(
            f"cannot read the model in {source} ({one_line(err)}): its files are damaged "
            "or do not belong together; save the model again"
        ) from None


def _version() -> str:
    from koopkit import __version__

    return __version__

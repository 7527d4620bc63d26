"""The netCDF layout of a saved model: a JSON tree plus one variable per array.

:class:`ModelWriter` turns a model's parameters and fitted state into a JSON tree in which
every array is a reference ``{"$array": name, ...}``, and the arrays into netCDF variables
(complex split into ``.real``/``.imag``, other dtypes netCDF4 lacks stored as their bits,
each with its dtype in ``koopkit_dtype``); :class:`ModelReader` is its inverse.
:mod:`koopkit.backends.saving` wraps both in ``save_model``/``load_model``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from koopkit._errors import KoopkitError
from koopkit._validation import Clock, Snapshots, is_lazy
from koopkit.backends._linalg import ResidualMatrices
from koopkit.backends.base import LinearForecast
from koopkit.observables import Observable
from koopkit.spectrum import MODE, KoopmanSpectrum

#: The scalar string variable that holds the JSON tree.
JSON_VAR = "model"
#: Attribute of each stored array: its original dtype.
DTYPE_ATTR = "koopkit_dtype"
#: Attribute of an array stored in its memory order: the axes to transpose back.
AXES_ATTR = "koopkit_axes"
#: Largest chunk of a stored array (HDF5 chunks must stay below 4 GiB).
_CHUNK_BYTES = 64 * 2**20
#: Dtypes netCDF4 stores as they are.
_PLAIN = {np.dtype(t) for t in ("i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f4", "f8")}

__all__ = ["AXES_ATTR", "DTYPE_ATTR", "JSON_VAR", "ModelReader", "ModelWriter", "variable_encoding"]


# ------------------------------------------------------------------------ writing
class ModelWriter:
    """Turns Python objects into a JSON tree plus named arrays.

    ``encode`` each part of the tree, ``materialize`` (computes dask arrays in one pass),
    then ``dataset(json_text)`` is the file's content.

    Examples
    --------
    >>> import json, numpy as np
    >>> from pathlib import Path
    >>> writer = ModelWriter()
    >>> tree = writer.encode({"w": np.arange(3.0) + 1j}, "state")
    >>> writer.materialize()
    >>> ds = writer.dataset(json.dumps(tree))
    >>> sorted(ds.data_vars)
    ['model', 'w.imag', 'w.real']
    >>> ModelReader(ds, Path("memory")).decode(tree)["w"]
    array([0.+1.j, 1.+1.j, 2.+1.j])
    """

    def __init__(self) -> None:
        self.arrays: dict[str, Any] = {}
        self.nodes: dict[str, dict[str, Any]] = {}
        self.spectrum_modes: list[str] = []
        self.linear_modes: list[str] = []

    def array(self, value: Any, path: str) -> dict[str, Any]:
        arr = value if is_lazy(value) else np.asarray(value)
        if arr.dtype.kind == "O" and all(isinstance(v, str) for v in arr.ravel().tolist()):
            pass  # strings held as objects (as xarray reads them from netCDF)
        elif arr.dtype.kind not in "biufcmMU":
            raise KoopkitError(
                f"cannot save {path}: arrays of dtype {arr.dtype} cannot be written without "
                "pickle; keep numbers or strings in fitted attributes"
            )
        node: dict[str, Any] = {"$array": None, "dtype": arr.dtype.str, "shape": list(arr.shape)}
        if arr.size:
            name = re.sub(r"[^A-Za-z0-9_.]", "_", path.removeprefix("state.")).strip(".")
            name = name or "array"
            base, i = name, 1
            while name in self.arrays or name == JSON_VAR:
                name, i = f"{base}.{i}", i + 1
            self.arrays[name] = arr
            self.nodes[name] = node
            node["$array"] = name
        return node

    def encode(self, value: Any, path: str) -> Any:
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, np.generic):
            return int(value) if isinstance(value, int) else float(value)
        if isinstance(value, complex):
            return {"$complex": [value.real, value.imag]}
        if isinstance(value, bytes):
            return {"$bytes": value.decode("latin-1")}
        if isinstance(value, np.generic):
            if value.dtype.kind in "biuf":
                return {"$scalar": value.dtype.str, "value": value.item()}
            if value.dtype.kind == "c":
                return {"$scalar": value.dtype.str, "value": [value.real.item(), value.imag.item()]}
            return {"$array0": self.array(np.asarray(value), path)}
        if isinstance(value, np.dtype):
            return {"$dtype": value.str}
        if isinstance(value, np.ndarray) or is_lazy(value):
            return self.array(value, path)
        if isinstance(value, (list, tuple, set, frozenset)):
            kind = "$list" if isinstance(value, list) else "$tuple"
            kind = "$set" if isinstance(value, (set, frozenset)) else kind
            return {kind: [self.encode(v, f"{path}.{i}") for i, v in enumerate(value)]}
        if isinstance(value, dict):
            return {
                "$dict": [
                    [self.encode(k, f"{path}.key"), self.encode(v, f"{path}.{k}")]
                    for k, v in value.items()
                ]
            }
        if isinstance(value, slice):
            return {"$slice": [self.encode(v, path) for v in (value.start, value.stop, value.step)]}
        if isinstance(value, LinearForecast):
            fields = {
                f.name: self.encode(getattr(value, f.name), f"{path}.{f.name}")
                for f in dataclasses.fields(value)
            }
            if fields["modes"].get("$array"):
                self.linear_modes.append(fields["modes"]["$array"])
            return {"$linear_forecast": fields}
        if isinstance(value, KoopmanSpectrum):
            return {"$spectrum": self._spectrum(value, path)}
        if isinstance(value, Snapshots):
            return {"$snapshots": self._snapshots(value, path)}
        if isinstance(value, Clock):
            return {
                "$clock": {
                    f.name: self.encode(getattr(value, f.name), f"{path}.{f.name}")
                    for f in dataclasses.fields(value)
                }
            }
        if isinstance(value, ResidualMatrices):
            keys = {"G": value.G, "A": value.A, "L": value.L, "factor": value.factor}
            out = {k: self.encode(v, f"{path}.{k}") for k, v in keys.items()}
            return {"$residual_matrices": {**out, "n_pairs": value.n_pairs}}
        if isinstance(value, xr.DataArray):
            return {"$dataarray": self._dataarray(value, path)}
        if isinstance(value, Observable):
            cls = type(value)
            state = value.get_state()  # first: an Encoder refuses with its own message
            return {  # the parameters unfitted: what was fitted is in the state
                "$observable": f"{cls.__module__}:{cls.__qualname__}",
                "params": self.encode(value.clone().get_params(), f"{path}.params"),
                "state": self.encode(state, f"{path}.state"),
            }
        where = path.removeprefix("state.").removeprefix("params.")
        raise KoopkitError(
            f"cannot save the model: {where!r} is a {type(value).__name__}, which koopkit "
            "cannot write without pickle; the backend needs its own save()/load()"
        )

    def _dataarray(self, da: xr.DataArray, path: str, data: bool = True) -> dict[str, Any]:
        coords = [
            [
                self.encode(name, f"{path}.coord"),
                {
                    "dims": list(coord.dims),
                    "data": self.array(coord.data, f"{path}.{name}"),
                    "attrs": self.encode(dict(coord.attrs), f"{path}.{name}.attrs"),
                },
            ]
            for name, coord in da.coords.items()
        ]
        return {
            "data": self.encode(da.data, f"{path}.data") if data else None,
            "dims": list(da.dims),
            "shape": list(da.shape),
            "dtype": da.dtype.str,
            "coords": coords,
            "name": self.encode(da.name, f"{path}.name"),
            "attrs": self.encode(dict(da.attrs), f"{path}.attrs"),
        }

    def _spectrum(self, spec: KoopmanSpectrum, path: str) -> dict[str, Any]:
        from koopkit.io.complex_vars import complex_part

        ds = spec.to_dataset(modes=False)  # attrs: the spectrum's own, nothing derived
        extras = {}
        for name in list(ds.data_vars):
            var = ds[name]
            if var.attrs.get("koopkit_derived") or complex_part(var) is not None:
                continue
            extras[str(name)] = self.encode(var.values, f"{path}.{name}")
        out = {
            "eigenvalues": self.encode(spec.eigenvalues.values, f"{path}.eigenvalues"),
            "amplitudes": self.encode(spec.amplitudes.values, f"{path}.amplitudes"),
            "mode": self.encode(ds[MODE].values, f"{path}.mode"),
            "extras": extras,
            "attrs": self.encode(dict(ds.attrs), f"{path}.attrs"),
            "modes": None,
        }
        if spec.has_modes:
            modes = spec.modes
            node = self._dataarray(modes.drop_vars(MODE), f"{path}.modes")
            out["modes"] = node
            if isinstance(node["data"], dict) and node["data"].get("$array"):
                self.spectrum_modes.append(node["data"]["$array"])
        return out

    def _snapshots(self, info: Snapshots, path: str) -> dict[str, Any]:
        """Every field but the data matrix (only its dtype and row count)."""
        fields = {
            f.name: self.encode(getattr(info, f.name), f"{path}.{f.name}")
            for f in dataclasses.fields(info)
            if f.name not in ("matrix", "frame")
        }
        return {
            "fields": fields,
            "template": self._dataarray(info.template, f"{path}.template", data=False),
            "dtype": np.dtype(info.matrix.dtype).str,
            "n_time": int(info.matrix.shape[0]),
        }

    def materialize(self) -> None:
        """Compute every lazy array in one pass; store spectrum modes once."""
        lazy = [k for k, v in self.arrays.items() if is_lazy(v)]
        if lazy:
            import dask

            values = dask.compute(*(self.arrays[k] for k in lazy))
            for key, value in zip(lazy, values, strict=True):
                self.arrays[key] = np.asarray(value)
        for name in self.spectrum_modes:
            spec = self.arrays[name]
            for source in self.linear_modes:
                full = self.arrays[source]
                if full.ndim != 3 or full.shape[0] != spec.shape[0] or full.dtype != spec.dtype:
                    continue
                newest = full[:, -1, :]
                if newest.size == spec.size and np.array_equal(
                    newest.reshape(spec.shape), spec, equal_nan=True
                ):
                    node = self.nodes[name]
                    node.clear()
                    node.update({"$newest_block": source, "shape": list(spec.shape)})
                    del self.arrays[name]
                    break

    def dataset(self, tree: str) -> xr.Dataset:
        variables: dict[str, xr.Variable] = {
            JSON_VAR: xr.Variable((), np.array(tree, dtype=object))
        }
        for name, arr in self.arrays.items():
            dims = tuple(f"{name}.{i}" for i in range(arr.ndim))
            attrs = {DTYPE_ATTR: arr.dtype.str}
            axes = _memory_axes(arr)
            if axes != sorted(axes):  # stored as laid out in memory (e.g. transposed)
                attrs[AXES_ATTR] = np.array(axes, dtype=np.int32)
                arr = arr.transpose(axes)
                dims = tuple(dims[i] for i in axes)
            for suffix, part in _storable(arr, name):
                variables[name + suffix] = xr.Variable(dims, part, attrs=attrs)
        return xr.Dataset(variables)


def _memory_axes(arr: np.ndarray) -> list[int]:
    """The axes from the largest stride to the smallest: ``arr.transpose(axes)`` is laid
    out row-major. A loaded array gets the same layout back, so BLAS rounds the same way."""
    natural = list(range(arr.ndim))
    if is_lazy(arr) or arr.ndim < 2:
        return natural
    long = [i for i in natural if arr.shape[i] > 1]  # the strides of the others do not count
    order = sorted(long, key=lambda i: -abs(arr.strides[i]))
    return natural if order == long else [i for i in natural if i not in long] + order


def _storable(arr: np.ndarray, name: str) -> list[tuple[str, np.ndarray]]:
    """The variable(s) netCDF4 can hold for ``arr``: complex split, others viewed."""
    dtype = arr.dtype
    if dtype.kind == "c":
        real = np.dtype(f"f{dtype.itemsize // 2}")
        if real not in _PLAIN:
            raise KoopkitError(f"cannot save {name}: complex dtype {dtype} is not supported")
        return [
            (".real", _c_order(arr.real.astype(real, copy=False))),
            (".imag", _c_order(arr.imag.astype(real, copy=False))),
        ]
    if dtype.kind in "UO":
        return [("", arr.astype(object))]
    native = arr.astype(dtype.newbyteorder("="), copy=False)
    if native.dtype in _PLAIN:
        return [("", _c_order(native))]
    # bool, float16, datetimes and durations: their bits as unsigned or signed integers
    view = {1: "u1", 2: "u2", 4: "u4", 8: "i8"}.get(dtype.itemsize)
    if view is None or dtype.kind not in "bfmM":
        raise KoopkitError(f"cannot save {name}: arrays of dtype {dtype} are not supported")
    return [("", _c_order(native).view(view))]


def _c_order(arr: np.ndarray) -> np.ndarray:
    """``arr`` row-major (0-d arrays stay 0-d, unlike ``np.ascontiguousarray``)."""
    return arr if arr.flags.c_contiguous else arr.copy(order="C")


def variable_encoding(var: xr.Variable) -> dict[str, Any]:
    """Per-variable netCDF encoding: no fill value, checksummed chunks where chunked."""
    enc: dict[str, Any] = {}
    if var.dtype.kind == "f":
        enc["_FillValue"] = None
    if var.ndim and var.size and var.dtype.kind != "O":
        chunks = list(var.shape)
        item = var.dtype.itemsize
        for axis in range(var.ndim):  # shrink the leading axes until a chunk fits
            rest = int(np.prod(chunks[axis + 1 :])) * item
            if rest * chunks[axis] <= _CHUNK_BYTES:
                break
            chunks[axis] = max(1, _CHUNK_BYTES // max(rest, 1))
        enc.update(chunksizes=tuple(chunks), fletcher32=True)
    return enc


# ------------------------------------------------------------------------ reading
class ModelReader:
    """The inverse of :class:`ModelWriter` on an opened (loaded) Dataset; ``source``
    names the file in error messages."""

    def __init__(self, ds: xr.Dataset, source: Path) -> None:
        self.ds = ds
        self.source = source
        self.cache: dict[str, np.ndarray] = {}

    def array(self, node: dict[str, Any]) -> np.ndarray:
        dtype = np.dtype(node["dtype"])
        shape = tuple(node["shape"])
        name = node["$array"]
        if name is None:
            return np.zeros(shape, dtype=dtype)
        if name in self.cache:
            return self.cache[name]
        ds = self.ds
        var = ds[name + ".real"] if dtype.kind == "c" else ds[name]
        if dtype.kind == "c":
            real, imag = var.values, ds[name + ".imag"].values
            out = np.empty(real.shape, dtype=dtype)
            out.real, out.imag = real, imag
        elif dtype.kind in "UO":
            out = np.empty(var.shape, dtype=object)
            out[...] = (
                [str(v) for v in np.ravel(var.values).tolist()]
                if var.ndim
                else str(var.values.item())
            )
            out = out.astype(dtype) if dtype.kind == "U" else out
        else:
            raw = np.asarray(var.values)
            if raw.dtype == dtype:
                out = raw
            elif raw.dtype.kind == dtype.kind and raw.dtype.itemsize == dtype.itemsize:
                out = raw.astype(dtype)  # another byte order
            else:  # bool, float16, datetimes: stored as their bits
                out = raw.view(dtype)
        if AXES_ATTR in var.attrs:  # back to the original axes (and memory layout)
            out = out.transpose(np.argsort(np.asarray(var.attrs[AXES_ATTR]).ravel()))
        if out.shape != shape:
            raise KoopkitError(
                f"cannot read {self.source}: the array {name} has shape {out.shape}, not "
                f"{shape}; the file is damaged: save the model again"
            )
        self.cache[name] = out
        return out

    def decode(self, node: Any) -> Any:
        if not isinstance(node, dict):
            if isinstance(node, list):
                raise ValueError("a bare list in the model description")
            return node
        if "$array" in node:
            return self.array(node)
        (kind,) = [k for k in node if k.startswith("$")] or [None]
        if kind == "$scalar":
            dtype, value = np.dtype(node["$scalar"]), node["value"]
            if dtype.kind == "c":
                out = np.zeros((), dtype=dtype)
                out.real, out.imag = value
                return out[()]
            return dtype.type(value)
        if kind == "$array0":
            return self.array(node["$array0"])[()]
        if kind == "$complex":
            return complex(*node["$complex"])
        if kind == "$bytes":
            return node["$bytes"].encode("latin-1")
        if kind == "$dtype":
            return np.dtype(node["$dtype"])
        if kind == "$list":
            return [self.decode(v) for v in node["$list"]]
        if kind == "$tuple":
            return tuple(self.decode(v) for v in node["$tuple"])
        if kind == "$set":
            return {self.decode(v) for v in node["$set"]}
        if kind == "$dict":
            return {self.decode(k): self.decode(v) for k, v in node["$dict"]}
        if kind == "$slice":
            return slice(*(self.decode(v) for v in node["$slice"]))
        if kind == "$clock":
            return Clock(**{k: self.decode(v) for k, v in node["$clock"].items()})
        if kind == "$newest_block":
            full = self.array(self._array_node(node["$newest_block"]))
            return full[:, -1, :].reshape(node["shape"])
        if kind == "$linear_forecast":
            return LinearForecast(**{k: self.decode(v) for k, v in node[kind].items()})
        if kind == "$residual_matrices":
            d = {k: self.decode(v) for k, v in node[kind].items()}
            return ResidualMatrices(d["G"], d["A"], d["L"], d["n_pairs"], factor=d["factor"])
        if kind == "$spectrum":
            return self._spectrum(node[kind])
        if kind == "$snapshots":
            return self._snapshots(node[kind])
        if kind == "$dataarray":
            return self._dataarray(node[kind])
        if kind == "$observable":
            cls = _observable_class(node["$observable"])
            obj = cls(**self.decode(node["params"]))
            return obj.set_state(self.decode(node["state"]))
        raise ValueError(f"unknown entry {kind!r} in the model description")

    def _array_node(self, name: str) -> dict[str, Any]:
        var = self.ds[name + ".real"] if name + ".real" in self.ds else self.ds[name]
        shape = list(var.shape)
        if AXES_ATTR in var.attrs:
            axes = np.argsort(np.asarray(var.attrs[AXES_ATTR]).ravel())
            shape = [shape[i] for i in axes]
        return {"$array": name, "dtype": var.attrs[DTYPE_ATTR], "shape": shape}

    def _dataarray(self, node: dict[str, Any], data: Any = None) -> xr.DataArray:
        coords = {
            self.decode(name): xr.Variable(
                tuple(c["dims"]), self.decode(c["data"]), attrs=self.decode(c["attrs"])
            )
            for name, c in node["coords"]
        }
        if data is None:
            data = self.decode(node["data"])
        return xr.DataArray(
            data,
            dims=tuple(node["dims"]),
            coords=coords,
            name=self.decode(node["name"]),
            attrs=self.decode(node["attrs"]),
        )

    def _spectrum(self, node: dict[str, Any]) -> KoopmanSpectrum:
        attrs = dict(self.decode(node["attrs"]))
        meta = {k: attrs.pop(k) for k in ("dt", "time_units", "n_snapshots", "t0", "backend")}
        params = json.loads(attrs.pop("params"))
        modes = None if node["modes"] is None else self._dataarray(node["modes"])
        return KoopmanSpectrum(
            self.decode(node["eigenvalues"]),
            self.decode(node["amplitudes"]),
            modes,
            params=params,
            attrs=attrs,
            mode_index=self.decode(node["mode"]),
            extras={k: self.decode(v) for k, v in node["extras"].items()},
            **meta,
        )

    def _snapshots(self, node: dict[str, Any]) -> Snapshots:
        t = node["template"]
        space = tuple(t["shape"])
        template = self._dataarray(t, data=np.zeros(space, dtype=np.dtype(t["dtype"])))
        # the data are not saved: a read-only stand-in of the right shape and dtype
        shape = (int(node["n_time"]), int(np.prod(space)))
        matrix = np.broadcast_to(np.zeros((), dtype=np.dtype(node["dtype"])), shape)
        fields = {k: self.decode(v) for k, v in node["fields"].items()}
        return Snapshots(matrix=matrix, frame=template, **fields)


def _observable_class(qualname: str) -> type:
    """An Observable subclass by ``module:qualname``, among the classes already defined
    (nothing is imported because a file names it)."""
    found: list[type] = []
    stack = [Observable]
    while stack:
        cls = stack.pop()
        if f"{cls.__module__}:{cls.__qualname__}" == qualname:
            found.append(cls)
        stack.extend(cls.__subclasses__())
    if not found:
        module, _, name = qualname.partition(":")
        raise KoopkitError(
            f"the model uses the observable {name} from {module}, which is not defined in "
            "this session: import it before loading the model"
        )
    return found[-1]

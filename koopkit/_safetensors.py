"""The safetensors format in NumPy alone: network weights written and read without pickle.

A safetensors file is an 8-byte little-endian header length ``N``, ``N`` bytes of JSON
naming each tensor's ``dtype`` (``"F32"``, ``"I64"``, ...), ``shape`` and ``data_offsets``
``[begin, end)`` into the byte buffer that follows (optionally ``"__metadata__"``, string
to string), then the buffer: little-endian, C order, tensors back to back. The reference
``safetensors`` package reads what :func:`write_safetensors` writes and the other way round;
it is not needed here.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Any

import numpy as np

from koopkit._errors import KoopkitError

__all__ = ["read_safetensors", "safetensors_metadata", "write_safetensors"]

#: safetensors dtype codes and their NumPy little-endian dtypes.
DTYPES = {
    "BOOL": "|b1",
    "U8": "|u1",
    "I8": "|i1",
    "U16": "<u2",
    "I16": "<i2",
    "F16": "<f2",
    "U32": "<u4",
    "I32": "<i4",
    "F32": "<f4",
    "U64": "<u8",
    "I64": "<i8",
    "F64": "<f8",
}
_CODES = {np.dtype(v): k for k, v in DTYPES.items()}
#: Largest header accepted (as the reference implementation).
MAX_HEADER = 100 * 2**20


def write_safetensors(
    path: str | os.PathLike[str],
    arrays: dict[str, np.ndarray],
    metadata: dict[str, str] | None = None,
) -> None:
    """Write NumPy arrays to a safetensors file, atomically.

    Parameters
    ----------
    path : str or os.PathLike
    arrays : dict
        Name to array (bool, integer or float of 1 to 8 bytes).
    metadata : dict, optional
        Strings stored under ``"__metadata__"``.

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "w.safetensors")
    >>> write_safetensors(p, {"w": np.eye(2, dtype=np.float32)})
    >>> read_safetensors(p)["w"].tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    from koopkit.io import atomic_path

    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    items = []
    for name, value in arrays.items():
        arr = np.asarray(value)
        code = _CODES.get(arr.dtype.newbyteorder("<") if arr.dtype.byteorder != "|" else arr.dtype)
        if code is None or name == "__metadata__":
            what = f"dtype {arr.dtype}" if code is None else "the name __metadata__"
            raise KoopkitError(f"cannot write the tensor {name!r} to safetensors: {what}")
        items.append((name, code, arr.astype(DTYPES[code], order="C", copy=False)))
    # widest dtypes first, so every tensor starts aligned to its item size
    items.sort(key=lambda it: (-it[2].dtype.itemsize, it[0]))
    offset = 0
    for name, code, arr in items:
        header[name] = {
            "dtype": code,
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + arr.nbytes],
        }
        offset += arr.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the buffer starts 8-byte aligned
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(struct.pack("<Q", len(text)))
        fh.write(text)
        for _, _, arr in items:
            fh.write(arr.tobytes())


def read_safetensors(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read every tensor of a safetensors file as a NumPy array (checked, never executed).

    Raises :class:`~koopkit.KoopkitError` with one line for a file that is not safetensors
    or is truncated. The ``__metadata__`` strings come from :func:`safetensors_metadata`.
    """
    arrays, _ = _read(path)
    return arrays


def safetensors_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The ``__metadata__`` strings of a safetensors file ({} when it has none)."""
    return _read(path)[1]


def _read(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    source = os.fspath(path)
    try:
        with open(source, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise KoopkitError(f"no file {source}: check the path") from None

    def bad(reason: str) -> KoopkitError:
        return KoopkitError(f"{source} is not a valid safetensors file ({reason}): write it again")

    if len(raw) < 8:
        raise bad("shorter than its 8-byte header length")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > MAX_HEADER or 8 + n > len(raw):
        raise bad(f"header of {n} bytes in a file of {len(raw)}: truncated?")
    try:
        header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise bad(f"header is not JSON: {err}") from None
    if not isinstance(header, dict):
        raise bad("header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    buffer = memoryview(raw)[8 + n :]
    spans = []
    arrays = {}
    for name, entry in header.items():
        try:
            dtype = np.dtype(DTYPES[entry["dtype"]])
            shape = tuple(int(s) for s in entry["shape"])
            begin, end = (int(v) for v in entry["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise bad(f"tensor {name!r} has an unknown dtype or a malformed entry") from None
        size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if min(shape, default=0) < 0 or begin < 0 or end - begin != size or end > len(buffer):
            raise bad(f"tensor {name!r} does not fit its bytes: truncated?")
        spans.append((begin, end))
        arrays[name] = np.frombuffer(buffer[begin:end], dtype=dtype).reshape(shape).copy()
    position = 0
    for begin, end in sorted(spans):
        if begin != position:
            raise bad("tensors overlap or leave gaps")
        position = end
    if position != len(buffer):
        raise bad(f"{len(buffer) - position} bytes after the last tensor")
    return arrays, {str(k): str(v) for k, v in dict(metadata).items()}

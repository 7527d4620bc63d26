"""Array back ends of the lattice-Boltzmann kernel: the same few operations in numpy or torch.

The kernel in :mod:`.lbm` is written once against this small interface (``matmul``,
``add``, ``multiply``, ``divide`` with ``out=``, ``roll``, ...), so it runs unchanged on
numpy arrays or on torch tensors on any device.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from koopkit._errors import KoopkitError

__all__ = ["BLOCK", "NumpyOps", "TorchOps", "make_ops", "torch_status"]

#: Cells per block in the numpy collision: keeps the temporaries in cache, so the small
#: matrix products run best on one BLAS thread.
BLOCK = 4096


class NumpyOps:
    """The handful of array operations the kernel needs, on numpy arrays.

    Examples
    --------
    >>> ops = NumpyOps(np.float32)
    >>> ops.asarray([1, 2]).dtype, ops.name
    (dtype('float32'), 'numpy')
    """

    name = "numpy"
    block = BLOCK

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = np.dtype(dtype)
        self.device = "cpu"

    def asarray(self, a: Any, dtype: Any = None) -> np.ndarray:
        return np.ascontiguousarray(a, dtype=self.dtype if dtype is None else dtype)

    def index(self, a: Any) -> np.ndarray:
        return np.ascontiguousarray(a, dtype=np.int64)

    def empty(self, shape: tuple[int, ...]) -> np.ndarray:
        return np.empty(shape, dtype=self.dtype)

    def to_numpy(self, a: np.ndarray) -> np.ndarray:
        return np.array(a, copy=True)

    matmul = staticmethod(np.matmul)
    add = staticmethod(np.add)
    multiply = staticmethod(np.multiply)
    divide = staticmethod(np.divide)

    def roll(self, a: np.ndarray, shift: tuple[int, int]) -> np.ndarray:
        return np.roll(a, shift, axis=(0, 1))

    def limits(self) -> contextlib.AbstractContextManager[Any]:
        """Keep BLAS single-threaded: the blocks are too small to share between threads."""
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - blocks of BLOCK cells stay on one thread
            return contextlib.nullcontext()
        return threadpool_limits(1, user_api="blas")


class TorchOps:
    """The same operations on torch tensors (any device), one kernel launch per operation."""

    name = "torch"
    block = 0  # whole arrays: one kernel launch per operation

    def __init__(self, dtype: np.dtype, device: str) -> None:
        import torch

        self.torch = torch
        self.dtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[
            np.dtype(dtype)
        ]
        self.device = device

    def asarray(self, a: Any, dtype: Any = None) -> Any:
        t = self.torch.as_tensor(np.asarray(a), device=self.device)
        return t.to(self.dtype if dtype is None else dtype).contiguous()

    def index(self, a: Any) -> Any:
        return self.torch.as_tensor(np.asarray(a, dtype=np.int64), device=self.device)

    def empty(self, shape: tuple[int, ...]) -> Any:
        return self.torch.empty(shape, dtype=self.dtype, device=self.device)

    def to_numpy(self, a: Any) -> np.ndarray:
        return a.detach().cpu().numpy().copy()

    def matmul(self, a: Any, b: Any, out: Any) -> Any:
        return self.torch.matmul(a, b, out=out)

    def add(self, a: Any, b: Any, out: Any) -> Any:
        return self.torch.add(a, b, out=out)

    def multiply(self, a: Any, b: Any, out: Any) -> Any:
        return self.torch.mul(a, b, out=out)

    def divide(self, a: Any, b: Any, out: Any) -> Any:
        if not self.torch.is_tensor(a):
            return self.torch.reciprocal(b, out=out).mul_(a)
        return self.torch.div(a, b, out=out)

    def roll(self, a: Any, shift: tuple[int, int]) -> Any:
        return self.torch.roll(a, shifts=shift, dims=(0, 1))

    def limits(self) -> contextlib.AbstractContextManager[Any]:
        return self.torch.no_grad()


def torch_status() -> tuple[bool, bool]:
    """(torch importable, CUDA available); a broken install counts as none."""
    try:
        import torch
    except Exception:  # noqa: BLE001 - a broken install is as good as none
        return False, False
    try:
        return True, bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001
        return True, False


def make_ops(backend: str, dtype: np.dtype, device: str | None) -> NumpyOps | TorchOps:
    """The back end named by ``backend`` ("numpy", "torch" or "auto").

    "auto" takes torch only where it can run on an accelerator (CUDA, or an explicit
    non-CPU ``device``), numpy otherwise; "torch" without torch raises with the install fix.

    Examples
    --------
    >>> make_ops("numpy", np.dtype(np.float64), None).name
    'numpy'
    """
    if backend == "numpy":
        return NumpyOps(dtype)
    has_torch, has_cuda = torch_status()
    if backend == "auto":
        if has_torch and (has_cuda or (device is not None and device != "cpu")):
            return TorchOps(dtype, device or "cuda")
        return NumpyOps(dtype)
    if not has_torch:
        raise KoopkitError(
            "backend='torch' needs PyTorch, which is not importable: "
            "pip install 'koopkit[torch]' or use backend='numpy'"
        )
    return TorchOps(dtype, device or ("cuda" if has_cuda else "cpu"))

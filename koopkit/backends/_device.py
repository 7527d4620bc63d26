"""Where the heavy products of the linear backends run: NumPy, or torch on a device.

The Gram solver's cost is two products over the data, the snapshots' Gram ``D^* D^T``
and the modes' lift ``C^T D``; everything else is small. With a torch device those two
run in torch (the data are moved to the device once) and come back as NumPy arrays, so the
rest of the fit, its results and its numbers are the same.

``device`` values (the estimators' ``device=`` parameter):

* ``"auto"`` (default) -- torch on CUDA when torch is installed and a GPU is visible,
  else NumPy (on Linux without a GPU driver torch is not even imported: see
  :func:`gpu_possible`);
* ``"cpu"`` -- NumPy;
* ``"cuda"``, ``"cuda:1"``, ... -- torch on that device (an error if there is none);
* ``"torch:cpu"`` -- torch on the CPU: the same path as a GPU's, for tests and for
  machines where torch's BLAS is the faster one.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any

import numpy as np

from koopkit._errors import KoopkitError


def resolve(device: Any) -> Any:
    """A torch device for the heavy products, or None for NumPy."""
    if device is None or device == "cpu":
        return None
    if not isinstance(device, str):
        raise KoopkitError(f"device={device!r} must be a string: 'auto', 'cpu', 'cuda', ...")
    if device == "auto" and not gpu_possible():
        return None  # no GPU driver: torch is not even imported
    try:
        import torch
    except ImportError:
        if device == "auto":
            return None
        raise KoopkitError(
            f"device={device!r} needs torch: install the torch extra (pip install "
            "'koopkit[torch]') or use device='cpu'"
        ) from None
    if device == "auto":
        return torch.device("cuda") if _cuda_visible() else None
    name = "cpu" if device == "torch:cpu" else device
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise KoopkitError(
            f"device={device!r} is not a device: use 'auto', 'cpu', 'cuda', 'cuda:N' or 'torch:cpu'"
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise KoopkitError(f"device={device!r}: no CUDA GPU is visible; use 'auto' or 'cpu'")
    return dev


#: Device files of the GPU drivers torch's CUDA (and ROCm) builds use, on Linux.
_GPU_DRIVER_FILES = ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/kfd", "/dev/dxg")


def gpu_possible() -> bool:
    """Whether ``device="auto"`` has to ask torch for a GPU: False on Linux when no GPU
    driver is present (no NVIDIA or AMD device file, or ``CUDA_VISIBLE_DEVICES`` empty),
    answered without importing torch -- an import that costs about a second and 350 MB
    of resident memory, which a CPU-only fit (out of core above all) should not pay.
    True wherever torch is already imported (asking it is then free) and on other
    platforms (where torch is asked)."""
    return "torch" in sys.modules or gpu_driver_present()


def gpu_driver_present() -> bool:
    """Whether a GPU driver torch could use may be present (always True off Linux)."""
    if not sys.platform.startswith("linux"):
        return True
    if os.environ.get("CUDA_VISIBLE_DEVICES") in ("", "-1"):
        return False
    return any(os.path.exists(path) for path in _GPU_DRIVER_FILES)


@functools.lru_cache(maxsize=1)
def _cuda_visible() -> bool:
    """Whether torch sees a CUDA GPU (asked once per process: the answer does not change)."""
    import torch

    return bool(torch.cuda.is_available())


def to_device(array: np.ndarray, device: Any) -> Any:
    """``array`` as a torch tensor on ``device`` (no copy on the CPU)."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(array)).to(device)


def row_gram(data: Any) -> np.ndarray:
    """``D^* D^T`` (entry ``(i, j) = d_i^H d_j``) of a tensor's rows, in double precision."""
    out = (data.conj() @ data.T).cpu().numpy()
    return out.astype(np.complex128 if np.iscomplexobj(out) else np.float64)


def matmul(small: np.ndarray, data: Any) -> np.ndarray:
    """``small @ data`` with the big operand already on the device; NumPy result.

    A complex ``small`` with real ``data`` runs as one real product of its stacked real and
    imaginary parts (``data`` is streamed once, and stays in its precision).
    """
    import torch

    if np.iscomplexobj(small) and not data.is_complex():
        r = small.shape[0]
        both = np.concatenate([small.real, small.imag])
        out = matmul(both, data)
        return out[:r] + 1j * out[r:]
    left = torch.from_numpy(np.ascontiguousarray(small)).to(data.device, dtype=data.dtype)
    return (left @ data).cpu().numpy()

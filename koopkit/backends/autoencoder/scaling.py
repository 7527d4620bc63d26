"""How the autoencoder sees the data: rows in the data's units to normalised frames and back.

Training, encoding, decoding and the DMD start all pass through one :class:`FrameScaling`:
rows ``(T, features)`` become float32 frames ``sqrt(w) (x - mean) / scale`` laid out as
``(T, n)`` or ``(T, C, H, W)``, with the per-feature mean and one scalar scale (with
weights, the weighted RMS, so the losses are weighted mean squared errors).
:meth:`FrameScaling.from_frames` undoes it, so outputs are in the data's units. A saved
model keeps ``mean``, ``scale`` and ``root_weights``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from koopkit._errors import KoopkitError
from koopkit._validation import Snapshots, is_lazy
from koopkit.backends.autoencoder.data import (
    FrameSource,
    LazyFrames,
    TensorFrames,
    frame_layout,
    streaming_stats,
)

__all__ = ["FrameScaling"]


@dataclass
class FrameScaling:
    """The normalisation and frame layout of a fitted autoencoder.

    Parameters
    ----------
    mean : ndarray, shape (features,)
        Per-feature mean, in the data's feature order.
    scale : float
        One scalar: the (weighted) RMS of ``x - mean``.
    space_shape : tuple of int
        A snapshot's shape in the data.
    space_dims : tuple
        Its dims (a dim named like a channel becomes the frames' channel axis).
    root_weights : ndarray, optional
        ``sqrt(w / max(w))`` per feature: the inner-product weights of the fit, or None.

    Attributes
    ----------
    frame_shape, perm : tuple of int
        The frames' shape ``(n,)`` or ``(C, H, W)`` and the axis order from the data's
        (:func:`~koopkit.backends.autoencoder.data.frame_layout`).

    Examples
    --------
    >>> import numpy as np
    >>> s = FrameScaling(np.zeros(6), 2.0, (2, 3), ("y", "x"))
    >>> s.frame_shape, s.to_frames(np.ones((4, 6))).shape
    ((1, 2, 3), (4, 1, 2, 3))
    >>> s.from_frames(s.to_frames(np.ones((4, 6))))[0].tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """

    mean: np.ndarray
    scale: float
    space_shape: tuple[int, ...]
    space_dims: tuple[Any, ...]
    root_weights: np.ndarray | None = None
    frame_shape: tuple[int, ...] = field(init=False)
    perm: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.mean = np.asarray(self.mean, dtype=np.float64)
        self.scale = float(self.scale)
        self.space_shape = tuple(int(s) for s in self.space_shape)
        self.space_dims = tuple(self.space_dims)
        self.frame_shape, self.perm = frame_layout(self.space_shape, self.space_dims)

    @classmethod
    def fit(
        cls, sequences: Sequence[Snapshots], weights: np.ndarray | None = None
    ) -> tuple[FrameScaling, list[list[Any]]]:
        """The scaling of validated sequences, and their fingerprint (for resuming).

        One pass in blocks (in memory or read lazily) gives the statistics, the NaN/Inf
        check and the fingerprint (:func:`~koopkit.backends.autoencoder.data.streaming_stats`).
        ``weights`` (per feature, positive) are divided by their largest, so constant
        weights are exactly 1 and change no bit of the fit.
        """
        ref = sequences[-1]
        root = None if weights is None else np.sqrt(weights / weights.max())
        mean, scale, fingerprint = streaming_stats(
            [s.matrix for s in sequences], None if root is None else root**2
        )
        if not scale > 0:
            raise KoopkitError("the data are constant in time: there are no dynamics to learn")
        return cls(mean, scale, ref.space_shape, ref.space_dims, root), fingerprint

    def to_frames(self, matrix: np.ndarray) -> np.ndarray:
        """Rows ``(T, features)`` in the data's units to normalised float32 frames
        ``(T, *frame_shape)``: ``sqrt(w) (x - mean) / scale``."""
        x = (np.asarray(matrix, dtype=np.float64) - self.mean) / self.scale
        if self.root_weights is not None:
            x = x * self.root_weights
        x = x.reshape(-1, *self.space_shape)
        if len(self.perm) == 3:
            x = x.transpose(0, *(p + 1 for p in self.perm))
        return np.ascontiguousarray(x.reshape(-1, *self.frame_shape), dtype=np.float32)

    def from_frames(self, frames: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`to_frames`: float64 rows ``(T, features)`` in the data's units."""
        x = np.asarray(frames, dtype=np.float64)
        if len(self.perm) == 3:
            x = x.transpose(0, *(p + 1 for p in np.argsort(self.perm)))
        x = x.reshape(x.shape[0], -1)
        if self.root_weights is not None:
            x = x / self.root_weights
        return x * self.scale + self.mean

    def source(self, matrices: Sequence[Any]) -> FrameSource:
        """Normalised frames of ``(time, feature)`` matrices: tensors in memory, or read
        lazily when any matrix is a dask array."""
        if any(is_lazy(m) for m in matrices):
            return LazyFrames(
                matrices, self.to_frames, self.mean, self.scale, self.frame_shape, self.root_weights
            )
        return TensorFrames([torch.from_numpy(self.to_frames(m)) for m in matrices])

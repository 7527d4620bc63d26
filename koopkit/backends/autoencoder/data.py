"""Where training frames come from: tensors in memory, or a dask array read lazily.

:func:`make_windows` says which windows of frames train and which validate. Training
(:func:`~koopkit.backends.autoencoder.train.train`), its validation and the estimator's
encoding and DMD initialisation ask a :class:`FrameSource` for normalised frames
``(time, *frame_shape)`` (float32, laid out by
:class:`~koopkit.backends.autoencoder.scaling.FrameScaling`):

* :class:`TensorFrames` holds them as tensors (the series fits in memory); its gathers are
  the tensor indexing the trainer always did, so in-memory fits are unchanged;
* :class:`LazyFrames` wraps the dask-backed ``(time, feature)`` matrices of data opened
  with ``chunks=`` (e.g. ``xr.open_dataset(path, engine="h5netcdf", chunks={"time": 64})``)
  and reads only what each request needs: a batch of windows reads the time slices of its
  windows (sorted, merged into contiguous runs, in one ``dask.compute``), normalises them
  and lays them out as frames. Under DDP each rank gathers only its own share of the
  global batch, so it reads only those frames.

The whole-series passes (normalisation statistics with the NaN/Inf check and the data
fingerprint in one pass, the DMD initialisation, encoding every frame) stream the matrices
in blocks of about :data:`BLOCK_BYTES`. The DMD initialisation hands the DMD backend a
dask array whose chunks already span the training frames of a range of features (its Gram
pass then needs no rechunking, which would hold many frames at once); each chunk is read in
time blocks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

from koopkit._errors import KoopkitError
from koopkit._validation import check_finite, is_lazy

__all__ = [
    "BLOCK_BYTES",
    "BATCH_BYTES",
    "FrameSource",
    "LazyFrames",
    "TensorFrames",
    "as_source",
    "CHANNEL_NAMES",
    "block_ranges",
    "frame_layout",
    "make_windows",
    "streaming_stats",
]

#: Bytes of raw data per block of the streaming passes (statistics, fingerprint, DMD slabs).
BLOCK_BYTES = 16 * 2**20
#: Bytes of input frames per validation or encoding batch of lazily read data (the
#: network's activations on such a batch are several times larger).
BATCH_BYTES = 16 * 2**20


def block_ranges(n_rows: int, row_bytes: int, budget: int | None = None) -> list[tuple[int, int]]:
    """``[start, stop)`` ranges of rows, each holding at most ``budget`` bytes (one row at least).

    Examples
    --------
    >>> block_ranges(10, 4, budget=12)
    [(0, 3), (3, 6), (6, 9), (9, 10)]
    """
    budget = BLOCK_BYTES if budget is None else budget
    step = max(1, int(budget) // max(1, int(row_bytes)))
    return [(a, min(n_rows, a + step)) for a in range(0, n_rows, step)]


def _row_bytes(matrix: Any) -> int:
    return int(matrix.shape[1]) * np.dtype(matrix.dtype).itemsize


def read_rows(matrix: Any, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of a NumPy or dask matrix as a NumPy array."""
    part = matrix[start:stop]
    return np.asarray(part.compute() if is_lazy(part) else part)


def _read_runs(parts: list[tuple[Any, int, int]]) -> list[np.ndarray]:
    """Several row ranges ``(matrix, start, stop)``, the lazy ones read in one compute."""
    out: list[Any] = [m[a:b] for m, a, b in parts]
    lazy = [i for i, p in enumerate(out) if is_lazy(p)]
    if lazy:
        import dask

        for i, value in zip(lazy, dask.compute(*[out[i] for i in lazy]), strict=True):
            out[i] = value
    return [np.asarray(p) for p in out]


def _stream(matrix: Any) -> Iterator[tuple[int, np.ndarray]]:
    """``(start, rows)`` blocks of ``matrix`` in order."""
    for a, b in block_ranges(int(matrix.shape[0]), _row_bytes(matrix)):
        yield a, read_rows(matrix, a, b)


def streaming_stats(
    matrices: Sequence[Any], weights: np.ndarray | None = None
) -> tuple[np.ndarray, float, list[list[Any]]]:
    """Per-feature mean, global RMS scale and fingerprint of the rows of all ``matrices``.

    One pass in blocks over NumPy or dask matrices (in-memory and lazily read data take the
    same path). The fingerprint, for resuming from a checkpoint, is each matrix's
    ``[shape, sum, sum of |x|]`` in float64. The mean is
    ``np.concatenate(matrices).astype(float64).mean(axis=0)`` to the bit (rows are summed
    in order, as NumPy sums along axis 0); the scale,
    ``sqrt(mean((x - mean)**2))``, combines per-block centred sums (Chan et al.), equal to
    the in-memory value to float64 round-off. With per-feature ``weights`` the scale is
    the weighted RMS ``sqrt(mean(w (x - mean)**2))`` (the RMS of ``sqrt(w) (x - mean)``).
    Raises the one-line NaN/Inf error of :func:`koopkit._validation.check_finite`, naming
    the sequence when there are several.
    """
    n_feat = int(matrices[0].shape[1])
    total = np.zeros(n_feat)
    mean_run = np.zeros(n_feat)
    m2 = np.zeros(n_feat)
    count = 0
    signatures = []
    for k, matrix in enumerate(matrices):
        raw_sum = raw_abs = 0.0
        for start, rows in _stream(matrix):
            block = np.empty((rows.shape[0] + 1, n_feat))
            block[1:] = rows
            with np.errstate(over="ignore", invalid="ignore"):
                finite = bool(np.isfinite(block[1:].sum()))
            if not finite:
                try:
                    check_finite(block[1:], offset=start)
                except KoopkitError as exc:
                    if len(matrices) == 1:
                        raise
                    raise KoopkitError(f"sequence {k}: {exc}") from None
            block[0] = total
            total = block.sum(axis=0)  # ((total + r0) + r1) + ...: NumPy's own order
            rows64 = block[1:]
            raw_sum += float(rows64.sum())
            raw_abs += float(np.abs(rows64).sum())
            nb = rows64.shape[0]
            mb = rows64.mean(axis=0)
            m2b = ((rows64 - mb) ** 2).sum(axis=0)
            delta = mb - mean_run
            new = count + nb
            m2 += m2b + delta**2 * (count * nb / new)
            mean_run += delta * (nb / new)
            count = new
        signatures.append([[int(matrix.shape[0]), n_feat], raw_sum, raw_abs])
    mean = total / count
    if weights is not None:
        m2 = m2 * weights
    scale = math.sqrt(float(m2.sum()) / (count * n_feat))
    return mean, scale, signatures


# ---------------------------------------------------------------------- sources
class FrameSource:
    """Normalised frames of one or more sequences, addressed like their concatenation."""

    lengths: tuple[int, ...]
    device: torch.device

    def frames(self, seq: int, start: int, stop: int) -> torch.Tensor:
        """Frames ``start:stop`` of sequence ``seq`` (CPU, float32)."""
        raise NotImplementedError

    def gather(self, starts: torch.Tensor, span: int) -> torch.Tensor:
        """Windows ``(B, span, *frame_shape)`` starting at global indices ``starts``."""
        raise NotImplementedError

    def to(self, device: torch.device) -> FrameSource:
        raise NotImplementedError

    def dmd_rows(self, seq: int, n: int) -> Any:
        """The first ``n`` frames of ``seq`` as float64 rows ``(n, features)`` for DMD."""
        raise NotImplementedError

    def batch_limit(self, frames_per_item: int) -> int | None:
        """Most windows (or histories) of ``frames_per_item`` frames per validation or
        encoding batch; None: no limit beyond the caller's."""
        return None


class TensorFrames(FrameSource):
    """Frames held as tensors, one per sequence (the in-memory fit)."""

    def __init__(self, sequences: Sequence[torch.Tensor]) -> None:
        self.sequences = list(sequences)
        self.lengths = tuple(int(s.shape[0]) for s in self.sequences)
        self.device = self.sequences[0].device if self.sequences else torch.device("cpu")
        self._flat: torch.Tensor | None = None

    def to(self, device: torch.device) -> TensorFrames:
        self._flat = torch.cat([s.to(device) for s in self.sequences])
        self.device = self._flat.device
        return self

    @property
    def flat(self) -> torch.Tensor:
        if self._flat is None:
            self._flat = (
                self.sequences[0] if len(self.sequences) == 1 else torch.cat(self.sequences)
            )
        return self._flat

    def frames(self, seq: int, start: int, stop: int) -> torch.Tensor:
        return self.sequences[seq][start:stop]

    def gather(self, starts: torch.Tensor, span: int) -> torch.Tensor:
        idx = starts[:, None] + torch.arange(span, device=starts.device)[None, :]
        return self.flat[idx]

    def dmd_rows(self, seq: int, n: int) -> np.ndarray:
        return self.sequences[seq][:n].reshape(n, -1).double().numpy()


class LazyFrames(FrameSource):
    """Frames read on demand from ``(time, feature)`` matrices (dask or NumPy).

    Parameters
    ----------
    matrices : sequence of dask or NumPy arrays
        One ``(time, feature)`` matrix per sequence, in the data's layout and units.
    to_frames : callable
        Raw rows ``(k, feature)`` to normalised float32 frames ``(k, *frame_shape)``.
    mean, scale : the normalisation (used for the DMD rows, in the data's feature order).
    frame_shape : tuple of int
    root_weights : ndarray, optional
        ``sqrt(w)`` per feature (data order): the DMD rows are ``sqrt(w) (x - mean) / scale``
        as the training frames are.

    Attributes
    ----------
    gathers : list of (int, int)
        ``(windows, frames read)`` of every :meth:`gather` call (a record of what was read).
    frames_read : int
        Frames read by all requests so far.
    """

    def __init__(
        self,
        matrices: Sequence[Any],
        to_frames: Callable[[np.ndarray], np.ndarray],
        mean: np.ndarray,
        scale: float,
        frame_shape: Sequence[int],
        root_weights: np.ndarray | None = None,
    ) -> None:
        self.matrices = list(matrices)
        self.to_frames = to_frames
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = float(scale)
        self.root_weights = root_weights
        self.frame_shape = tuple(int(s) for s in frame_shape)
        self.lengths = tuple(int(m.shape[0]) for m in self.matrices)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64)
        self.device = torch.device("cpu")
        self.gathers: list[tuple[int, int]] = []
        self.frames_read = 0

    def to(self, device: torch.device) -> LazyFrames:
        self.device = torch.device(device)
        return self

    def _frames_of(self, rows: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(self.to_frames(rows))

    def frames(self, seq: int, start: int, stop: int) -> torch.Tensor:
        rows = read_rows(self.matrices[seq], start, stop)
        self.frames_read += rows.shape[0]
        return self._frames_of(rows)

    def gather(self, starts: torch.Tensor, span: int) -> torch.Tensor:
        s = starts.detach().cpu().numpy().astype(np.int64)
        wanted = (s[:, None] + np.arange(span)[None, :]).ravel()
        need = np.unique(wanted)  # sorted frame indices of the batch
        seq = np.searchsorted(self.offsets, need, side="right") - 1
        # contiguous runs within one sequence
        cut = np.flatnonzero((np.diff(need) != 1) | (np.diff(seq) != 0)) + 1
        bounds = np.concatenate([[0], cut, [need.size]])
        parts = []
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            k = int(seq[a])
            lo = int(need[a] - self.offsets[k])
            parts.append((self.matrices[k], lo, lo + int(b - a)))
        runs = _read_runs(parts)
        rows = runs[0] if len(runs) == 1 else np.concatenate(runs)
        self.gathers.append((int(s.size), int(need.size)))
        self.frames_read += int(need.size)
        buf = self._frames_of(rows)
        pos = torch.from_numpy(np.searchsorted(need, wanted).reshape(s.size, span))
        return buf[pos].to(self.device)

    def dmd_rows(self, seq: int, n: int) -> Any:
        """A dask array ``(n, features)`` chunked in feature slabs holding all ``n`` frames.

        Each slab is one task that reads the frames in time blocks and keeps its features,
        so the DMD Gram pass runs without rechunking and holds a few slabs at a time.
        """
        import dask
        import dask.array as da

        from koopkit.backends import _linalg

        matrix = self.matrices[seq]
        n_feat = int(matrix.shape[1])
        width = max(1, min(n_feat, _linalg.DASK_BLOCK_BYTES // max(1, n * 8)))
        reader = _SlabReader(matrix, n, self.mean, self.scale, self.root_weights)
        cols = []
        for a in range(0, n_feat, width):
            b = min(n_feat, a + width)
            part = dask.delayed(reader, pure=False)(a, b)
            cols.append(da.from_delayed(part, shape=(n, b - a), dtype=np.float64))
        return da.concatenate(cols, axis=1)

    def batch_limit(self, frames_per_item: int) -> int | None:
        frame_bytes = 4 * int(np.prod(self.frame_shape))
        return max(1, BATCH_BYTES // max(1, frame_bytes * int(frames_per_item)))


class _SlabReader:
    """Features ``a:b`` of the first ``n`` rows, normalised like the training frames.

    An opaque callable (dask does not look inside it, so the matrix is not computed as an
    argument of the delayed task).
    """

    def __init__(
        self,
        matrix: Any,
        n: int,
        mean: np.ndarray,
        scale: float,
        root_weights: np.ndarray | None = None,
    ) -> None:
        self.matrix = matrix
        self.n = n
        self.mean = mean
        self.scale = scale
        self.root_weights = root_weights

    def __call__(self, a: int, b: int) -> np.ndarray:
        out = np.empty((self.n, b - a))
        for t0, t1 in block_ranges(self.n, _row_bytes(self.matrix)):
            part = self.matrix[t0:t1, a:b]
            if is_lazy(part):
                part = part.compute(scheduler="sync")  # nested in a dask task
            x = (np.asarray(part, dtype=np.float64) - self.mean[a:b]) / self.scale
            if self.root_weights is not None:
                x = x * self.root_weights[a:b]
            out[t0:t1] = x.astype(np.float32)  # the training frames' precision
        return out


#: Names of a space dim that holds an image's channels.
CHANNEL_NAMES = ("channel", "channels", "band", "bands", "color", "colour", "rgb", "c")


def frame_layout(
    shape: Sequence[int], dims: Sequence[Any]
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``(frame_shape, perm)``: frames as ``(n,)`` or ``(C, H, W)`` and the axis order.

    The channel axis of 3-D frames is the dim named like a channel, else the last axis
    when it is at most 4 long (and the first is longer), else the first.

    Examples
    --------
    >>> frame_layout((48, 64, 3), ("y", "x", "rgb"))
    ((3, 48, 64), (2, 0, 1))
    >>> frame_layout((20, 30), ("y", "x"))
    ((1, 20, 30), (0, 1))
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) == 1:
        return (shape[0],), (0,)
    if len(shape) == 2:
        return (1, *shape), (0, 1)
    if len(shape) == 3:
        named = [i for i, d in enumerate(dims) if str(d).lower() in CHANNEL_NAMES]
        c = named[0] if named else (2 if shape[2] <= 4 and shape[0] > 4 else 0)
        perm = (c, *[i for i in range(3) if i != c])
        return tuple(shape[i] for i in perm), perm
    raise KoopkitError(
        f"frames with {len(shape)} space dims {tuple(dims)} are not supported: use vectors, "
        "(y, x) or (channel, y, x) frames"
    )


def make_windows(
    lengths: Sequence[int], delays: int, horizon: int, val_fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    """Start indices of training and validation windows in the concatenated sequences.

    A window holds ``delays + horizon`` consecutive frames of one sequence (its history and
    its targets). The last ``round(val_fraction * length)`` frames of each sequence are
    held out: training windows lie entirely before them, and validation windows predict
    only held-out frames (their history ends on the last training frame or later).

    Returns
    -------
    train, val : int arrays
        Index of each window's first frame in the concatenation of the sequences.

    Examples
    --------
    >>> tr, va = make_windows([10], delays=2, horizon=3, val_fraction=0.3)
    >>> tr.tolist(), va.tolist()
    ([0, 1, 2], [5])
    """
    train, val = [], []
    offset = 0
    span = delays + horizon
    for length in lengths:
        n_val = int(round(val_fraction * length)) if val_fraction > 0 else 0
        n_train = length - n_val
        train.extend(range(offset, offset + n_train - span + 1))
        if n_val:
            # window frames s .. s+span-1; newest history frame s+delays-1 >= n_train-1
            first = max(0, n_train - delays)
            val.extend(range(offset + first, offset + length - span + 1))
        offset += length
    return np.asarray(train, dtype=np.int64), np.asarray(val, dtype=np.int64)


def as_source(frames: FrameSource | torch.Tensor | Sequence[torch.Tensor]) -> FrameSource:
    """A :class:`FrameSource` from a source, one tensor of frames, or a list of them."""
    if isinstance(frames, FrameSource):
        return frames
    if isinstance(frames, torch.Tensor):
        return TensorFrames([frames])
    return TensorFrames(list(frames))

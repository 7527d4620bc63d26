"""The linear algebra every linear backend shares: Gram products, rank rules, residuals.

Conventions: a snapshot matrix ``D`` holds one snapshot per *row*; a dictionary evaluated
on snapshot pairs gives ``Psi_X`` and ``Psi_Y`` (one pair per row, one function per
column). ``G = Psi_X^H Psi_X``, ``A = Psi_X^H Psi_Y`` and ``L = Psi_Y^H Psi_Y`` are the
matrices of ResDMD (Colbrook & Townsend, CPAM 2024): the Koopman matrix of EDMD is
``K = G^+ A`` and the residual of an eigenpair ``(lam, v)`` of ``K``, for the function
``g = psi v``, is

    res(lam, g) = ||Psi_Y v - lam Psi_X v|| / ||Psi_X v||,

a relative error of ``K g = lam g`` in the data's inner product (0 for a true eigenpair).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np
import scipy.linalg as sla
from threadpoolctl import threadpool_limits

from koopkit._errors import KoopkitError
from koopkit._validation import check_finite, is_lazy

#: Bytes of data per block of the out-of-core Gram pass.
DASK_BLOCK_BYTES = 256 * 2**20
#: Flops below which the snapshot pairs are factored by QR (residuals to round-off)
#: rather than squared into Gram matrices (residuals to about sqrt(eps)).
QR_WORK_LIMIT = 2e9
#: Bytes of scratch per block of pseudospectrum evaluations.
_PSEUDO_BLOCK_BYTES = 32 * 2**20


class RankWarning(UserWarning):
    """The requested rank exceeds what the data resolve; a smaller one was used."""


# ------------------------------------------------------------------ small helpers
_CONTROLLER: Any = None
_ONE_THREAD_DEPTH = 0


#: Matrix order up to which dense work counts as small for :func:`one_thread`.
SMALL_ORDER = 1000


@contextmanager
def one_thread(order: int = 0) -> Iterator[None]:
    """Small dense work (the snapshot-space eigenproblems) on one BLAS thread.

    Right after a large multi-threaded product, OpenBLAS's threads come back slowly for
    small calls: a 300 x 300 ``eigh`` took 6 to 100 ms on two threads here, 8.5 ms every
    time on one. Matrices of order above :data:`SMALL_ORDER` keep every thread.
    """
    global _CONTROLLER, _ONE_THREAD_DEPTH
    if order > SMALL_ORDER or _ONE_THREAD_DEPTH:  # large work, or already on one thread
        yield
        return
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    with _CONTROLLER.limit(limits=1, user_api="blas"):
        _ONE_THREAD_DEPTH += 1
        try:
            yield
        finally:
            _ONE_THREAD_DEPTH -= 1


def complex_of(dtype: Any) -> np.dtype:
    """The complex dtype of the same precision (complex64 for float32/complex64)."""
    dtype = np.dtype(dtype)
    return np.dtype(np.complex64) if dtype in (np.float32, np.complex64) else np.dtype(complex)


def as_index(idx: np.ndarray) -> slice | np.ndarray:
    """A slice for a run of consecutive indices (a view, no copy), else the indices."""
    idx = np.asarray(idx)
    if idx.size and idx[-1] - idx[0] == idx.size - 1 and np.all(np.diff(idx) == 1):
        return slice(int(idx[0]), int(idx[-1]) + 1)
    return idx


def take(g: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``g[rows][:, cols]``: views for runs of consecutive indices."""
    r, c = as_index(rows), as_index(cols)
    if isinstance(r, slice) and isinstance(c, slice):
        return g[r, c]
    return g[np.ix_(np.arange(g.shape[0])[r], np.arange(g.shape[1])[c])]


def mul(c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``c @ d`` for complex ``c`` and real or complex ``d`` without upcasting ``d``."""
    if np.iscomplexobj(d):
        return c.astype(d.dtype) @ d
    real = np.dtype(d.dtype)
    r = c.shape[0]
    # One real GEMM for both parts: ``d`` (the big operand) is streamed once, not twice.
    both = np.concatenate([c.real, c.imag]).astype(real) @ d
    out = np.empty((r, both.shape[1]), dtype=complex_of(real))
    out.real = both[:r]
    out.imag = both[r:]
    return out


_RANK_K = {
    np.dtype(np.float32): (sla.blas.ssyrk, 1),
    np.dtype(np.float64): (sla.blas.dsyrk, 1),
    np.dtype(np.complex64): (sla.blas.cherk, 2),
    np.dtype(np.complex128): (sla.blas.zherk, 2),
}


def _full_hermitian(upper: np.ndarray, complex_: bool) -> np.ndarray:
    g = np.triu(upper).astype(np.complex128 if complex_ else np.float64)
    return g + np.triu(g, 1).conj().T


#: Elements above which a real Gram runs as a general product: OpenBLAS spreads ``gemm``
#: over its threads but much less so ``syrk``, whose half of the flops then takes longer.
_GEMM_GRAM_SIZE = 2**22


def data_gram(data: np.ndarray) -> np.ndarray:
    """``D^* D^T`` (entry ``(i, j) = d_i^H d_j`` of the rows), in double precision.

    No copy of ``D`` is made for C-ordered data: one BLAS rank-k update (``syrk``/``herk``),
    or for large real data one general product in the data's precision, symmetrised.
    """
    if data.dtype.kind == "f" and data.size >= _GEMM_GRAM_SIZE:
        g = np.asarray(data @ data.T, dtype=np.float64)
        return (g + g.T) / 2
    fn, trans = _RANK_K[np.dtype(data.dtype)]
    upper = fn(1.0, data.T, trans=trans, lower=0)  # data.T is a Fortran-ordered view
    return _full_hermitian(upper, data.dtype.kind == "c")


def column_gram(psi: np.ndarray) -> np.ndarray:
    """``Psi^H Psi`` (entry ``(i, j) = psi_i^H psi_j`` of the columns), one rank-k update."""
    fn, _ = _RANK_K[np.dtype(psi.dtype)]
    upper = fn(1.0, psi.T, trans=0, lower=0)  # psi.T psi.T^H = conj(Psi^H Psi)
    out = _full_hermitian(upper, psi.dtype.kind == "c")
    return out.conj() if psi.dtype.kind == "c" else out


def memory_limit() -> int | None:
    """Bytes of data an out-of-core pass may hold at once, or None when not set.

    The dask config value ``koopkit.memory-limit`` (bytes, or a string such as
    ``"300MiB"``). Unset, the passes hold blocks of about :data:`DASK_BLOCK_BYTES`, or two
    dask chunks where these are larger.

    Examples
    --------
    >>> import dask
    >>> with dask.config.set({"koopkit.memory-limit": "100MiB"}):
    ...     memory_limit() == 100 * 2**20
    True
    """
    import dask
    from dask.utils import parse_bytes

    value = dask.config.get("koopkit.memory-limit", None)
    if value is None:
        return None
    try:
        limit = int(parse_bytes(value))
    except (TypeError, ValueError):
        limit = 0
    if limit <= 0:
        raise KoopkitError(
            f"koopkit.memory-limit={value!r} is not a positive size: set it to bytes or a "
            'string such as "300MiB"'
        )
    return limit


def time_runs(edges: np.ndarray, start: int, budget: int, cost: Any) -> list[tuple[int, int]]:
    """Rows from ``start`` on, in runs ``(a, b)`` of whole chunks (chunk ``i`` spans rows
    ``edges[i]:edges[i + 1]``) with ``cost((a, b)) <= budget``, at least one chunk each."""
    edges = edges[edges >= start]
    out, a = [], 0
    for b in range(2, len(edges)):
        if cost((int(edges[a]), int(edges[b]))) > budget:
            out.append((int(edges[a]), int(edges[b - 1])))
            a = b - 1
    if len(edges) > 1:
        out.append((int(edges[a]), int(edges[-1])))
    return out


class GramPlan:
    """How :func:`dask_gram` reads a dask array of snapshots within a memory limit.

    Dask chunks are read whole. The features are split into ``groups`` (column ranges of
    whole chunks). When every snapshot of a group fits the limit (``mode == "slabs"``: the
    chunks span the time axis, or are small), each group is read once and squared: **one
    pass** over the data. Otherwise (``mode == "panels"``: chunks of whole frames along
    time) the rows of each chunk column are split into ``panels``; a panel is held while
    the rows after it stream past in batches (about an eighth of the limit each), which
    gives the panel's rows of ``G``. ``passes`` counts the reads of the data: about
    ``(len(panels) + 1) / 2``. ``held`` is the most data held at once (the blocks and the
    chunks being read into them): at most ``limit``. With ``limit=None`` (no limit set) the
    limit is :data:`DASK_BLOCK_BYTES`, raised to two chunks where panels need that.

    Examples
    --------
    >>> plan = GramPlan(((1,) * 400, (750_000,)), 4, 256 * 2**20)  # one frame per chunk
    >>> plan.mode, len(plan.panels), round(plan.passes, 2)
    ('panels', 6, 3.15)
    >>> GramPlan(((400,), (2**16,) * 12), 4, 256 * 2**20).passes  # chunks along features
    1.0
    """

    def __init__(
        self, chunks: tuple[tuple[int, ...], ...], itemsize: int, limit: int | None = None
    ) -> None:
        import os

        t_chunks, f_chunks = (tuple(int(c) for c in cs) for cs in chunks)
        strict = limit is not None
        self.limit = int(limit) if strict else int(DASK_BLOCK_BYTES)
        self.itemsize = int(itemsize)
        self.n_time = n_time = sum(t_chunks)
        self._t_edges = np.concatenate([[0], np.cumsum(t_chunks)]).astype(int)
        f_edges = np.concatenate([[0], np.cumsum(f_chunks)]).astype(int)
        #: The largest dask chunk, in bytes.
        self.chunk_bytes = max(t_chunks) * max(f_chunks) * self.itemsize
        #: Chunks read at once into a block of several (about an eighth of the limit).
        self.workers = max(1, min(os.cpu_count() or 1, self.limit // (8 * self.chunk_bytes)))

        # slabs: runs of whole chunk columns, every snapshot of each fitting the limit
        groups, a = [], 0
        for b in range(1, len(f_chunks) + 1):
            cols = int(f_edges[b] - f_edges[a])
            if b - a > 1 and self._bytes(n_time * cols, len(t_chunks) * (b - a)) > self.limit:
                groups.append((int(f_edges[a]), int(f_edges[b - 1])))
                a = b - 1
        groups.append((int(f_edges[a]), int(f_edges[-1])))
        sizes = [
            self._bytes(
                n_time * (g1 - g0), len(t_chunks) * int(np.sum((f_edges >= g0) & (f_edges < g1)))
            )
            for g0, g1 in groups
        ]
        if max(sizes) <= self.limit:
            self.mode, self.groups, self.panels = "slabs", groups, [(0, n_time)]
            self.held, self.passes = max(sizes), 1.0
            return
        # panels within each chunk column: batches of whole time chunks (about an eighth of
        # the limit), panels of whole time chunks in what is left
        self.mode = "panels"
        self.groups = [(int(f_edges[i]), int(f_edges[i + 1])) for i in range(len(f_chunks))]
        self._row = max(f_chunks)
        self._batch_budget = self.limit // 8  # small batches leave room for big panels
        batches = self.runs(int(t_chunks[0]), self._batch_budget)  # none: one time chunk
        batch = max((self._run_bytes(r) for r in batches), default=0)
        self.panels = self.runs(0, self.limit - batch)
        self.held = max(self._run_bytes(r) for r in self.panels) + batch
        if self.held > self.limit and not strict:
            self.limit = self.held  # a panel and a batch of one chunk: the least possible
        if self.held > self.limit:
            from dask.utils import format_bytes

            raise KoopkitError(
                f"the dask chunks ({format_bytes(self.chunk_bytes)} each) are too large for "
                f"koopkit.memory-limit={format_bytes(self.limit)} (the fit would hold "
                f"{format_bytes(self.held)}): "
                "open the data with smaller chunks (e.g. chunks={'time': 1}) or raise the "
                'limit, e.g. dask.config.set({"koopkit.memory-limit": "1GiB"})'
            )
        self.passes = sum((n_time - p0) / n_time for p0, _ in self.panels)

    def _bytes(self, values: int, n_chunks: int) -> int:
        """A block of ``values`` numbers: its chunk when it is one chunk, else a buffer
        plus the chunks being read into it."""
        data = int(values) * self.itemsize
        return data if n_chunks == 1 else data + self.workers * self.chunk_bytes

    def _run_bytes(self, run: tuple[int, int]) -> int:
        a, b = run
        n_chunks = int(np.sum((self._t_edges >= a) & (self._t_edges < b)))
        return self._bytes((b - a) * self._row, n_chunks)

    def runs(self, start: int, budget: int) -> list[tuple[int, int]]:
        """Rows from ``start`` on in runs of whole time chunks of at most ``budget`` bytes
        (at least one chunk per run)."""
        return time_runs(self._t_edges, start, budget, self._run_bytes)

    def batches_after(self, row: int) -> list[tuple[int, int]]:
        """The batches that stream the rows from ``row`` on past a panel."""
        return [] if self.mode == "slabs" else self.runs(row, self._batch_budget)

    def __repr__(self) -> str:
        return (
            f"GramPlan(mode={self.mode!r}, groups={len(self.groups)}, panels={len(self.panels)}, "
            f"passes={self.passes:.2f}, held={self.held / 2**20:.0f} MiB, "
            f"limit={self.limit / 2**20:.0f} MiB)"
        )


def _compute_options(workers: int, local: bool = False) -> dict[str, Any]:
    """Threads, ``workers`` at a time, unless another scheduler (a distributed Client) is
    active and ``local`` is False: that one then manages its own workers."""
    import dask.base

    if local or dask.base.get_scheduler() is None:
        return {"scheduler": "threads", "num_workers": workers}
    return {}


def load_block(
    block: Any, workers: int = 1, local: bool = False, buffer: np.ndarray | None = None
) -> np.ndarray:
    """A dask block as one array: its own chunk when it has one (no copy), else a buffer its
    chunks are stored into as they are read (``workers`` at a time; the leading rows of
    ``buffer`` when given, reused from block to block). ``local``: on this process's
    threads whatever the active scheduler (inside a task)."""
    import dask.array as da

    if block.npartitions == 1:  # as a delayed object: dask copies a one-chunk array result
        (part,) = block.to_delayed().ravel()
        return np.asarray(part.compute(**_compute_options(1, local)))
    if buffer is None or buffer.shape[1:] != block.shape[1:] or len(buffer) < len(block):
        buffer = np.empty(block.shape, dtype=block.dtype)
    out = buffer[: len(block)]
    da.store(block, out, lock=False, **_compute_options(workers, local))
    return out


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a^* b^T`` in double precision (rows of ``a`` against rows of ``b``)."""
    return (a.conj() @ b.T).astype(np.complex128 if a.dtype.kind == "c" else np.float64)


def dask_gram(data: Any, plan: GramPlan | None = None) -> np.ndarray:
    """``D^* D^T`` of a dask array, holding at most :func:`memory_limit` bytes of data.

    Follows a :class:`GramPlan`: feature slabs of every snapshot, each read once, when
    they fit (chunks along features); else panels of rows against the rows after them
    (chunks of whole frames along time; about ``(len(plan.panels) + 1) / 2`` passes).
    Each block is one dask compute on this process's threads; under a
    ``dask.distributed`` Client the slabs are squared on the workers (one compute) and the
    blocks of panels are gathered by the Client.
    """
    import dask
    import dask.base

    n_time, _ = data.shape
    if plan is None:
        plan = GramPlan(data.chunks, data.dtype.itemsize, memory_limit())
    if plan.mode == "slabs" and dask.base.get_scheduler() is not None:
        # a distributed Client: the workers square their slabs; only T x T sums travel
        parts = [dask.delayed(data_gram)(data[:, f0:f1]) for f0, f1 in plan.groups]
        while len(parts) > 1:
            pairs = zip(parts[::2], parts[1::2], strict=False)
            odd = [parts[-1]] if len(parts) % 2 else []
            parts = [dask.delayed(np.add)(a, b) for a, b in pairs] + odd
        return np.asarray(dask.compute(parts[0])[0])
    g = np.zeros((n_time, n_time), dtype=np.complex128 if data.dtype.kind == "c" else np.float64)
    bufs: dict[str, np.ndarray | None] = {}  # reused: no fresh pages for every block

    def load(block: Any, kind: str) -> np.ndarray:
        buf = bufs.pop(kind, None)
        if block.npartitions == 1:
            return load_block(block, plan.workers)
        if buf is None or buf.shape[1:] != block.shape[1:] or len(buf) < len(block):
            buf = np.empty(block.shape, dtype=block.dtype)
        bufs[kind] = buf
        return load_block(block, plan.workers, buffer=buf)

    for f0, f1 in plan.groups:
        cols = data[:, f0:f1]
        for k, (p0, p1) in enumerate(plan.panels):
            panel = load(cols[p0:p1], "panel")
            g[p0:p1, p0:p1] += data_gram(panel)
            after = plan.batches_after(p1)
            if k % 2:  # alternate directions: a sweep starts where the last one ended
                after = after[::-1]
            for b0, b1 in after:
                cross = _cross(panel, load(cols[b0:b1], "batch"))
                g[p0:p1, b0:b1] += cross
                g[b0:b1, p0:p1] += cross.conj().T
            del panel
    return g


class _LiftColumns:
    """``coeffs^T data[:, a:b]`` for a range of feature columns, one run of time chunks
    at a time (each run one dask compute). An opaque callable: dask does not look inside
    it, so the data are not computed as an argument of the task that calls it."""

    def __init__(self, data: Any, coeffs: np.ndarray, runs: list, workers: int) -> None:
        real = data.dtype.kind != "c"
        self.split = real and np.iscomplexobj(coeffs)
        self.r = coeffs.shape[1]
        c = np.concatenate([coeffs.real, coeffs.imag], axis=1) if self.split else coeffs
        self.c = c.astype(data.dtype if real else complex_of(data.dtype))
        self.data, self.runs, self.workers = data, runs, workers
        self.out_dtype = complex_of(data.dtype) if np.iscomplexobj(coeffs) else data.dtype

    def __dask_tokenize__(self) -> tuple:
        import dask.base

        return ("koopkit-lift", self.data.name, dask.base.tokenize(self.c, self.runs))

    def __call__(self, a: int, b: int, after: Any = None) -> np.ndarray:
        acc = np.zeros((self.c.shape[1], b - a), dtype=self.c.dtype)
        for t0, t1 in self.runs:
            c = self.c[t0:t1]
            if np.any(c):
                acc += c.T @ load_block(self.data[t0:t1, a:b], self.workers, local=True)
        if self.split:
            out = np.empty((self.r, b - a), dtype=self.out_dtype)
            out.real, out.imag = acc[: self.r], acc[self.r :]
            return out
        return acc.astype(self.out_dtype, copy=False)


def dask_lift(data: Any, coeffs: np.ndarray, limit: int | None = None) -> Any:
    """``coeffs^T data`` as a lazy dask array ``(r, n_features)``: one pass when computed.

    One task per feature chunk of ``data``, each after the one before. A task reads the
    rows in runs of whole time chunks (about a quarter of the memory limit each, at least
    one chunk), one dask compute per run on the threads of the process running it, and
    sums their products: the compute holds the result and one run. Real data with complex
    ``coeffs`` take one real product (real and imaginary parts stacked).
    """
    import dask
    import dask.array as da

    limit = memory_limit() if limit is None else limit
    plan = GramPlan(data.chunks, data.dtype.itemsize, limit)
    budget = plan.limit // 4
    row = max(data.chunks[1]) * data.dtype.itemsize
    edges = np.concatenate([[0], np.cumsum(data.chunks[0])]).astype(int)
    runs = time_runs(edges, 0, budget, lambda run: (run[1] - run[0]) * row)
    columns = _LiftColumns(data, coeffs, runs, plan.workers)
    f_edges = np.concatenate([[0], np.cumsum(data.chunks[1])]).astype(int)
    parts, last = [], None
    for a, b in zip(f_edges[:-1], f_edges[1:], strict=True):
        # each task waits for the one before (``after``): one run is read at a time
        last = dask.delayed(columns, pure=True)(int(a), int(b), last)
        parts.append(
            da.from_delayed(last, shape=(coeffs.shape[1], int(b - a)), dtype=columns.out_dtype)
        )
    return da.concatenate(parts, axis=1)


def safe_range(dtype: Any) -> tuple[float, float]:
    """Largest ``|value|`` range whose squares, summed over many features, neither
    overflow nor lose precision in ``dtype``: ``(tiny**0.25, max**0.25)``."""
    f = np.finfo(np.dtype(dtype))
    return float(f.tiny) ** 0.25, float(f.max) ** 0.25


def max_abs(data: Any) -> float:
    """``max |data|`` without a temporary copy of real data (NaN if any value is NaN)."""
    if is_lazy(data):
        import dask.array as da

        return float(da.max(abs(data)).compute()) if data.size else 0.0
    if data.size == 0:
        return 0.0
    if np.iscomplexobj(data):
        return float(np.abs(data).max())
    return float(max(np.max(data), -np.min(data)))


def _squares_safe(norms2: np.ndarray, dtype: Any) -> bool:
    """Whether squared row norms computed in ``dtype`` are finite and not underflowing."""
    if not np.isfinite(norms2).all():
        return False
    lo, hi = safe_range(dtype)
    top = float(norms2.max()) if norms2.size else 0.0
    return lo**2 <= top <= hi**2  # 0: all zeros, or squares that underflowed


def check_finite_gram(g: np.ndarray, data: np.ndarray | None = None) -> None:
    """NaN/Inf in a snapshot shows on the Gram diagonal (its squared norm).

    With the data in memory, a non-finite diagonal is re-checked on the data themselves,
    to tell NaN/Inf (named by snapshot) from finite values too large to square.
    """
    bad = ~np.isfinite(np.diag(g))
    if bad.any() and data is not None:
        check_finite(data)
        raise KoopkitError(
            "the data are too large to square in their precision (the Gram matrix "
            "overflows): rescale them, e.g. divide by their maximum"
        )
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise KoopkitError(
            f"the data contain NaN or Inf values (first in snapshot {i}): fill or drop them "
            "first (e.g. data.interpolate_na('time') or data.dropna('time'))"
        )


def conjugate_columns(coeffs: np.ndarray) -> dict[int, int]:
    """``{k: j}`` for columns ``k`` that are exactly the conjugate of an earlier column ``j``."""
    found: dict[int, int] = {}
    complex_cols = [j for j in range(coeffs.shape[1]) if np.any(coeffs[:, j].imag)]
    for a, j in enumerate(complex_cols):
        if j in found:
            continue
        target = coeffs[:, j].conj()
        for k in complex_cols[a + 1 :]:
            if k not in found and k not in found.values() and np.array_equal(coeffs[:, k], target):
                found[k] = j
                break
    return found


# ------------------------------------------------------------------ delay embedding
class DelayEmbedding:
    """Delay-embedded states of one or more trajectories, never materialised by default.

    ``data`` holds the frames of every trajectory end to end (``lengths`` frames each);
    state ``k`` stacks the frames ``starts[k] .. starts[k] + delays - 1`` (oldest first).
    Snapshot pairs are consecutive states of the same trajectory: ``x_index`` and
    ``y_index`` number them, so no pair crosses from one trajectory into the next.

    Nothing of size ``n_features * delays`` is built for the Gram products: the
    delay-embedded Gram is a sum of shifted blocks of the frames' Gram ``D^* D^T``.
    """

    def __init__(self, data: Any, delays: int, lengths: list[int] | None = None) -> None:
        self.data = data
        self.delays = d = int(delays)
        lengths = [int(data.shape[0])] if lengths is None else [int(n) for n in lengths]
        counts = [n - d + 1 for n in lengths]
        frame_off = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(int)
        state_off = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int)
        self.lengths = lengths
        self.starts = np.concatenate(
            [f + np.arange(c) for f, c in zip(frame_off, counts, strict=True)]
        )
        self.x_index = np.concatenate(
            [s + np.arange(c - 1) for s, c in zip(state_off, counts, strict=True)]
        ).astype(int)
        self.y_index = self.x_index + 1
        #: The states of the last trajectory (where forecasts start).
        self.last_states = np.arange(state_off[-1], state_off[-1] + counts[-1])
        self._gram: np.ndarray | None = None
        self._data_g: np.ndarray | None = None
        #: The frames are ``data * scale`` (see :meth:`normalize`).
        self.scale = 1.0
        #: Orthonormal rows ``(k, n)`` the frames were expressed in (see :meth:`compress`).
        self.basis: np.ndarray | None = None
        #: A torch device for the Gram and the lift (None: NumPy); see koopkit.backends._device.
        self.device: Any = None
        self._on_device: Any = None

    def _tensor(self) -> Any:
        """The frames on :attr:`device` (moved there once)."""
        if self._on_device is None:
            from koopkit.backends._device import to_device

            self._on_device = to_device(self.data, self.device)
        return self._on_device

    @property
    def n_states(self) -> int:
        return len(self.starts)

    @property
    def n_features(self) -> int:
        """Features per state of the original frames (``delays * n``)."""
        n = self.data.shape[1] if self.basis is None else self.basis.shape[1]
        return n * self.delays

    @property
    def lazy(self) -> bool:
        return is_lazy(self.data)

    def data_gram(self) -> np.ndarray:
        """``D^* D^T`` of the frames (one pass over the data; cached).

        Data too large or too small to square in their precision (the diagonal, their
        squared norms, overflows or underflows) are normalised and the Gram recomputed;
        NaN/Inf are reported by snapshot.
        """
        if self._data_g is None:
            g = self._frames_gram()
            if not _squares_safe(np.diag(g).real, self.data.dtype):
                self.normalize(gram=g)
                if self.scale != 1.0:
                    g = self._frames_gram()
            check_finite_gram(g, None if self.lazy else self.data)
            self._data_g = g
        return self._data_g

    def compress(self) -> None:
        """Express in-memory frames in their own orthonormal basis when they span at most
        half as many dimensions as they have features (rank by round-off).

        Every inner product between states is kept (the basis is orthonormal and the
        frames lie in its span to round-off), so DMD on the coordinates is DMD on the
        frames, at the cost of the span: a 64-sensor record of a 2-D state delay-embeds in
        2 dimensions per frame, not 64. :meth:`expand` maps modes back.
        """
        data = self.data
        if self.lazy or self.basis is not None or data.shape[1] < 2:
            return
        _, s, vt = sla.svd(data, full_matrices=False, check_finite=False)
        if not s.size or s[0] == 0:
            return
        k = int(np.sum(s > max(data.shape) * np.finfo(data.dtype).eps * s[0]))
        if 2 * k > data.shape[1]:
            return
        self.basis = vt[:k]
        self.data = np.ascontiguousarray(data @ vt[:k].conj().T)
        self._gram = self._data_g = self._on_device = None

    def expand(self, modes: Any) -> Any:
        """Delay-stacked modes ``(r, delays, k)`` in the frames' coordinates back to
        ``(r, delays, n)`` (the identity when the frames were not compressed)."""
        if self.basis is None:
            return modes
        out = modes @ self.basis.astype(np.result_type(self.basis.dtype, modes.real.dtype))
        return out.astype(modes.dtype, copy=False)

    def project(self, frames: np.ndarray) -> np.ndarray:
        """Other frames ``(T, n)`` in this embedding's coordinates (see :meth:`compress`)."""
        return frames if self.basis is None else frames @ self.basis.conj().T

    def _frames_gram(self) -> np.ndarray:
        if self.lazy:
            return dask_gram(self.data)
        if self.device is not None:
            from koopkit.backends._device import row_gram

            return row_gram(self._tensor())
        return data_gram(self.data)

    def normalize(self, gram: np.ndarray | None = None) -> None:
        """Divide the frames by their largest ``|value|`` when squaring them in their
        precision could overflow or lose precision; ``scale`` records the factor, so the
        fit is the same for any finite data (amplitudes are multiplied back by it)."""
        m = max_abs(self.data)
        if not np.isfinite(m):
            if self.lazy and gram is not None:
                check_finite_gram(gram)
            check_finite(np.asarray(self.data))
        lo, hi = safe_range(self.data.dtype)
        if m > 0 and not lo <= m <= hi:
            self.data = self.data / np.asarray(m, dtype=self.data.dtype)
            self.scale = float(m)
            self._gram = self._data_g = self._on_device = None

    def gram(self) -> np.ndarray:
        """``Z^* Z^T`` of the states (entry ``(i, j) = z_i^H z_j``), in double precision."""
        if self._gram is None:
            g = self.data_gram()
            out = take(g, self.starts, self.starts).copy()
            for j in range(1, self.delays):
                out += take(g, self.starts + j, self.starts + j)
            self._gram = out
        return self._gram

    def pair_grams(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(X^H X, X^H Y, Y^H Y)`` in the snapshot (row) space."""
        g, x, y = self.gram(), self.x_index, self.y_index
        return take(g, x, x), take(g, x, y), take(g, y, y)

    def matrix(self) -> np.ndarray:
        """The states as rows, shape ``(n_states, delays * n_features)``."""
        blocks = [self.data[as_index(self.starts + j)] for j in range(self.delays)]
        return blocks[0] if self.delays == 1 else np.concatenate(blocks, axis=1)

    def _scatter(self, coeffs: np.ndarray, j: int) -> tuple[Any, np.ndarray]:
        """``(frames, c)`` with ``c^T frames = sum_k coeffs[k] x_{starts[k] + j}``."""
        rows = as_index(self.starts + j)
        if isinstance(rows, slice):
            return self.data[rows], coeffs
        full = np.zeros((self.data.shape[0], coeffs.shape[1]), dtype=coeffs.dtype)
        full[rows] = coeffs
        return self.data, full

    def lift(self, coeffs: np.ndarray) -> Any:
        """``Z^T C`` as rows: ``(r, delays, n)`` with block ``j = sum_k C[k] x_{starts[k]+j}``.

        Real data and real ``C`` give a real result in the data's precision.
        """
        r, d = coeffs.shape[1], self.delays
        if self.lazy:
            return self._dask_lift(coeffs)
        real = np.isrealobj(self.data) and np.isrealobj(coeffs)
        dtype = self.data.dtype if real else complex_of(self.data.dtype)
        out = np.empty((r, d, self.data.shape[1]), dtype=dtype)
        # Real data: a column whose conjugate is also a column (a conjugate pair of modes)
        # is lifted once, and its partner is the conjugate: half the work for oscillations.
        keep, partner = np.arange(r), {}
        if np.isrealobj(self.data) and not real:
            partner = conjugate_columns(coeffs)
            keep = np.array([j for j in range(r) if j not in partner])
        for j in range(d):
            block, c = self._scatter(coeffs, j)
            if self.device is not None:  # the same products, on the device
                from koopkit.backends._device import matmul

                rows = as_index(self.starts + j)
                tensor = self._tensor()
                block_t = tensor[rows] if isinstance(rows, slice) else tensor
                if real:
                    out[:, j, :] = matmul(c.T.astype(dtype), block_t)
                else:
                    out[keep, j, :] = matmul(c[:, keep].T, block_t)
            elif real:
                out[:, j, :] = c.T.astype(dtype) @ block
            elif np.iscomplexobj(block):
                out[keep, j, :] = mul(c[:, keep].T, block)
            else:  # one real GEMM for both parts, written straight into the modes
                ck = c[:, keep].T
                both = np.concatenate([ck.real, ck.imag]).astype(block.dtype) @ block
                for i, k in enumerate(keep):
                    out[k, j, :].real = both[i]
                    out[k, j, :].imag = both[len(keep) + i]
                del both
        for k, j in partner.items():
            np.conjugate(out[j], out=out[k])
        return out

    def _dask_lift(self, coeffs: np.ndarray) -> Any:
        """Lazy delay-stacked modes ``(r, d, n)`` as dask arrays (nothing is computed)."""
        import dask.array as da

        blocks = []
        for j in range(self.delays):
            full = np.zeros((self.data.shape[0], coeffs.shape[1]), dtype=coeffs.dtype)
            full[self.starts + j] = coeffs
            blocks.append(dask_lift(self.data, full))
        return da.stack(blocks, axis=1)

    def adjoint(self, modes: np.ndarray) -> np.ndarray:
        """``Z^* phi``: entry ``(k, j) = z_k^H phi_j``, shape ``(n_states, r)``."""
        real = np.isrealobj(self.data) and np.isrealobj(modes)
        out = np.zeros((self.n_states, modes.shape[0]), dtype=float if real else complex)
        for j in range(self.delays):
            rows = as_index(self.starts + j)
            block = self.data[rows] if isinstance(rows, slice) else self.data
            phi = modes[:, j, :]
            if np.iscomplexobj(block):
                part = block.conj() @ phi.T
            elif real:
                part = (phi @ block.T).T
            else:
                part = mul(phi, block.T).T
            out += part if isinstance(rows, slice) else part[rows]
        return out


# ------------------------------------------------------------------ rank rules
#: With at least this many singular values, "auto" always uses Gavish & Donoho's rule.
GD_MIN_VALUES = 64


def _mp_median(beta: float) -> float:
    """Median of the Marchenko-Pastur law of ratio ``beta`` (noise variance 1)."""
    from scipy.integrate import quad
    from scipy.optimize import brentq

    lo, hi = (1 - np.sqrt(beta)) ** 2, (1 + np.sqrt(beta)) ** 2

    def density(t: float) -> float:
        return np.sqrt(max((hi - t) * (t - lo), 0.0)) / (2 * np.pi * beta * t)

    def mass(x: float) -> float:
        return quad(density, lo, x)[0] - 0.5

    return float(brentq(mass, lo, hi)) if beta < 1 else 1.0


def has_noise_floor(s: np.ndarray, shape: tuple[int, int]) -> bool:
    """Whether the singular values look like signal above a noise bulk.

    Gavish & Donoho estimate the noise from the median singular value, which is right when
    noise fills the lower half of the spectrum. White noise lifts every singular value of
    an ``n x m`` matrix (``beta = n/m <= 1``) to at least about the Marchenko-Pastur lower
    edge, ``(1 - sqrt(beta)) / sqrt(mu_beta)`` times the median (``mu_beta``: the law's
    median). With few singular values (below :data:`GD_MIN_VALUES`), a smallest one far
    below that edge (under half of it) means the median is signal and there is no floor.

    Examples
    --------
    >>> has_noise_floor(np.array([5.0, 3.0, 1.0, 0.9, 0.85, 0.8]), (6, 200))
    True
    >>> has_noise_floor(np.array([5.0, 3.0, 2.0, 1.5, 1.0, 0.1]), (6, 200))
    False
    """
    s = np.asarray(s, dtype=float)
    if s.size >= GD_MIN_VALUES:
        return True
    beta = min(shape) / max(shape)
    edge = (1 - np.sqrt(beta)) / np.sqrt(_mp_median(beta))
    return bool(s[-1] >= 0.5 * edge * np.median(s))


def rank_rule(s: np.ndarray, rank: Any, shape: tuple[int, int]) -> str:
    """The name of the rule :func:`choose_rank` applies: for the spectrum's params."""
    if rank is None:
        return "round-off"
    if isinstance(rank, str):
        return "gavish-donoho" if has_noise_floor(s, shape) else "round-off (no noise floor)"
    if isinstance(rank, (float, np.floating)):
        return "energy"
    return "fixed"


def choose_rank(s: np.ndarray, rank: Any, shape: tuple[int, int], floor: float) -> int:
    """Rank from singular values ``s`` (descending) and the user's rule.

    ``rank``: an int, an energy fraction in (0, 1), None (every value above
    ``floor * s[0]``, the round-off level) or "auto": Gavish & Donoho's (2014) optimal hard
    threshold for an unknown noise level where the values show a noise floor
    (:func:`has_noise_floor`), else every value above round-off (small clean sensor
    arrays). ``shape``: the matrix's (rows, columns).
    """
    resolvable = int(np.sum(s > floor * s[0])) if s.size and s[0] > 0 else 0
    if resolvable == 0:
        raise KoopkitError("the data are all zeros (no singular value above round-off)")
    if rank is None:
        return resolvable
    if isinstance(rank, str):  # "auto"
        if not has_noise_floor(s, shape):
            return resolvable
        beta = min(shape) / max(shape)
        omega = 0.56 * beta**3 - 0.95 * beta**2 + 1.82 * beta + 1.43
        r = int(np.sum(s > omega * np.median(s)))
        return max(1, min(r, resolvable))
    if isinstance(rank, (float, np.floating)):
        energy = np.cumsum(s**2) / np.sum(s**2)
        return min(int(np.searchsorted(energy, rank) + 1), resolvable)
    limit = min(shape)
    if rank > limit:
        raise KoopkitError(
            f"rank={rank} is impossible: the data allow at most {limit} "
            f"({shape[0]} features x {shape[1]} snapshot pairs); use rank <= {limit} or 'auto'"
        )
    if rank > resolvable:
        warnings.warn(
            f"rank={rank} requested but only {resolvable} singular values rise above "
            f"round-off; using rank {resolvable}",
            RankWarning,
            stacklevel=4,
        )
        return resolvable
    return int(rank)


def left_eigenvectors(w: np.ndarray) -> np.ndarray:
    """Columns ``v_j`` with ``v_j^T A = lam_j v_j^T`` from right eigenvectors ``w`` of ``A``.

    For DMD's ``A = Yt Xt^+`` these are the coefficients of the Koopman eigenfunctions in
    the POD coordinates (EDMD's matrix in that dictionary is ``A^T``).
    """
    try:
        return np.linalg.inv(w).T
    except np.linalg.LinAlgError:
        return np.linalg.pinv(w).T


# ------------------------------------------------------------------ ResDMD matrices
#: Work (vector entries times dictionary size) above which conjugate partners share one
#: residual computation instead of each being computed.
_PAIRING_WORK = 1_000_000


class ResidualMatrices:
    """ResDMD's ``G``, ``A`` and ``L`` of snapshot pairs in a dictionary of ``N`` functions.

    Held as a factor ``R = [R_X, R_Y]`` with ``R^H R = [Psi_X, Psi_Y]^H [Psi_X, Psi_Y]``
    when the pairs were small enough to factor by QR (residuals accurate to round-off),
    otherwise as the three Gram matrices (residuals accurate to about ``sqrt(eps)``).

    Parameters
    ----------
    g, a, l : (N, N) arrays
        ``Psi_X^H Psi_X``, ``Psi_X^H Psi_Y``, ``Psi_Y^H Psi_Y``.
    n_pairs : int
        Number of snapshot pairs they were summed over.
    factor : (k, 2N) array, optional
        ``R`` as above.

    Examples
    --------
    >>> x = np.array([[1.0], [0.5], [0.25]])
    >>> m = ResidualMatrices.from_values(x[:-1], x[1:])
    >>> float(m.residuals(np.array([0.5]), np.ones((1, 1)))[0])
    0.0
    """

    def __init__(
        self,
        g: np.ndarray,
        a: np.ndarray,
        l: np.ndarray,  # noqa: E741 - the paper's name
        n_pairs: int,
        factor: np.ndarray | None = None,
    ) -> None:
        self.G, self.A, self.L = g, a, l
        self.n_pairs = int(n_pairs)
        self.factor = factor

    @property
    def n_functions(self) -> int:
        return self.G.shape[0]

    @classmethod
    def from_values(
        cls, psi_x: np.ndarray, psi_y: np.ndarray, exact: bool | None = None
    ) -> ResidualMatrices:
        """From the dictionary evaluated on the pairs (rows): QR when ``exact`` (default:
        when the work is below :data:`QR_WORK_LIMIT`), else Gram products."""
        m, n = psi_x.shape
        if exact is None:
            exact = m * (2 * n) ** 2 <= QR_WORK_LIMIT
        if exact:
            both = np.concatenate([psi_x, psi_y], axis=1)
            r = sla.qr(both, mode="r", check_finite=False)[0] if m > 2 * n else both
            rx, ry = r[:, :n], r[:, n:]
            return cls(rx.conj().T @ rx, rx.conj().T @ ry, ry.conj().T @ ry, m, factor=r)
        return cls(column_gram(psi_x), psi_x.conj().T @ psi_y, column_gram(psi_y), m)

    def in_basis(self, basis: np.ndarray) -> ResidualMatrices:
        """The same pairs in the dictionary ``psi @ basis`` (``basis``: ``(N, N')``)."""
        bh = basis.conj().T
        factor = None
        if self.factor is not None:
            n = self.n_functions
            factor = np.concatenate(
                [self.factor[:, :n] @ basis, self.factor[:, n:] @ basis], axis=1
            )
        return ResidualMatrices(
            bh @ self.G @ basis, bh @ self.A @ basis, bh @ self.L @ basis, self.n_pairs, factor
        )

    def residuals(self, eigenvalues: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """``||Psi_Y v - lam Psi_X v|| / ||Psi_X v||`` for each column ``v`` of ``vectors``.

        Infinite where the function vanishes on the data (``Psi_X v = 0``). With real
        matrices, the partner of a conjugate pair (``conj(v)``, ``conj(lam)``) shares its
        residual and is not computed twice.
        """
        lam = np.asarray(eigenvalues, dtype=complex)
        v = np.asarray(vectors)
        mats = (self.G, self.A, self.L, self.factor if self.factor is not None else self.G)
        # (pairing pays only when the products are large; small ones are faster whole)
        large = v.size * self.n_functions > _PAIRING_WORK
        if large and np.iscomplexobj(v) and not any(np.iscomplexobj(m) for m in mats):
            partner = {k: j for k, j in conjugate_columns(v).items() if lam[k] == np.conj(lam[j])}
            if partner:
                keep = np.array([j for j in range(v.shape[1]) if j not in partner])
                out = np.empty(v.shape[1])
                out[keep] = self._residuals(lam[keep], v[:, keep])
                for k, j in partner.items():
                    out[k] = out[j]
                return out
        return self._residuals(lam, v)

    def _residuals(self, lam: np.ndarray, v: np.ndarray) -> np.ndarray:
        if self.factor is not None:
            n = self.n_functions
            rx, ry = self.factor[:, :n] @ v, self.factor[:, n:] @ v
            num = np.linalg.norm(ry - rx * lam[None, :], axis=0) ** 2
            den = np.linalg.norm(rx, axis=0) ** 2
        else:
            # M v as (v^T M^T)^T: one real product for both parts of v (M real)
            gv, av, lv = (mul(v.T, m.T).T for m in (self.G, self.A, self.L))
            vh = v.conj()
            quad = np.einsum("ij,ij->j", vh, lv).real
            cross = np.einsum("ij,ij->j", vh, av)
            den = np.einsum("ij,ij->j", vh, gv).real
            num = quad - 2 * (lam.conj() * cross).real + np.abs(lam) ** 2 * den
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.sqrt(np.clip(num, 0, None) / den)
        return np.where(den > 0, out, np.inf)

    def pseudospectrum(self, z: np.ndarray) -> np.ndarray:
        """``min_g ||K g - z g|| / ||g||`` over the dictionary's span, for each point ``z``.

        The epsilon-pseudospectrum of the Koopman operator seen through the data is the
        region where this is below epsilon (Colbrook & Townsend 2024, their ``tau``).
        """
        z = np.asarray(z, dtype=complex)
        w, u = np.linalg.eigh(self.G)
        keep = w > max(w.max(), 0) * self.n_functions * np.finfo(float).eps
        if not keep.any():
            raise KoopkitError("the dictionary is zero on every snapshot pair: no pseudospectrum")
        t = u[:, keep] / np.sqrt(w[keep])
        flat = z.ravel()
        out = np.empty(flat.size)
        k = int(keep.sum())
        if self.factor is not None:
            n = self.n_functions
            bx, by = self.factor[:, :n] @ t, self.factor[:, n:] @ t
            size = bx.shape[0] * k * 16
        else:
            th = t.conj().T
            at, lt = th @ self.A @ t, th @ self.L @ t
            eye = np.eye(k)
            size = k * k * 16
        step = max(1, _PSEUDO_BLOCK_BYTES // max(size, 1))

        def block(i: int) -> None:
            zz = flat[i : i + step, None, None]
            if self.factor is not None:
                s = np.linalg.svd(by[None] - zz * bx[None], compute_uv=False)
                out[i : i + step] = s[:, -1]
            else:
                m = lt[None] - zz * at.conj().T[None] - zz.conj() * at[None]
                m = m + (np.abs(zz) ** 2) * eye[None]
                low = np.linalg.eigvalsh(m)[:, 0]
                out[i : i + step] = np.sqrt(np.clip(low, 0, None))

        # Many small problems: one BLAS thread each, the blocks spread over the cores.
        step = min(step, max(1, -(-flat.size // (4 * (os.cpu_count() or 1)))))
        with threadpool_limits(1), ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            list(pool.map(block, range(0, flat.size, step)))
        return out.reshape(z.shape)


def reduce_dictionary(
    mats: ResidualMatrices, rank: Any, floor: float, identity_ok: bool = False
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """The dictionary's leading directions: ``(basis, s_kept, s_all)``.

    ``Psi_X basis`` are orthogonal with norms ``s_kept`` (the singular values of ``Psi_X``
    that the rank rule keeps); ``basis`` is ``(N, r)``. With ``identity_ok``, a rule that
    keeps every direction returns ``basis = None`` (the dictionary itself) and computes
    no vectors.
    """
    if mats.factor is not None:
        n = mats.n_functions
        _, s_all, zh = sla.svd(mats.factor[:, :n], full_matrices=False, check_finite=False)
        z = zh.conj().T
        if s_all.size < n:  # fewer pairs than functions: the rest are exact zeros
            s_all = np.concatenate([s_all, np.zeros(n - s_all.size)])
        r = choose_rank(s_all, rank, (mats.n_functions, mats.n_pairs), floor)
        return z[:, :r], s_all[:r], s_all
    w = sla.eigvalsh(mats.G, check_finite=False)[::-1]
    s_all = np.sqrt(np.clip(w, 0, None))
    r = choose_rank(s_all, rank, (mats.n_functions, mats.n_pairs), floor)
    if identity_ok and r == mats.n_functions:
        return None, s_all, s_all
    n = mats.n_functions
    _, z = sla.eigh(mats.G, subset_by_index=[n - r, n - 1], check_finite=False)
    return z[:, ::-1], s_all[:r], s_all

"""Out-of-core passes over dask-backed data: the memory limit, Gram plans, lazy lifts."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from koopkit._errors import KoopkitError
from koopkit.backends._linalg.dense import complex_of, data_gram

#: Bytes of data per block of the out-of-core Gram pass.
DASK_BLOCK_BYTES = 256 * 2**20


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

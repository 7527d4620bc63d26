"""Small dense helpers: one BLAS thread for small work, Gram products, index views."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import scipy.linalg as sla

from koopkit._errors import KoopkitError
from koopkit._validation import check_finite, is_lazy

# ------------------------------------------------------------------ small helpers
#: threadpoolctl's controllers of the loaded BLAS libraries (found once, on first use).
_BLAS: list[Any] | None = None
#: Per thread: whether this thread is inside :func:`one_thread` already.
_INSIDE = threading.local()


#: Matrix order up to which dense work counts as small for :func:`one_thread`.
SMALL_ORDER = 1000


def _blas_libraries() -> list[Any]:
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = list(ThreadpoolController().select(user_api="blas").lib_controllers)
    return _BLAS


@contextmanager
def one_thread(order: int = 0) -> Iterator[None]:
    """Small dense work (the snapshot-space eigenproblems) on one BLAS thread.

    Right after a large multi-threaded product, OpenBLAS's threads come back slowly for
    small calls, and waking a pool costs more than small products share (measured in
    ``benchmarks/dmd_speed.py``). Matrices of order above :data:`SMALL_ORDER` keep every
    thread; nested calls cost nothing, and so does a BLAS already on one thread (the
    libraries' own thread counts are read and set directly, about a microsecond each).
    """
    if order > SMALL_ORDER or getattr(_INSIDE, "active", False):  # large, or nested
        yield
        return
    changed = []
    for lib in _blas_libraries():
        n = lib.get_num_threads()
        if n is not None and n != 1:
            lib.set_num_threads(1)
            changed.append((lib, n))
    _INSIDE.active = True
    try:
        yield
    finally:
        _INSIDE.active = False
        for lib, n in changed:
            lib.set_num_threads(n)


def qr_r(a: np.ndarray) -> np.ndarray:
    """The triangular factor ``R`` (``min(m, n) x n``) of ``a = Q R``, by one LAPACK
    ``geqrf`` call (``scipy.linalg.qr``'s checks and workspace query cost more than the
    factorisation of a small matrix).

    Examples
    --------
    >>> a = np.array([[3.0, 1.0], [4.0, 2.0], [0.0, 1.0]])
    >>> r = qr_r(a)
    >>> bool(np.allclose(r.T @ r, a.T @ a)), bool(np.allclose(np.tril(r, -1), 0))
    (True, True)
    """
    (geqrf,) = sla.get_lapack_funcs(("geqrf",), (a,))
    m, n = a.shape
    qr, _, _, info = geqrf(a, lwork=max(1, 64 * n))
    if info != 0:
        raise np.linalg.LinAlgError(f"QR factorisation failed (LAPACK info {info})")
    return np.triu(qr[: min(m, n)])


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


#: Rows up to which :func:`data_gram` takes a plain product (the rank-k update's triangle
#: costs more to fill than the product on so few rows).
_FEW_ROWS = 32


def data_gram(data: np.ndarray) -> np.ndarray:
    """``D^* D^T`` (entry ``(i, j) = d_i^H d_j`` of the rows), in double precision.

    No copy of ``D`` is made for C-ordered data: one BLAS rank-k update (``syrk``/``herk``),
    or for large real data one general product in the data's precision, symmetrised.
    """
    if data.dtype.kind == "f" and data.size >= _GEMM_GRAM_SIZE:
        g = np.asarray(data @ data.T, dtype=np.float64)
        return (g + g.T) / 2
    if data.shape[0] <= _FEW_ROWS:  # a few rows (modes): one product, no triangle to fill
        g = data.conj() @ data.T
        g = np.asarray((g + g.conj().T) / 2, dtype=np.complex128 if g.dtype.kind == "c" else float)
        return g
    fn, trans = _RANK_K[np.dtype(data.dtype)]
    upper = fn(1.0, data.T, trans=trans, lower=0)  # data.T is a Fortran-ordered view
    return _full_hermitian(upper, data.dtype.kind == "c")


def column_gram(psi: np.ndarray) -> np.ndarray:
    """``Psi^H Psi`` (entry ``(i, j) = psi_i^H psi_j`` of the columns), one rank-k update."""
    fn, _ = _RANK_K[np.dtype(psi.dtype)]
    upper = fn(1.0, psi.T, trans=0, lower=0)  # psi.T psi.T^H = conj(Psi^H Psi)
    out = _full_hermitian(upper, psi.dtype.kind == "c")
    return out.conj() if psi.dtype.kind == "c" else out


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


def squares_safe(norms2: np.ndarray, dtype: Any) -> bool:
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

"""Where the time of a small EDMD fit goes: koopkit against deeptime, step by step.

`koopkit benchmark` compares koopkit's EDMD with deeptime's on the benchmark's linear case
(64 features, 160 training snapshots, one BLAS thread). This script times the same two
comparisons -- EDMD on 100 RBFs (deeptime ``EDMD`` given koopkit's fitted RBF as its
basis) and Gaussian-kernel EDMD (deeptime ``KernelEDMD`` with the kernel of the same
bandwidth) -- and splits each library's fit into its numerical steps.

The fits are the real ones (``EDMD.fit`` on the training DataArray; the peer's
``library_fit`` call, exactly what the suite times). The steps are measured by wrapping
the functions the fits call (NumPy/SciPy's eigensolvers, solves and SVDs, koopkit's
helpers for modes and residuals, the dictionaries' ``fit``/``transform``) with a clock;
whatever a fit spends outside them is "other" (validation, bookkeeping, small products).
The libraries take turns, ``--repeat`` fits each; every figure is the mean over the
fastest half of the fits, so the steps add up to the total.

Steps are marked *shared* when both libraries do that work (the dictionary, the dense
eigensolver of the Koopman matrix, whose size is the same on both sides), *koopkit* or
*deeptime* when only one does. koopkit's own steps are results deeptime's fit does not
produce: the singular values of ``Psi_X`` (the rank rule and ``singular_values_``),
Koopman modes by least squares, amplitudes, ResDMD residuals, eigenfunction coefficients.

Usage::

    python benchmarks/edmd_fit_accounting.py            # 300 fits each
    python benchmarks/edmd_fit_accounting.py --repeat 50
"""

from __future__ import annotations

import argparse
import inspect
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np


class StepClock:
    """Wraps functions so that the time spent in each is added to its step's total.

    Time is exclusive: a wrapped function called from another counts for its own step and
    is taken off the caller's -- except a NumPy/SciPy routine (``kind="lapack"``) called
    from a library's own function (``kind="helper"``, koopkit's or deeptime's), which is
    part of that function's step. One of ``kind="split"`` lets the routines it calls
    count as their own steps.
    """

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self._undo: list[tuple[Any, str, Any]] = []
        self._stack: list[list] = []  # per open call: [time in wrapped callees, splits]

    def wrap(self, owner: Any, attr: str, step: str, kind: str = "lapack") -> None:
        inner = inspect.getattr_static(owner, attr)
        own = not isinstance(owner, type) or attr in owner.__dict__  # not inherited
        method = type(inner) if isinstance(inner, (classmethod, staticmethod)) else None
        call = inner.__func__ if method is not None else inner
        stack, spent = self._stack, self.spent

        def timed(*args: Any, **kwargs: Any) -> Any:
            if kind == "lapack" and stack and not stack[-1][1]:
                return call(*args, **kwargs)  # part of the calling helper's step
            stack.append([0.0, kind == "split"])
            t0 = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - t0
                spent[step] += elapsed - stack.pop()[0]
                if stack:
                    stack[-1][0] += elapsed

        setattr(owner, attr, method(timed) if method is not None else timed)
        self._undo.append((owner, attr, inner if own else None))

    def restore(self) -> None:
        for owner, attr, inner in reversed(self._undo):
            if inner is None:
                delattr(owner, attr)  # it was inherited: the base class's comes back
            else:
                setattr(owner, attr, inner)
        self._undo.clear()


def _targets() -> list[tuple[Any, str, str, str]]:
    """``(owner, attribute, step, kind)`` of every function a clock wraps."""
    import deeptime.decomposition._dmd as deeptime_dmd
    import deeptime.kernels
    import scipy.linalg

    import koopkit.backends._edmd_system as system
    import koopkit.backends.edmd as edmd
    from koopkit.backends._linalg import ResidualMatrices
    from koopkit.observables import RBF, GaussianKernel

    kernel = "dictionary: kernel bandwidth and Gram matrices"
    solve = "Koopman matrix: solve"
    return [
        (edmd, "as_trajectories", "input: checks, DataArray to arrays", "helper"),
        (deeptime_dmd, "to_dataset", "input: checks, DataArray to arrays", "helper"),
        (RBF, "fit", "dictionary: fit (centres, width)", "helper"),
        (RBF, "transform", "dictionary: evaluate", "helper"),
        (GaussianKernel, "fit", kernel, "helper"),
        (GaussianKernel, "fit_kernel", kernel, "helper"),
        (deeptime.kernels.GaussianKernel, "gram", kernel, "helper"),
        (deeptime.kernels.GaussianKernel, "apply", kernel, "helper"),
        (edmd.EDMD, "_kernel_system", "kernel: reduced pair matrices", "split"),
        (system, "small_primal", "pair matrices G, A, L", "split"),
        (ResidualMatrices, "from_values", "pair matrices G, A, L", "helper"),
        (edmd.EDMD, "_eig", solve, "split"),
        (np.linalg, "eig", "eigensolver of the Koopman matrix", "lapack"),
        (scipy.linalg, "eig", "eigensolver of the Koopman matrix", "lapack"),
        (np.linalg, "eigh", "kernel: eigh of K_XX (rank rule, basis)", "lapack"),
        (scipy.linalg, "svd", "singular values of Psi_X (rank rule)", "lapack"),
        (np.linalg, "solve", solve, "lapack"),
        (scipy.linalg, "solve", solve, "lapack"),
        (scipy.linalg, "pinv", "Koopman matrix: pinv(G)", "lapack"),
        (edmd, "lstsq_independent", "modes: least squares", "helper"),
        (edmd, "kernel_regression", "modes: least squares", "helper"),
        (edmd, "solve_vectors", "modes: by the eigenvectors", "helper"),
        (edmd, "paired_residuals", "ResDMD residuals", "helper"),
        (edmd, "times_vectors", "eigenfunction coefficients", "helper"),
        (edmd, "rms_order", "spectrum: mode order, KoopmanSpectrum", "helper"),
        (edmd, "build_linear_model", "spectrum: mode order, KoopmanSpectrum", "helper"),
    ]


#: The groups of steps, by the start of their names: the same work on both sides; the
#: Koopman matrix, each library its own way (with the rank rule's decomposition on
#: koopkit's side); results only koopkit's fit produces.
GROUPS = {
    "same work": ("input", "dictionary", "eigensolver"),
    "Koopman matrix": ("Koopman matrix", "pair matrices", "kernel:"),
    "koopkit's extra results": ("singular values", "modes", "ResDMD", "eigenfunction", "spectrum"),
}


def group_of(step: str) -> str:
    for group, starts in GROUPS.items():
        if step.startswith(starts):
            return group
    return ""


def _fits(case: Any) -> dict[str, tuple[Callable[[], Any], Callable[[], Any]]]:
    """``{row: (koopkit fit, deeptime fit)}``, as the benchmark suite times them."""
    from koopkit.benchmarking.suite.methods import build_methods

    methods = {m.name: m for m in build_methods()}
    n_train = int(round(case.train_fraction * case.data.sizes["time"]))
    train = case.data.isel(time=slice(0, n_train))
    out = {}
    for row, mine, peer in (
        ("EDMD, 100 RBFs", "EDMD RBF", "deeptime EDMD RBF"),
        ("Gaussian-kernel EDMD", "EDMD Gaussian kernel", "deeptime kernel EDMD"),
    ):
        model = methods[mine].make(case)
        out[row] = (lambda model=model: model.fit(train), methods[peer].library(case, train))
    return out


def account(fit: Callable[[], Any], clock: StepClock) -> dict[str, float]:
    """One fit: seconds per step, ``other`` and ``total``."""
    clock.spent.clear()
    t0 = time.perf_counter()
    fit()
    total = time.perf_counter() - t0
    steps = dict(clock.spent)
    steps["other"] = total - sum(steps.values())
    steps["total"] = total
    return steps


def fastest_half_mean(runs: list[dict[str, float]]) -> dict[str, float]:
    runs = sorted(runs, key=lambda r: r["total"])[: max(1, len(runs) // 2)]
    keys = {k for r in runs for k in r}
    return {k: float(np.mean([r.get(k, 0.0) for r in runs])) for k in keys}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--repeat", type=int, default=300, help="fits per library and row")
    args = p.parse_args(argv)

    from threadpoolctl import threadpool_limits

    from koopkit.benchmarking.suite.cases import build_cases

    warnings.simplefilter("ignore")
    case = build_cases(names=["linear"])[0]
    fits = _fits(case)
    clock = StepClock()
    with threadpool_limits(limits=1, user_api="blas"):
        for row, (mine, theirs) in fits.items():
            mine(), theirs()  # warm both up (imports, BLAS buffers)
            for t in _targets():
                clock.wrap(*t)
            try:
                runs: dict[str, list] = {"koopkit": [], "deeptime": []}
                for _ in range(args.repeat):  # taking turns
                    runs["koopkit"].append(account(mine, clock))
                    runs["deeptime"].append(account(theirs, clock))
            finally:
                clock.restore()
            report(
                row,
                args.repeat,
                fastest_half_mean(runs["koopkit"]),
                fastest_half_mean(runs["deeptime"]),
            )


def report(row: str, repeat: int, k: dict[str, float], d: dict[str, float]) -> None:
    """One row's table (Markdown): milliseconds per step, by group, then the totals."""
    print(f"\n**{row}** on the linear case ({repeat} fits each, BLAS on 1 thread)\n")
    print("| group | step | koopkit ms | deeptime ms |\n| --- | --- | ---: | ---: |")
    steps = [s for s in {**k, **d} if s not in ("other", "total")]
    order = list(GROUPS)
    steps.sort(key=lambda s: (order.index(group_of(s)), -max(k.get(s, 0), d.get(s, 0))))
    sums = {g: [0.0, 0.0] for g in GROUPS}
    for s in steps:
        a, b = k.get(s, 0.0), d.get(s, 0.0)
        sums[group_of(s)][0] += a
        sums[group_of(s)][1] += b
        print(f"| {group_of(s)} | {s} | {a * 1e3:.3f} | {b * 1e3:.3f} |")
    for s in ("other", "total"):
        print(f"| | {s} | {k[s] * 1e3:.3f} | {d[s] * 1e3:.3f} |")
    parts = "; ".join(f"{g}: {a * 1e3:.2f} against {b * 1e3:.2f} ms" for g, (a, b) in sums.items())
    print(
        f"\nBy group, koopkit against deeptime -- {parts}; other: {k['other'] * 1e3:.2f} against "
        f"{d['other'] * 1e3:.2f} ms. Ratio of the totals: {k['total'] / d['total']:.3f}."
    )


if __name__ == "__main__":
    main()

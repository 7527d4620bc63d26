"""Run the whole benchmark suite and write ``results.csv``, ``results.md`` and the plots.

The same as ``koopkit benchmark``: every method (koopkit's DMD variants, optimized DMD,
the Koopman autoencoder where torch is installed, koopkit's EDMD with three dictionaries,
PyDMD's DMD/HODMD/BOPDMD through the adapter, deeptime's DMD, EDMD and kernel EDMD where
the ``benchmark`` extra is installed) on every case with a known truth (linear system,
pendulum, bouncing balls, cylinder wake, a video clip). See
:mod:`koopkit.benchmarking.suite` for the metrics.

Usage::

    python benchmarks/run_all.py             # full cases -> benchmarks/results.md
    python benchmarks/run_all.py --quick     # small cases, under a minute (CI)
    python benchmarks/run_all.py --case linear --case pendulum -o /tmp/bench
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from koopkit.benchmarking import suite


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-o", "--out", type=Path, default=Path(__file__).resolve().parent)
    p.add_argument("--quick", action="store_true", help="small cases (CI)")
    p.add_argument("--case", action="append", choices=list(suite.CASES), help="repeatable")
    p.add_argument("--method", action="append", help="repeatable; default: all")
    p.add_argument("--no-memory", action="store_true", help="skip the memory-measuring fit")
    args = p.parse_args(argv)
    _, paths = suite.run(
        args.out,
        quick=args.quick,
        case_names=args.case,
        method_names=args.method,
        memory=not args.no_memory,
        progress=lambda s: print(s, file=sys.stderr, flush=True),
    )
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())

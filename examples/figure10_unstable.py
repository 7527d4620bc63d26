"""Figure 10: eigenvalues outside the unit circle -- a growing mode, found and kept.

A linear system (:func:`koopkit.datasets.linear_system`) with one growing oscillation
(``|lam| = 1.015``: growth rate ``+0.0149`` per step), one neutral oscillation on the
circle and one decaying pair, observed in 32 features with 2% noise. DMD places the
growing pair outside the unit circle (marked with red rings). Noise biases plain DMD's
eigenvalues inward -- towards decay; forward-backward DMD removes that bias, which matters
most where the sign of the growth rate is the question (stable or unstable?).

Writes into ``--out`` (default ``figure10/``): ``figure10_unstable.png``.

Examples
--------
.. code-block:: bash

    python examples/figure10_unstable.py --quick
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from koopkit import DMD  # noqa: E402
from koopkit.datasets import linear_system  # noqa: E402
from koopkit.plotting import plot_eigenvalues, save_figure  # noqa: E402

#: (|lam|, cycles per step) of the three pairs: growing, neutral, decaying.
PAIRS = ((1.015, 0.04), (1.0, 0.11), (0.95, 0.2))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="(already fast; kept for docs/build.sh)")
    p.add_argument("--noise", type=float, default=0.02)
    p.add_argument("--snapshots", type=int, default=150)
    p.add_argument("--out", type=Path, default=Path("figure10"))
    args = p.parse_args(argv)
    upper = np.array([r * np.exp(2j * np.pi * f) for r, f in PAIRS])
    eigs = np.concatenate([upper, upper.conj()])
    data = linear_system(eigs, n_features=32, n_snapshots=args.snapshots, noise=args.noise, seed=3)
    rank = eigs.size
    fits = {
        "DMD": DMD(rank=rank).fit(data).spectrum_,
        "forward-backward DMD": DMD(rank=rank, forward_backward=True).fit(data).spectrum_,
    }
    print(f"{'mode':<10} {'true |lam|':>11} " + " ".join(f"{n:>22}" for n in fits))
    ok = True
    for (r, f), z in zip(PAIRS, upper, strict=True):
        row = []
        for name, spec in fits.items():
            lam = spec.eigenvalues.values
            est = lam[np.argmin(np.abs(lam - z))]
            row.append(f"{abs(est):>22.5f}")
            if r > 1 and name == "forward-backward DMD":
                ok &= abs(est) > 1
        print(f"f = {f:<6g} {r:>11.5f} " + " ".join(row))

    fig = Figure(figsize=(12, 5.2), layout="constrained")
    left, right = fig.subplots(1, 2)
    plot_eigenvalues(fits["DMD"], ax=left, title="exact DMD eigenvalues (noisy data)")
    left.plot(eigs.real, eigs.imag, "kx", ms=9, mew=2, label="truth")
    left.legend(loc="lower left", fontsize=8)
    # |lam| against frequency: the unit circle is the line |lam| = 1.
    right.axhline(1.0, color="0.5", ls="--", lw=1, label="unit circle |lam| = 1")
    right.plot([f for _, f in PAIRS], [r for r, _ in PAIRS], "kx", ms=12, mew=2.5, label="truth")
    for (name, spec), marker in zip(fits.items(), ("o", "s"), strict=True):
        keep = spec.frequencies.values > 0
        right.plot(
            spec.frequencies.values[keep],
            np.abs(spec.eigenvalues.values[keep]),
            marker,
            ms=10,
            mfc="none",
            mew=2,
            ls="none",
            label=name,
        )
    right.set_title("|lam| against frequency: above the line = growing")
    right.set_xlabel("frequency (cycles per step)")
    right.set_ylabel("|lam|")
    right.legend(fontsize=8)
    right.grid(alpha=0.3)
    args.out.mkdir(parents=True, exist_ok=True)
    save_figure(fig, args.out / "figure10_unstable.png", dpi=100)
    print(f"wrote {args.out / 'figure10_unstable.png'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

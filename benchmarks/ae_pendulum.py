"""Koopman autoencoder on the nonlinear pendulum (Azencot et al. 2020 settings).

theta0 = 0.8 and 2.4, dt = 0.1, a 64-dimensional lift, training on the first 600 snapshots.
The score is the relative error ``||x_pred - x_true|| / ||x_true||`` at 100 and 1000 steps,
averaged over 30 test starts after the training span (starts 600, 610, ..., 890), each
forecast from a single state. Baselines: rank-3 DMD from the same single state, and DMD with
8 delays (which needs the last 8 states). The autoencoder uses its DEFAULT parameters.

Residuals: each spectrum's eigenpairs with their ResDMD residual ``||K g - lam g|| / ||g||``
on the training pairs: the autoencoder's (its encoder as the dictionary), EDMD with the
trained encoder as its dictionary (the best linear map in the same latent span), and the
DMD-with-8-delays fit (its POD coordinates as the dictionary).

Run::

    python benchmarks/ae_pendulum.py            # both settings, default parameters
    python benchmarks/ae_pendulum.py --theta0 2.4 --epochs 30
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from koopkit import DMD, EDMD
from koopkit.backends.autoencoder import KoopmanAutoencoder
from koopkit.datasets import pendulum
from koopkit.observables import Encoder

N_TRAIN = 600
STARTS = N_TRAIN + 10 * np.arange(30)
HORIZONS = (100, 1000)


def rel_errors(model, data, delays: int) -> dict[int, float]:
    """Mean relative error at each horizon over the test starts."""
    errs = {h: [] for h in HORIZONS}
    for k in STARTS:
        initial = data.isel(time=slice(k - delays + 1, k + 1))
        pred = model.predict(steps=max(HORIZONS), initial=initial).values
        for h in HORIZONS:
            truth = data.values[k + h]
            errs[h].append(np.linalg.norm(pred[h - 1] - truth) / np.linalg.norm(truth))
    return {h: float(np.mean(v)) for h, v in errs.items()}


def run(theta0: float, **params) -> dict:
    data = pendulum(theta0=theta0, n_snapshots=int(STARTS[-1]) + max(HORIZONS) + 1)
    train = data.isel(time=slice(0, N_TRAIN))
    f_true = data.attrs["frequency"]
    t0, c0 = time.perf_counter(), time.process_time()
    ae = KoopmanAutoencoder(**params).fit(train)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    freqs = ae.spectrum_.frequencies.values
    lead = float(freqs[np.argmin(np.abs(np.abs(freqs) - f_true))])
    dmd8 = DMD(delays=8).fit(train)
    rows = {
        "autoencoder": rel_errors(ae, data, int(ae.delays)),
        "DMD rank 3, 1 state": rel_errors(DMD(rank=3).fit(train), data, 1),
        "DMD 8 delays, 8 states": rel_errors(dmd8, data, 8),
    }
    spectra = {
        "autoencoder (its encoder as the dictionary)": ae.spectrum_,
        "EDMD on Encoder(autoencoder)": EDMD(observables=Encoder(ae)).fit(train).spectrum_,
        "DMD 8 delays (POD coordinates)": dmd8.spectrum_,
    }
    return {
        "theta0": theta0,
        "seconds": seconds,
        "cpu": cpu,
        "f_true": f_true,
        "f_learned": abs(lead),
        "rows": rows,
        "spectrum": ae.spectrum_,
        "spectra": spectra,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--theta0", type=float, nargs="*", default=[0.8, 2.4])
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--no-refine", action="store_true")
    args = parser.parse_args()
    params = {"progress": False}
    if args.epochs is not None:
        params["epochs"] = args.epochs
    if args.no_refine:
        params["refine"] = False
    for theta0 in args.theta0:
        r = run(theta0, **params)
        rel = abs(r["f_learned"] - r["f_true"]) / r["f_true"]
        print(f"\n### pendulum theta0 = {theta0}  (train {N_TRAIN} snapshots, 30 test starts)\n")
        print(
            f"autoencoder (default parameters) trained in {r['seconds']:.1f} s wall clock "
            f"({r['cpu']:.1f} s CPU time); leading frequency "
            f"{r['f_learned']:.6f} vs true {r['f_true']:.6f} (relative error {rel:.1e})\n"
        )
        print("| model | rel. error @100 | rel. error @1000 |")
        print("|---|---|---|")
        for name, errs in r["rows"].items():
            print(f"| {name} | {errs[100]:.2e} | {errs[1000]:.2e} |")
        print(f"\nresiduals on the {N_TRAIN} training snapshots (true frequency {r['f_true']:.6f})")
        for name, spec in r["spectra"].items():
            print_residuals(name, spec)


def print_residuals(name: str, spec, top: int = 12) -> None:
    """Eigenvalues (largest RMS amplitude first) with their residuals, as a Markdown table."""
    print(
        f"\n{name}: {len(spec)} eigenvalues" + (f", the {top} largest" if len(spec) > top else "")
    )
    print("\n| eigenvalue | abs | frequency | rms amplitude | residual |")
    print("|---|---|---|---|---|")
    lam = spec.eigenvalues.values
    for k in range(min(top, len(spec))):
        print(
            f"| {lam[k].real:+.6f} {lam[k].imag:+.6f}i | {abs(lam[k]):.6f} "
            f"| {spec.frequencies.values[k]:+.6f} | {spec.rms_amplitudes.values[k]:.3g} "
            f"| {spec.residuals.values[k]:.2e} |"
        )


if __name__ == "__main__":
    main()

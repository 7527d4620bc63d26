"""Figure 7: forecast error against the horizon, DMD against the Koopman autoencoder.

The nonlinear pendulum released at ``theta0 = 2.4`` rad (far from the small-angle, linear
regime) lifted to 64 features (:func:`koopkit.datasets.pendulum`). Every method is fitted
on the first 600 snapshots and forecasts from the state at the end of that span:

* ``DMD rank 2, 1 state`` -- frame-to-frame DMD from the single last state (the lifted
  data have rank 2);
* ``DMD 8 delays, 8 states`` -- DMD on 8 stacked states (needs the last 8);
* ``autoencoder`` -- :class:`koopkit.KoopmanAutoencoder` from the single last state
  (``--epochs`` x ``--steps`` optimizer steps; left out when torch is missing).

The error is ``||x_hat_k - x_k|| / ||x_k||`` at every step ``k`` of the horizon.

Writes into ``--out`` (default ``figure7/``): ``figure7_horizon.png`` and
``figure7_horizon.csv``.

Examples
--------
.. code-block:: bash

    python examples/figure7_horizon.py --quick     # small training budget, ~1 minute
    python examples/figure7_horizon.py             # the autoencoder's default budget
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

from koopkit import DMD  # noqa: E402
from koopkit.datasets import pendulum  # noqa: E402
from koopkit.plotting import plot_error_vs_horizon, save_figure  # noqa: E402

N_TRAIN = 600


def relative_errors(model, data, start: int, delays: int, steps: int) -> np.ndarray:
    """``||x_hat_k - x_k|| / ||x_k||`` for ``k = 1 .. steps`` after state ``start``."""
    initial = data.isel(time=slice(start - delays + 1, start + 1))
    pred = np.asarray(model.predict(steps=steps, initial=initial).values)
    truth = data.values[start + 1 : start + 1 + steps]
    return np.linalg.norm(pred - truth, axis=1) / np.linalg.norm(truth, axis=1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small training budget, short horizon")
    p.add_argument("--theta0", type=float, default=2.4)
    p.add_argument("--epochs", type=int, default=None, help="autoencoder epochs [60; quick 6]")
    p.add_argument("--steps", type=int, default=None, help="steps per epoch [100; quick 40]")
    p.add_argument("--no-ae", action="store_true", help="leave the autoencoder out")
    p.add_argument("--out", type=Path, default=Path("figure7"))
    args = p.parse_args(argv)
    horizon = 150 if args.quick else 400
    data = pendulum(theta0=args.theta0, n_snapshots=N_TRAIN + horizon + 1, dt=0.1, seed=0)
    train = data.isel(time=slice(0, N_TRAIN))
    start = N_TRAIN - 1
    dt = float(data.attrs["dt"])
    errors: dict[str, np.ndarray] = {
        "DMD rank 2, 1 state": relative_errors(DMD(rank=2).fit(train), data, start, 1, horizon),
        "DMD 8 delays, 8 states": relative_errors(
            DMD(delays=8).fit(train), data, start, 8, horizon
        ),
    }
    if not args.no_ae:
        try:
            from koopkit import KoopmanAutoencoder

            epochs = args.epochs or (6 if args.quick else 60)
            steps = args.steps or (40 if args.quick else 100)
            t0 = time.perf_counter()
            ae = KoopmanAutoencoder(epochs=epochs, steps_per_epoch=steps, progress=False, seed=0)
            ae.fit(train)
            seconds = time.perf_counter() - t0
            print(f"autoencoder: {epochs} epochs x {steps} steps in {seconds:.0f} s")
            errors["autoencoder, 1 state"] = relative_errors(ae, data, start, ae.delays, horizon)
        except Exception as exc:  # noqa: BLE001 -- torch missing or the backend unavailable
            print(f"autoencoder left out: {exc}")
    print(f"pendulum theta0 = {args.theta0}, frequency {data.attrs['frequency']:.5f} Hz")
    print(f"{'method':<24} {'k=1':>9} {'k=10':>9} {'k=50':>9} {f'k={horizon}':>9}")
    for name, e in errors.items():
        print(f"{name:<24} {e[0]:>9.2e} {e[9]:>9.2e} {e[49]:>9.2e} {e[-1]:>9.2e}")
    args.out.mkdir(parents=True, exist_ok=True)
    ax = plot_error_vs_horizon(errors, dt=dt, time_units="s")
    ax.set_ylabel("||x_hat - x|| / ||x||")
    ax.set_title(f"pendulum, theta0 = {args.theta0} rad: forecast from the end of the fit")
    save_figure(ax, args.out / "figure7_horizon.png", dpi=100)
    with open(args.out / "figure7_horizon.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        names = list(errors)
        writer.writerow(["step", "time", *names])
        for k in range(horizon):
            writer.writerow([k + 1, f"{(k + 1) * dt:.6g}", *(f"{errors[n][k]:.6g}" for n in names)])
    print(f"wrote {args.out / 'figure7_horizon.png'}, figure7_horizon.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Shared fixtures: seeded generators and small constructed systems with known spectra."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

#: lam = 1, a decaying pair, a growing pair and a decaying real mode
TRUE_EIGENVALUES = np.array(
    [
        1.0,
        0.985 * np.exp(0.3j),
        0.985 * np.exp(-0.3j),
        1.004 * np.exp(0.7j),
        1.004 * np.exp(-0.7j),
        0.95,
    ]
)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


def make_linear(
    eigenvalues,
    n_features: int,
    n_snapshots: int,
    dt: float,
    seed: int = 0,
    units: str = "s",
    steps=None,
) -> xr.DataArray:
    """Real data x_k = sum_j b_j lam_j^k phi_j with orthonormal real mode bases.

    Built here (not with koopkit.datasets) so the DMD tests do not rest on koopkit code.
    ``steps`` evaluates the same system at other (possibly fractional) step numbers.
    """
    rng = np.random.default_rng(seed)
    lam = np.asarray(eigenvalues, dtype=complex)
    q, _ = np.linalg.qr(rng.standard_normal((n_features, len(lam))))
    k = np.arange(n_snapshots) if steps is None else np.asarray(steps, dtype=float)
    x = np.zeros((len(k), n_features))
    col = 0
    done = set()
    for i, z in enumerate(lam):
        if i in done:
            continue
        if abs(z.imag) < 1e-14:
            x += np.outer(z.real**k, q[:, col]) * (1 + i)
            col += 1
            done.add(i)
        else:
            j = int(np.argmin(np.abs(lam - z.conjugate()) + (np.arange(len(lam)) == i) * 1e9))
            a, b = q[:, col], q[:, col + 1]
            r, th = abs(z), np.angle(z)
            x += np.outer(r**k * np.cos(th * k), a) + np.outer(r**k * np.sin(th * k), b)
            col += 2
            done |= {i, j}
    return xr.DataArray(
        x,
        dims=("time", "feature"),
        coords={"time": ("time", k * dt, {"units": units})},
        name="x",
    )


def match(found: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Max relative distance from each true eigenvalue to its nearest found one."""
    found = np.asarray(found, dtype=complex)
    d = np.abs(np.asarray(truth)[:, None] - found[None, :]).min(axis=1)
    return d / np.abs(truth)


@pytest.fixture(scope="session", autouse=True)
def _one_blas_thread_per_worker():
    """Under pytest-xdist each worker gets one BLAS thread, so workers do not oversubscribe."""
    import os

    if not os.environ.get("PYTEST_XDIST_WORKER"):
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def torchrun_env() -> dict[str, str]:
    """Environment for a ``torch.distributed.run`` child: this checkout importable, one
    thread per rank, and no rendezvous variables inherited from an outer run."""
    import os
    from pathlib import Path

    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    return env


def kill_training_after(monkeypatch, train_module, steps: int) -> None:
    """Make the autoencoder's training die (KeyboardInterrupt) at optimizer step ``steps + 1``,
    as a killed job would; undo with ``monkeypatch.undo()`` or by restoring
    ``train_module.window_losses``."""
    import torch

    real = train_module.window_losses
    calls = {"n": 0}

    def killed(*args, **kwargs):
        if torch.is_grad_enabled():
            calls["n"] += 1
            if calls["n"] > steps:
                raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "window_losses", killed)

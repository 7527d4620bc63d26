"""A complete koopkit backend in one class plus one registry line: Hankel DMD.

``HankelDMD(delays=2)`` stacks a fixed number of consecutive frames into each state,
fits DMD on those states with plain NumPy (a thin SVD, the reduced operator, exact
modes) and chooses the amplitudes by least squares over every state (Jovanovic et al.
2014). It follows the backend contract written in ``koopkit/backends/base.py``:
parameters stored in ``__init__``, input validated by ``as_snapshots``, and ``fit`` sets
``spectrum_``, ``_data_info``, ``rank_`` and ``n_features_in_``; ``LinearModelMixin``
gives ``predict`` and ``reconstruct``. Importing this file registers it as
``"hankel_dmd"``::

    import koopkit
    import custom_backend  # noqa: F401  (registers "hankel_dmd")

    model = koopkit.backends.get("hankel_dmd", delays=3).fit(data)

Run it (``python examples/custom_backend.py``) to fit a small linear system and print
the largest eigenvalue error.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import koopkit
from koopkit.backends.base import (
    KoopmanEstimator,
    LinearModelMixin,
    as_snapshots,
    build_linear_model,
    mode_norms,
)


class HankelDMD(LinearModelMixin, KoopmanEstimator):
    """DMD on a time-delay embedding of ``delays`` frames (exact modes, optimal amplitudes).

    Parameters
    ----------
    delays : int
        Frames per state, oldest first.
    tol : float
        Keep the singular values above ``tol`` times the largest (the rank).
    """

    name = "hankel_dmd"

    def __init__(self, delays: int = 2, tol: float = 1e-10) -> None:
        self.delays = delays
        self.tol = tol

    def fit(self, data: Any, *, dt: float | None = None, variable: str | None = None):
        d = self.delays
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
            raise koopkit.KoopkitError(f"delays={d!r} must be an integer >= 1")
        if not 0 < self.tol < 1:
            raise koopkit.KoopkitError(f"tol={self.tol!r} must lie between 0 and 1")
        info = as_snapshots(data, dt=dt, variable=variable, min_snapshots=d + 2)
        x = np.asarray(info.matrix)
        m, n = x.shape
        z = np.concatenate([x[j : m - d + 1 + j] for j in range(d)], axis=1)  # states (rows)
        u, s, vh = np.linalg.svd(z[:-1].T, full_matrices=False)
        r = int(np.sum(s > self.tol * s[0]))
        u, s, v = u[:, :r], s[:r], vh[:r].conj().T
        lam, w = np.linalg.eig(u.conj().T @ z[1:].T @ v / s)
        modes = ((z[1:].T @ v / s) @ w).T.reshape(r, d, n)  # exact modes, up to scale
        modes /= mode_norms(modes)[:, None, None]
        # amplitudes b minimising sum_k ||z_k - sum_j b_j lam_j^k phi_j||^2
        phi = modes.reshape(r, -1).T
        vand = lam[:, None] ** np.arange(len(z))
        p = (phi.conj().T @ phi) * (vand @ vand.conj().T).conj()
        q = np.sum(vand.conj() * (phi.conj().T @ z.T), axis=1)
        b = np.linalg.lstsq(p, q, rcond=None)[0]
        self.spectrum_, self._linear = build_linear_model(
            info,
            lam,
            modes,
            b,
            b * lam ** (len(z) - 1),
            n_states=len(z),
            t0=float(info.times[d - 1]),
            backend=self.name,
            params=self.get_params(),
        )
        self._data_info = info
        self.rank_ = r
        self.n_features_in_ = n
        return self


koopkit.backends.register(HankelDMD)


if __name__ == "__main__":
    from koopkit.datasets import linear_system

    true = np.exp(np.array([-0.01 + 0.3j, -0.02 + 0.7j, -0.005 + 1.3j]))
    true = np.concatenate([true, true.conj()])
    data = linear_system(true, n_features=8, n_snapshots=100, dt=1.0)
    model = koopkit.backends.get("hankel_dmd").fit(data)
    lam = model.spectrum_.eigenvalues.values
    err = max(np.abs(lam - t).min() for t in true)
    print(f"{model!r}: rank {model.rank_}, largest eigenvalue error {err:.1e}")
    print(model.spectrum_)

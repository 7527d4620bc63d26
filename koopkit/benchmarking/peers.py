"""deeptime's EDMD and kernel EDMD behind koopkit's contract, as peers in the benchmarks.

:class:`DeeptimeEDMD` fits ``deeptime.decomposition.EDMD`` (a basis: deeptime's own, such
as ``deeptime.basis.Monomials``, any callable, or a koopkit observable fitted on the
training snapshots) or ``deeptime.decomposition.KernelEDMD`` (a deeptime kernel, or a
koopkit :class:`~koopkit.observables.RBF` whose fitted width becomes the bandwidth of a
Gaussian kernel) on the snapshot pairs of one series, and translates the result the way
koopkit's own EDMD does: deeptime's eigenvalues are already discrete-time (one step of the
data's ``dt``); its eigenfunctions are evaluated on every fitted state, the state is
regressed on them to give the modes, and the model forecasts with the same
:class:`~koopkit.backends.base.LinearForecast`. deeptime measures no residuals.

deeptime is optional (the ``benchmark`` extra): :func:`deeptime_status` says why it is
missing, and nothing here imports it before a fit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from koopkit._errors import KoopkitError
from koopkit.backends.base import (
    KoopmanEstimator,
    LinearModelMixin,
    as_snapshots,
    build_linear_model,
)
from koopkit.observables import RBF, Observable, RandomFourier

__all__ = ["DeeptimeEDMD", "deeptime_status"]


def deeptime_status() -> str:
    """``""`` when deeptime's EDMD can be imported, else why not (one line).

    Examples
    --------
    >>> isinstance(deeptime_status(), str)
    True
    """
    try:
        import deeptime
        from deeptime.decomposition import EDMD, KernelEDMD  # noqa: F401
    except Exception as exc:  # noqa: BLE001 -- any failure means "not available"
        return f"deeptime: {type(exc).__name__}: {exc} (pip install 'koopkit[benchmark]')"
    return "" if deeptime.__version__ else "deeptime: no version"


class DeeptimeEDMD(LinearModelMixin, KoopmanEstimator):
    """deeptime's EDMD (a basis) or kernel EDMD (a kernel) wrapped as a koopkit estimator.

    Parameters
    ----------
    basis : callable or Observable, optional
        For ``deeptime.decomposition.EDMD``: a map ``(T, n) -> (T, N)`` such as
        ``deeptime.basis.Monomials(p, d)``, or a koopkit observable (cloned and fitted on
        the training snapshots at every ``fit``, then evaluated by deeptime).
    kernel : deeptime kernel, RBF or RandomFourier, optional
        For ``deeptime.decomposition.KernelEDMD``: e.g.
        ``deeptime.kernels.GaussianKernel(sigma)``; or a koopkit
        :class:`~koopkit.observables.RBF` (:class:`~koopkit.observables.RandomFourier`)
        whose width ``width_`` (bandwidth ``bandwidth_``) on the training snapshots becomes
        the ``sigma`` of a Gaussian kernel -- the kernel random Fourier features
        approximate.
    epsilon : float
        KernelEDMD's regularization (``(G_XX + epsilon I)^-1``).

    Exactly one of ``basis`` and ``kernel`` is given.

    Attributes
    ----------
    spectrum_ : KoopmanSpectrum
        Backend ``"deeptime:EDMD"`` or ``"deeptime:KernelEDMD"``; no residuals.
    estimator_ : the fitted deeptime estimator

    Examples
    --------
    >>> from koopkit.observables import Identity
    >>> k = np.arange(20)
    >>> x = np.outer(0.9**k, [1.0, 2.0]) + np.outer(0.5**k, [1.0, -1.0])
    >>> model = DeeptimeEDMD(basis=Identity()).fit(x, dt=1.0)
    >>> np.round(np.sort(model.spectrum_.eigenvalues.values.real), 10)
    array([0.5, 0.9])
    """

    name = "deeptime"

    def __init__(self, basis: Any = None, kernel: Any = None, epsilon: float = 0.0) -> None:
        self.basis = basis
        self.kernel = kernel
        self.epsilon = epsilon

    def fit(self, data: Any, *, dt: float | None = None, variable: str | None = None) -> Any:
        """Fit to one series (DataArray, Dataset variable, or array with ``dt=``)."""
        if (self.basis is None) == (self.kernel is None):
            raise KoopkitError("give exactly one of basis= (EDMD) and kernel= (kernel EDMD)")
        reason = deeptime_status()
        if reason:
            raise KoopkitError(reason)
        from deeptime.decomposition import EDMD, KernelEDMD
        from deeptime.kernels import GaussianKernel

        info = as_snapshots(data, dt=dt, variable=variable)
        x = np.asarray(info.matrix)
        if np.iscomplexobj(x):
            raise KoopkitError("deeptime's EDMD needs real data")
        x = x.astype(np.float64, copy=False)
        pairs = (x[:-1], x[1:])
        if self.kernel is not None:
            kernel = self.kernel
            if isinstance(kernel, RBF):
                kernel = GaussianKernel(kernel.clone().fit(x).width_)
            elif isinstance(kernel, RandomFourier):
                kernel = GaussianKernel(kernel.clone().fit(x).bandwidth_)
            est = KernelEDMD(kernel, epsilon=float(self.epsilon)).fit(pairs)
        else:
            basis = self.basis
            if isinstance(basis, Observable):
                if basis.lag:
                    raise KoopkitError("deeptime's EDMD takes pointwise bases only (no delays)")
                basis = basis.clone().fit(x).transform
            est = EDMD(basis).fit(pairs)
        model = est.fetch_model()
        lam = np.asarray(model.eigenvalues, dtype=complex)
        values = np.asarray(model.transform(x), dtype=complex)  # eigenfunctions on the states
        modes = np.linalg.lstsq(values, x.astype(complex), rcond=None)[0]
        norms = np.linalg.norm(modes, axis=1)
        norms = np.where(norms > 0, norms, 1.0)
        modes = modes / norms[:, None]
        self.spectrum_, self._linear = build_linear_model(
            info,
            lam,
            modes[:, None, :],
            values[0] * norms,
            values[-1] * norms,
            n_states=info.n_time,
            t0=float(info.times[0]),
            backend=f"deeptime:{type(est).__name__}",
            params={"basis": repr(self.basis), "kernel": repr(self.kernel)},
        )
        self._data_info = info
        self.estimator_ = est
        self.rank_ = int(lam.size)
        self.n_features_in_ = int(x.shape[1])
        return self

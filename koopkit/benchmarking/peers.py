"""deeptime's DMD, EDMD and kernel EDMD behind koopkit's contract, as benchmark peers.

:class:`DeeptimeDMD` fits ``deeptime.decomposition.DMD`` (``mode="exact"`` or
``"standard"``: exact or projected modes, the same eigenvalues) on the snapshot pairs of
one series; the amplitudes of the first and last states are least-squares fits onto the
modes, as PyDMD computes them.

:class:`DeeptimeEDMD` fits ``deeptime.decomposition.EDMD`` (a basis: deeptime's own, such
as ``deeptime.basis.Monomials``, any callable, or a koopkit observable fitted on the
training snapshots) or ``deeptime.decomposition.KernelEDMD`` (a deeptime kernel, or a
koopkit :class:`~koopkit.observables.GaussianKernel`, :class:`~koopkit.observables.RBF` or
:class:`~koopkit.observables.RandomFourier` whose fitted bandwidth becomes that of deeptime's
Gaussian kernel) on the snapshot pairs of one series, and translates the result the way
koopkit's own EDMD does: deeptime's eigenvalues are already discrete-time (one step of the
data's ``dt``); its eigenfunctions are evaluated on every fitted state, the state is
regressed on them to give the modes, and the model forecasts with the same
:class:`~koopkit.backends.base.LinearForecast`. deeptime measures no residuals.

Both have :meth:`~DeeptimeDMD.library_fit`: a call that does deeptime's part of a fit on
validated, paired data -- what the benchmark suite times (without the translation into a
koopkit spectrum).

deeptime is optional (the ``benchmark`` extra): :func:`deeptime_status` says why it is
missing, and nothing here imports it before a fit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from koopkit._errors import KoopkitError
from koopkit.backends.base import (
    KoopmanEstimator,
    LinearModelMixin,
    Snapshots,
    as_snapshots,
    build_linear_model,
)
from koopkit.observables import RBF, GaussianKernel, Observable, RandomFourier

__all__ = ["DeeptimeDMD", "DeeptimeEDMD", "deeptime_status"]


def deeptime_status() -> str:
    """``""`` when deeptime's EDMD can be imported, else why not (one line).

    Examples
    --------
    >>> isinstance(deeptime_status(), str)
    True
    """
    try:
        import deeptime
        from deeptime.decomposition import DMD, EDMD, KernelEDMD  # noqa: F401
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
    kernel : deeptime kernel, GaussianKernel, RBF or RandomFourier, optional
        For ``deeptime.decomposition.KernelEDMD``: e.g.
        ``deeptime.kernels.GaussianKernel(sigma)``; or a koopkit
        :class:`~koopkit.observables.GaussianKernel` (without delays: deeptime's kernel acts
        on single frames), :class:`~koopkit.observables.RBF` or
        :class:`~koopkit.observables.RandomFourier`, whose bandwidth ``bandwidth_`` (width
        ``width_``) on the training snapshots becomes the ``sigma`` of deeptime's Gaussian
        kernel -- the kernel koopkit's ``GaussianKernel`` evaluates and random Fourier
        features approximate.
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

    def library_fit(
        self, data: Any, *, dt: float | None = None, variable: str | None = None
    ) -> Callable[[], Any]:
        """A call that does deeptime's part of a fit to ``data``, and nothing else.

        The data are validated and turned into snapshot pairs first; the call fits a koopkit
        observable's parameters (centres, width: work koopkit's EDMD also does in its fit)
        and then deeptime's estimator, returning it. The benchmark suite times this call.

        Examples
        --------
        >>> from koopkit.observables import Identity
        >>> call = DeeptimeEDMD(basis=Identity()).library_fit(np.ones((6, 2)), dt=1.0)
        >>> type(call()).__name__
        'EDMD'
        """
        info, x, pairs = self._arrays(data, dt, variable)
        return lambda: self._estimator(x).fit(pairs)

    def _arrays(
        self, data: Any, dt: float | None, variable: str | None
    ) -> tuple[Snapshots, np.ndarray, tuple[np.ndarray, np.ndarray]]:
        if (self.basis is None) == (self.kernel is None):
            raise KoopkitError("give exactly one of basis= (EDMD) and kernel= (kernel EDMD)")
        reason = deeptime_status()
        if reason:
            raise KoopkitError(reason)
        info = as_snapshots(data, dt=dt, variable=variable)
        x = np.asarray(info.matrix)
        if np.iscomplexobj(x):
            raise KoopkitError("deeptime's EDMD needs real data")
        x = x.astype(np.float64, copy=False)
        return info, x, (x[:-1], x[1:])

    def _estimator(self, x: np.ndarray) -> Any:
        """deeptime's estimator, unfitted, its basis or kernel fitted to the states ``x``."""
        from deeptime.decomposition import EDMD, KernelEDMD
        from deeptime.kernels import GaussianKernel as Gaussian

        if self.kernel is not None:
            kernel = self.kernel
            if isinstance(kernel, GaussianKernel) and kernel.lag:
                raise KoopkitError("deeptime's Gaussian kernel acts on single frames: use delays=1")
            if isinstance(kernel, RBF):
                kernel = Gaussian(kernel.clone().fit(x).width_)
            elif isinstance(kernel, (GaussianKernel, RandomFourier)):
                kernel = Gaussian(kernel.clone().fit(x).bandwidth_)
            est = KernelEDMD(kernel, epsilon=float(self.epsilon))
        else:
            basis = self.basis
            if isinstance(basis, Observable):
                if basis.lag:
                    raise KoopkitError("deeptime's EDMD takes pointwise bases only (no delays)")
                basis = basis.clone().fit(x).transform
            est = EDMD(basis)
        return est

    def fit(self, data: Any, *, dt: float | None = None, variable: str | None = None) -> Any:
        """Fit to one series (DataArray, Dataset variable, or array with ``dt=``)."""
        info, x, pairs = self._arrays(data, dt, variable)
        est = self._estimator(x).fit(pairs)
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


class DeeptimeDMD(LinearModelMixin, KoopmanEstimator):
    """deeptime's DMD (exact or projected modes) wrapped as a koopkit estimator.

    Parameters
    ----------
    mode : {"exact", "standard"}
        deeptime's ``mode``: exact DMD modes (Tu et al.) or the projected ones (Schmid).
    rank : int, optional
        SVD truncation (deeptime's ``rank``); None keeps every singular value.

    Attributes
    ----------
    spectrum_ : KoopmanSpectrum
        Backend ``"deeptime:DMD"``; no residuals. Amplitudes: least squares of the first
        (and, for forecasts, the last) state onto the modes.
    estimator_ : the fitted ``deeptime.decomposition.DMD``

    Examples
    --------
    >>> k = np.arange(20)
    >>> x = np.outer(0.9**k, [1.0, 2.0, 0.0]) + np.outer(0.5**k, [1.0, -1.0, 1.0])
    >>> model = DeeptimeDMD(rank=2).fit(x, dt=1.0)
    >>> np.round(np.sort(model.spectrum_.eigenvalues.values.real), 10)
    array([0.5, 0.9])
    """

    name = "deeptime"

    def __init__(self, mode: str = "exact", rank: int | None = None) -> None:
        self.mode = mode
        self.rank = rank

    def library_fit(
        self, data: Any, *, dt: float | None = None, variable: str | None = None
    ) -> Callable[[], Any]:
        """A call that does deeptime's fit to ``data`` (its ``DMD(...).fit((X, Y))``) and
        nothing else: the data are validated and paired first. The benchmark suite times
        this call.

        Examples
        --------
        >>> est = DeeptimeDMD(rank=1).library_fit(np.ones((6, 2)), dt=1.0)()
        >>> type(est).__name__, est.mode
        ('DMD', 'exact')
        """
        est, pairs = self._prepare(data, dt, variable)[:2]
        return lambda: est.fit(pairs)

    def _prepare(self, data: Any, dt: float | None, variable: str | None) -> tuple[Any, ...]:
        if self.mode not in ("exact", "standard"):
            raise KoopkitError(f"mode={self.mode!r}: choose 'exact' or 'standard'")
        reason = deeptime_status()
        if reason:
            raise KoopkitError(reason)
        from deeptime.decomposition import DMD

        info = as_snapshots(data, dt=dt, variable=variable)
        x = np.asarray(info.matrix)
        rank = None if self.rank is None else int(self.rank)
        return DMD(mode=self.mode, rank=rank), (x[:-1], x[1:]), info, x

    def fit(self, data: Any, *, dt: float | None = None, variable: str | None = None) -> Any:
        """Fit to one series (DataArray, Dataset variable, or array with ``dt=``)."""
        est, pairs, info, x = self._prepare(data, dt, variable)
        est.fit(pairs)
        model = est.fetch_model()
        lam = np.asarray(model.eigenvalues, dtype=complex)
        modes = np.asarray(model.modes, dtype=complex)  # (r, n_features)
        norms = np.linalg.norm(modes, axis=1)
        modes = modes / np.where(norms > 0, norms, 1.0)[:, None]
        ends = np.stack([x[0], x[-1]], axis=1).astype(complex)
        b = np.linalg.lstsq(modes.T, ends, rcond=None)[0]  # (r, 2): first and last state
        self.spectrum_, self._linear = build_linear_model(
            info,
            lam,
            modes[:, None, :],
            b[:, 0],
            b[:, 1],
            n_states=info.n_time,
            t0=float(info.times[0]),
            backend="deeptime:DMD",
            params={"mode": self.mode, "rank": self.rank},
        )
        self._data_info = info
        self.estimator_ = est
        self.rank_ = int(lam.size)
        self.n_features_in_ = int(x.shape[1])
        return self

r"""Frequency and growth-rate estimation in white noise, against the Cramér-Rao bound.

Two signals with a known spectrum are observed in additive white Gaussian noise at a
prescribed signal-to-noise ratio, many times over; every estimator's frequency and growth
rate are compared with the truth (bias and root-mean-square error) and with the
Cramér-Rao lower bound (CRB) on the standard deviation of any unbiased estimator.

Signals
-------
* :class:`DampedSinusoid` -- one real scalar series
  ``x_k = A cos(2 pi f t_k + phi) exp(g t_k)``, ``t_k = k dt``, ``k = 0 .. N-1``. A scalar
  series needs a time-delay (Hankel) embedding before DMD can see its two eigenvalues
  ``exp((g +- 2 pi i f) dt)``.
* :class:`LinearModes` -- ``p`` damped oscillations in ``n`` features,
  ``x_k = sum_j 2 Re(c_j z_j^k)``, ``z_j = exp((g_j + 2 pi i f_j) dt)``, with the mode
  vectors ``c_j`` in ``C^n`` (from :func:`koopkit.datasets.linear_system`).

Noise and SNR
-------------
``y = x + e`` with ``e`` i.i.d. ``N(0, sigma^2)`` in every sample and feature, and
``SNR = 10 log10(mean(x^2) / sigma^2)`` dB, the mean over every sample and feature of the
noiseless signal (the power averaged over the record, damping included).

The bound
---------
For a deterministic signal ``s(theta)`` in white Gaussian noise of variance ``sigma^2``,
the Fisher information is ``F = J^T J / sigma^2`` with ``J = ds/dtheta`` the Jacobian of
the noiseless samples (one row per real observation), and every unbiased estimator has
``cov(theta_hat) >= F^-1`` (Kay 1993, eq. 3.31). For complex data in circular complex noise
of total variance ``sigma^2`` (``sigma^2 / 2`` per part), ``F = 2 Re(J^H J) / sigma^2``. The
bound is computed here exactly as written: ``J`` by central differences of the model (or
analytically), ``F`` inverted in double precision. The parameters are

* damped sinusoid: ``theta = (A, phi, f, g)``; ``A`` and ``phi`` are nuisance parameters,
  so the bound on ``f`` and ``g`` already pays for not knowing them;
* linear modes: ``theta = (f_j, g_j, Re c_j, Im c_j)_j``: every mode vector is unknown
  (``2 n`` nuisance parameters per mode), as it is to a blind estimator such as DMD.

Assumptions: the model is exact (no model error), the noise is white, Gaussian, of known
variance, independent of the signal; the bound is local (small-error regime): below the
SNR threshold, where estimators start to lose the mode in the noise, the errors of every
estimator rise far above it. The CRB bounds unbiased estimators only; a biased estimator
can have a smaller RMSE, which is why the study reports the bias beside it.

Truth check (``tests/test_benchmarking.py``): for one undamped complex exponential
``A exp(i (w k + phi))`` in complex noise, with unit step, the bound reproduces Rife &
Boorstyn (1974): ``var(w) >= 6 sigma^2 / (A^2 N (N^2 - 1))``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from koopkit._errors import KoopkitError

__all__ = [
    "DampedSinusoid",
    "LinearModes",
    "Method",
    "complex_exponential",
    "cramer_rao_bound",
    "default_methods",
    "fisher_information",
    "match_modes",
    "nls_fit",
    "noise_sigma",
    "numerical_jacobian",
    "run_noise_study",
    "summarise",
]


# --------------------------------------------------------------------------- the bound
def numerical_jacobian(
    fn: Callable[[np.ndarray], np.ndarray],
    theta: Sequence[float] | np.ndarray,
    rel_step: float = 1e-6,
) -> np.ndarray:
    """Jacobian ``d fn / d theta`` by central differences, one column per parameter.

    Parameters
    ----------
    fn : callable
        Maps a parameter vector to the noiseless samples (any shape, real or complex).
    theta : array_like, shape (p,)
        Where to differentiate.
    rel_step : float
        Step ``h_i = rel_step * max(|theta_i|, 1)``; the truncation error is ``O(h^2)``
        and the round-off error ``O(eps / h)``, so ``1e-6`` gives about 10 digits.

    Returns
    -------
    ndarray, shape (n_obs, p)
        ``fn``'s output raveled, differentiated by each parameter.
    """
    theta = np.asarray(theta, dtype=float)
    cols = []
    for i in range(theta.size):
        h = rel_step * max(abs(theta[i]), 1.0)
        up, down = theta.copy(), theta.copy()
        up[i] += h
        down[i] -= h
        cols.append((np.ravel(fn(up)) - np.ravel(fn(down))) / (2 * h))
    return np.stack(cols, axis=1)


def fisher_information(
    jacobian: np.ndarray, sigma: float, complex_noise: bool = False
) -> np.ndarray:
    """Fisher information of a deterministic signal in white Gaussian noise.

    Parameters
    ----------
    jacobian : ndarray, shape (n_obs, p)
        Derivatives of the noiseless observations by the parameters.
    sigma : float
        Noise standard deviation: per real sample, or (``complex_noise``) the total of a
        circular complex sample, ``E|e|^2 = sigma^2``.
    complex_noise : bool
        Complex observations in circular complex noise.

    Returns
    -------
    ndarray, shape (p, p)
        ``J^T J / sigma^2`` (real), or ``2 Re(J^H J) / sigma^2`` (complex).
    """
    j = np.asarray(jacobian)
    if complex_noise:
        return 2.0 * np.real(j.conj().T @ j) / sigma**2
    if np.iscomplexobj(j):
        raise KoopkitError("a complex Jacobian needs complex_noise=True")
    return (j.T @ j) / sigma**2


def cramer_rao_bound(jacobian: np.ndarray, sigma: float, complex_noise: bool = False) -> np.ndarray:
    """The Cramér-Rao bound ``F^-1`` on the covariance of unbiased estimators.

    Parameters
    ----------
    jacobian, sigma, complex_noise :
        As for :func:`fisher_information`.

    Returns
    -------
    ndarray, shape (p, p)
        The inverse Fisher information; its diagonal bounds each parameter's variance.

    Raises
    ------
    KoopkitError
        If the Fisher information is singular (a parameter the data do not determine).
    """
    fim = fisher_information(jacobian, sigma, complex_noise)
    # Scale to unit diagonal before inverting: the parameters differ in size by orders.
    d = np.sqrt(np.diag(fim))
    if not np.all(d > 0):
        raise KoopkitError("the Fisher information is singular: a parameter has no effect")
    scaled = fim / np.outer(d, d)
    if np.linalg.cond(scaled) > 1e12:
        raise KoopkitError("the Fisher information is singular: parameters are not identifiable")
    return np.linalg.inv(scaled) / np.outer(d, d)


def complex_exponential(theta: Sequence[float] | np.ndarray, n: int) -> np.ndarray:
    """``A exp(i (w k + phi))`` for ``k = 0 .. n-1``, ``theta = (A, phi, w)``."""
    a, phi, w = (float(v) for v in theta)
    return a * np.exp(1j * (w * np.arange(n) + phi))


def noise_sigma(signal: np.ndarray, snr_db: float) -> float:
    """Noise standard deviation giving ``snr_db = 10 log10(mean(signal^2) / sigma^2)``."""
    power = float(np.mean(np.abs(np.asarray(signal)) ** 2))
    return float(np.sqrt(power / 10.0 ** (snr_db / 10.0)))


# ------------------------------------------------------------------------------ signals
@dataclass(frozen=True)
class DampedSinusoid:
    """``x_k = A cos(2 pi f t_k + phi) exp(g t_k)``, ``t_k = k dt``: one real scalar series.

    Parameters
    ----------
    amplitude, phase, frequency, growth_rate : float
        ``A``, ``phi`` (rad), ``f`` (cycles per time unit), ``g`` (per time unit).
    n_samples : int
        ``N``.
    dt : float
        Time step.

    Examples
    --------
    >>> s = DampedSinusoid()
    >>> s.clean().shape, float(np.sqrt(s.crb(0.1)[2, 2])) < 1e-2
    ((128,), True)
    """

    amplitude: float = 1.0
    phase: float = 0.3
    frequency: float = 0.8
    growth_rate: float = -0.1
    n_samples: int = 128
    dt: float = 0.1
    name: str = "damped sinusoid"

    #: Parameter names, in the order of :attr:`theta`.
    parameters: tuple[str, ...] = ("amplitude", "phase", "frequency", "growth_rate")

    @property
    def theta(self) -> np.ndarray:
        return np.array([self.amplitude, self.phase, self.frequency, self.growth_rate])

    @property
    def times(self) -> np.ndarray:
        return np.arange(self.n_samples) * self.dt

    @property
    def true_frequencies(self) -> np.ndarray:
        return np.array([self.frequency])

    @property
    def true_growth_rates(self) -> np.ndarray:
        return np.array([self.growth_rate])

    @property
    def n_pairs(self) -> int:
        return 1

    @property
    def description(self) -> str:
        return (
            f"x_k = {self.amplitude:g} cos(2 pi {self.frequency:g} t + {self.phase:g}) "
            f"exp({self.growth_rate:g} t), N = {self.n_samples}, dt = {self.dt:g}"
        )

    def model(self, theta: np.ndarray) -> np.ndarray:
        """The noiseless samples for ``theta = (A, phi, f, g)``."""
        a, phi, f, g = theta
        t = self.times
        return a * np.cos(2 * np.pi * f * t + phi) * np.exp(g * t)

    def clean(self) -> np.ndarray:
        """The noiseless series, shape ``(N,)``."""
        return self.model(self.theta)

    def analytic_jacobian(self) -> np.ndarray:
        """``d x / d (A, phi, f, g)`` in closed form, shape ``(N, 4)``."""
        a, phi, f, g = self.theta
        t = self.times
        env = np.exp(g * t)
        c, s = np.cos(2 * np.pi * f * t + phi), np.sin(2 * np.pi * f * t + phi)
        return np.stack([env * c, -a * env * s, -2 * np.pi * t * a * env * s, t * a * env * c], 1)

    def jacobian(self) -> np.ndarray:
        """``d x / d theta`` by central differences of :meth:`model`."""
        return numerical_jacobian(self.model, self.theta)

    def crb(self, sigma: float) -> np.ndarray:
        """Cramér-Rao bound on the covariance of ``(A, phi, f, g)``, shape ``(4, 4)``."""
        return cramer_rao_bound(self.jacobian(), sigma)

    def crb_std(self, sigma: float) -> tuple[np.ndarray, np.ndarray]:
        """Bounds on the standard deviation of ``f`` and of ``g``, each shape ``(1,)``."""
        c = self.crb(sigma)
        return np.sqrt(c[2:3, 2]), np.sqrt(c[3:4, 3])


@dataclass(frozen=True)
class LinearModes:
    """``p`` damped oscillations in ``n`` features: ``x_k = sum_j 2 Re(c_j z_j^k)``.

    The noiseless data come from :func:`koopkit.datasets.linear_system` (random orthonormal
    mode shapes, seeded); the complex mode vectors ``c_j`` are recovered from them by least
    squares on the known eigenvalues (exactly, up to round-off).

    Parameters
    ----------
    frequencies, growth_rates : sequence of float
        ``f_j`` (cycles per time unit, positive) and ``g_j`` (per time unit).
    n_features, n_snapshots : int
    dt : float
    seed : int
        Seed of the mode shapes and amplitudes.
    """

    frequencies: tuple[float, ...] = (0.05, 0.12)
    growth_rates: tuple[float, ...] = (-0.005, -0.02)
    n_features: int = 10
    n_snapshots: int = 100
    dt: float = 1.0
    seed: int = 0
    name: str = "linear system"
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def n_pairs(self) -> int:
        return len(self.frequencies)

    @property
    def true_frequencies(self) -> np.ndarray:
        return np.asarray(self.frequencies, dtype=float)

    @property
    def true_growth_rates(self) -> np.ndarray:
        return np.asarray(self.growth_rates, dtype=float)

    @property
    def eigenvalues(self) -> np.ndarray:
        """Discrete-time eigenvalues ``z_j`` (upper half plane), shape ``(p,)``."""
        s = self.true_growth_rates + 2j * np.pi * self.true_frequencies
        return np.exp(s * self.dt)

    @property
    def description(self) -> str:
        pairs = ", ".join(
            f"(f={f:g}, g={g:g})" for f, g in zip(self.frequencies, self.growth_rates, strict=True)
        )
        return (
            f"{self.n_pairs} damped pairs {pairs} in {self.n_features} features, "
            f"N = {self.n_snapshots}, dt = {self.dt:g}"
        )

    def clean(self) -> np.ndarray:
        """The noiseless data, shape ``(N, n)``."""
        if "clean" not in self._cache:
            from koopkit.datasets import linear_system

            z = self.eigenvalues
            eigs = np.concatenate([z, z.conj()])
            data = linear_system(
                eigs,
                n_features=self.n_features,
                n_snapshots=self.n_snapshots,
                dt=self.dt,
                seed=self.seed,
            )
            self._cache["clean"] = np.asarray(data.values, dtype=float)
        return self._cache["clean"]

    def _vectors(self) -> np.ndarray:
        """The complex mode vectors ``c_j``, shape ``(p, n)``."""
        if "c" not in self._cache:
            z = self.eigenvalues
            k = np.arange(self.n_snapshots)[:, None]
            vand = np.concatenate([z[None] ** k, z.conj()[None] ** k], axis=1)
            coef, *_ = np.linalg.lstsq(vand, self.clean().astype(complex), rcond=None)
            self._cache["c"] = coef[: self.n_pairs]
        return self._cache["c"]

    @property
    def theta(self) -> np.ndarray:
        """``(f_1, g_1, ..., f_p, g_p, Re c_1, Im c_1, ..., Re c_p, Im c_p)``."""
        c = self._vectors()
        fg = np.stack([self.true_frequencies, self.true_growth_rates], axis=1).ravel()
        return np.concatenate([fg, np.concatenate([[v.real, v.imag] for v in c]).ravel()])

    def model(self, theta: np.ndarray) -> np.ndarray:
        """The noiseless data for a parameter vector laid out as :attr:`theta`."""
        p, n = self.n_pairs, self.n_features
        f, g = theta[0 : 2 * p : 2], theta[1 : 2 * p : 2]
        c = theta[2 * p :].reshape(p, 2, n)
        c = c[:, 0] + 1j * c[:, 1]
        t = np.arange(self.n_snapshots)[:, None] * self.dt
        waves = np.exp((g + 2j * np.pi * f)[None, :] * t)  # (N, p)
        return 2 * np.real(waves @ c)

    def jacobian(self) -> np.ndarray:
        """``d x / d theta`` by central differences of :meth:`model`, ``(N n, 2p + 2pn)``."""
        return numerical_jacobian(self.model, self.theta)

    def crb(self, sigma: float) -> np.ndarray:
        """Cramér-Rao bound on the covariance of :attr:`theta`."""
        return cramer_rao_bound(self.jacobian(), sigma)

    def crb_std(self, sigma: float) -> tuple[np.ndarray, np.ndarray]:
        """Bounds on the standard deviation of each ``f_j`` and each ``g_j``."""
        c = np.diag(self.crb(sigma))
        p = self.n_pairs
        return np.sqrt(c[0 : 2 * p : 2]), np.sqrt(c[1 : 2 * p : 2])


Case = DampedSinusoid | LinearModes


# ------------------------------------------------------------------------------ methods
@dataclass
class Method:
    """One estimator of the study.

    Attributes
    ----------
    name : str
        Label in tables and plots.
    fit : callable
        ``fit(data, case) -> (frequencies, growth_rates)`` of every mode found.
    koopkit : bool
        A koopkit estimator (True), PyDMD through :class:`~koopkit.backends.PyDMDBackend`
        or a reference (False).
    note : str
        Settings, for the table.
    """

    name: str
    fit: Callable[[np.ndarray, Case], tuple[np.ndarray, np.ndarray]]
    koopkit: bool = True
    note: str = ""


def _spectrum_fg(spectrum: Any) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(spectrum.frequencies.values), np.asarray(spectrum.growth_rates.values)


def _koopkit(estimator_factory: Callable[[Case], Any]) -> Callable[..., Any]:
    def fit(data: np.ndarray, case: Case) -> tuple[np.ndarray, np.ndarray]:
        return _spectrum_fg(estimator_factory(case).fit(data, dt=case.dt).spectrum_)

    return fit


def hankel_rows(case: Case) -> int:
    """Delays (Hankel rows) ``round(N / 3)``: the near-efficient choice for subspace methods.

    For a single exponential in white noise the variance of Hankel/subspace (HTLS, matrix
    pencil) estimates is smallest near ``L = N/3`` (or ``2N/3``), within a few percent of the
    Cramér-Rao bound at moderate SNR (Hua & Sarkar 1990; Van Huffel et al. 1994).
    """
    n = case.n_samples if isinstance(case, DampedSinusoid) else case.n_snapshots
    return max(2, int(round(n / 3)))


def _hankel(data: np.ndarray, delays: int) -> np.ndarray:
    """States ``[x_k, ..., x_{k+d-1}]`` as rows, shape ``(N - d + 1, d * n)``."""
    x = data.reshape(data.shape[0], -1)
    m = x.shape[0] - delays + 1
    return np.concatenate([x[j : j + m] for j in range(delays)], axis=1)


def nls_fit(
    data: np.ndarray, dt: float, frequencies: np.ndarray, growth_rates: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Nonlinear least squares (the maximum-likelihood estimate in white Gaussian noise).

    Fits ``x_k = sum_j e^{g_j t_k} (a_j cos(2 pi f_j t_k) + b_j sin(2 pi f_j t_k))`` to
    every feature, by variable projection: the linear coefficients are solved exactly for
    each ``(f, g)`` and Levenberg-Marquardt minimises the residual over ``(f, g)`` only.

    Parameters
    ----------
    data : ndarray, shape (N,) or (N, n)
    dt : float
    frequencies, growth_rates : ndarray, shape (p,)
        The starting point (e.g. a DMD estimate).

    Returns
    -------
    frequencies, growth_rates : ndarray, shape (p,)
    """
    from scipy.optimize import least_squares

    x = np.asarray(data, dtype=float).reshape(data.shape[0], -1)
    t = np.arange(x.shape[0]) * dt

    def basis(p: np.ndarray) -> np.ndarray:
        f, g = p[0::2], p[1::2]
        env = np.exp(np.clip(g[None, :] * t[:, None], -700, 700))
        arg = 2 * np.pi * f[None, :] * t[:, None]
        return np.concatenate([env * np.cos(arg), env * np.sin(arg)], axis=1)

    def residual(p: np.ndarray) -> np.ndarray:
        b = basis(p)
        coef, *_ = np.linalg.lstsq(b, x, rcond=None)
        return (x - b @ coef).ravel()

    start = np.stack([frequencies, growth_rates], axis=1).ravel()
    scale = np.tile([1.0 / (x.shape[0] * dt), 1.0 / (x.shape[0] * dt)], len(frequencies))
    sol = least_squares(residual, start, x_scale=scale, method="lm")
    return sol.x[0::2], sol.x[1::2]


def default_methods(case: Case) -> list[Method]:
    """The estimators compared on ``case``.

    With ``L = round(N/3)`` (:func:`hankel_rows`) and ``r = 2p`` (two eigenvalues per real
    oscillation):

    * scalar series: ``DMD d=2`` (the smallest embedding that holds an oscillation: plain
      least-squares DMD, i.e. a linear-prediction fit, noise-biased), DMD / exact DMD /
      TLS DMD / forward-backward DMD with ``L`` delays, PyDMD's HODMD (``d = L``), FbDMD on
      PyDMD's Hankel pre-processing and BOPDMD on the Hankel matrix;
    * linear system: plain DMD / exact DMD / TLS DMD / forward-backward DMD without delays,
      TLS and forward-backward DMD with ``L`` delays, PyDMD's DMD, FbDMD, HODMD (``d = L``)
      and BOPDMD (conjugate-pair constraint);
    * both: nonlinear least squares started from forward-backward DMD, as a reference
      (the maximum-likelihood estimate; not a koopkit backend).

    All fix the rank at ``r``.
    """
    import pydmd
    from pydmd.preprocessing.hankel import hankel_preprocessing

    from koopkit.backends.dmd import DMD, ExactDMD
    from koopkit.backends.pydmd import PyDMDBackend

    r = 2 * case.n_pairs
    big = hankel_rows(case)

    def pydmd_fit(make: Callable[[], Any], hankel: int = 0) -> Callable[..., Any]:
        def fit(data: np.ndarray, c: Case) -> tuple[np.ndarray, np.ndarray]:
            est = make()
            if hankel:  # the adapter on the Hankel matrix: rows are states, features delays
                h = _hankel(data, hankel)
                return _spectrum_fg(PyDMDBackend(est).fit(h, dt=c.dt).spectrum_)
            return _spectrum_fg(PyDMDBackend(est).fit(data, dt=c.dt).spectrum_)

        return fit

    def bop() -> Any:
        return pydmd.BOPDMD(svd_rank=r, eig_constraints={"conjugate_pairs"})

    def reference(data: np.ndarray, c: Case) -> tuple[np.ndarray, np.ndarray]:
        f0, g0 = _koopkit(lambda cc: DMD(rank=r, delays=big, forward_backward=True))(data, c)
        f0, g0 = match_modes(f0, g0, c.true_frequencies, c.true_growth_rates, c.dt, best=True)
        return nls_fit(data, c.dt, f0, g0)

    if isinstance(case, DampedSinusoid):
        return [
            Method("DMD d=2", _koopkit(lambda c: DMD(rank=r, delays=2)), note="delays=2"),
            Method("DMD", _koopkit(lambda c: DMD(rank=r, delays=big)), note=f"delays={big}"),
            Method(
                "exact DMD", _koopkit(lambda c: ExactDMD(rank=r, delays=big)), note=f"delays={big}"
            ),
            Method(
                "TLS DMD",
                _koopkit(lambda c: DMD(rank=r, delays=big, tlsq_rank=r)),
                note=f"delays={big}, tlsq_rank={r}",
            ),
            Method(
                "FB DMD",
                _koopkit(lambda c: DMD(rank=r, delays=big, forward_backward=True)),
                note=f"delays={big}, forward_backward",
            ),
            Method(
                "pydmd HODMD",
                pydmd_fit(lambda: pydmd.HODMD(svd_rank=r, d=big)),
                koopkit=False,
                note=f"d={big}",
            ),
            Method(
                "pydmd FbDMD",
                pydmd_fit(lambda: hankel_preprocessing(pydmd.FbDMD(svd_rank=r), d=big)),
                koopkit=False,
                note=f"hankel_preprocessing d={big}",
            ),
            Method(
                "pydmd BOPDMD",
                pydmd_fit(bop, hankel=big),
                koopkit=False,
                note=f"on the {big}-row Hankel matrix",
            ),
            Method("NLS (MLE)", reference, koopkit=False, note="reference, from FB DMD"),
        ]
    return [
        Method("DMD", _koopkit(lambda c: DMD(rank=r)), note="delays=1"),
        Method("exact DMD", _koopkit(lambda c: ExactDMD(rank=r)), note="delays=1"),
        Method("TLS DMD", _koopkit(lambda c: DMD(rank=r, tlsq_rank=r)), note=f"tlsq_rank={r}"),
        Method("FB DMD", _koopkit(lambda c: DMD(rank=r, forward_backward=True)), note="FB"),
        Method(
            "TLS DMD delays",
            _koopkit(lambda c: DMD(rank=r, delays=big, tlsq_rank=r)),
            note=f"delays={big}, tlsq_rank={r}",
        ),
        Method(
            "FB DMD delays",
            _koopkit(lambda c: DMD(rank=r, delays=big, forward_backward=True)),
            note=f"delays={big}, forward_backward",
        ),
        Method("pydmd DMD", pydmd_fit(lambda: pydmd.DMD(svd_rank=r)), koopkit=False),
        Method("pydmd FbDMD", pydmd_fit(lambda: pydmd.FbDMD(svd_rank=r)), koopkit=False),
        Method(
            "pydmd HODMD",
            pydmd_fit(lambda: pydmd.HODMD(svd_rank=r, d=big)),
            koopkit=False,
            note=f"d={big}",
        ),
        Method("pydmd BOPDMD", pydmd_fit(bop), koopkit=False, note="conjugate pairs"),
        Method("NLS (MLE)", reference, koopkit=False, note="reference, from FB DMD delays"),
    ]


# ----------------------------------------------------------------------------- scoring
def match_modes(
    frequencies: np.ndarray,
    growth_rates: np.ndarray,
    true_frequencies: np.ndarray,
    true_growth_rates: np.ndarray,
    dt: float,
    best: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Pair each true mode with one estimated mode of non-negative frequency.

    The pairing minimises the total distance ``|s_hat - s| dt`` between continuous-time
    eigenvalues ``s = g + 2 pi i f`` (an assignment problem), over the estimated modes with
    ``f >= 0`` (so a pair that noise split into two real eigenvalues still counts, with
    frequency 0). A true mode left without a partner gets NaN (or, with ``best``, the
    truth itself, for use as a starting point).

    Returns
    -------
    frequencies, growth_rates : ndarray, shape (p,)
        The estimate matched to each true mode.
    """
    from scipy.optimize import linear_sum_assignment

    f = np.asarray(frequencies, dtype=float)
    g = np.asarray(growth_rates, dtype=float)
    keep = (f >= -1e-12) & np.isfinite(f) & np.isfinite(g)
    f, g = f[keep], g[keep]
    p = len(true_frequencies)
    out_f = np.array(true_frequencies, dtype=float) if best else np.full(p, np.nan)
    out_g = np.array(true_growth_rates, dtype=float) if best else np.full(p, np.nan)
    if f.size == 0:
        return out_f, out_g
    s = g + 2j * np.pi * f
    s_true = np.asarray(true_growth_rates) + 2j * np.pi * np.asarray(true_frequencies)
    cost = np.abs(s[:, None] - s_true[None, :]) * dt
    rows, cols = linear_sum_assignment(cost)
    out_f[cols] = f[rows]
    out_g[cols] = g[rows]
    return out_f, out_g


def run_noise_study(
    cases: Iterable[Case],
    snrs_db: Sequence[float] = tuple(range(40, -1, -5)),
    n_trials: int = 100,
    seed: int = 0,
    methods: Callable[[Case], list[Method]] = default_methods,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Every method on every case at every SNR, ``n_trials`` noise draws each.

    The noise of trial ``i`` at SNR level ``l`` of case ``c`` is drawn from
    ``SeedSequence([seed, c, l, i])`` and is the same for every method (paired
    comparison).

    Returns
    -------
    list of dict
        One row per (case, method, SNR, trial, mode): the estimated and true ``f`` and
        ``g``, whether the fit failed, and the fit time. :func:`summarise` turns them into
        bias/RMSE tables.
    """
    from threadpoolctl import threadpool_limits

    rows: list[dict[str, Any]] = []
    with threadpool_limits(limits=1, user_api="blas"):
        for ci, case in enumerate(cases):
            clean = case.clean()
            tf, tg = case.true_frequencies, case.true_growth_rates
            case_methods = methods(case)
            for li, snr in enumerate(snrs_db):
                sigma = noise_sigma(clean, snr)
                crb_f, crb_g = case.crb_std(sigma)
                started = time.perf_counter()
                for trial in range(n_trials):
                    rng = np.random.default_rng(np.random.SeedSequence([seed, ci, li, trial]))
                    noisy = clean + sigma * rng.standard_normal(clean.shape)
                    for m in case_methods:
                        t0 = time.perf_counter()
                        failed = ""
                        try:
                            f, g = m.fit(noisy, case)
                            ef, eg = match_modes(f, g, tf, tg, case.dt)
                        except Exception as exc:  # noqa: BLE001 -- a failed fit is a result
                            failed = f"{type(exc).__name__}: {exc}"[:120]
                            ef, eg = np.full(len(tf), np.nan), np.full(len(tf), np.nan)
                        seconds = time.perf_counter() - t0
                        for j in range(len(tf)):
                            rows.append(
                                {
                                    "case": case.name,
                                    "method": m.name,
                                    "koopkit": m.koopkit,
                                    "settings": m.note,
                                    "snr_db": float(snr),
                                    "sigma": sigma,
                                    "trial": trial,
                                    "mode": j + 1,
                                    "f_true": float(tf[j]),
                                    "g_true": float(tg[j]),
                                    "f_hat": float(ef[j]),
                                    "g_hat": float(eg[j]),
                                    "crb_f": float(crb_f[j]),
                                    "crb_g": float(crb_g[j]),
                                    "failed": failed or ("no mode" if np.isnan(ef[j]) else ""),
                                    "fit_seconds": seconds,
                                }
                            )
                if progress is not None:
                    progress(
                        f"{case.name}: SNR {snr:g} dB, {n_trials} trials x "
                        f"{len(case_methods)} methods in {time.perf_counter() - started:.1f} s"
                    )
    return rows


def summarise(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Bias, RMSE and their ratio to the CRB per (case, mode, method, SNR).

    Failed fits (an exception, or no mode of non-negative frequency) are counted in
    ``n_failed`` and left out of the statistics.
    """
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["case"], r["mode"], r["method"], r["snr_db"]), []).append(r)
    out = []
    for (case, mode, method, snr), rs in groups.items():
        ok = [r for r in rs if not r["failed"]]
        ef = np.array([r["f_hat"] - r["f_true"] for r in ok])
        eg = np.array([r["g_hat"] - r["g_true"] for r in ok])
        first = rs[0]

        def stats(e: np.ndarray) -> tuple[float, float]:
            if e.size == 0:
                return float("nan"), float("nan")
            return float(e.mean()), float(np.sqrt(np.mean(e**2)))

        bf, rf = stats(ef)
        bg, rg = stats(eg)
        out.append(
            {
                "case": case,
                "mode": mode,
                "method": method,
                "koopkit": first["koopkit"],
                "settings": first["settings"],
                "snr_db": snr,
                "n_trials": len(rs),
                "n_failed": len(rs) - len(ok),
                "f_true": first["f_true"],
                "g_true": first["g_true"],
                "bias_f": bf,
                "rmse_f": rf,
                "crb_f": first["crb_f"],
                "rmse_f_over_crb": rf / first["crb_f"],
                "bias_g": bg,
                "rmse_g": rg,
                "crb_g": first["crb_g"],
                "rmse_g_over_crb": rg / first["crb_g"],
                "fit_ms": 1e3 * float(np.median([r["fit_seconds"] for r in rs])),
            }
        )
    return out


# ----------------------------------------------------------------------------- reports
def headline(summary: Sequence[dict[str, Any]], snr_db: float = 20.0) -> dict[str, Any]:
    """The best koopkit method's frequency RMSE / CRB at ``snr_db``, per case and mode.

    Returns
    -------
    dict
        ``{(case, mode): {"method", "rmse_f", "crb_f", "ratio"}}``, the koopkit method
        with the smallest frequency RMSE.
    """
    best: dict[Any, dict[str, Any]] = {}
    for r in summary:
        if not r["koopkit"] or r["snr_db"] != snr_db or not np.isfinite(r["rmse_f"]):
            continue
        key = (r["case"], r["mode"])
        if key not in best or r["rmse_f"] < best[key]["rmse_f"]:
            best[key] = {
                "method": r["method"],
                "rmse_f": r["rmse_f"],
                "crb_f": r["crb_f"],
                "ratio": r["rmse_f_over_crb"],
            }
    return best


def _fmt(v: float, digits: int = 3) -> str:
    if v is None or not np.isfinite(v):
        return "—"
    return f"{v:.{digits}g}" if abs(v) >= 1e-3 and abs(v) < 1e4 else f"{v:.{digits - 1}e}"


def markdown(
    summary: Sequence[dict[str, Any]],
    cases: Sequence[Case],
    snr_db: float = 20.0,
    n_trials: int | None = None,
) -> str:
    """The study as markdown: a table at ``snr_db`` and RMSE/CRB ratios at every SNR."""
    lines = [
        "# Noise study: frequency and growth rate against the Cramér-Rao bound",
        "",
        "Generated by `python benchmarks/noise_study.py` "
        f"({n_trials or summary[0]['n_trials']} seeded noise draws per SNR level; "
        "see `koopkit/benchmarking/noise.py` for the signals, the SNR definition and the "
        "bound). Units: frequency in cycles per time unit, growth rate per time unit. "
        "*ratio* = RMSE / CRB (1 is the best any unbiased estimator can do); *failed* = fits "
        "that raised or found no mode of non-negative frequency.",
        "",
    ]
    for case in cases:
        rows = [r for r in summary if r["case"] == case.name]
        for mode in range(1, case.n_pairs + 1):
            mine = [r for r in rows if r["mode"] == mode]
            at = [r for r in mine if r["snr_db"] == snr_db]
            if not at:
                continue
            lines += [
                f"## {case.name}" + (f", mode {mode}" if case.n_pairs > 1 else ""),
                "",
                f"{case.description}. True f = {at[0]['f_true']:g}, g = {at[0]['g_true']:g}.",
                "",
                f"At {snr_db:g} dB SNR (CRB: std f >= {_fmt(at[0]['crb_f'])}, "
                f"std g >= {_fmt(at[0]['crb_g'])}):",
                "",
                "| method | settings | bias f | RMSE f | RMSE f / CRB | bias g | RMSE g "
                "| RMSE g / CRB | failed | fit ms |",
                "|---|---|---|---|---|---|---|---|---|---|",
            ]
            for r in at:
                name = r["method"] if r["koopkit"] else f"*{r['method']}*"
                lines.append(
                    f"| {name} | {r['settings']} | {_fmt(r['bias_f'])} | {_fmt(r['rmse_f'])} | "
                    f"{_fmt(r['rmse_f_over_crb'])} | {_fmt(r['bias_g'])} | {_fmt(r['rmse_g'])} | "
                    f"{_fmt(r['rmse_g_over_crb'])} | {r['n_failed']} | {r['fit_ms']:.1f} |"
                )
            lines.append(
                f"| **CRB** | | | {_fmt(at[0]['crb_f'])} | 1 | | {_fmt(at[0]['crb_g'])} | 1 | | |"
            )
            snrs = sorted({r["snr_db"] for r in mine}, reverse=True)
            methods = list(dict.fromkeys(r["method"] for r in mine))
            lines += [
                "",
                "Frequency RMSE / CRB at every SNR (dB):",
                "",
                "| method | " + " | ".join(f"{s:g}" for s in snrs) + " |",
                "|---|" + "---|" * len(snrs),
            ]
            for m in methods:
                by = {r["snr_db"]: r for r in mine if r["method"] == m}
                lines.append(
                    f"| {m} | "
                    + " | ".join(
                        _fmt(by[s]["rmse_f_over_crb"], 3) if s in by else "—" for s in snrs
                    )
                    + " |"
                )
            lines.append("")
    lines += [
        "Methods in *italics* are not koopkit's own (PyDMD through "
        "`koopkit.backends.PyDMDBackend`, or the nonlinear least-squares reference).",
        "",
    ]
    return "\n".join(lines)


def plot(summary: Sequence[dict[str, Any]], cases: Sequence[Case]) -> Any:
    """RMSE of f and g against SNR (log axes) with the CRB, and the growth-rate bias.

    One row per (case, mode); columns: frequency RMSE, growth-rate RMSE, ``|bias g|``.
    """
    from matplotlib.figure import Figure

    panels = [(c, m) for c in cases for m in range(1, c.n_pairs + 1)]
    fig = Figure(figsize=(15, 3.6 * len(panels)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(panels), 3))
    cycle = [f"C{i}" for i in range(10)] + ["0.45"]
    for row, (case, mode) in enumerate(panels):
        mine = [r for r in summary if r["case"] == case.name and r["mode"] == mode]
        methods = list(dict.fromkeys(r["method"] for r in mine))
        for k, m in enumerate(methods):
            rs = sorted((r for r in mine if r["method"] == m), key=lambda r: r["snr_db"])
            snr = [r["snr_db"] for r in rs]
            style = dict(
                color=cycle[k % len(cycle)],
                marker="o" if rs[0]["koopkit"] else "s",
                ms=3.5,
                lw=1.3 if rs[0]["koopkit"] else 0.9,
                ls="-" if rs[0]["koopkit"] else ":",
                label=m,
            )
            axes[row, 0].plot(snr, [r["rmse_f"] for r in rs], **style)
            axes[row, 1].plot(snr, [r["rmse_g"] for r in rs], **style)
            axes[row, 2].plot(snr, [abs(r["bias_g"]) for r in rs], **style)
        rs = sorted((r for r in mine if r["method"] == methods[0]), key=lambda r: r["snr_db"])
        snr = [r["snr_db"] for r in rs]
        for col, key in ((0, "crb_f"), (1, "crb_g"), (2, "crb_g")):
            axes[row, col].plot(snr, [r[key] for r in rs], "k--", lw=2.2, label="CRB")
        title = case.name + (f", mode {mode}" if case.n_pairs > 1 else "")
        names = ("RMSE of frequency", "RMSE of growth rate", "|bias| of growth rate")
        for col, what in enumerate(names):
            ax = axes[row, col]
            ax.set_yscale("log")
            ax.set_xlabel("SNR (dB)")
            ax.set_title(f"{title}: {what}", fontsize=10)
            ax.grid(True, which="both", alpha=0.3)
        axes[row, 0].set_ylabel("cycles per time unit")
        axes[row, 1].set_ylabel("per time unit")
        axes[row, 2].set_ylabel("per time unit (CRB std for scale)")
        axes[row, 0].legend(fontsize=7, ncol=2)
    return fig

"""The signals of the noise study, with their exact parameters and Cramér-Rao bounds.

* :class:`DampedSinusoid` -- one real scalar series; DMD needs a delay (Hankel) embedding
  to see its two eigenvalues ``exp((g +- 2 pi i f) dt)``. Parameters ``(A, phi, f, g)``:
  amplitude and phase are nuisance parameters, so the bound on ``f`` and ``g`` already
  pays for not knowing them.
* :class:`LinearModes` -- ``p`` damped oscillations in ``n`` features; parameters
  ``(f_j, g_j, Re c_j, Im c_j)``: every mode vector is unknown, as it is to DMD.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from koopkit.benchmarking.noise.bound import cramer_rao_bound, numerical_jacobian

__all__ = [
    "Case",
    "DampedSinusoid",
    "LinearModes",
]


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

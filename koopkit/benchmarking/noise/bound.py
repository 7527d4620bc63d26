r"""The Cramér-Rao bound of a deterministic signal in white Gaussian noise.

The Fisher information is ``F = J^T J / sigma^2`` with ``J = ds/dtheta`` the Jacobian of
the noiseless samples (one row per real observation); every unbiased estimator has
``cov(theta_hat) >= F^-1`` (Kay 1993, eq. 3.31). For complex data in circular complex
noise of total variance ``sigma^2``, ``F = 2 Re(J^H J) / sigma^2``. ``J`` comes from
central differences of the model (or analytically); ``F`` is inverted in double precision.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from koopkit._errors import KoopkitError

__all__ = [
    "complex_exponential",
    "cramer_rao_bound",
    "fisher_information",
    "noise_sigma",
    "numerical_jacobian",
]


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

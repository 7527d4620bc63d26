"""The nonlinear pendulum of Azencot et al. (2020), solved exactly with elliptic functions."""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.special import ellipj, ellipk

from koopkit._errors import KoopkitError
from koopkit._validation import TIME
from koopkit.datasets._common import check_float, check_int, check_seed

__all__ = ["pendulum", "pendulum_period", "pendulum_state"]

G_OVER_L = 9.81


def _check_theta0(theta0: object) -> float:
    """``theta0`` as a float with ``|theta0| < pi``."""
    if isinstance(theta0, bool) or not isinstance(theta0, int | float | np.integer | np.floating):
        raise KoopkitError(f"theta0 must be a real number, got {theta0!r}: pass e.g. theta0=0.8")
    value = float(theta0)
    if not np.isfinite(value) or abs(value) >= np.pi:
        raise KoopkitError(
            f"theta0 must satisfy |theta0| < pi (release below the top), got {theta0!r}: "
            "pass e.g. theta0=0.8"
        )
    return value


def pendulum_period(theta0: float, g_over_L: float = G_OVER_L) -> float:
    """Period of the pendulum released from rest at angle ``theta0``.

    ``T = 4 K(m) / sqrt(g/L)`` with ``m = sin(theta0/2)**2`` and ``K`` the complete elliptic
    integral of the first kind; it tends to ``2*pi/sqrt(g/L)`` as ``theta0 -> 0``.

    Parameters
    ----------
    theta0 : float
        Release angle in radians, ``|theta0| < pi``.
    g_over_L : float, default 9.81
        Gravity over length, in 1/s^2.

    Returns
    -------
    float
        The period in seconds.

    Examples
    --------
    >>> round(pendulum_period(0.8), 4)
    2.0894
    >>> import math
    >>> abs(pendulum_period(1e-9) - 2 * math.pi / math.sqrt(9.81)) < 1e-12
    True
    """
    theta0 = _check_theta0(theta0)
    g_over_L = check_float("g_over_L", g_over_L, positive=True)
    return float(4 * ellipk(np.sin(theta0 / 2) ** 2) / np.sqrt(g_over_L))


def pendulum_state(
    theta0: float,
    times: np.ndarray | list[float],
    g_over_L: float = G_OVER_L,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact angle and angular velocity of the pendulum ``theta'' = -(g/L) sin(theta)``.

    Released from rest at ``theta0``: with ``k = sin(theta0/2)``, ``m = k**2``,
    ``w = sqrt(g/L)`` and ``u = K(m) - w t``, the solution is
    ``theta(t) = 2 arcsin(k sn(u | m))`` and ``theta'(t) = -2 k w cn(u | m)``
    (``sn``, ``cn`` Jacobi elliptic functions, ``K`` the complete elliptic integral).

    Parameters
    ----------
    theta0 : float
        Release angle in radians, ``|theta0| < pi``.
    times : array_like of float
        Times in seconds.
    g_over_L : float, default 9.81
        Gravity over length, in 1/s^2.

    Returns
    -------
    theta, theta_dot : numpy.ndarray
        Angle (rad) and angular velocity (rad/s), shaped like ``times``.

    Examples
    --------
    >>> theta, theta_dot = pendulum_state(0.8, [0.0])
    >>> float(theta[0]), float(theta_dot[0])
    (0.8, 0.0)
    """
    theta0 = _check_theta0(theta0)
    g_over_L = check_float("g_over_L", g_over_L, positive=True)
    try:
        t = np.asarray(times, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise KoopkitError(
            f"times must be an array of real numbers, got {times!r}: pass e.g. np.arange(10) * 0.1"
        ) from exc
    if not np.all(np.isfinite(t)):
        raise KoopkitError("times must be finite: remove NaN/inf values")
    k = np.sin(theta0 / 2)
    m = k * k
    quarter = ellipk(m)
    omega0 = np.sqrt(g_over_L)
    # sn and cn have period 4K: reduce the argument first, which keeps ellipj accurate at
    # large times.
    u = np.mod(quarter - omega0 * t, 4 * quarter)
    sn, cn, _, _ = ellipj(u, m)
    theta = 2 * np.arcsin(np.clip(k * sn, -1.0, 1.0))
    theta_dot = -2 * k * omega0 * cn
    # exact values at the release times (sn(K) = 1, cn(K) = 0 up to rounding)
    at_release = np.isclose(u, quarter, rtol=0, atol=1e-15 * max(quarter, 1.0))
    theta = np.where(at_release, theta0, theta)
    theta_dot = np.where(at_release, 0.0, theta_dot)
    return theta, theta_dot


def pendulum(
    theta0: float = 0.8,
    n_snapshots: int = 1000,
    dt: float = 0.1,
    n_features: int = 64,
    noise: float = 0.0,
    seed: int = 0,
    g_over_L: float = G_OVER_L,
) -> xr.DataArray:
    """The nonlinear pendulum lifted to a high-dimensional space (Azencot et al. 2020).

    The state ``s(t) = (theta, theta')`` of ``theta'' = -(g/L) sin(theta)``, released from rest
    at ``theta0``, is computed exactly (see :func:`pendulum_state`) and mapped to
    ``n_features`` dimensions by a fixed random matrix ``Q`` with orthonormal columns:
    ``data = s @ Q.T`` (plus noise), so ``data @ Q`` recovers the state.

    Parameters
    ----------
    theta0 : float, default 0.8
        Release angle in radians, ``|theta0| < pi``.
    n_snapshots : int, default 1000
        Number of snapshots.
    dt : float, default 0.1
        Time step in seconds.
    n_features : int, default 64
        Dimension of the lifted data (at least 2).
    noise : float, default 0.0
        Standard deviation of additive white Gaussian noise on the lifted data.
    seed : int, default 0
        Seed for ``Q`` and (independently) the noise.
    g_over_L : float, default 9.81
        Gravity over length, in 1/s^2.

    Returns
    -------
    xarray.DataArray
        float64 data with dims ``(time, feature)``. Coordinates: ``time`` (s), the noise-free
        state ``theta`` and ``theta_dot`` along ``time``, and the columns of ``Q`` as
        ``lift_theta`` and ``lift_theta_dot`` along ``feature``. ``attrs``: ``period``,
        ``frequency`` (``1 / period``, Hz), ``theta0``, ``dt``, ``g_over_L``, ``noise``,
        ``seed`` and a ``description``.

    Raises
    ------
    KoopkitError
        If ``|theta0| >= pi`` or an argument is out of range.

    Examples
    --------
    >>> data = pendulum(n_snapshots=200, n_features=8)
    >>> data.shape
    (200, 8)
    >>> round(data.attrs["frequency"], 3)
    0.479
    """
    theta0 = _check_theta0(theta0)
    n_snapshots = check_int("n_snapshots", n_snapshots, 1)
    n_features = check_int("n_features", n_features, 2)
    dt = check_float("dt", dt, positive=True)
    noise = check_float("noise", noise)
    seed = check_seed(seed)
    g_over_L = check_float("g_over_L", g_over_L, positive=True)

    rng_lift, rng_noise = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    lift, _ = np.linalg.qr(rng_lift.standard_normal((n_features, 2)))
    times = np.arange(n_snapshots) * dt
    theta, theta_dot = pendulum_state(theta0, times, g_over_L)
    data = np.stack([theta, theta_dot], axis=1) @ lift.T
    if noise > 0:
        data = data + noise * rng_noise.standard_normal(data.shape)
    period = pendulum_period(theta0, g_over_L)

    coords = {
        TIME: (TIME, times, {"units": "s", "long_name": "time"}),
        "feature": ("feature", np.arange(n_features)),
        "theta": (TIME, theta, {"units": "rad", "long_name": "angle (noise-free)"}),
        "theta_dot": (
            TIME,
            theta_dot,
            {"units": "rad/s", "long_name": "angular velocity (noise-free)"},
        ),
        "lift_theta": ("feature", lift[:, 0], {"long_name": "lift of theta (column 0 of Q)"}),
        "lift_theta_dot": (
            "feature",
            lift[:, 1],
            {"long_name": "lift of theta_dot (column 1 of Q)"},
        ),
    }
    attrs = {
        "description": (
            "nonlinear pendulum theta'' = -(g/L) sin(theta) released from rest at theta0, "
            "state (theta, theta_dot) lifted by data = state @ Q.T with Q = [lift_theta, "
            "lift_theta_dot]"
        ),
        "period": period,
        "frequency": 1.0 / period,
        "theta0": theta0,
        "dt": dt,
        "g_over_L": g_over_L,
        "noise": noise,
        "seed": seed,
    }
    return xr.DataArray(data, dims=(TIME, "feature"), coords=coords, attrs=attrs, name="pendulum")

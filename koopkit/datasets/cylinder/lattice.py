"""The D2Q9 lattice: velocities, weights, equilibrium and the MRT collision matrix.

Pure functions of the lattice, no state: the solver in :mod:`.lbm` builds its matrices
from these. See docs/api/datasets.md for the model and its references.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "CX",
    "CY",
    "MRT_RATES",
    "OPPOSITE",
    "WEIGHTS",
    "equilibrium",
    "equilibrium_matrix",
    "moment_matrix",
    "relaxation_matrix",
]

#: Lattice velocities, in the order rest, E, N, W, S, NE, NW, SW, SE.
CX = np.array([0, 1, 0, -1, 0, 1, -1, -1, 1])
CY = np.array([0, 0, 1, 0, -1, 1, 1, -1, -1])
#: Lattice weights.
WEIGHTS = np.array([4 / 9] + [1 / 9] * 4 + [1 / 36] * 4)
#: Index of the opposite velocity.
OPPOSITE = np.array([0, 3, 4, 1, 2, 7, 8, 5, 6])
#: MRT rates of the energy, energy-square and heat-flux moments (Lallemand & Luo 2000).
MRT_RATES = (1.64, 1.54, 1.9)


def moment_matrix() -> np.ndarray:
    """Lallemand & Luo's orthogonal D2Q9 moments: rho, e, eps, jx, qx, jy, qy, pxx, pxy.

    Examples
    --------
    >>> m = moment_matrix()
    >>> bool(np.allclose(m @ m.T, np.diag(np.diag(m @ m.T))))  # orthogonal rows
    True
    """
    cx, cy = CX.astype(float), CY.astype(float)
    c2 = cx**2 + cy**2
    q = -5 + 3 * c2
    return np.stack(
        [
            np.ones(9),
            -4 + 3 * c2,
            4 - 10.5 * c2 + 4.5 * c2**2,
            cx,
            q * cx,
            cy,
            q * cy,
            cx**2 - cy**2,
            cx * cy,
        ]
    )


def relaxation_matrix(tau: float) -> np.ndarray:
    """The 9x9 matrix ``K`` of the MRT collision ``h* = h - K (h - h_eq)``.

    ``K = M^-1 S M`` with Lallemand & Luo's (2000) orthogonal moments ``M`` and rates ``S``:
    ``1/tau`` for the two stresses (kinematic viscosity ``(tau - 1/2) / 3``) and the fixed
    :data:`MRT_RATES` for the energy ``e``, its square ``eps`` and the heat fluxes ``q``.
    Relaxing ``e`` apart from the stress gives a bulk viscosity several times the shear
    viscosity, so start-up sound dies out; relaxing ``q`` fast damps the "ghost" modes, which
    keeps the run stable down to ``tau`` close to 1/2.

    Parameters
    ----------
    tau : float
        Relaxation time of the shear stress, above 1/2.

    Returns
    -------
    numpy.ndarray, shape (9, 9)

    Examples
    --------
    >>> k = relaxation_matrix(0.6)
    >>> m = moment_matrix()
    >>> rates = np.diag(m @ k @ np.linalg.inv(m))
    >>> [round(float(r), 6) + 0.0 for r in rates[[0, 3, 5, 7, 8]]]  # rho, j kept; stress 1/tau
    [0.0, 0.0, 0.0, 1.666667, 1.666667]
    """
    s_e, s_eps, s_q = MRT_RATES
    s_nu = 1.0 / tau
    m = moment_matrix()
    rates = np.array([0.0, s_e, s_eps, 0.0, s_q, 0.0, s_q, s_nu, s_nu])
    m_inv = m.T / np.sum(m * m, axis=1)  # the rows of m are orthogonal
    return m_inv @ (rates[:, None] * m)


def equilibrium_matrix() -> np.ndarray:
    """``E`` with ``f_eq - w = E (delta_rho, jx, jy, jx^2/rho, jy^2/rho, jx jy/rho)``.

    Examples
    --------
    >>> equilibrium_matrix().shape
    (9, 6)
    """
    cx, cy = CX.astype(float), CY.astype(float)
    cols = [np.ones(9), 3 * cx, 3 * cy, 4.5 * cx**2 - 1.5, 4.5 * cy**2 - 1.5, 9 * cx * cy]
    return WEIGHTS[:, None] * np.stack(cols, axis=1)


def equilibrium(rho: np.ndarray, ux: np.ndarray, uy: np.ndarray) -> np.ndarray:
    """Shifted D2Q9 equilibrium ``f_eq - w``, shape ``(9, *rho.shape)``.

    Examples
    --------
    >>> h = equilibrium(np.ones(1), np.zeros(1), np.zeros(1))
    >>> float(abs(h).max())
    0.0
    """
    rho, ux, uy = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (rho, ux, uy)))
    m = np.stack([rho - 1, rho * ux, rho * uy, rho * ux * ux, rho * uy * uy, rho * ux * uy])
    return np.tensordot(equilibrium_matrix(), m, axes=1)

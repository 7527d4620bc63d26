"""2-D flow past a circular cylinder, by a lattice-Boltzmann (D2Q9) solver.

:func:`cylinder_flow` is the data set; the rest is public so that the physics can be
checked piece by piece. One file per job:

* :mod:`.lattice` -- the D2Q9 velocities, weights, equilibrium and MRT collision matrix;
* :mod:`.backend` -- the few array operations of the kernel, in numpy or torch;
* :mod:`.lbm` -- the solver (:class:`LatticeBoltzmann`): collide, stream, boundaries;
* :mod:`.shedding` -- lift cycles, the test for periodic shedding, the Strouhal number;
* :mod:`.params` -- the argument checks and the lattice set-up they imply;
* :mod:`.driver` -- :func:`cylinder_flow`, run in named phases.

The model, its boundary conditions and references are described in the data-set docs
(docs/api/datasets.md).

Examples
--------
>>> round(strouhal_williamson(100), 3)
0.164
"""

from __future__ import annotations

from koopkit.datasets.cylinder.driver import cylinder_flow
from koopkit.datasets.cylinder.lattice import (
    CX,
    CY,
    MRT_RATES,
    OPPOSITE,
    WEIGHTS,
    equilibrium,
    relaxation_matrix,
)
from koopkit.datasets.cylinder.lbm import LatticeBoltzmann
from koopkit.datasets.cylinder.params import MAX_MACH, MIN_REYNOLDS, MIN_TAU, ST_ESTIMATE
from koopkit.datasets.cylinder.shedding import (
    MIN_LIFT_AMPLITUDE,
    SheddingCycles,
    lift_cycles,
    shedding_settled,
    spectral_peak,
    strouhal_williamson,
)

__all__ = [
    "CX",
    "CY",
    "MAX_MACH",
    "MIN_LIFT_AMPLITUDE",
    "MIN_REYNOLDS",
    "MIN_TAU",
    "MRT_RATES",
    "OPPOSITE",
    "ST_ESTIMATE",
    "WEIGHTS",
    "LatticeBoltzmann",
    "SheddingCycles",
    "cylinder_flow",
    "equilibrium",
    "lift_cycles",
    "relaxation_matrix",
    "shedding_settled",
    "spectral_peak",
    "strouhal_williamson",
]

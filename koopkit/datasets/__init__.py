"""Data sets with a known ground truth, returned as :class:`xarray.DataArray` time series.

Every generator returns data with a ``time`` dimension and coordinate (with a ``units``
attribute); the ground truth (frequencies, eigenvalues, period, ...) is stored in ``attrs``.

Examples
--------
>>> from koopkit.datasets import linear_system
>>> linear_system([0.5], n_features=3, n_snapshots=4).dims
('time', 'feature')
"""

from __future__ import annotations

from koopkit.datasets.cylinder import cylinder_flow
from koopkit.datasets.nonlinear import pendulum, pendulum_period, pendulum_state
from koopkit.datasets.synthetic import bouncing_balls, linear_system

__all__ = [
    "bouncing_balls",
    "cylinder_flow",
    "linear_system",
    "pendulum",
    "pendulum_period",
    "pendulum_state",
]

"""Benchmarks with a known truth: estimator accuracy against the Cramér-Rao bound, and a
suite of cases (linear systems, pendulum, bouncing balls, cylinder wake) timed and scored
for every backend.

* :mod:`koopkit.benchmarking.noise` -- frequency and growth-rate errors of DMD variants in
  white noise, beside the Cramér-Rao lower bound (``benchmarks/noise_study.py``);
* :mod:`koopkit.benchmarking.suite` -- eigenvalue, frequency and forecast errors,
  residuals, fit time and peak memory of every method on every case, and koopkit's fit
  time against the fastest peer of each method family (``koopkit benchmark``,
  ``benchmarks/run_all.py``);
* :mod:`koopkit.benchmarking.peers` -- deeptime's DMD, EDMD and kernel EDMD behind
  koopkit's estimator contract (the optional ``benchmark`` extra), for the suite and
  ``benchmarks/edmd_speed.py``.
"""

from __future__ import annotations

__all__ = ["noise", "peers", "suite"]

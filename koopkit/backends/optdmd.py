"""Optimized DMD by variable projection (Askham & Kutz 2018), with bagging (Sashidhar &
Kutz 2022), on any strictly increasing sample times.

The model is continuous in time: ``x(t) = sum_j b_j phi_j exp(alpha_j (t - t0))``. On the
data projected onto their ``r`` leading POD directions, ``Y`` (samples x r), the fit
minimises ``||Y - Phi(alpha) B||_F`` with ``Phi_kj = exp(alpha_j t_k)``; for each ``alpha``
the linear coefficients ``B = Phi^+ Y`` are solved exactly (an SVD of ``Phi``), so
Levenberg-Marquardt runs over the ``r`` eigenvalues alone (variable projection).

The fit itself (the Jacobian, constraints, starts) is in :mod:`koopkit.backends._varpro`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import numpy as np
import scipy.linalg as sla

from koopkit._errors import KoopkitError
from koopkit._validation import Snapshots, as_trajectories, check_int, check_rank
from koopkit.backends._linalg import choose_rank, complex_of, rank_rule
from koopkit.backends._varpro import (
    ParameterMap,
    VarproFit,
    clip_start,
    interpolated_dmd_start,
    parameter_map,
    periodogram_start,
    trapezoid_start,
    varpro,
)
from koopkit.backends.base import (
    KoopmanEstimator,
    LinearModelMixin,
    build_linear_model,
    rms_order,
)
from koopkit.evaluation import assign

#: Constraint names accepted by :class:`OptDMD`.
CONSTRAINTS = ("stable", "imaginary", "conjugate_pairs")


def _normalise_constraints(constraints: Any, real: bool) -> frozenset[str]:
    if constraints is None:
        return frozenset({"conjugate_pairs"} if real else set())
    items = [constraints] if isinstance(constraints, str) else constraints
    if not isinstance(items, Iterable):
        raise KoopkitError(
            f"constraints={constraints!r} is not valid: give a name or a set of names "
            f"from {', '.join(map(repr, CONSTRAINTS))}"
        )
    items = list(items)
    bad = [c for c in items if c not in CONSTRAINTS]
    if bad:
        raise KoopkitError(
            f"unknown constraint {bad[0]!r}: use any of {', '.join(map(repr, CONSTRAINTS))}"
        )
    return frozenset(items)


# ------------------------------------------------------------------ estimator
class OptDMD(LinearModelMixin, KoopmanEstimator):
    """Optimized DMD (variable projection) on any sample times, with bagged error bars.

    Fits ``x(t) = sum_j b_j phi_j exp(alpha_j (t - t0))`` to samples at any strictly
    increasing times (uneven steps, gaps, datetimes) by least squares over everything at
    once (Askham & Kutz 2018), on the data's ``rank`` leading POD directions; the modes
    are lifted back at the end. The fit runs from three starts and keeps the lowest
    residual: exact DMD on the data linearly interpolated onto a uniform grid of the mean
    step (robust to noise and uneven steps: what makes random times work);
    continuous-time DMD by the trapezoid rule on the samples as they are (exact for clean
    densely sampled data, but it divides noise by the steps, which random times make tiny:
    the start that fails BOPDMD); and undamped peaks of the periodogram on the sample
    times, up to twice the mean step's Nyquist frequency (frequencies that bursts or
    jittered sampling resolve and any uniform grid aliases; skipped on long records where
    frequencies x samples > 1e6).

    With ``n_bags > 0`` the fit is repeated on ``n_bags`` random subsets of
    ``bag_fraction`` of the samples (bagging, Sashidhar & Kutz 2022), each started from
    the full fit; bag eigenvalues are matched to the full fit's (Hungarian). The spectrum
    reports the **full fit** (the least-squares estimate on all data) and, per mode,
    ``eigenvalue_std_real``/``eigenvalue_std_imag``: the spread of the bags scaled by
    ``sqrt(m' / (m - m'))`` (``m'`` of ``m`` samples per bag), the delete-d jackknife's
    estimate of the full fit's standard deviation (raw bag spread underestimates it:
    bags of 60% vary less than independent data sets of 100% would).

    Parameters
    ----------
    rank : int, float, "auto" or None
        Number of modes (and of POD directions), as for :class:`~koopkit.DMD`.
    n_bags : int
        Number of bagged refits (0: none, no error bars).
    bag_fraction : float
        Fraction of the samples in each bag, in (0, 1).
    constraints : str or collection of str, optional
        Any of "stable" (``Re alpha <= 0``), "imaginary" (``Re alpha = 0``) and
        "conjugate_pairs" (eigenvalues in conjugate pairs, real ones allowed). Default:
        "conjugate_pairs" for real data (their exact model has conjugate pairs; it halves
        the unknowns and keeps forecasts real), none for complex data. An empty set: none.
    seed : int
        Seed of the bags.
    max_iter : int
        Most Levenberg-Marquardt steps per fit.
    tol : float
        Stop when a step moves the parameters by less than ``tol`` relative to their
        size, or lowers the cost by less than ``tol**2`` relative.

    Attributes
    ----------
    spectrum_ : KoopmanSpectrum
        Discrete eigenvalues refer to the step ``dt``: the median step of the (last)
        trajectory, or a whole fraction of it where a fitted frequency lies above that
        step's Nyquist frequency; the continuous eigenvalues are exact either way.
    eigenvalues_ : ndarray
        Continuous eigenvalues ``alpha`` in the spectrum's mode order.
    bag_eigenvalues_, bag_amplitudes_ : ndarray, shape (n_bags, rank)
        Each bag's matched continuous eigenvalues and amplitudes (of the last trajectory,
        on the full fit's modes).
    converged_ : bool
        Whether the full fit met the tolerance within ``max_iter`` steps.
    start_ : str
        Which start gave the kept optimum ("interpolated DMD", "trapezoid" or
        "periodogram").
    singular_values_ : ndarray
        The data's singular values (POD).
    rank_, n_features_in_ : int

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = np.sort(np.random.default_rng(0).uniform(0, 10, 200))
    >>> x = np.stack([np.cos(2 * np.pi * 0.5 * t), np.sin(2 * np.pi * 0.5 * t)], axis=1)
    >>> data = xr.DataArray(x, dims=("time", "f"), coords={"time": t})
    >>> model = OptDMD(rank=2).fit(data)
    >>> np.round(np.sort(model.spectrum_.frequencies.values), 8)
    array([-0.5,  0.5])
    """

    name = "optdmd"

    def __init__(
        self,
        rank: int | float | str | None = "auto",
        n_bags: int = 0,
        bag_fraction: float = 0.6,
        constraints: Any = None,
        seed: int = 0,
        *,
        max_iter: int = 100,
        tol: float = 1e-10,
    ) -> None:
        self.rank = rank
        self.n_bags = n_bags
        self.bag_fraction = bag_fraction
        self.constraints = constraints
        self.seed = seed
        self.max_iter = max_iter
        self.tol = tol

    def _check_params(self) -> None:
        check_rank(self.rank)
        check_int("n_bags", self.n_bags, 0)
        check_int("max_iter", self.max_iter, 1)
        check_int("seed", self.seed, 0)
        f = self.bag_fraction
        if isinstance(f, bool) or not isinstance(f, (float, int)) or not 0 < f < 1:
            raise KoopkitError(f"bag_fraction={f!r} must be a fraction in (0, 1), e.g. 0.6")
        if not (isinstance(self.tol, (float, int)) and 0 < self.tol < 1):
            raise KoopkitError(f"tol={self.tol!r} must be a small positive number, e.g. 1e-10")

    def fit(
        self,
        data: Any,
        *,
        dt: float | None = None,
        variable: str | None = None,
        time_unit: str | None = None,
    ) -> OptDMD:
        """Fit to a time series at any strictly increasing times, or to several
        trajectories (shared eigenvalues and modes, amplitudes of their own); returns
        ``self``.

        Parameters
        ----------
        data : xr.DataArray, xr.Dataset, array_like, or a list of them
            A DataArray with a ``time`` dimension and coordinate (any strictly increasing
            numbers or datetimes), or an array with ``dt=``; several trajectories as a
            list or along a ``trajectory`` dimension. The spectrum's amplitudes,
            ``predict()`` and ``reconstruct()`` refer to the last trajectory.
        dt, variable, time_unit :
            As for :meth:`koopkit.DMD.fit`.
        """
        self._check_params()
        trajs = as_trajectories(data, dt=dt, variable=variable, time_unit=time_unit, uniform=False)
        constraints = _normalise_constraints(
            self.constraints, real=trajs[0].matrix.dtype.kind != "c"
        )
        lengths = [t.n_time for t in trajs]
        matrix = np.concatenate([t.matrix for t in trajs]) if len(trajs) > 1 else trajs[0].matrix
        work = matrix.astype(complex if matrix.dtype.kind == "c" else float, copy=False)
        _, s, vh = sla.svd(work, full_matrices=False, lapack_driver="gesdd", check_finite=False)
        floor = max(work.shape) * np.finfo(matrix.dtype).eps
        r = choose_rank(s, self.rank, (work.shape[1], work.shape[0]), floor)
        for i, n in enumerate(lengths):
            if n < r + 1:
                raise KoopkitError(
                    f"trajectory {i} has {n} samples, too few for rank {r}: each needs at "
                    f"least rank + 1; lower the rank or drop it"
                )
        basis = vh[:r]  # (r, n_features), orthonormal rows
        coords = work @ basis.conj().T  # (M, r)
        splits = np.cumsum(lengths)[:-1]
        data_r = np.split(coords, splits)
        starts = [float(t.times[0]) for t in trajs]
        times = [t.times - t0 for t, t0 in zip(trajs, starts, strict=True)]

        full, pmap, start = self._fit_best(times, data_r, constraints)
        bags_alpha, bags_coeffs, bag_ok, factor = self._bags(times, data_r, full, pmap)
        self._finish(trajs, basis, s, r, full, start, bags_alpha, bags_coeffs, bag_ok, factor)
        self.constraints_ = sorted(constraints)
        return self

    # -------------------------------------------------------------- internals
    def _fit_best(
        self, times: list[np.ndarray], data: list[np.ndarray], constraints: frozenset[str]
    ) -> tuple[VarproFit, ParameterMap, str]:
        best: tuple[VarproFit, ParameterMap, str] | None = None
        for label, guess in (
            ("interpolated DMD", interpolated_dmd_start),
            ("trapezoid", trapezoid_start),
            ("periodogram", lambda t, y: periodogram_start(t, y, y[0].shape[1])),
        ):
            try:
                alpha0 = clip_start(guess(times, data), times)
            except (np.linalg.LinAlgError, ValueError):
                continue
            pmap, alpha0 = parameter_map(alpha0, constraints)
            try:
                fit = varpro(pmap.params_of(alpha0), pmap, times, data, self.max_iter, self.tol)
            except KoopkitError:
                continue
            if best is None or fit.cost < best[0].cost:
                best = (fit, pmap, label)
        if best is None:
            raise KoopkitError(
                "optimized DMD found no finite start: the data overflow every estimate; "
                "use constraints='stable' or a smaller rank"
            )
        return best

    def _bags(
        self, times: list[np.ndarray], data: list[np.ndarray], full: VarproFit, pmap: ParameterMap
    ) -> tuple[np.ndarray, list[np.ndarray], np.ndarray, float]:
        r = len(full.alpha)
        n_bags = int(self.n_bags)
        alphas = np.full((n_bags, r), np.nan + 0j)
        coeffs: list[np.ndarray] = []
        ok = np.zeros(n_bags, dtype=bool)
        if not n_bags:
            return alphas, coeffs, ok, 1.0
        rng = np.random.default_rng(self.seed)
        sizes = [max(r + 1, int(self.bag_fraction * len(t))) for t in times]
        total, kept = sum(len(t) for t in times), sum(sizes)
        if kept >= total:
            raise KoopkitError(
                f"bag_fraction={self.bag_fraction} leaves every sample in each bag "
                f"(rank {r} needs {r + 1} per trajectory): raise it less or give more samples"
            )
        p0 = pmap.params_of(full.alpha)
        for b in range(n_bags):
            picks = [
                np.sort(rng.choice(len(t), k, replace=False))
                for t, k in zip(times, sizes, strict=True)
            ]
            bt = [t[i] for t, i in zip(times, picks, strict=True)]
            by = [y[i] for y, i in zip(data, picks, strict=True)]
            try:
                fit = varpro(p0, pmap, bt, by, self.max_iter, self.tol)
            except KoopkitError:
                coeffs.append(np.full_like(full.coeffs[-1], np.nan))
                continue
            rows, cols, _ = assign(fit.alpha, full.alpha)  # Hungarian
            perm = np.empty(r, dtype=int)
            perm[cols] = rows
            alphas[b] = fit.alpha[perm]
            coeffs.append(fit.coeffs[-1][perm])
            ok[b] = fit.converged
        # delete-d jackknife: a bag of m' of m samples varies by (m - m') / m' times the
        # variance of the full estimate (see the class docstring and docs)
        return alphas, coeffs, ok, float(np.sqrt(kept / (total - kept)))

    def _finish(
        self,
        trajs: list[Snapshots],
        basis: np.ndarray,
        s: np.ndarray,
        r: int,
        full: VarproFit,
        start: str,
        bags_alpha: np.ndarray,
        bags_coeffs: list[np.ndarray],
        bag_ok: np.ndarray,
        factor: float,
    ) -> None:
        alpha = full.alpha
        # Shared modes: each mode's coefficient rows over the trajectories, rank one.
        rows = np.stack(full.coeffs, axis=1)  # (r, n_traj, r_pod)
        w = np.empty((r, basis.shape[0]), complex)
        for j in range(r):
            _, sv, wh = np.linalg.svd(rows[j], full_matrices=False)
            w[j] = wh[0] if sv[0] > 0 else np.eye(basis.shape[0])[0]
        b_all = np.einsum("jtn,jn->tj", rows, w.conj())  # (n_traj, r)
        info = trajs[-1]
        t_last = info.times - info.times[0]
        b = b_all[-1]
        b_end = b * np.exp(alpha * t_last[-1])
        step = info.dt
        top = float(np.abs(alpha.imag).max(initial=0.0))
        if top * step >= np.pi * (1 - 1e-9):  # keep |Im alpha| dt below pi: no aliasing
            step = step / (np.floor(top * step / np.pi) + 1)
            info = dataclasses.replace(info, dt=step)
        lam = np.exp(alpha * step)
        phi = (w @ basis).astype(complex_of(info.matrix.dtype))  # unit norm rows
        extras = {}
        bag_b = np.full((len(bags_coeffs), r), np.nan + 0j)
        if len(bags_alpha):
            bag_b = np.stack([np.einsum("jn,jn->j", c, w.conj()) for c in bags_coeffs])
            extras = {
                "eigenvalue_std_real": factor * np.nanstd(bags_alpha.real, axis=0, ddof=1),
                "eigenvalue_std_imag": factor * np.nanstd(bags_alpha.imag, axis=0, ddof=1),
            }
        order = rms_order(lam, b, info.n_time, step)
        params = {
            **self.get_params(),
            "constraints": sorted(
                _normalise_constraints(self.constraints, info.matrix.dtype.kind != "c")
            ),
        }
        params.update(
            rank_used=r,
            rank_rule=rank_rule(s, self.rank, (basis.shape[1], sum(t.n_time for t in trajs))),
            start=start,
        )
        spectrum, self._linear = build_linear_model(
            info,
            lam,
            phi[:, None, :],
            b,
            b_end,
            n_states=info.n_time,
            t0=float(info.times[0]),
            backend=self.name,
            params=params,
            extras=extras,
            order=order,
        )
        self._data_info = info
        self.spectrum_ = spectrum
        self.eigenvalues_ = alpha[order]
        self.bag_eigenvalues_ = bags_alpha[:, order]
        self.bag_amplitudes_ = bag_b[:, order]
        self.bag_converged_ = bag_ok
        self.converged_ = bool(full.converged)
        self.n_iter_ = int(full.n_iter)
        self.start_ = start
        self.singular_values_ = s
        self.rank_ = r
        self.n_features_in_ = info.matrix.shape[1]

    def _reconstruct(self) -> np.ndarray:
        info = self._data_info
        s = (info.times - info.times[0]) / info.dt
        return self._linear.forecast(self._linear.amplitudes, s)


__all__ = ["CONSTRAINTS", "OptDMD"]

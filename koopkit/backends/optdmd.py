"""Optimized DMD by variable projection (Askham & Kutz 2018), with bagging (Sashidhar &
Kutz 2022), on any strictly increasing sample times.

The model is continuous in time: ``x(t) = sum_j b_j phi_j exp(alpha_j (t - t0))``. On the
data projected onto their ``r`` leading POD directions, ``Y`` (samples x r), the fit
minimises ``||Y - Phi(alpha) B||_F`` with ``Phi_kj = exp(alpha_j t_k)``; for each ``alpha``
the linear coefficients ``B = Phi^+ Y`` are solved exactly (an SVD of ``Phi``), so
Levenberg-Marquardt runs over the ``r`` eigenvalues alone (variable projection).

The Jacobian is Golub & Pereyra's exact one, ``d rho / d theta = -P D B - Phi^+H D^H rho``
with ``D = dPhi/dtheta``; its two parts are orthogonal, so the normal matrix ``J^T J`` and
the gradient ``J^T rho`` come from a few ``r x r`` products (nothing of size
samples x r x r is formed):

* ``M_A = (D^H P D) o (B B^H)^T``, ``M_C = (Phi^+ Phi^+H) o (E E^H)^T``, ``E = D^H rho``;
* over ``theta = (Re alpha, Im alpha)``: ``J^T J = [[Re(M_A + M_C), -Im(M_A - M_C)],
  [Im(M_A - M_C), Re(M_A + M_C)]]`` and ``J^T rho = (Re v, Im v)``,
  ``v_j = -sum_n E_jn conj(B_jn)``.

Constraints are a linear map ``theta = T p`` from fewer real parameters (conjugate pairs:
one real and one imaginary part per pair; "imaginary": no real parts), plus the projection
``Re alpha <= 0`` after each step ("stable").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg as sla

from koopkit._errors import KoopkitError
from koopkit._validation import Snapshots, as_trajectories, check_int, check_rank
from koopkit.backends._linalg import choose_rank, complex_of, rank_rule
from koopkit.backends.base import (
    KoopmanEstimator,
    LinearModelMixin,
    build_linear_model,
    rms_order,
)

#: Constraint names accepted by :class:`OptDMD`.
CONSTRAINTS = ("stable", "imaginary", "conjugate_pairs")


# ----------------------------------------------------------------- parameters
@dataclass
class _Map:
    """``(Re alpha, Im alpha) = T p``; ``real_part`` marks the entries of ``p`` that are real
    parts (clipped at 0 by the "stable" constraint)."""

    t: np.ndarray  # (2r, n_p)
    real_part: np.ndarray  # (n_p,) bool
    stable: bool

    def alpha(self, p: np.ndarray) -> np.ndarray:
        ri = self.t @ p
        r = len(ri) // 2
        return ri[:r] + 1j * ri[r:]

    def project(self, p: np.ndarray) -> np.ndarray:
        if self.stable:
            p = p.copy()
            p[self.real_part] = np.minimum(p[self.real_part], 0.0)
        return p

    def params_of(self, alpha: np.ndarray) -> np.ndarray:
        """The parameters nearest to ``alpha`` (pairs averaged), projected."""
        ri = np.concatenate([alpha.real, alpha.imag])
        return self.project(np.linalg.lstsq(self.t, ri, rcond=None)[0])


def _parameter_map(alpha0: np.ndarray, constraints: frozenset[str]) -> tuple[_Map, np.ndarray]:
    """The map for ``constraints``, and ``alpha0`` reordered so each conjugate pair is
    adjacent (upper half-plane first) with the real eigenvalues last."""
    r = len(alpha0)
    imaginary = "imaginary" in constraints
    if "conjugate_pairs" in constraints:
        scale = max(float(np.abs(alpha0).max()), 1e-300)
        order = np.argsort(-alpha0.imag)
        n_up = int(np.sum(alpha0.imag > 1e-8 * scale))
        n_pairs = min(n_up, r // 2)
        upper = list(order[:n_pairs])
        rest = [i for i in range(r) if i not in upper]
        paired = []
        for u in upper:  # the partner of each upper eigenvalue: the nearest to its conjugate
            k = min(rest, key=lambda i: abs(alpha0[i] - alpha0[u].conj()))
            rest.remove(k)
            paired += [u, k]
        reals = rest
        alpha0 = alpha0[paired + reals]
        cols: list[np.ndarray] = []
        real_part: list[bool] = []
        for k in range(n_pairs):
            if not imaginary:
                c = np.zeros(2 * r)
                c[2 * k] = c[2 * k + 1] = 1.0
                cols.append(c)
                real_part.append(True)
            c = np.zeros(2 * r)
            c[r + 2 * k], c[r + 2 * k + 1] = 1.0, -1.0
            cols.append(c)
            real_part.append(False)
        if not imaginary:
            for j in range(2 * n_pairs, r):
                c = np.zeros(2 * r)
                c[j] = 1.0
                cols.append(c)
                real_part.append(True)
        t = np.stack(cols, axis=1) if cols else np.zeros((2 * r, 0))
    else:
        eye = np.eye(2 * r)
        t = eye[:, r:] if imaginary else eye
        real_part = [False] * r if imaginary else [True] * r + [False] * r
    return _Map(t, np.array(real_part, dtype=bool), "stable" in constraints), alpha0


# ---------------------------------------------------------------- the fit
@dataclass
class _Fit:
    alpha: np.ndarray  # (r,) continuous eigenvalues
    coeffs: list[np.ndarray]  # per trajectory (r, n_pod): B
    cost: float  # ||rho||^2
    n_iter: int
    converged: bool


def _evaluate(
    alpha: np.ndarray, times: list[np.ndarray], data: list[np.ndarray], grad: bool
) -> tuple[float, list[np.ndarray], np.ndarray | None, np.ndarray | None]:
    """Cost ``||P_perp Y||^2``, the coefficients ``B``, and (``grad``) ``J^T J``, ``J^T rho``
    over ``(Re alpha, Im alpha)``."""
    r = len(alpha)
    cost = 0.0
    coeffs = []
    m_a = np.zeros((r, r), complex)
    m_c = np.zeros((r, r), complex)
    v = np.zeros(r, complex)
    for t, y in zip(times, data, strict=True):
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            phi = np.exp(np.outer(t, alpha))
        if not np.isfinite(phi).all():
            return np.inf, [], None, None
        try:
            u, s, vh = np.linalg.svd(phi, full_matrices=False)
        except np.linalg.LinAlgError:
            return np.inf, [], None, None
        keep = s > s[0] * max(phi.shape) * np.finfo(float).eps if s[0] > 0 else s > 0
        u, s, vh = u[:, keep], s[keep], vh[keep]
        uy = u.conj().T @ y
        rho = y - u @ uy
        cost += float(np.vdot(rho, rho).real)
        with np.errstate(over="ignore", invalid="ignore"):
            b = (vh.conj().T / s) @ uy
        coeffs.append(b)
        if grad:
            with np.errstate(over="ignore", invalid="ignore"):  # checked below
                d = t[:, None] * phi
                e = d.conj().T @ rho  # (r, n)
                pd = d - u @ (u.conj().T @ d)
                gg = (vh.conj().T / s**2) @ vh  # Phi^+ Phi^+H
                m_a += (pd.conj().T @ pd) * (b @ b.conj().T).T
                m_c += gg * (e @ e.conj().T).T
                v -= np.einsum("jn,jn->j", e, b.conj())
    if not grad:
        return cost, coeffs, None, None
    plus, minus = m_a + m_c, m_a - m_c
    jtj = np.block([[plus.real, -minus.imag], [minus.imag, plus.real]])
    jtr = np.concatenate([v.real, v.imag])
    if not (np.isfinite(jtj).all() and np.isfinite(jtr).all()):
        return np.inf, [], None, None  # a dead mode (underflow) or an overflow: no step here
    return cost, coeffs, jtj, jtr


def _varpro(
    p0: np.ndarray,
    pmap: _Map,
    times: list[np.ndarray],
    data: list[np.ndarray],
    max_iter: int,
    tol: float,
) -> _Fit:
    """Levenberg-Marquardt (Marquardt's diagonal scaling) over the parameters ``p``."""
    p = pmap.project(p0)
    cost, coeffs, jtj, jtr = _evaluate(pmap.alpha(p), times, data, True)
    if not np.isfinite(cost):
        raise KoopkitError(
            "the start of the optimized DMD overflows (a strongly growing start on a long "
            "record): use constraints='stable' or shift the times to start near 0"
        )
    total = sum(float(np.vdot(y, y).real) for y in data)
    floor = (np.finfo(float).eps * 10) ** 2 * max(total, np.finfo(float).tiny)
    lam = 1e-3
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 -- the count is returned
        if cost <= floor:
            converged = True
            break
        h = pmap.t.T @ jtj @ pmap.t
        g = pmap.t.T @ jtr
        diag = np.diag(h).copy()
        diag = np.maximum(diag, 1e-12 * max(diag.max(initial=0.0), np.finfo(float).tiny))
        accepted = False
        while lam <= 1e16:
            try:
                step = -np.linalg.solve(h + lam * np.diag(diag), g)
            except np.linalg.LinAlgError:
                lam *= 10.0
                continue
            trial = pmap.project(p + step)
            new_cost, new_coeffs, new_jtj, new_jtr = _evaluate(pmap.alpha(trial), times, data, True)
            if new_cost < cost:
                accepted = True
                break
            lam *= 10.0
        if not accepted:  # no step lowers the cost: a (numerical) minimum
            converged = True
            break
        moved = np.linalg.norm(trial - p)
        gain = cost - new_cost
        p, cost, coeffs, jtj, jtr = trial, new_cost, new_coeffs, new_jtj, new_jtr
        lam = max(lam / 10.0, 1e-12)
        if moved <= tol * (np.linalg.norm(p) + tol) or gain <= tol**2 * cost:
            converged = True
            break
    return _Fit(pmap.alpha(p), coeffs, cost, n_iter, converged)


# ------------------------------------------------------------------ starts
def _interpolated_dmd(times: list[np.ndarray], data: list[np.ndarray]) -> np.ndarray:
    """Exact DMD of the data linearly interpolated onto a uniform grid of the mean step."""
    h = float(np.median([(t[-1] - t[0]) / (len(t) - 1) for t in times]))
    x0, x1 = [], []
    for t, y in zip(times, data, strict=True):
        grid = t[0] + h * np.arange(int(np.floor((t[-1] - t[0]) / h + 1e-9)) + 1)
        k = np.clip(np.searchsorted(t, grid, side="right") - 1, 0, len(t) - 2)
        w = ((grid - t[k]) / (t[k + 1] - t[k]))[:, None]
        z = y[k] * (1 - w) + y[k + 1] * w
        x0.append(z[:-1])
        x1.append(z[1:])
    a = np.linalg.lstsq(np.concatenate(x0), np.concatenate(x1), rcond=None)[0]
    lam = np.linalg.eigvals(a).astype(complex)
    lam = np.where(np.abs(lam) > 1e-300, lam, 1e-300)
    return np.log(lam) / h


def _trapezoid(times: list[np.ndarray], data: list[np.ndarray]) -> np.ndarray:
    """Continuous-time DMD on the samples as they are: ``(y_{k+1} - y_k) / dt_k = A (y_k +
    y_{k+1}) / 2``."""
    mid = np.concatenate([(y[1:] + y[:-1]) / 2 for y in data])
    slope = np.concatenate(
        [np.diff(y, axis=0) / np.diff(t)[:, None] for t, y in zip(times, data, strict=True)]
    )
    a = np.linalg.lstsq(mid, slope, rcond=None)[0]
    return np.linalg.eigvals(a).astype(complex)


#: Largest (frequencies x samples) product the periodogram start evaluates.
_PERIODOGRAM_WORK = 1e6


def _periodogram(times: list[np.ndarray], data: list[np.ndarray], r: int) -> np.ndarray:
    """Undamped starts at the peaks of the data's periodogram on their own times, found one
    at a time on what the previous peaks leave: frequencies up to twice the mean step's
    Nyquist frequency (what bursts and jittered sampling resolve and a uniform grid of the
    mean step aliases), on a grid of a half resolution cell ``1 / (2 span)``."""
    steps = np.concatenate([np.diff(t) for t in times])
    span = max(float(t[-1] - t[0]) for t in times)
    n = sum(len(t) for t in times)
    f_max = min(0.5 / float(np.quantile(steps, 0.1)), n / span)
    df = 1.0 / (2.0 * span)
    real = all(np.isrealobj(y) for y in data)
    grid = np.arange(0.0 if real else -f_max, f_max + df, df)
    if grid.size * n > _PERIODOGRAM_WORK:
        raise ValueError("too many frequencies for the periodogram start")
    waves = [np.exp(-2j * np.pi * np.outer(grid, t)) for t in times]  # (F, m) each
    rest = [y.astype(complex) for y in data]
    alpha: list[complex] = []
    while len(alpha) < r:
        power = sum(np.sum(np.abs(w @ y) ** 2, axis=1) for w, y in zip(waves, rest, strict=True))
        f0 = float(grid[np.argmax(power)])
        if real and f0 != 0.0 and len(alpha) < r - 1:
            new = [2j * np.pi * f0, -2j * np.pi * f0]
        else:
            new = [2j * np.pi * f0]
        alpha += new
        # remove what these frequencies explain (least squares, per trajectory)
        for i, (t, y) in enumerate(zip(times, rest, strict=True)):
            basis = np.exp(np.outer(t, new))
            rest[i] = y - basis @ np.linalg.lstsq(basis, y, rcond=None)[0]
    return np.array(alpha[:r])


def _clip_start(alpha: np.ndarray, times: list[np.ndarray]) -> np.ndarray:
    """Keep a start's growth below what overflows ``exp(alpha t)`` over the record."""
    span = max(float(t[-1] - t[0]) for t in times)
    limit = 200.0 / max(span, np.finfo(float).tiny)
    re = np.clip(np.nan_to_num(alpha.real, nan=0.0), -5 * limit, limit)
    return re + 1j * np.nan_to_num(alpha.imag, nan=0.0)


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


def _match(alpha: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Positions ``perm`` such that ``alpha[perm]`` pairs with ``reference`` (Hungarian,
    on the distance between continuous eigenvalues)."""
    from scipy.optimize import linear_sum_assignment

    cost = np.abs(alpha[None, :] - reference[:, None])
    rows, cols = linear_sum_assignment(cost)
    perm = np.empty(len(reference), dtype=int)
    perm[rows] = cols
    return perm


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
    ) -> tuple[_Fit, _Map, str]:
        best: tuple[_Fit, _Map, str] | None = None
        for label, guess in (
            ("interpolated DMD", _interpolated_dmd),
            ("trapezoid", _trapezoid),
            ("periodogram", lambda t, y: _periodogram(t, y, y[0].shape[1])),
        ):
            try:
                alpha0 = _clip_start(guess(times, data), times)
            except (np.linalg.LinAlgError, ValueError):
                continue
            pmap, alpha0 = _parameter_map(alpha0, constraints)
            try:
                fit = _varpro(pmap.params_of(alpha0), pmap, times, data, self.max_iter, self.tol)
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
        self, times: list[np.ndarray], data: list[np.ndarray], full: _Fit, pmap: _Map
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
                fit = _varpro(p0, pmap, bt, by, self.max_iter, self.tol)
            except KoopkitError:
                coeffs.append(np.full_like(full.coeffs[-1], np.nan))
                continue
            perm = _match(fit.alpha, full.alpha)
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
        full: _Fit,
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

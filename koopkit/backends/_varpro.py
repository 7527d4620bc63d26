"""Variable projection for optimized DMD: the Levenberg-Marquardt fit and its starts.

On data projected onto ``r`` POD directions, ``Y`` (samples x r), :func:`varpro` minimises
``||Y - Phi(alpha) B||_F`` with ``Phi_kj = exp(alpha_j t_k)`` over the continuous
eigenvalues ``alpha`` alone: for each ``alpha`` the coefficients ``B = Phi^+ Y`` are solved
exactly (an SVD of ``Phi``). :class:`koopkit.backends.optdmd.OptDMD` runs it from the starts
here and keeps the best.

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

from dataclasses import dataclass

import numpy as np

from koopkit._errors import KoopkitError

__all__ = [
    "ParameterMap",
    "VarproFit",
    "clip_start",
    "interpolated_dmd_start",
    "parameter_map",
    "periodogram_start",
    "trapezoid_start",
    "varpro",
]


# ----------------------------------------------------------------- parameters
@dataclass
class ParameterMap:
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


def parameter_map(
    alpha0: np.ndarray, constraints: frozenset[str]
) -> tuple[ParameterMap, np.ndarray]:
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
    return ParameterMap(t, np.array(real_part, dtype=bool), "stable" in constraints), alpha0


# ---------------------------------------------------------------- the fit
@dataclass
class VarproFit:
    """The outcome of :func:`varpro`."""

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


def varpro(
    p0: np.ndarray,
    pmap: ParameterMap,
    times: list[np.ndarray],
    data: list[np.ndarray],
    max_iter: int,
    tol: float,
) -> VarproFit:
    """Levenberg-Marquardt (Marquardt's diagonal scaling) over the parameters ``p``.

    ``times`` and ``data`` hold one entry per trajectory (shared eigenvalues, coefficients
    of their own); raises :class:`~koopkit.KoopkitError` when the start overflows.

    Examples
    --------
    >>> t = np.linspace(0, 5, 60)
    >>> y = np.exp(np.outer(t, [2j, -0.3]))  # two known continuous eigenvalues
    >>> pmap, alpha0 = parameter_map(np.array([1.8j, -0.2]), frozenset())
    >>> fit = varpro(pmap.params_of(alpha0), pmap, [t], [y], max_iter=50, tol=1e-12)
    >>> np.allclose(fit.alpha, [2j, -0.3]), fit.converged
    (True, True)
    """
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
    return VarproFit(pmap.alpha(p), coeffs, cost, n_iter, converged)


# ------------------------------------------------------------------ starts
def interpolated_dmd_start(times: list[np.ndarray], data: list[np.ndarray]) -> np.ndarray:
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


def trapezoid_start(times: list[np.ndarray], data: list[np.ndarray]) -> np.ndarray:
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


def periodogram_start(times: list[np.ndarray], data: list[np.ndarray], r: int) -> np.ndarray:
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


def clip_start(alpha: np.ndarray, times: list[np.ndarray]) -> np.ndarray:
    """Keep a start's growth below what overflows ``exp(alpha t)`` over the record."""
    span = max(float(t[-1] - t[0]) for t in times)
    limit = 200.0 / max(span, np.finfo(float).tiny)
    re = np.clip(np.nan_to_num(alpha.real, nan=0.0), -5 * limit, limit)
    return re + 1j * np.nan_to_num(alpha.imag, nan=0.0)

"""The D2Q9 lattice-Boltzmann solver: a cylinder in a free-slip channel, or a periodic box.

One :class:`LatticeBoltzmann` step is collide (MRT, one matrix product per block of
cells), stream (a shift of each population's flattened row), then the boundaries: velocity
inflow, convective outflow, free-slip walls and interpolated bounce-back on the cylinder,
with the force on it by momentum exchange. docs/api/datasets.md describes the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from koopkit.datasets.cylinder.backend import NumpyOps, TorchOps
from koopkit.datasets.cylinder.lattice import (
    CX,
    CY,
    OPPOSITE,
    WEIGHTS,
    equilibrium,
    equilibrium_matrix,
    relaxation_matrix,
)

__all__ = ["LatticeBoltzmann", "Links", "cylinder_links"]


@dataclass
class Links:
    """Boundary links of the cylinder: fluid node ``node``, velocity ``i`` pointing into it."""

    node: np.ndarray  # flat fluid node index
    direction: np.ndarray  # i (c_i points from the fluid node into the solid)
    q: np.ndarray  # fraction of the link in the fluid, (0, 1]


def cylinder_links(solid: np.ndarray, xc: float, yc: float, radius: float) -> Links:
    """Every link from a fluid node to a solid node, with the exact wall distance ``q``.

    Examples
    --------
    >>> yy, xx = np.mgrid[0:9, 0:9]
    >>> links = cylinder_links((xx - 4) ** 2 + (yy - 4) ** 2 <= 4, 4.0, 4.0, 2.0)
    >>> bool(np.all((links.q > 0) & (links.q <= 1)))
    True
    """
    ny, nx = solid.shape
    nodes, dirs, qs = [], [], []
    for i in range(1, 9):
        ys, xs = np.nonzero(~solid)
        xt, yt = xs + CX[i], ys + CY[i]
        inside = (xt >= 0) & (xt < nx) & (yt >= 0) & (yt < ny)
        xs, ys, xt, yt = xs[inside], ys[inside], xt[inside], yt[inside]
        hit = solid[yt, xt]
        xs, ys = xs[hit], ys[hit]
        # |p + t c - centre|^2 = R^2, smallest root t in (0, 1]
        px, py = xs - xc, ys - yc
        a = float(CX[i] ** 2 + CY[i] ** 2)
        b = 2 * (px * CX[i] + py * CY[i])
        c = px**2 + py**2 - radius**2
        t = (-b - np.sqrt(np.maximum(b * b - 4 * a * c, 0.0))) / (2 * a)
        nodes.append(ys * nx + xs)
        dirs.append(np.full(xs.size, i))
        qs.append(np.clip(t, 1e-6, 1.0))
    return Links(np.concatenate(nodes), np.concatenate(dirs), np.concatenate(qs))


class LatticeBoltzmann:
    """D2Q9 lattice-Boltzmann solver: a cylinder in a free-slip channel, or a periodic box.

    Lattice units throughout (cell size 1, time step 1). Used by :func:`cylinder_flow`;
    public so that its physics can be checked on its own (e.g. the decay of a Taylor-Green
    vortex in a periodic box).

    Parameters
    ----------
    nx, ny : int
        Grid size (columns, rows).
    tau : float
        Relaxation time; kinematic viscosity ``(tau - 1/2) / 3``.
    u_inflow : float
        Inflow velocity (lattice units); ignored when ``periodic``.
    cylinder : tuple of float, optional
        ``(x_centre, y_centre, radius)`` in cells (node ``(i, j)`` is at ``x = i, y = j``).
    periodic : bool
        A doubly periodic box with no boundaries at all, instead of the channel.
    ops : NumpyOps or TorchOps, optional
        Array back end (:mod:`.backend`); numpy float64 by default.

    Examples
    --------
    >>> lb = LatticeBoltzmann(8, 8, tau=0.8, periodic=True)
    >>> lb.run(10)
    >>> round(lb.mass(), 9)
    64.0
    """

    def __init__(
        self,
        nx: int,
        ny: int,
        *,
        tau: float,
        u_inflow: float = 0.0,
        cylinder: tuple[float, float, float] | None = None,
        periodic: bool = False,
        ops: NumpyOps | TorchOps | None = None,
    ) -> None:
        self.nx, self.ny, self.n = nx, ny, nx * ny
        self.tau, self.u_inflow, self.periodic = float(tau), float(u_inflow), periodic
        self.ops = ops or NumpyOps(np.float64)
        self.step_count = 0
        k = relaxation_matrix(tau)
        moments = np.stack([np.ones(9), CX, CY]).astype(float)
        ops_ = self.ops
        self._collide_mat = ops_.asarray(
            np.concatenate([np.eye(9) - k, k @ equilibrium_matrix()], 1)
        )
        self._moment_mat = ops_.asarray(moments)
        # W holds h (rows 0-8) and the moments (rows 9-14) side by side: one matrix product.
        self.work = ops_.empty((15, self.n))
        self.work[:] = 0
        self.post = ops_.empty((9, self.n))
        self.post[:] = 0
        block = ops_.block or self.n
        self._inv = ops_.empty((min(block, self.n),))
        self._blocks = [(lo, min(self.n, lo + block)) for lo in range(0, self.n, block)]
        self.shifts = [int(CX[i] + CY[i] * nx) for i in range(9)]

        yy, xx = np.mgrid[0:ny, 0:nx]
        self.solid = np.zeros((ny, nx), dtype=bool)
        self.links: Links | None = None
        self.force = np.zeros(2)
        if cylinder is not None:
            xc, yc, radius = cylinder
            self.solid = (xx - xc) ** 2 + (yy - yc) ** 2 <= radius**2
            self.links = cylinder_links(self.solid, xc, yc, radius)
            self._setup_bounce_back()
        self._has_solid = bool(self.solid.any())
        self._solid_flat = ops_.index(
            (np.arange(9)[:, None] * self.n + np.flatnonzero(self.solid)[None, :]).ravel()
        )
        self._outlet_prev = None if periodic else ops_.empty((3, ny))
        if self._outlet_prev is not None:
            self._outlet_prev[:] = 0
        # inflow: h_eq = w (rho - 1) + a rho at u = (U, 0); non-equilibrium from the stress
        cx, cy, u = CX.astype(float), CY.astype(float), self.u_inflow
        col = (9, 1)
        self._inlet_w = ops_.asarray(WEIGHTS.reshape(col))
        self._inlet_a = ops_.asarray(
            (WEIGHTS * (3 * u * cx + 4.5 * u * u * cx**2 - 1.5 * u * u)).reshape(col)
        )
        self._inlet_q = [
            ops_.asarray((4.5 * WEIGHTS * q).reshape(col))
            for q in (cx**2 - 1 / 3, cy**2 - 1 / 3, 2 * cx * cy)
        ]

    # ----------------------------------------------------------------------- set-up
    def _setup_bounce_back(self) -> None:
        """Index and weight arrays of the linear interpolated bounce-back (Bouzidi 2001)."""
        links, n, nx = self.links, self.n, self.nx
        assert links is not None
        i, node, q = links.direction, links.node, links.q
        back = node - self.shifts_of(i)  # x_f - c_i
        bx, by = back % nx, back // nx
        ok = (back >= 0) & (back < n)
        ok[ok] &= ~self.solid.ravel()[back[ok]]
        ok &= np.abs(bx - node % nx) <= 1  # no wrap-around
        ok &= np.abs(by - node // nx) <= 1
        small = (q < 0.5) & ok
        # q < 1/2: h_ib(x_f) = 2q h*_i(x_f) + (1 - 2q) h*_i(x_f - c_i)
        # q >= 1/2: h_ib(x_f) = h*_i(x_f) / 2q + (2q - 1)/(2q) h*_ib(x_f)
        # no fluid node behind (q < 1/2): plain half-way bounce-back h_ib(x_f) = h*_i(x_f)
        ib = OPPOSITE[i]
        a = np.where(small, 2 * q, np.where(q >= 0.5, 1 / (2 * q), 1.0))
        b = 1.0 - a
        second = np.where(small, i * n + np.where(ok, back, 0), ib * n + node)
        ops = self.ops
        self._bb_target = ops.index(ib * n + node)
        self._bb_first = ops.index(i * n + node)
        self._bb_second = ops.index(second)
        self._bb_a = ops.asarray(a)
        self._bb_b = ops.asarray(b)
        # momentum exchange: F = sum_links c_i (f*_i(x_f) + f_ib(x_f)), f = h + w
        self._bb_cx = ops.asarray(CX[i].astype(float))
        self._bb_cy = ops.asarray(CY[i].astype(float))
        self._bb_rest = np.array([np.sum(2 * WEIGHTS[i] * CX[i]), np.sum(2 * WEIGHTS[i] * CY[i])])
        self.n_links = int(i.size)

    def shifts_of(self, i: np.ndarray) -> np.ndarray:
        """Flat-index offset of velocity ``i`` (one step along ``c_i``)."""
        return CX[i] + CY[i] * self.nx

    def initialise(self, ux: np.ndarray, uy: np.ndarray, rho: np.ndarray | None = None) -> None:
        """Set every node to the equilibrium of the given fields (shape ``(ny, nx)``)."""
        rho = np.ones((self.ny, self.nx)) if rho is None else rho
        ux, uy = np.where(self.solid, 0.0, ux), np.where(self.solid, 0.0, uy)
        h = equilibrium(rho, ux, uy).reshape(9, self.n)
        self.work[:9] = self.ops.asarray(h)
        if self._outlet_prev is not None:
            self._outlet_prev[:] = self.work[[3, 6, 7]].reshape(3, self.ny, self.nx)[:, :, -1]

    # ------------------------------------------------------------------------ steps
    def _collide(self) -> None:
        ops, w, post, inv = self.ops, self.work, self.post, self._inv
        for lo, hi in self._blocks:
            blk = w[:, lo:hi]
            iv = inv[: hi - lo]
            ops.matmul(self._moment_mat, blk[:9], out=blk[9:12])
            ops.add(blk[9], 1.0, out=iv)
            ops.divide(1.0, iv, out=iv)
            jx, jy = blk[10], blk[11]
            ops.multiply(jx, iv, out=blk[12])
            ops.multiply(jy, iv, out=blk[13])
            ops.multiply(blk[12], jy, out=blk[14])
            blk[12] *= jx
            blk[13] *= jy
            ops.matmul(self._collide_mat, blk, out=post[:, lo:hi])

    def _stream(self) -> None:
        h, g, n = self.work, self.post, self.n
        if self.periodic:
            for i in range(9):
                rolled = self.ops.roll(g[i].reshape(self.ny, self.nx), (int(CY[i]), int(CX[i])))
                h[i] = rolled.reshape(n)
            return
        h[0] = g[0]
        for i in range(1, 9):
            s = self.shifts[i]
            if s > 0:
                h[i, s:] = g[i, : n - s]
            else:
                h[i, : n + s] = g[i, -s:]

    def _boundaries(self) -> None:
        h = self.work[:9].reshape(9, self.ny, self.nx)
        g = self.post.reshape(9, self.ny, self.nx)
        # free-slip walls (specular reflection half-way beyond the first and last rows)
        h[2, 0, :] = g[4, 0, :]
        h[5, 0, 1:] = g[8, 0, :-1]
        h[6, 0, :-1] = g[7, 0, 1:]
        h[4, -1, :] = g[2, -1, :]
        h[8, -1, 1:] = g[5, -1, :-1]
        h[7, -1, :-1] = g[6, -1, 1:]
        # regularised velocity inflow (Latt et al. 2008) on the first column, u = (U, 0):
        # density from the known populations (as Zou & He), the unknown ones' non-equilibrium
        # parts by bounce-back, then every population rebuilt from the equilibrium and the
        # non-equilibrium stress. (Plain Zou & He grows an instability at the inflow corners.)
        u = self.u_inflow
        col = h[:, :, 0]
        rho = (1.0 + col[0] + col[2] + col[4] + 2.0 * (col[3] + col[6] + col[7])) / (1.0 - u)
        heq = self._inlet_w * (rho - 1.0) + self._inlet_a * rho
        neq = col - heq
        n3, n6, n7 = neq[3], neq[6], neq[7]
        pxx = 2.0 * (n3 + n6 + n7)
        pyy = neq[2] + neq[4] + 2.0 * (n6 + n7)
        pxy = 2.0 * (n7 - n6)
        q = self._inlet_q
        h[:, :, 0] = heq + q[0] * pxx + q[1] * pyy + q[2] * pxy
        # convective outflow for the populations entering through the last column
        prev = self._outlet_prev
        assert prev is not None
        for k, i in enumerate((3, 6, 7)):
            prev[k] += u * h[i, :, -2]
            prev[k] *= 1.0 / (1.0 + u)
            h[i, :, -1] = prev[k]

    def _bounce_back(self) -> None:
        flat_h, flat_g = self.work[:9].reshape(-1), self.post.reshape(-1)
        first = flat_g[self._bb_first]
        new = self._bb_a * first + self._bb_b * flat_g[self._bb_second]
        flat_h[self._bb_target] = new
        total = first + new
        fx = float((self._bb_cx * total).sum()) + self._bb_rest[0]
        fy = float((self._bb_cy * total).sum()) + self._bb_rest[1]
        self.force = np.array([fx, fy])

    def step(self) -> None:
        """One collide-stream step, boundaries included."""
        self._collide()
        self._stream()
        if not self.periodic:
            self._boundaries()
        if self.links is not None:
            self._bounce_back()
        if self._has_solid:
            self.work[:9].reshape(-1)[self._solid_flat] = 0.0
        self.step_count += 1

    def run(self, steps: int) -> None:
        """``steps`` steps (no force history)."""
        with self.ops.limits():
            for _ in range(steps):
                self.step()

    # -------------------------------------------------------------------- read-outs
    def moments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Density and velocity, each ``(ny, nx)`` numpy float64 (zero velocity in the solid)."""
        m = self.ops.to_numpy(self._moment_mat @ self.work[:9]).astype(np.float64)
        rho = 1.0 + m[0]
        ux, uy = m[1] / rho, m[2] / rho
        shape = (self.ny, self.nx)
        solid = self.solid
        return (
            rho.reshape(shape),
            np.where(solid, 0.0, ux.reshape(shape)),
            np.where(solid, 0.0, uy.reshape(shape)),
        )

    def mass(self) -> float:
        """Total mass ``sum(rho)`` over the fluid nodes, in double precision."""
        h = self.ops.to_numpy(self.work[:9]).astype(np.float64)
        fluid = ~self.solid.ravel()
        return float(fluid.sum() + h[:, fluid].sum())

"""The Koopman layer: a block-diagonal ``K`` whose powers are known in closed form.

Section 4.2 of Sanayei, *Koopman Autoencoder for Videos*: the latent vector is a stack of
2-D pairs (plus optional real coordinates) and ``K`` is block diagonal with blocks

    B(mu, omega) = exp(mu dt) [[cos(omega dt), -sin(omega dt)],
                               [sin(omega dt),  cos(omega dt)]],

so ``K^m`` is ``exp(mu m dt)`` times a rotation by ``omega m dt`` for every real ``m`` (even
non-integer or negative). :meth:`KoopmanLayer.advance` evaluates all requested powers in
one broadcast operation; no matrix is ever multiplied by itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from koopkit._errors import KoopkitError

__all__ = ["KoopmanLayer"]


def _inverse_softplus(y: np.ndarray) -> np.ndarray:
    """``x`` with ``softplus(x) = y`` for ``y > 0`` (accurate for tiny and large ``y``)."""
    y = np.asarray(y, dtype=float)
    return np.where(y > 20, y, np.log(np.expm1(np.clip(y, 1e-300, 20))))


class KoopmanLayer(nn.Module):
    """Block-diagonal Koopman operator with learnable growth rates and frequencies.

    The latent layout is ``[a_0, b_0, a_1, b_1, ..., a_{P-1}, b_{P-1}, r_0, ..., r_{R-1}]``:
    ``P = n_pairs`` rotating pairs followed by ``R = n_real`` real coordinates.

    Parameters
    ----------
    n_pairs : int
        Number of complex-conjugate eigenvalue pairs (2-D blocks).
    dt : float
        Time step of one power of ``K``.
    n_real : int, default 0
        Number of real eigenvalues (1-D blocks ``exp(mu dt)``).
    stable : bool, default False
        Constrain every growth rate to ``mu <= 0`` through ``mu = -softplus(raw)``, so no
        mode can grow however long the forecast.

    Attributes
    ----------
    omega : nn.Parameter, shape (n_pairs,)
        Angular frequencies in radians per time unit.
    mu_raw, real_raw : nn.Parameter
        Growth rates of the pairs / real coordinates (``mu`` directly, or ``-softplus`` of
        it when ``stable``); read them through :meth:`rates`.

    Examples
    --------
    >>> import torch
    >>> layer = KoopmanLayer(1, dt=0.5)
    >>> layer.set_rates(mu=[0.0], omega=[np.pi])  # half a turn per time unit
    >>> z = torch.tensor([[1.0, 0.0]])
    >>> out = layer.advance(z, torch.tensor([0.0, 1.0, 2.0])).detach()
    >>> out.round(decimals=6).abs().tolist()  # K^0 z, K^1 z, K^2 z: quarter turns
    [[[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]]
    >>> float(out[0, 2, 0])
    -1.0
    """

    def __init__(self, n_pairs: int, dt: float, n_real: int = 0, stable: bool = False) -> None:
        super().__init__()
        if n_pairs < 0 or n_real < 0 or n_pairs + n_real == 0:
            raise KoopkitError(
                f"the Koopman layer needs at least one block (n_pairs={n_pairs}, "
                f"n_real={n_real}): use n_pairs >= 1"
            )
        if not (math.isfinite(dt) and dt > 0):
            raise KoopkitError(f"dt must be a positive number, got {dt!r}")
        self.n_pairs = int(n_pairs)
        self.n_real = int(n_real)
        self.dt = float(dt)
        self.stable = bool(stable)
        nyquist = math.pi / self.dt
        omega = torch.linspace(0.1, 0.9, self.n_pairs, dtype=torch.float64) * nyquist
        self.omega = nn.Parameter(omega.float())
        zero_rate = float(_inverse_softplus(np.array(1e-6))) if stable else 0.0
        self.mu_raw = nn.Parameter(torch.full((self.n_pairs,), zero_rate))
        self.real_raw = nn.Parameter(torch.full((self.n_real,), zero_rate))

    @property
    def latent_dim(self) -> int:
        """``2 * n_pairs + n_real``."""
        return 2 * self.n_pairs + self.n_real

    def extra_repr(self) -> str:
        return f"n_pairs={self.n_pairs}, n_real={self.n_real}, dt={self.dt}, stable={self.stable}"

    # ---------------------------------------------------------------- rates
    def _rate(self, raw: torch.Tensor) -> torch.Tensor:
        return -F.softplus(raw) if self.stable else raw

    def rates(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(mu_pairs, omega_pairs, mu_real)``: growth rates and angular frequencies."""
        return self._rate(self.mu_raw), self.omega, self._rate(self.real_raw)

    @torch.no_grad()
    def set_rates(
        self,
        mu: Sequence[float] | np.ndarray,
        omega: Sequence[float] | np.ndarray,
        real_mu: Sequence[float] | np.ndarray | None = None,
    ) -> None:
        """Set growth rates and angular frequencies (continuous time, per time unit).

        With ``stable=True`` a rate above ``-1e-9`` is clipped to ``-1e-9``.
        """
        mu = np.asarray(mu, dtype=float).reshape(-1)
        omega = np.asarray(omega, dtype=float).reshape(-1)
        real_mu = np.zeros(self.n_real) if real_mu is None else np.asarray(real_mu, float)
        if mu.size != self.n_pairs or omega.size != self.n_pairs or real_mu.size != self.n_real:
            raise KoopkitError(
                f"set_rates needs {self.n_pairs} pair rates and frequencies and {self.n_real} "
                f"real rates; got {mu.size}, {omega.size} and {real_mu.size}"
            )
        if not (np.isfinite(mu).all() and np.isfinite(omega).all() and np.isfinite(real_mu).all()):
            raise KoopkitError("set_rates got NaN or Inf rates: pass finite numbers")

        def raw(rate: np.ndarray) -> np.ndarray:
            if not self.stable:
                return rate
            return _inverse_softplus(np.maximum(-rate, 1e-9))

        self.mu_raw.copy_(torch.as_tensor(raw(mu), dtype=self.mu_raw.dtype))
        self.omega.copy_(torch.as_tensor(omega, dtype=self.omega.dtype))
        self.real_raw.copy_(torch.as_tensor(raw(real_mu), dtype=self.real_raw.dtype))

    def init_from_eigenvalues(self, eigenvalues: Any) -> None:
        """Initialise from discrete-time eigenvalues (one step of ``dt``), e.g. a DMD spectrum.

        Eigenvalues with a positive imaginary part fill the pairs, in the order given
        (conjugates and negative frequencies are skipped); real positive ones fill the real
        coordinates. Blocks left over keep their current values. Growth rates are
        ``log|lam| / dt`` and frequencies ``angle(lam) / dt``.

        Examples
        --------
        >>> layer = KoopmanLayer(1, dt=0.1)
        >>> layer.init_from_eigenvalues([np.exp(0.3j), np.exp(-0.3j)])
        >>> round(float(layer.omega.detach()[0]) * 0.1, 6)
        0.3
        """
        lam = np.asarray(eigenvalues, dtype=complex).reshape(-1)
        lam = lam[np.isfinite(lam) & (lam != 0)]
        mu, omega, rmu = (t.detach().double().cpu().numpy().copy() for t in self.rates())
        tol = 1e-9
        pairs = [z for z in lam if z.imag > tol]
        reals = [z for z in lam if abs(z.imag) <= tol and z.real > 0]
        for j, z in enumerate(pairs[: self.n_pairs]):
            mu[j], omega[j] = np.log(abs(z)) / self.dt, np.angle(z) / self.dt
        for j, z in enumerate(reals[: self.n_real]):
            rmu[j] = np.log(z.real) / self.dt
        self.set_rates(mu, omega, rmu)

    def eigenvalues(self) -> np.ndarray:
        """Discrete-time eigenvalues: ``exp((mu +- i omega) dt)`` per pair, then the real ones."""
        mu, omega, rmu = (t.detach().double().cpu().numpy() for t in self.rates())
        pos = np.exp((mu + 1j * omega) * self.dt)
        out = np.empty(self.latent_dim, dtype=complex)
        out[0 : 2 * self.n_pairs : 2] = pos
        out[1 : 2 * self.n_pairs : 2] = pos.conj()
        out[2 * self.n_pairs :] = np.exp(rmu * self.dt)
        return out

    def eigenfunctions(self) -> np.ndarray:
        """Coefficients ``v_j`` of the Koopman eigenfunctions ``g_j(z) = v_j^T z`` (columns).

        In the order of :meth:`eigenvalues`: a pair's block advances ``a + i b`` by
        ``exp((mu + i omega) dt)`` and ``a - i b`` by its conjugate, so ``v = e_a + i e_b``
        and ``e_a - i e_b``; a real coordinate is its own eigenfunction. These are the left
        eigenvectors of ``K`` (``v_j^T K = lam_j v_j^T`` where ``z_{k+1} = K z_k``).

        Examples
        --------
        >>> KoopmanLayer(1, dt=0.1, n_real=1).eigenfunctions()
        array([[1.+0.j, 1.+0.j, 0.+0.j],
               [0.+1.j, 0.-1.j, 0.+0.j],
               [0.+0.j, 0.+0.j, 1.+0.j]])
        """
        p, n = self.n_pairs, self.latent_dim
        v = np.zeros((n, n), dtype=complex)
        v[0 : 2 * p : 2, 0 : 2 * p] = np.kron(np.eye(p), [1.0, 1.0])
        v[1 : 2 * p : 2, 0 : 2 * p] = np.kron(np.eye(p), [1j, -1j])
        v[2 * p :, 2 * p :] = np.eye(self.n_real)
        return v

    # ---------------------------------------------------------------- powers
    def _factors(self, m: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
        """``exp(mu m dt) cos(omega m dt)``, ``... sin(...)`` and the real decays, (M, .)."""
        t = torch.as_tensor(m).to(device=self.omega.device, dtype=torch.float64)
        t = t.reshape(-1, 1) * self.dt
        mu, omega, rmu = self.rates()
        decay = torch.exp(t * mu.double())
        angle = t * omega.double()
        cos = (decay * torch.cos(angle)).to(dtype)
        sin = (decay * torch.sin(angle)).to(dtype)
        real = torch.exp(t * rmu.double()).to(dtype)
        return cos, sin, real

    def advance(self, z: torch.Tensor, m: torch.Tensor | Sequence[float]) -> torch.Tensor:
        """``K^m z`` for every ``m`` at once.

        Parameters
        ----------
        z : Tensor, shape (..., latent_dim)
        m : Tensor or sequence, shape (M,)
            Powers; any real numbers (non-integer powers interpolate in time, negative
            ones run backwards). The angles are formed in float64, so ``m`` in the
            thousands keeps its phase.

        Returns
        -------
        Tensor, shape (..., M, latent_dim)
        """
        p = self.n_pairs
        cos, sin, real = self._factors(torch.as_tensor(m), z.dtype)
        a = z[..., 0 : 2 * p : 2].unsqueeze(-2)
        b = z[..., 1 : 2 * p : 2].unsqueeze(-2)
        pairs = torch.stack((cos * a - sin * b, sin * a + cos * b), dim=-1).flatten(-2)
        if not self.n_real:
            return pairs
        r = z[..., 2 * p :].unsqueeze(-2)
        return torch.cat((pairs, real * r), dim=-1)

    forward = advance

    def matrices(self, m: torch.Tensor | Sequence[float]) -> torch.Tensor:
        """The block-diagonal matrices ``K^m``, shape (M, latent_dim, latent_dim).

        For inspection and tests; :meth:`advance` never forms them.
        """
        m = torch.as_tensor(m, dtype=torch.float64).reshape(-1)
        eye = torch.eye(self.latent_dim, dtype=torch.float64, device=self.omega.device)
        # column j of K^m is K^m e_j
        return self.advance(eye, m).permute(1, 2, 0)

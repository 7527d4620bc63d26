"""The autoencoder's spectral steps: the DMD start, frequency refinement, modes and amplitudes.

**DMD start** (:func:`init_from_dmd`, ``init="dmd"``): the Koopman layer starts from a
delay-embedded DMD of the normalised training frames. Its leading oscillatory eigenvalues
give the pairs' frequencies and growth rates, so the encoder learns coordinates that rotate
at the data's frequencies instead of the Koopman layer hunting for them (from an arbitrary
start a pair can drift into growth).

**Refinement** (:func:`refine_frequencies`, ``refine=True``): after training, each pair's
frequency is re-estimated from the phase of the encoded training trajectory over lags 1, 2,
4, ... (up to half the series). A loss over ``horizon`` steps cannot resolve a frequency
error of 1e-5, but a forecast 1000 steps ahead feels it; the encoded trajectory resolves it.
Only small corrections (under 0.01 rad over the horizon) of pairs whose encoded trajectory
is a clean rotation (coherence above 0.9 at long lags) are accepted.

**Modes and amplitudes** (:func:`latent_modes`): eigenvalues are ``exp((mu +- i omega) dt)``
per pair (and ``exp(mu dt)`` per real coordinate). ``|b|`` is set so that
``spectrum_.rms_amplitudes`` equals the RMS of ``|a + ib|`` over the fitted states, with the
phase of the first state. Modes are **approximate**: the decoder's linear response to each
pair (:func:`decoder_jacobian` at the mean latent state, ``dD/da - i dD/db``, in data units,
scaled to unit norm); a nonlinear decoder has no exact modes.

**Residuals** (ResDMD, the encoder as the dictionary): ``Psi_X``, ``Psi_Y`` are the latent
states of consecutive histories of every fitted sequence (or of ``residual_data``), never
across sequences. The eigenfunction of a pair is ``g(z) = a + i b``
(``KoopmanLayer.eigenfunctions``) and its residual ``||g(Psi_Y) - lam g(Psi_X)|| /
||g(Psi_X)||`` is small only when the encoded coordinates really advance by the layer's
eigenvalue on the data.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import torch
import xarray as xr

from koopkit._validation import TIME, Snapshots, is_lazy
from koopkit.backends.autoencoder.data import FrameSource
from koopkit.backends.autoencoder.koopman import KoopmanLayer
from koopkit.spectrum import MODE, rms_power

__all__ = [
    "MODES_NOTE",
    "decoder_jacobian",
    "init_from_dmd",
    "latent_modes",
    "modes_dataarray",
    "refine_frequencies",
    "refine_frequency",
]

#: The ``note`` attribute of the autoencoder's modes.
MODES_NOTE = "approximate: the decoder's linear response to each latent pair"


def init_from_dmd(
    koopman: KoopmanLayer,
    source: FrameSource,
    dt: float,
    *,
    val_fraction: float,
    delays: int,
    init_delays: int | None = None,
    solver: str = "auto",
) -> None:
    """Set the layer's rates from a delay-embedded DMD of the longest sequence's training part.

    Lazily read frames reach DMD as a dask array (its Gram pass streams them). ``solver``
    is DMD's (the estimator passes ``"gram"`` for image frames, whose features far
    outnumber the snapshots).
    """
    from koopkit.backends.dmd import DMD

    lengths = source.lengths
    k = max(range(len(lengths)), key=lambda i: lengths[i])  # the first longest
    n_train = lengths[k] - int(round(val_fraction * lengths[k]))
    x = source.dmd_rows(k, n_train)
    if is_lazy(x):
        x = xr.DataArray(x, dims=(TIME, "feature"))
    d = init_delays or max(int(delays), min(16, n_train // 4))
    d = max(1, min(d, n_train - 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = DMD(rank="auto", delays=d, solver=solver).fit(x, dt=dt).spectrum_
    lam = spec.eigenvalues.values
    rms = spec.rms_amplitudes.values
    order = np.argsort(-rms)
    koopman.init_from_eigenvalues(lam[order])


def refine_frequencies(
    koopman: KoopmanLayer, latents: list[np.ndarray], dt: float, horizon: int
) -> None:
    """Re-estimate each pair's frequency from the phase of the encoded trajectories.

    Growth rates are left as trained: ``|z|`` of an encoded trajectory also carries the
    encoder's offsets and cross-talk between pairs, which bias a growth estimate.
    """
    mu, omega, rmu = (t.detach().double().cpu().numpy().copy() for t in koopman.rates())
    energy = np.array(
        [
            sum(np.sum(z[:, 2 * j] ** 2 + z[:, 2 * j + 1] ** 2) for z in latents)
            for j in range(koopman.n_pairs)
        ]
    )
    # only what the training loss could not see (see the module notes)
    tol = 0.01 / (int(horizon) * dt)
    for j in range(koopman.n_pairs):
        if energy[j] <= 1e-6 * energy.max():
            continue
        c = [z[:, 2 * j] + 1j * z[:, 2 * j + 1] for z in latents]
        new_omega, coherence = refine_frequency(c, omega[j], dt)
        if abs(new_omega - omega[j]) < tol and coherence > 0.9:
            omega[j] = new_omega
    koopman.set_rates(mu, omega, rmu)


def refine_frequency(c: list[np.ndarray], omega0: float, dt: float) -> tuple[float, float]:
    """Mean angular velocity of complex trajectories from phase advances over doubling lags.

    Returns ``(omega, coherence)`` where ``coherence = |sum z_{k+L} conj(z_k)| / sum |z_k|^2``
    at the longest lag ``L`` used: 1 for a clean rotation, smaller when the amplitude or the
    phase speed wanders.

    Examples
    --------
    >>> z = np.exp(1j * 0.3 * np.arange(200))
    >>> omega, coherence = refine_frequency([z], 0.29, dt=1.0)
    >>> round(omega, 12), round(coherence, 3)
    (0.3, 1.0)
    """

    def advance(lag: int) -> tuple[complex, float]:
        num = sum(np.sum(z[lag:] * np.conj(z[:-lag])) for z in c if len(z) > lag)
        den = sum(np.sum(np.abs(z[:-lag]) ** 2) for z in c if len(z) > lag)
        return complex(num), float(den)

    n = min(len(z) for z in c)
    if n < 3:
        return omega0, 0.0
    a, den = advance(1)
    if a == 0 or den == 0:
        return omega0, 0.0
    omega = float(np.angle(a)) / dt
    coherence = abs(a) / den
    lag = 2
    while lag <= n // 2:
        a, den = advance(lag)
        if a == 0:
            break
        ang = float(np.angle(a))
        turns = np.round((omega * lag * dt - ang) / (2 * np.pi))
        omega = (ang + 2 * np.pi * turns) / (lag * dt)
        coherence = abs(a) / den
        lag *= 2
    return float(omega), float(coherence)


def decoder_jacobian(
    decode: Callable[[torch.Tensor], torch.Tensor], z0: np.ndarray, device: torch.device
) -> np.ndarray:
    """``dD/dz_k`` at ``z0`` for every latent coordinate ``k``: ``(L, *frame_shape)`` frames.

    Forward-mode AD (``torch.func.jvp`` under ``vmap``); central finite differences for
    modules without it.
    """
    z = torch.as_tensor(z0, dtype=torch.float32, device=device)[None]
    eye = torch.eye(z.shape[1], dtype=torch.float32, device=device)
    try:
        with warnings.catch_warnings():
            # torch.func's first import scripts decompositions with torch.jit (deprecated)
            warnings.simplefilter("ignore", FutureWarning)
            from torch.func import jvp, vmap

            def one(v: torch.Tensor) -> torch.Tensor:
                return jvp(decode, (z,), (v[None],))[1][0]

            with torch.no_grad():
                cols = vmap(one)(eye)
    except Exception:  # noqa: BLE001 - modules without forward-mode AD: finite differences
        eps = 1e-3 * max(float(z.abs().max()), 1.0)
        with torch.no_grad():
            plus = decode(z + eps * eye)
            minus = decode(z - eps * eye)
        cols = (plus - minus) / (2 * eps)
    return cols.double().cpu().numpy()


def latent_modes(
    latents: np.ndarray,
    first: np.ndarray,
    jacobian: np.ndarray,
    lam: np.ndarray,
    n_pairs: int,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(modes, amplitudes)`` in the order of ``lam`` (the layer's eigenvalues).

    ``latents``: all fitted latent states ``(n_states, L)``; ``first``: the state at t0 (its
    phases); ``jacobian``: :func:`decoder_jacobian` as rows ``(L, n_features)`` in data
    units. Modes have unit norm (unit ``weights``-norm, as DMD's, when given).
    """
    p = int(n_pairs)
    n_states = latents.shape[0]
    modes = np.empty((len(lam), jacobian.shape[1]), dtype=complex)
    amps = np.empty(len(lam), dtype=complex)

    def amplitude(rms: float, idx: int) -> float:
        return rms / rms_power(np.array([abs(lam[idx])]), n_states)[0]

    for j in range(p):
        c = latents[:, 2 * j] + 1j * latents[:, 2 * j + 1]
        phi = jacobian[2 * j] - 1j * jacobian[2 * j + 1]
        rms = float(np.sqrt(np.mean(np.abs(c) ** 2)))
        c0 = first[2 * j] + 1j * first[2 * j + 1]
        phase = np.exp(1j * np.angle(c0)) if c0 != 0 else 1.0
        for k, (mode, ph) in enumerate(((phi, phase), (phi.conj(), np.conj(phase)))):
            modes[2 * j + k] = mode
            amps[2 * j + k] = amplitude(rms, 2 * j + k) * ph
    for idx in range(2 * p, len(lam)):
        v = latents[:, idx]
        modes[idx] = jacobian[idx]
        amps[idx] = amplitude(float(np.sqrt(np.mean(v**2))), idx) * np.sign(first[idx] or 1)
    if weights is None:
        norms = np.linalg.norm(modes, axis=1)
    else:
        norms = np.sqrt(np.sum(np.abs(modes) ** 2 * weights, axis=1))
    return modes / np.where(norms > 0, norms, 1.0)[:, None], amps


def modes_dataarray(modes: np.ndarray, info: Snapshots) -> xr.DataArray:
    """The modes ``(n_modes, n_features)`` as a DataArray labelled like the fitted frames."""
    return xr.DataArray(
        modes.reshape((modes.shape[0], *info.space_shape)),
        dims=(MODE, *info.space_dims),
        coords={k: v for k, v in info.template.coords.items()},
        name="modes",
        attrs={"note": MODES_NOTE},
    )

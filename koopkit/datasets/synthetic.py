"""Synthetic data sets with a known Koopman spectrum: bouncing balls and linear systems."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from koopkit._errors import KoopkitError
from koopkit._util import renamed_kwarg
from koopkit._validation import TIME
from koopkit.datasets._common import check_float, check_int, check_seed, float_array

__all__ = ["bouncing_balls", "linear_system"]


@renamed_kwarg("n_frames", "n_snapshots")
def bouncing_balls(
    n_snapshots: int = 300,
    size: int = 64,
    seed: int = 0,
    dt: float = 0.05,
    frequencies: Sequence[float] = (0.35, 0.9),
    amplitudes: Sequence[float] | None = None,
    radii: Sequence[float] | None = None,
    noise: float = 0.0,
) -> xr.DataArray:
    """Video of balls oscillating vertically at different frequencies (a toy Koopman problem).

    Ball ``i`` sits at a fixed horizontal position (the balls are spread evenly across the
    frame, so they never overlap) and its centre's ``y`` coordinate follows
    ``y_i(t) = c + A_i * sin(2*pi*f_i*t + phi_i)`` with ``c`` the middle of the frame and
    random phases ``phi_i`` drawn from ``seed``. Frames are rendered anti-aliased: a pixel's
    intensity is ``clip(r_i + 0.5 - d, 0, 1)`` with ``d`` the distance from its centre to the
    ball's centre, so the ball moves smoothly by fractions of a pixel.

    With the defaults (300 frames, ``dt = 0.05``: 15 time units, Nyquist 10 cycles per time
    unit) the two balls complete about 5 and 13 periods and their frequencies and many of their
    harmonics lie well below Nyquist.

    Parameters
    ----------
    n_snapshots : int, default 300
        Number of frames (formerly ``n_frames``, still accepted with a
        ``DeprecationWarning`` for one release).
    size : int, default 64
        Frames are ``size x size`` pixels.
    seed : int, default 0
        Seed for the phases (and the noise).
    dt : float, default 0.05
        Time between frames.
    frequencies : sequence of float, default (0.35, 0.9)
        One frequency per ball, in cycles per time unit; each must be below the Nyquist
        frequency ``0.5 / dt``.
    amplitudes : sequence of float, optional
        Vertical amplitude of each ball in pixels. By default 90% of the room available for
        the first ball down to 50% for the last.
    radii : sequence of float, optional
        Radius of each ball in pixels; ``0.09 * size`` by default.
    noise : float, default 0.0
        Standard deviation of white Gaussian noise added to each pixel (the result is clipped
        to ``[0, 1]``).

    Returns
    -------
    xarray.DataArray
        float32 frames in ``[0, 1]`` with dims ``(time, y, x)``; coordinates ``time``
        (``k * dt``), ``y`` and ``x`` (pixel centres, units ``"pixel"``). ``attrs`` hold the
        ground truth: ``frequencies``, ``amplitudes``, ``radii``, ``phases`` (radians),
        ``centers_x`` (each ball's column), ``center_y`` (``c``), ``dt``, ``noise``, ``seed``
        and a ``description``.

    Raises
    ------
    KoopkitError
        If an argument is out of range, a frequency is at or above Nyquist, or the balls do
        not fit in the frame.

    Examples
    --------
    >>> video = bouncing_balls(n_snapshots=100, size=32)
    >>> video.dims, video.shape
    (('time', 'y', 'x'), (100, 32, 32))
    >>> video.attrs["frequencies"]
    [0.35, 0.9]
    """
    n_snapshots = check_int("n_snapshots", n_snapshots, 1)
    size = check_int("size", size, 4)
    seed = check_seed(seed)
    dt = check_float("dt", dt, positive=True)
    noise = check_float("noise", noise)
    freqs = float_array("frequencies", frequencies)
    n_balls = freqs.size
    if n_balls == 0:
        raise KoopkitError("frequencies is empty: pass at least one frequency, e.g. (0.35,)")
    nyquist = 0.5 / dt
    if np.any(freqs <= 0) or np.any(freqs >= nyquist):
        raise KoopkitError(
            f"frequencies {freqs.tolist()} must lie strictly between 0 and the Nyquist "
            f"frequency 0.5/dt = {nyquist:g}: lower them or decrease dt"
        )
    spacing = size / n_balls
    if radii is None:
        rad = np.full(n_balls, 0.09 * size)
    else:
        rad = float_array("radii", radii, n_balls, per="ball")
        if np.any(rad <= 0):
            raise KoopkitError(f"radii must be positive, got {rad.tolist()}: fix radii")
    if np.any(2 * rad + 2 > spacing):
        raise KoopkitError(
            f"{n_balls} balls of radii {rad.tolist()} do not fit side by side in {size} pixels "
            f"(at most {spacing / 2 - 1:g} each): use smaller radii, fewer balls or a larger size"
        )
    center_y = (size - 1) / 2
    room = center_y - rad  # the ball's edge stays inside the frame while |A| <= room
    if amplitudes is None:
        amps = room * np.linspace(0.9, 0.5, n_balls) if n_balls > 1 else 0.9 * room
        amps = np.atleast_1d(amps)
    else:
        amps = float_array("amplitudes", amplitudes, n_balls, per="ball")
        if np.any(amps < 0) or np.any(amps > room):
            raise KoopkitError(
                f"amplitudes {amps.tolist()} must be between 0 and {np.round(room, 3).tolist()} "
                "pixels so that the balls stay inside the frame: lower them or increase size"
            )
    rng_phase, rng_noise = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    phases = rng_phase.uniform(0.0, 2 * np.pi, n_balls)
    centers_x = (np.arange(n_balls) + 0.5) * spacing - 0.5

    times = np.arange(n_snapshots) * dt
    pixels = np.arange(size, dtype=np.float64)
    frames = np.zeros((n_snapshots, size, size), dtype=np.float32)
    for i in range(n_balls):
        cy = center_y + amps[i] * np.sin(2 * np.pi * freqs[i] * times + phases[i])
        lo = max(0, int(np.floor(centers_x[i] - rad[i] - 1)))
        hi = min(size, int(np.ceil(centers_x[i] + rad[i] + 1)) + 1)
        dist = np.hypot(
            pixels[None, :, None] - cy[:, None, None],
            pixels[None, None, lo:hi] - centers_x[i],
        )
        ball = np.clip(rad[i] + 0.5 - dist, 0.0, 1.0)
        frames[:, :, lo:hi] = np.maximum(frames[:, :, lo:hi], ball)
    if noise > 0:
        frames += (noise * rng_noise.standard_normal(frames.shape)).astype(np.float32)
        np.clip(frames, 0.0, 1.0, out=frames)

    coords = {
        TIME: (TIME, times, {"units": "time units", "long_name": "time"}),
        "y": ("y", pixels.copy(), {"units": "pixel", "long_name": "row (pixel centre)"}),
        "x": ("x", pixels.copy(), {"units": "pixel", "long_name": "column (pixel centre)"}),
    }
    attrs = {
        "description": (
            f"{n_balls} balls moving vertically, y_i(t) = center_y + amplitudes[i] * "
            "sin(2*pi*frequencies[i]*t + phases[i]), at fixed columns centers_x[i]; "
            "frequencies in cycles per time unit, lengths in pixels"
        ),
        "frequencies": freqs.tolist(),
        "amplitudes": amps.tolist(),
        "radii": rad.tolist(),
        "phases": phases.tolist(),
        "centers_x": centers_x.tolist(),
        "center_y": float(center_y),
        "dt": dt,
        "noise": noise,
        "seed": seed,
    }
    return xr.DataArray(frames, dims=(TIME, "y", "x"), coords=coords, attrs=attrs, name="balls")


def _conjugate_pairs(eigs: np.ndarray) -> tuple[list[int], list[tuple[int, int]]]:
    """Split ``eigs`` into real ones and conjugate pairs ``(upper, lower)``, or raise."""
    scale = np.maximum(1.0, np.abs(eigs))
    tol = 1e-12 * scale
    real = [i for i in range(eigs.size) if abs(eigs[i].imag) <= tol[i]]
    upper = [i for i in range(eigs.size) if eigs[i].imag > tol[i]]
    lower = [i for i in range(eigs.size) if eigs[i].imag < -tol[i]]
    pairs = []
    unused = set(lower)
    for i in upper:
        match = [j for j in sorted(unused) if abs(eigs[j] - np.conj(eigs[i])) <= 1e-10 * scale[i]]
        if not match:
            missing = np.conj(eigs[i])
            raise KoopkitError(
                f"eigenvalue {eigs[i]:.6g} has no complex conjugate ({missing:.6g}) in "
                "eigenvalues: add it, or pass complex_data=True for complex data"
            )
        unused.discard(match[0])
        pairs.append((i, match[0]))
    if unused:
        j = min(unused)
        raise KoopkitError(
            f"eigenvalue {eigs[j]:.6g} has no complex conjugate ({np.conj(eigs[j]):.6g}) in "
            "eigenvalues: add it, or pass complex_data=True for complex data"
        )
    return real, pairs


def linear_system(
    eigenvalues: Sequence[complex] | np.ndarray,
    n_features: int = 100,
    n_snapshots: int = 200,
    dt: float = 1.0,
    noise: float = 0.0,
    seed: int = 0,
    complex_data: bool = False,
) -> xr.DataArray:
    """Snapshots of a random linear system with a prescribed discrete-time spectrum.

    The data are ``x_k = sum_j b_j * lam_j**k * phi_j`` for ``k = 0 .. n_snapshots - 1``, so
    ``x_{k+1} = A x_k`` for a matrix ``A`` whose eigenvalues on the span of the modes are
    exactly ``eigenvalues``. The modes are built from random orthonormal vectors in
    ``R^n_features`` (``C^n_features`` for complex data), and the amplitudes ``b_j`` are
    random with modulus of order one.

    For real data (the default) the eigenvalues must come in complex-conjugate pairs (real
    eigenvalues pair with themselves). A pair ``lam, conj(lam)`` uses two orthonormal vectors
    ``u, v`` as the real and imaginary parts of its mode ``phi = u + i v``, with amplitudes
    ``b, conj(b)``, so every snapshot is exactly real.

    Parameters
    ----------
    eigenvalues : sequence of complex
        The discrete-time eigenvalues (multipliers per step ``dt``).
    n_features : int, default 100
        State dimension; at least the number of eigenvalues.
    n_snapshots : int, default 200
        Number of snapshots.
    dt : float, default 1.0
        Time between snapshots (sets the time coordinate only).
    noise : float, default 0.0
        Standard deviation of additive white Gaussian noise (absolute; for complex data it is
        split equally between real and imaginary parts).
    seed : int, default 0
        Seed for the modes, the amplitudes and (independently) the noise.
    complex_data : bool, default False
        Return complex128 data; any eigenvalues are then allowed.

    Returns
    -------
    xarray.DataArray
        float64 (or complex128) data with dims ``(time, feature)`` and a ``time``
        coordinate ``k * dt``. ``attrs`` hold ``eigenvalues_real``, ``eigenvalues_imag``
        (lists, in the order given), ``dt``, ``noise``, ``seed`` and a ``description``.

    Raises
    ------
    KoopkitError
        If an eigenvalue lacks its conjugate (real data), there are more eigenvalues than
        features, an eigenvalue makes the data overflow, or an argument is out of range.

    Examples
    --------
    >>> lam = [0.9 * np.exp(0.3j), 0.9 * np.exp(-0.3j), 0.5]
    >>> data = linear_system(lam, n_features=10, n_snapshots=50)
    >>> data.shape, data.dtype
    ((50, 10), dtype('float64'))
    """
    try:
        eigs = np.asarray(eigenvalues, dtype=np.complex128).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise KoopkitError(
            f"eigenvalues must be a sequence of numbers, got {eigenvalues!r}: pass e.g. [0.9, 0.5]"
        ) from exc
    if eigs.size == 0:
        raise KoopkitError("eigenvalues is empty: pass at least one eigenvalue, e.g. [0.9]")
    if not np.all(np.isfinite(eigs)):
        raise KoopkitError(f"eigenvalues must be finite, got {eigs.tolist()}: remove NaN/inf")
    n_features = check_int("n_features", n_features, 1)
    n_snapshots = check_int("n_snapshots", n_snapshots, 1)
    dt = check_float("dt", dt, positive=True)
    noise = check_float("noise", noise)
    seed = check_seed(seed)
    if n_features < eigs.size:
        raise KoopkitError(
            f"n_features={n_features} is less than the {eigs.size} eigenvalues: "
            f"pass n_features >= {eigs.size}"
        )
    largest = float(np.max(np.abs(eigs)))
    if largest > 1 and (n_snapshots - 1) * np.log10(largest) > 250:
        raise KoopkitError(
            f"eigenvalue modulus {largest:g} grows past 1e250 over {n_snapshots} snapshots: "
            "use eigenvalues closer to the unit circle or fewer snapshots"
        )

    rng_modes, rng_noise = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    steps = np.arange(n_snapshots)
    with np.errstate(under="ignore"):
        powers = eigs[None, :] ** steps[:, None]  # (time, mode); 0**0 == 1
    n_eig = eigs.size

    if complex_data:
        gauss = rng_modes.standard_normal((n_features, n_eig, 2))
        basis, _ = np.linalg.qr(gauss[..., 0] + 1j * gauss[..., 1])
        amps = rng_modes.uniform(0.5, 1.5, n_eig) * np.exp(
            1j * rng_modes.uniform(0, 2 * np.pi, n_eig)
        )
        data = (powers * amps[None, :]) @ basis.T
    else:
        real, pairs = _conjugate_pairs(eigs)
        basis, _ = np.linalg.qr(rng_modes.standard_normal((n_features, n_eig)))
        data = np.zeros((n_snapshots, n_features))
        col = 0
        for i in real:
            amp = rng_modes.uniform(0.5, 1.5) * rng_modes.choice([-1.0, 1.0])
            data += np.outer(amp * powers[:, i].real, basis[:, col])
            col += 1
        for i, _j in pairs:
            # b lam^k (u + iv) + conj(...) = 2 Re(b lam^k) u - 2 Im(b lam^k) v
            amp = rng_modes.uniform(0.25, 0.75) * np.exp(1j * rng_modes.uniform(0, 2 * np.pi))
            z = amp * powers[:, i]
            data += np.outer(2 * z.real, basis[:, col]) - np.outer(2 * z.imag, basis[:, col + 1])
            col += 2
    if noise > 0:
        if complex_data:
            gauss = rng_noise.standard_normal((2, *data.shape))
            data = data + noise / np.sqrt(2) * (gauss[0] + 1j * gauss[1])
        else:
            data = data + noise * rng_noise.standard_normal(data.shape)

    attrs = {
        "description": (
            "x_k = sum_j b_j eigenvalue_j**k phi_j with random orthonormal modes: a linear "
            "system with the given discrete-time eigenvalues"
        ),
        "eigenvalues_real": eigs.real.tolist(),
        "eigenvalues_imag": eigs.imag.tolist(),
        "dt": dt,
        "noise": noise,
        "seed": seed,
    }
    coords = {
        TIME: (TIME, steps * dt, {"units": "time units", "long_name": "time"}),
        "feature": ("feature", np.arange(n_features)),
    }
    return xr.DataArray(
        data, dims=(TIME, "feature"), coords=coords, attrs=attrs, name="linear_system"
    )

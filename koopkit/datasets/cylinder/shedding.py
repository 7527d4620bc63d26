"""When is the wake periodic, and at what frequency: lift cycles, settling test, spectral peak.

The lift coefficient's upward zero crossings cut its history into shedding cycles; the
start-up transient is over once the last few cycles agree in period, lift amplitude and
mean drag. The Strouhal number is then read off the lift spectrum and compared with
Williamson's fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "MIN_LIFT_AMPLITUDE",
    "SheddingCycles",
    "lift_cycles",
    "shedding_settled",
    "spectral_peak",
    "strouhal_williamson",
]

#: Smallest lift amplitude counted as vortex shedding.
MIN_LIFT_AMPLITUDE = 0.02


def strouhal_williamson(reynolds: float) -> float:
    """Williamson's (1996) fit of the Strouhal number of the unconfined 2-D wake.

    ``St = 0.1816 - 3.3265 / Re + 1.6e-4 Re`` (laminar parallel shedding, 49 < Re < 180).

    Parameters
    ----------
    reynolds : float
        Reynolds number ``U D / nu``.

    Returns
    -------
    float

    Examples
    --------
    >>> round(strouhal_williamson(100), 3)
    0.164
    """
    re = float(reynolds)
    return 0.1816 - 3.3265 / re + 1.6e-4 * re


@dataclass
class SheddingCycles:
    """Cycles of the lift coefficient, each from one upward zero crossing to the next.

    Attributes
    ----------
    start : ndarray
        Crossing times (fractional step numbers) that open each cycle.
    period : ndarray
        Cycle lengths, in steps.
    amplitude : ndarray
        Half the peak-to-peak lift within each cycle.
    drag : ndarray
        Mean drag over each cycle.
    """

    start: np.ndarray
    period: np.ndarray
    amplitude: np.ndarray
    drag: np.ndarray

    def __len__(self) -> int:
        return int(self.period.size)


def lift_cycles(lift: np.ndarray, drag: np.ndarray | None = None) -> SheddingCycles:
    """Split a lift-coefficient history into cycles at its upward zero crossings.

    Parameters
    ----------
    lift, drag : array_like, shape (n_steps,)
        Coefficients at every step (drag may be omitted).

    Returns
    -------
    SheddingCycles

    Examples
    --------
    >>> t = np.arange(1000)
    >>> c = lift_cycles(np.sin(2 * np.pi * t / 100 + 0.1))
    >>> np.round(c.period, 6)[:3]
    array([100., 100., 100.])
    """
    lift = np.asarray(lift, dtype=float)
    drag = np.zeros_like(lift) if drag is None else np.asarray(drag, dtype=float)
    k = np.flatnonzero((lift[:-1] < 0) & (lift[1:] >= 0))
    crossing = k + lift[k] / (lift[k] - lift[k + 1])
    if k.size < 2:
        empty = np.zeros(0)
        return SheddingCycles(crossing[:0], empty, empty, empty)
    edges = k + 1
    hi = np.maximum.reduceat(lift, edges)[:-1]
    lo = np.minimum.reduceat(lift, edges)[:-1]
    mean_drag = np.add.reduceat(drag, edges)[:-1] / np.diff(edges)
    return SheddingCycles(crossing[:-1], np.diff(crossing), (hi - lo) / 2, mean_drag)


def _spread(values: np.ndarray) -> float:
    """Relative spread ``(max - min) / |mean|``."""
    mean = abs(float(np.mean(values)))
    return float((values.max() - values.min()) / mean) if mean > 0 else np.inf


def shedding_settled(
    cycles: SheddingCycles, n_cycles: int, tolerance: float
) -> tuple[bool, dict[str, float]]:
    """Whether the last ``n_cycles`` cycles repeat within ``tolerance``.

    Periods, lift amplitudes and mean drag must each have a relative spread
    ``(max - min) / mean`` of at most ``tolerance``, and the lift amplitude must exceed
    :data:`MIN_LIFT_AMPLITUDE` (a steady wake has no cycles to settle).

    Returns
    -------
    settled : bool
    spreads : dict
        ``period_spread``, ``amplitude_spread``, ``drag_spread`` and ``lift_amplitude``
        over the last cycles (NaN when there are too few).

    Examples
    --------
    >>> t = np.arange(2000)
    >>> c = lift_cycles(0.3 * np.sin(2 * np.pi * t / 100 + 0.1), np.ones(2000))
    >>> shedding_settled(c, 4, 0.005)[0]
    True
    """
    if len(cycles) < n_cycles:
        nan = float("nan")
        return False, {
            "period_spread": nan,
            "amplitude_spread": nan,
            "drag_spread": nan,
            "lift_amplitude": nan,
        }
    last = slice(len(cycles) - n_cycles, None)
    spreads = {
        "period_spread": _spread(cycles.period[last]),
        "amplitude_spread": _spread(cycles.amplitude[last]),
        "drag_spread": _spread(cycles.drag[last]) if np.any(cycles.drag[last]) else 0.0,
        "lift_amplitude": float(cycles.amplitude[last].min()),
    }
    settled = (
        spreads["lift_amplitude"] >= MIN_LIFT_AMPLITUDE
        and max(spreads["period_spread"], spreads["amplitude_spread"], spreads["drag_spread"])
        <= tolerance
    )
    return bool(settled), spreads


def spectral_peak(signal: np.ndarray, dt: float = 1.0) -> float:
    """Frequency of the largest peak of a signal's spectrum (cycles per unit of ``dt``).

    The mean is removed, a Hann window applied and the FFT zero-padded 16-fold; the peak is
    refined by a parabola through the logarithm of the three largest bins (exact for the
    Gaussian-like main lobe up to a small bias).

    Examples
    --------
    >>> t = np.arange(3000) * 0.01
    >>> round(spectral_peak(np.sin(2 * np.pi * 1.234 * t), 0.01), 3)
    1.234
    """
    x = np.asarray(signal, dtype=float)
    x = (x - x.mean()) * np.hanning(x.size)
    nfft = 1 << int(np.ceil(np.log2(16 * x.size)))
    mag = np.abs(np.fft.rfft(x, nfft))
    k = int(np.argmax(mag[1:-1])) + 1
    a, b, c = np.log(mag[k - 1 : k + 2] + 1e-300)
    denom = a - 2 * b + c
    delta = 0.5 * (a - c) / denom if denom != 0 else 0.0
    return float((k + delta) / (nfft * dt))

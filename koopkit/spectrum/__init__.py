"""KoopmanSpectrum: the one result object of every backend.

All unit conversions live here and nowhere else:

* discrete-time eigenvalue ``lam`` (one step of ``dt``);
* continuous-time eigenvalue ``log(lam) / dt`` (principal branch);
* frequency ``Im(log lam) / (2 pi dt)`` in cycles per time unit;
* angular frequency ``Im(log lam) / dt`` in radians per time unit;
* growth rate ``ln|lam| / dt`` (so ``lam = 1`` has growth rate 0);
* period ``1 / |frequency|`` (infinite for non-oscillating modes).

Uncertainty, where a backend measures it (optimized DMD with bagging), is the standard
deviation of the real and imaginary parts of the continuous eigenvalue ``log(lam) / dt``
(extras ``eigenvalue_std_real`` and ``eigenvalue_std_imag``), from which the growth-rate
and frequency standard deviations and normal intervals follow
(:meth:`KoopmanSpectrum.interval`).
"""

from koopkit.spectrum.core import KoopmanSpectrum
from koopkit.spectrum.names import EXTRAS, INTERVAL_QUANTITIES, MODE, SORT_KEYS
from koopkit.spectrum.ordering import rms_order, rms_power, sort_order
from koopkit.spectrum.output import format_with_std, json_default, open_spectrum

__all__ = [
    "EXTRAS",
    "INTERVAL_QUANTITIES",
    "MODE",
    "SORT_KEYS",
    "KoopmanSpectrum",
    "format_with_std",
    "json_default",
    "open_spectrum",
    "rms_order",
    "rms_power",
    "sort_order",
]

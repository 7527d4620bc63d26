"""Standard deviations of the continuous eigenvalue and the intervals they give."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from koopkit._errors import KoopkitError
from koopkit.spectrum.names import EXTRAS, INTERVAL_QUANTITIES, MODE

if TYPE_CHECKING:
    from koopkit.spectrum.core import KoopmanSpectrum


class UncertaintyMixin:
    """Per-mode standard deviations (bagged optimized DMD) and normal intervals."""

    def _std(self, part: str) -> np.ndarray:
        key = f"eigenvalue_std_{part}"
        if key in self._ds:
            return np.asarray(self._ds[key].values, dtype=float)
        return np.full(len(self), np.nan)

    @property
    def eigenvalue_std(self) -> xr.DataArray:
        """Standard deviations of the continuous eigenvalue's parts, packed as one complex.

        ``std(Re(log(lam)/dt)) + 1j * std(Im(log(lam)/dt))`` per time unit: the real part
        is the growth rate's standard deviation, the imaginary part the angular
        frequency's. It is not the standard deviation of a complex variable (that would be
        one real number); the parts are kept apart because they are measured apart. NaN
        where the backend gave none (every backend but bagged optimized DMD).
        """
        return self._quantity(
            self._std("real") + 1j * self._std("imag"),
            "eigenvalue_std",
            self._per("1"),
            "std of Re(log(lam)/dt) + 1j std of Im(log(lam)/dt)",
        )

    @property
    def growth_rate_std(self) -> xr.DataArray:
        """Standard deviation of the growth rate ``ln|lam|/dt`` per time unit (NaN: none)."""
        return self._quantity(
            self._std("real"), "growth_rate_std", self._per("1"), "std of the growth rate"
        )

    @property
    def frequency_std(self) -> xr.DataArray:
        """Standard deviation of the frequency in cycles per time unit (NaN: none).

        ``std(Im(log(lam)/dt)) / (2 pi)``, in the units of :attr:`frequencies`.
        """
        return self._quantity(
            self._std("imag") / (2 * np.pi),
            "frequency_std",
            self._per("cycles"),
            "std of the frequency",
        )

    @property
    def has_uncertainty(self) -> bool:
        """True if any mode carries a standard deviation of its eigenvalue."""
        return bool(np.isfinite(self._std("real")).any() or np.isfinite(self._std("imag")).any())

    def with_uncertainty(self, eigenvalue_std: Any) -> KoopmanSpectrum:
        """A copy carrying ``eigenvalue_std`` (complex: std of the real + 1j std of the
        imaginary part of ``log(lam)/dt``, per time unit; NaN for none).

        Examples
        --------
        >>> from koopkit import KoopmanSpectrum
        >>> s = KoopmanSpectrum([np.exp(0.1j)], [1.0], dt=0.1)
        >>> s.with_uncertainty([0.01 + 0.02j]).growth_rate_std.values.tolist()
        [0.01]
        """
        std = np.asarray(eigenvalue_std, dtype=complex).ravel()
        if std.shape != (len(self),):
            raise KoopkitError(
                f"{std.size} eigenvalue_std for {len(self)} modes: give one per mode"
            )
        parts = {"real": std.real, "imag": std.imag}
        if any((v < 0).any() for v in parts.values()):
            raise KoopkitError(
                "eigenvalue_std has negative parts: give standard deviations (>= 0, or NaN)"
            )
        ds = self._ds.copy()
        for part, values in parts.items():
            units, long_name = EXTRAS[f"eigenvalue_std_{part}"]
            ds[f"eigenvalue_std_{part}"] = xr.Variable(
                MODE, values.astype(float), {"units": units, "long_name": long_name}
            )
        return self._wrap(ds)

    def interval(self, quantity: str = "frequency", level: float = 0.95) -> xr.DataArray:
        """Normal interval ``value -/+ z * std`` of a per-mode quantity, ``z = Phi^-1((1 +
        level) / 2)`` (``scipy.stats.norm.ppf``; 1.959964 for 95%).

        ``value`` is the spectrum's own estimate (the fit on all the data) and ``std`` the
        spread the backend measured (for bagged optimized DMD, over the bags). The interval
        assumes that spread is normal; it is NaN where the mode carries no std.

        Parameters
        ----------
        quantity : {"frequency", "growth_rate", "angular_frequency", "eigenvalue_real", \
"eigenvalue_imag"}
            ``eigenvalue_real`` is the growth rate (``Re(log(lam)/dt)``) and
            ``eigenvalue_imag`` the angular frequency (``Im(log(lam)/dt)``).
        level : float
            Probability in (0, 1) the interval covers when the spread is normal.

        Returns
        -------
        xr.DataArray
            Dims ``("mode", "bound")``, ``bound`` = ``["lower", "upper"]``, in the
            quantity's units; ``attrs["level"]`` and ``attrs["z"]``.

        Examples
        --------
        >>> from koopkit import KoopmanSpectrum
        >>> s = KoopmanSpectrum([np.exp(0.2j)], [1.0], dt=0.1)
        >>> s = s.with_uncertainty([2j * np.pi * 0.01])
        >>> (s.interval("frequency") - s.frequencies).round(6).values.tolist()
        [[-0.0196, 0.0196]]
        """
        from scipy.stats import norm

        if quantity not in INTERVAL_QUANTITIES:
            raise KoopkitError(
                f"no interval of {quantity!r}; choose one of {', '.join(INTERVAL_QUANTITIES)}"
            )
        if not (isinstance(level, (int, float, np.floating)) and 0 < float(level) < 1):
            raise KoopkitError(f"level={level!r} must be a probability in (0, 1), e.g. 0.95")
        value, std = {
            "frequency": lambda: (self.frequencies, self.frequency_std),
            "growth_rate": lambda: (self.growth_rates, self.growth_rate_std),
            "angular_frequency": lambda: (self.angular_frequencies, self._imag_std()),
            "eigenvalue_real": lambda: (self.growth_rates, self.growth_rate_std),
            "eigenvalue_imag": lambda: (self.angular_frequencies, self._imag_std()),
        }[quantity]()
        z = float(norm.ppf(0.5 + float(level) / 2))
        bounds = np.stack([value.values - z * std.values, value.values + z * std.values], axis=1)
        return xr.DataArray(
            bounds,
            dims=(MODE, "bound"),
            coords={MODE: self._ds[MODE], "bound": ["lower", "upper"]},
            name=f"{quantity}_interval",
            attrs={
                "units": value.attrs["units"],
                "long_name": f"{level:g} normal interval of the {quantity.replace('_', ' ')}",
                "level": float(level),
                "z": z,
            },
        )

    def _imag_std(self) -> xr.DataArray:
        return self._quantity(
            self._std("imag"), "angular_frequency_std", self._per("rad"), "std of Im(log(lam)/dt)"
        )

"""The names a spectrum is made of: its dimension, sort keys, interval quantities, extras."""

MODE = "mode"

#: Quantities accepted by :meth:`KoopmanSpectrum.sort`.
SORT_KEYS = (
    "rms_amplitude",
    "amplitude",
    "frequency",
    "abs_frequency",
    "growth_rate",
    "magnitude",
    "residual",
)

#: Quantities accepted by :meth:`KoopmanSpectrum.interval` (the continuous eigenvalue's
#: real part is the growth rate, its imaginary part the angular frequency).
INTERVAL_QUANTITIES = (
    "frequency",
    "growth_rate",
    "angular_frequency",
    "eigenvalue_real",
    "eigenvalue_imag",
)

#: Optional per-mode quantities a backend may add (name -> units, long name). They ride
#: along through selection, sorting and netCDF files; a spectrum without one reads NaN.
EXTRAS = {
    "residuals": ("1", "relative residual ||K g - lam g|| / ||g|| of the eigenpair (ResDMD)"),
    "eigenvalue_std_real": ("1/time", "standard deviation of Re(log(lam)/dt) over the bags"),
    "eigenvalue_std_imag": ("1/time", "standard deviation of Im(log(lam)/dt) over the bags"),
}

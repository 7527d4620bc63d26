"""A spectrum out: netCDF-safe Datasets and files, tables, dicts, DataFrames."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from koopkit._errors import KoopkitError
from koopkit.spectrum.names import MODE

if TYPE_CHECKING:
    from koopkit.spectrum.core import KoopmanSpectrum


class OutputMixin:
    """Writing a spectrum to netCDF and showing it as a table, dict or DataFrame."""

    def to_dataset(self, modes: bool = True) -> xr.Dataset:
        """A netCDF-safe Dataset: complex variables split by :func:`koopkit.io.split_complex`."""
        from koopkit.io import split_complex

        ds = self._ds if modes else self._ds.drop_vars("modes", errors="ignore")
        out = ds.copy(deep=False)
        # Derived quantities ride along for readers without koopkit; they are ignored on load.
        for q in (self.frequencies, self.growth_rates, self.rms_amplitudes):
            out[q.name] = q.assign_attrs(koopkit_derived=1)
        return split_complex(out)

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> KoopmanSpectrum:
        """Inverse of :meth:`to_dataset` (also reads spectra saved as ``_real``/``_imag``)."""
        from koopkit.io import join_complex

        ds = join_complex(ds)
        if "eigenvalues" not in ds or "dt" not in ds.attrs:
            raise KoopkitError(
                "this file is not a koopkit spectrum (no eigenvalues or dt): "
                "write it with KoopmanSpectrum.to_netcdf"
            )
        derived = [name for name, var in ds.data_vars.items() if var.attrs.get("koopkit_derived")]
        return cls._wrap(ds.drop_vars(derived))

    def to_netcdf(self, path: Any, modes: bool = True) -> None:
        """Write to netCDF4/HDF5 (h5netcdf engine), atomically, without pickle."""
        from koopkit.io import atomic_path

        ds = self.to_dataset(modes=modes)
        with atomic_path(path) as tmp:
            ds.to_netcdf(tmp, engine="h5netcdf")

    # --------------------------------------------------------------- display
    def to_dataframe(self):
        """A pandas table with one row per mode (no mode shapes)."""
        import pandas as pd

        lam = self._ds["eigenvalues"].values
        return pd.DataFrame(
            {
                "eigenvalue": lam,
                "|lam|": np.abs(lam),
                "frequency": self.frequencies.values,
                "period": self.periods.values,
                "growth_rate": self.growth_rates.values,
                "|amplitude|": np.abs(self._ds["amplitudes"].values),
                "rms_amplitude": self.rms_amplitudes.values,
                **({"residual": self.residuals.values} if "residuals" in self._ds else {}),
                **(
                    {
                        "frequency_std": self.frequency_std.values,
                        "growth_rate_std": self.growth_rate_std.values,
                    }
                    if self.has_uncertainty
                    else {}
                ),
            },
            index=pd.Index(self._ds[MODE].values, name=MODE),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (no mode shapes)."""
        lam = self._ds["eigenvalues"].values
        amp = self._ds["amplitudes"].values
        res = self.residuals.values
        fstd, gstd = self.frequency_std.values, self.growth_rate_std.values
        return {
            "backend": self.backend,
            "params": self.params,
            "dt": self.dt,
            "time_units": self.time_units,
            "t0": float(self._ds.attrs["t0"]),
            "n_snapshots": int(self._ds.attrs["n_snapshots"]),
            "modes": [
                {
                    "mode": int(m),
                    "eigenvalue": [float(v.real), float(v.imag)],
                    "frequency": float(f),
                    "growth_rate": float(g),
                    "amplitude": [float(a.real), float(a.imag)],
                    "rms_amplitude": float(r),
                    "residual": None if np.isnan(e) else float(e),
                    "frequency_std": None if np.isnan(fs) else float(fs),
                    "growth_rate_std": None if np.isnan(gs) else float(gs),
                }
                for m, v, f, g, a, r, e, fs, gs in zip(
                    self._ds[MODE].values,
                    lam,
                    self.frequencies.values,
                    self.growth_rates.values,
                    amp,
                    self.rms_amplitudes.values,
                    res,
                    fstd,
                    gstd,
                    strict=True,
                )
            ],
        }

    def table(self, max_rows: int | None = 20) -> str:
        """The readable table that ``print(spectrum)`` shows."""
        unit = self.time_units or "time unit"
        lam = self._ds["eigenvalues"].values
        f, g, r = self.frequencies.values, self.growth_rates.values, self.rms_amplitudes.values
        res = self._ds["residuals"].values if "residuals" in self._ds else None
        idx = self._ds[MODE].values
        n = len(self) if max_rows is None else min(len(self), max_rows)
        # with standard deviations the two columns read "0.3501 ± 0.0004"
        if self.has_uncertainty:
            fs, gs = self.frequency_std.values, self.growth_rate_std.values
            ftext = [format_with_std(f[i], fs[i]) for i in range(n)]
            gtext = [format_with_std(g[i], gs[i]) for i in range(n)]
        else:
            ftext = [f"{f[i]:.6g}" for i in range(n)]
            gtext = [f"{g[i]:.6g}" for i in range(n)]
        fhead, ghead = f"freq [1/{unit}]", f"growth [1/{unit}]"
        fw = max([16, len(fhead), *map(len, ftext)])
        gw = max([18, len(ghead), *map(len, gtext)])
        lines = [
            f"KoopmanSpectrum: {len(self)} modes, backend {self.backend or '?'}, "
            f"dt = {self.dt:g} {self.time_units}".rstrip(),
            f"{'mode':>5} {'eigenvalue':>23} {'|lam|':>9} {fhead:>{fw}} {ghead:>{gw}} "
            f"{'rms amp':>10}" + (f" {'residual':>10}" if res is not None else ""),
        ]
        for i in range(n):
            z = lam[i]
            lines.append(
                f"{idx[i]:>5} {z.real:>+11.6f}{z.imag:>+11.6f}j {abs(z):>9.6f} "
                f"{ftext[i]:>{fw}} {gtext[i]:>{gw}} {r[i]:>10.4g}"
                + ("" if res is None else f" {res[i]:>10.3g}")
            )
        if n < len(self):
            lines.append(f"... {len(self) - n} more modes")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.table()


def format_with_std(value: float, std: float) -> str:
    """``value ± std`` rounded where the standard deviation's first digits fall.

    The std keeps one significant digit (two when that digit is 1), and the value is rounded
    to the same decimal place; very large or small numbers share one power of ten. Without a
    finite std the value alone, to 6 significant digits.

    Examples
    --------
    >>> format_with_std(0.350123, 0.00042)
    '0.3501 ± 0.0004'
    >>> format_with_std(-2.5, 0.13)
    '-2.50 ± 0.13'
    >>> format_with_std(1.25e-7, 3e-9)
    '(1.25 ± 0.03)e-07'
    >>> format_with_std(0.35, float("nan"))
    '0.35'
    """
    value, std = float(value), float(std)
    if not (np.isfinite(std) and std > 0 and np.isfinite(value)):
        return f"{value:.6g}"
    lead = int(np.floor(np.log10(std)))
    first = int(std / 10.0**lead)
    place = lead - (1 if first == 1 else 0)  # decimal place of the last digit kept
    top = int(np.floor(np.log10(abs(value)))) if value != 0 else lead
    power = max(top, lead)
    if power >= 5 or place <= -7:  # scientific: one power of ten for both
        digits = max(power - place, 0)
        scale = 10.0**power
        return f"({value / scale:.{digits}f} ± {std / scale:.{digits}f})e{power:+03d}"
    digits = max(-place, 0)
    return f"{value:.{digits}f} ± {std:.{digits}f}"


def json_default(obj: Any) -> Any:
    """``json.dumps(default=...)`` for NumPy scalars and arrays (anything else: its repr)."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return repr(obj)


def open_spectrum(path: Any) -> KoopmanSpectrum:
    """Read a spectrum written by :meth:`KoopmanSpectrum.to_netcdf`.

    Examples
    --------
    >>> import tempfile, os
    >>> from koopkit import KoopmanSpectrum
    >>> s = KoopmanSpectrum([1.0], [2.0], dt=0.5)
    >>> p = os.path.join(tempfile.mkdtemp(), "s.nc")
    >>> s.to_netcdf(p); float(open_spectrum(p).dt)
    0.5
    """
    from koopkit.io import open_dataset
    from koopkit.spectrum.core import KoopmanSpectrum

    return KoopmanSpectrum.from_dataset(open_dataset(path))

"""The KoopmanSpectrum class: per-mode quantities in exact units, selection, sorting."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import xarray as xr

from koopkit._errors import KoopkitError
from koopkit.spectrum.names import EXTRAS, MODE, SORT_KEYS
from koopkit.spectrum.ordering import rms_power, sort_order
from koopkit.spectrum.output import OutputMixin, json_default
from koopkit.spectrum.uncertainty import UncertaintyMixin


class KoopmanSpectrum(UncertaintyMixin, OutputMixin):
    """Per-mode Koopman quantities along a ``mode`` dimension, in exact units.

    Parameters
    ----------
    eigenvalues : array_like of complex, shape (n_modes,)
        Discrete-time eigenvalues (one step of ``dt``).
    amplitudes : array_like of complex, shape (n_modes,)
        Amplitude of each mode at the reference time ``t0``, for modes of unit norm.
    modes : xr.DataArray or tuple, optional
        Dims ``("mode", *space_dims)``; each mode has unit 2-norm over space. A backend may
        pass ``(values, dims, coords)`` instead (``coords`` a mapping or a function
        returning one): labelled on first use, not per fit.
    dt : float
        Time step of the data, in ``time_units``.
    time_units : str
        Units of the time coordinate (``attrs["units"]``), "" when unknown.
    n_snapshots : int
        Number of snapshots the amplitudes were fitted over (for ``rms_amplitudes``).
    t0 : float
        Time at which the amplitudes apply.
    backend : str
    params : dict
        The estimator's parameters, stored as JSON.
    extras : dict, optional
        Optional per-mode real quantities named in :data:`EXTRAS`, e.g. ``residuals``.

    Examples
    --------
    >>> import numpy as np
    >>> s = KoopmanSpectrum([1.0, np.exp(0.2j), np.exp(-0.2j)], [1, 0.5, 0.5], dt=0.1)
    >>> float(s.frequencies[1])  # 0.2 rad per step of 0.1 -> 2 rad per unit
    0.3183098861837907
    >>> float(s.growth_rates[0])
    0.0
    """

    def __init__(
        self,
        eigenvalues: Any,
        amplitudes: Any,
        modes: xr.DataArray | tuple | None = None,
        *,
        dt: float = 1.0,
        time_units: str = "",
        n_snapshots: int | None = None,
        t0: float = 0.0,
        backend: str = "",
        params: dict[str, Any] | None = None,
        attrs: dict[str, Any] | None = None,
        mode_index: Any = None,
        extras: dict[str, Any] | None = None,
    ) -> None:
        lam = np.asarray(eigenvalues, dtype=complex).ravel()
        amp = np.asarray(amplitudes, dtype=complex).ravel()
        if amp.shape != lam.shape:
            raise KoopkitError(
                f"{lam.size} eigenvalues but {amp.size} amplitudes: give one amplitude per mode"
            )
        if not (np.isfinite(dt) and dt > 0):
            raise KoopkitError(f"dt must be a positive number, got {dt!r}")
        index = np.arange(lam.size) if mode_index is None else np.asarray(mode_index)
        if isinstance(modes, tuple):  # (values, dims, coords): labelled on first use
            # coords: a mapping, or a function returning one (both read when labelled)
            values, dims, coords = modes
            modes = (values, tuple(dims), coords)
            mode_dims, mode_shape = modes[1], np.shape(values)
        elif modes is not None:
            mode_dims, mode_shape = tuple(modes.dims), modes.shape
        if modes is not None and (
            mode_dims[:1] != (MODE,)
            or len(mode_dims) != len(mode_shape)
            or mode_shape[0] != lam.size
        ):
            raise KoopkitError(
                f"modes must have a leading 'mode' dim of length {lam.size}, "
                f"got dims {mode_dims} and shape {mode_shape}"
            )
        per_mode: dict[str, np.ndarray] = {}
        for key, values in (extras or {}).items():
            if key not in EXTRAS:
                raise KoopkitError(f"unknown per-mode quantity {key!r}; known: {', '.join(EXTRAS)}")
            values = np.asarray(values, dtype=float).ravel()
            if values.shape != lam.shape:
                raise KoopkitError(f"{values.size} {key} for {lam.size} modes: give one per mode")
            per_mode[key] = values
        meta = {
            **(attrs or {}),
            "dt": float(dt),
            "time_units": str(time_units),
            "n_snapshots": int(n_snapshots if n_snapshots is not None else 1),
            "t0": float(t0),
            "backend": str(backend),
            "params": dict(params or {}),  # written as JSON when labelled
        }
        # Checked now, labelled on first use: a loop of fits (bagging, rank sweeps) does
        # not pay for an xarray Dataset per fit that nobody reads.
        self._dataset: xr.Dataset | None = None
        self._parts = (lam, amp, modes, index, per_mode, meta)

    @property
    def _ds(self) -> xr.Dataset:
        if self._dataset is None:
            self._dataset = self._assemble(*self._parts)
            self._parts = None
        return self._dataset

    @staticmethod
    def _assemble(
        lam: np.ndarray,
        amp: np.ndarray,
        modes: xr.DataArray | None,
        index: np.ndarray,
        per_mode: dict[str, np.ndarray],
        meta: dict[str, Any],
    ) -> xr.Dataset:
        variables: dict[str, Any] = {
            "eigenvalues": xr.Variable(MODE, lam),
            "amplitudes": xr.Variable(MODE, amp),
        }
        coords: dict[Any, Any] = {MODE: index}
        if isinstance(modes, tuple):
            values, dims, mode_coords = modes
            if callable(mode_coords):
                mode_coords = mode_coords()
            variables["modes"] = xr.Variable(dims, values)
            coords.update(
                {k: getattr(v, "variable", v) for k, v in mode_coords.items() if k != MODE}
            )
        elif modes is not None:
            variables["modes"] = modes.variable
            coords.update({k: v.variable for k, v in modes.coords.items() if k != MODE})
        for key, values in per_mode.items():
            units, long_name = EXTRAS[key]
            variables[key] = xr.Variable(MODE, values, {"units": units, "long_name": long_name})
        # one constructor call: one alignment, however many variables
        ds = xr.Dataset(variables, coords=coords)
        ds.attrs.update(meta)
        ds.attrs["params"] = json.dumps(meta["params"], default=json_default, sort_keys=True)
        return ds

    # ------------------------------------------------------------------ basics
    @classmethod
    def _wrap(cls, ds: xr.Dataset) -> KoopmanSpectrum:
        obj = cls.__new__(cls)
        obj._dataset, obj._parts = ds, None
        return obj

    def __len__(self) -> int:
        return int(self._ds.sizes[MODE])

    @property
    def dt(self) -> float:
        return float(self._ds.attrs["dt"])

    @property
    def time_units(self) -> str:
        return str(self._ds.attrs["time_units"])

    @property
    def backend(self) -> str:
        return str(self._ds.attrs["backend"])

    @property
    def params(self) -> dict[str, Any]:
        return json.loads(self._ds.attrs["params"])

    @property
    def attrs(self) -> dict[str, Any]:
        return self._ds.attrs

    def _quantity(self, values: np.ndarray, name: str, units: str, long_name: str) -> xr.DataArray:
        return xr.DataArray(
            values,
            dims=MODE,
            coords={MODE: self._ds[MODE]},
            name=name,
            attrs={"units": units, "long_name": long_name},
        )

    def _per(self, suffix: str) -> str:
        return f"{suffix} per {self.time_units}" if self.time_units else f"{suffix} per time unit"

    # -------------------------------------------------------------- quantities
    @property
    def eigenvalues(self) -> xr.DataArray:
        """Discrete-time eigenvalues ``lam`` (one step of ``dt``)."""
        return self._quantity(
            self._ds["eigenvalues"].values, "eigenvalues", "1", "discrete-time eigenvalue"
        )

    @property
    def _log(self) -> np.ndarray:
        lam = self._ds["eigenvalues"].values
        with np.errstate(divide="ignore"):
            return np.log(lam.astype(complex))

    @property
    def continuous_eigenvalues(self) -> xr.DataArray:
        """``log(lam) / dt`` (principal branch), per time unit."""
        return self._quantity(
            self._log / self.dt, "continuous_eigenvalues", self._per("1"), "log(lam)/dt"
        )

    @property
    def frequencies(self) -> xr.DataArray:
        """``Im(log lam) / (2 pi dt)``: cycles per time unit (signed)."""
        return self._quantity(
            self._log.imag / (2 * np.pi * self.dt),
            "frequencies",
            self._per("cycles"),
            "frequency Im(log lam)/(2 pi dt)",
        )

    @property
    def angular_frequencies(self) -> xr.DataArray:
        """``Im(log lam) / dt``: radians per time unit (signed)."""
        return self._quantity(
            self._log.imag / self.dt, "angular_frequencies", self._per("rad"), "Im(log lam)/dt"
        )

    @property
    def growth_rates(self) -> xr.DataArray:
        """``ln|lam| / dt`` per time unit; 0 for modes on the unit circle."""
        return self._quantity(
            self._log.real / self.dt, "growth_rates", self._per("1"), "growth rate ln|lam|/dt"
        )

    @property
    def periods(self) -> xr.DataArray:
        """``1 / |frequency|`` in time units (inf for non-oscillating modes)."""
        f = np.abs(self._log.imag / (2 * np.pi * self.dt))
        with np.errstate(divide="ignore"):
            p = np.where(f > 0, 1.0 / np.where(f > 0, f, 1.0), np.inf)
        return self._quantity(p, "periods", self.time_units or "time units", "period 1/|f|")

    @property
    def amplitudes(self) -> xr.DataArray:
        """Complex amplitude of each (unit-norm) mode at time ``t0``."""
        return self._quantity(
            self._ds["amplitudes"].values, "amplitudes", "data units", "amplitude at t0"
        )

    @property
    def rms_amplitudes(self) -> xr.DataArray:
        """Root-mean-square size of each mode's contribution over the fitted snapshots.

        ``|b| * sqrt(mean_k |lam|^(2k))`` for ``k = 0 .. n_snapshots - 1``. Unlike ``|b|``
        it is not fooled by fast-decaying modes with a large initial amplitude.
        """
        n = int(self._ds.attrs["n_snapshots"])
        r = np.abs(self._ds["eigenvalues"].values).astype(float)
        b = np.abs(self._ds["amplitudes"].values)
        return self._quantity(b * rms_power(r, n), "rms_amplitudes", "data units", "rms amplitude")

    @property
    def modes(self) -> xr.DataArray:
        """Modes with dims ``("mode", *space_dims)`` and the input's coords (unit norm)."""
        if "modes" not in self._ds:
            raise KoopkitError("this spectrum holds no modes (it was saved without them)")
        return self._ds["modes"]

    @property
    def has_modes(self) -> bool:
        return "modes" in self._ds

    @property
    def residuals(self) -> xr.DataArray:
        """Relative residual of each eigenpair, ``||K g - lam g|| / ||g||`` (dimensionless).

        Measured on the snapshot pairs (ResDMD, Colbrook & Townsend 2024): near 0 for an
        eigenpair the data confirm, near 1 or above for a spurious one. NaN where the
        backend gave none.
        """
        if "residuals" in self._ds:
            values = self._ds["residuals"].values
        else:
            values = np.full(len(self), np.nan)
        units, long_name = EXTRAS["residuals"]
        return self._quantity(values, "residuals", units, long_name)

    @property
    def has_residuals(self) -> bool:
        """True if any mode carries a residual."""
        return "residuals" in self._ds and bool(np.isfinite(self._ds["residuals"].values).any())

    # ------------------------------------------------------------- selection
    def isel(self, mode: Any) -> KoopmanSpectrum:
        """Select modes by position, e.g. ``spectrum.isel(slice(0, 10))``."""
        return self._wrap(self._ds.isel({MODE: mode}))

    def sel(self, mode: Any) -> KoopmanSpectrum:
        """Select modes by their ``mode`` label (their index in the fit)."""
        return self._wrap(self._ds.sel({MODE: mode}))

    def __getitem__(self, key: Any) -> KoopmanSpectrum:
        if isinstance(key, (int, np.integer)):
            key = [key]
        return self.isel(key)

    def sort(self, by: str = "rms_amplitude", ascending: bool = False) -> KoopmanSpectrum:
        """Return a copy sorted by one of :data:`SORT_KEYS` (largest first by default)."""
        keys = {
            "rms_amplitude": lambda: self.rms_amplitudes.values,
            "amplitude": lambda: np.abs(self._ds["amplitudes"].values),
            "frequency": lambda: self.frequencies.values,
            "abs_frequency": lambda: np.abs(self.frequencies.values),
            "growth_rate": lambda: self.growth_rates.values,
            "magnitude": lambda: np.abs(self._ds["eigenvalues"].values),
            "residual": lambda: self.residuals.values,
        }
        if by not in keys:
            raise KoopkitError(f"cannot sort by {by!r}; choose one of {', '.join(SORT_KEYS)}")
        key = np.asarray(keys[by](), dtype=float)
        return self.isel(sort_order(key, self.frequencies.values, ascending))

    def select(
        self,
        *,
        min_frequency: float | None = None,
        max_frequency: float | None = None,
        positive_frequencies: bool = False,
        max_growth_rate: float | None = None,
        min_rms_amplitude: float | None = None,
        max_residual: float | None = None,
    ) -> KoopmanSpectrum:
        """Keep the modes that satisfy every given condition (frequencies in absolute value).

        ``max_residual`` keeps the eigenpairs whose residual is at most that (modes
        without a residual are dropped).
        """
        keep = np.ones(len(self), dtype=bool)
        f = self.frequencies.values
        if positive_frequencies:
            keep &= f > 0
        if min_frequency is not None:
            keep &= np.abs(f) >= min_frequency
        if max_frequency is not None:
            keep &= np.abs(f) <= max_frequency
        if max_growth_rate is not None:
            keep &= self.growth_rates.values <= max_growth_rate
        if min_rms_amplitude is not None:
            keep &= self.rms_amplitudes.values >= min_rms_amplitude
        if max_residual is not None:
            if "residuals" not in self._ds:
                raise KoopkitError(
                    f"this spectrum (backend {self.backend or '?'}) has no residuals: fit with "
                    "a backend that measures them (dmd, exact_dmd, edmd, autoencoder)"
                )
            keep &= self.residuals.values <= max_residual
        return self.isel(np.flatnonzero(keep))

    def conjugate_pairs(self, rtol: float = 1e-6) -> np.ndarray:
        """Position of each mode's complex-conjugate partner, or -1.

        Real eigenvalues and eigenvalues without a partner within ``rtol`` get -1.
        """
        lam = self._ds["eigenvalues"].values
        partner = np.full(lam.size, -1, dtype=int)
        scale = np.maximum(np.abs(lam), 1e-300)
        for i in range(lam.size):
            if partner[i] >= 0 or abs(lam[i].imag) <= rtol * scale[i]:
                continue
            d = np.abs(lam - lam[i].conjugate()) / scale[i]
            d[i] = np.inf
            d[partner >= 0] = np.inf
            j = int(np.argmin(d))
            if d[j] <= rtol:
                partner[i], partner[j] = j, i
        return partner

    def leading_frequencies(
        self, n: int = 2, *, exclude_harmonics: bool = True, rtol: float = 0.02
    ) -> np.ndarray:
        """The ``n`` largest positive frequencies by RMS amplitude.

        With ``exclude_harmonics``, a frequency within ``rtol`` of an integer multiple
        (2, 3, ...) of one already chosen is skipped, as is one equal to a chosen one.
        """
        f = self.frequencies.values
        order = np.argsort(-self.rms_amplitudes.values, kind="stable")
        chosen: list[float] = []
        for i in order:
            if f[i] <= 0:
                continue
            if exclude_harmonics and any(
                abs(f[i] / c - round(f[i] / c)) <= rtol * round(f[i] / c) and round(f[i] / c) >= 1
                for c in chosen
            ):
                continue
            chosen.append(float(f[i]))
            if len(chosen) == n:
                break
        return np.array(chosen)

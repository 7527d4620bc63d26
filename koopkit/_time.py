"""Calendar time: reading a ``time`` coordinate into float times, and back.

A datetime (or timedelta) axis is counted in a natural unit (hours, days, years, ...);
series that step by the calendar (months, quarters, years, business days) count as uniform
in that step. :class:`Clock` maps the float times back to the input's own kind, so forecasts
and modes are labelled with datetimes again. :mod:`koopkit._validation` re-exports these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from koopkit._errors import KoopkitError

TIME = "time"
#: Relative tolerance on the spacing of the time coordinate.
UNIFORM_RTOL = 1e-6


#: Seconds in each time unit koopkit reports datetime series in ("year": Gregorian mean).
UNIT_SECONDS = {
    "s": 1.0,
    "minute": 60.0,
    "hour": 3600.0,
    "day": 86400.0,
    "week": 7 * 86400.0,
    "year": 365.2425 * 86400.0,
}
BUSINESS_DAY = "business day"
#: Calendar frequencies (pandas offset names) that are uniform in their own step, in months.
_MONTHS = {"MonthBegin": 1, "MonthEnd": 1, "QuarterBegin": 3, "QuarterEnd": 3}
_YEARS = {"YearBegin", "YearEnd"}


@dataclass(frozen=True)
class Clock:
    """How float times (in ``unit`` since ``origin``) map to a datetime or timedelta axis.

    ``calendar`` is the pandas frequency of series whose steps follow the calendar
    (months, quarters, years, business days): they are uniform in that step, whose nominal
    length in ``unit`` is the fit's ``dt``; other datetime series are uniform in real time.
    """

    kind: str  # "datetime" or "timedelta"
    origin: Any  # numpy datetime64 / timedelta64 of the first snapshot
    unit: str
    calendar: str | None = None

    def _offset(self) -> Any:
        import pandas as pd

        return pd.tseries.frequencies.to_offset(self.calendar)

    def _calendar_ns(self, k0: int, k1: int) -> np.ndarray:
        """Nanoseconds of the calendar dates ``k0 .. k1`` steps from the origin."""
        import pandas as pd

        offset = self._offset()
        start = pd.Timestamp(self.origin) + k0 * offset
        dates = pd.date_range(start=start, periods=k1 - k0 + 1, freq=offset)
        return dates.as_unit("ns").asi8.astype(float)

    def to_coord(self, times: np.ndarray, dt: float) -> np.ndarray:
        """Datetimes (or timedeltas) of float times; fractional calendar steps interpolate."""
        t = np.asarray(times, dtype=float)
        origin = np.asarray(self.origin).astype("M8[ns]" if self.kind == "datetime" else "m8[ns]")
        if self.calendar is None:
            return origin + np.round(t * UNIT_SECONDS[self.unit] * 1e9).astype("m8[ns]")
        steps = t / dt
        k0 = int(np.floor(steps.min())) if steps.size else 0
        k1 = int(np.ceil(steps.max())) + 1 if steps.size else 1
        ns = np.interp(steps, np.arange(k0, k1 + 1), self._calendar_ns(k0, k1))
        return np.round(ns).astype("int64").astype("M8[ns]")

    def from_coord(self, values: Any, dt: float) -> np.ndarray:
        """Float times of datetimes (or timedeltas); numbers pass through as float times."""
        v = np.asarray(values)
        if v.dtype.kind not in "Mm":
            return v.astype(float)
        kind = "datetime" if v.dtype.kind == "M" else "timedelta"
        if kind != self.kind:
            raise KoopkitError(
                f"times are {kind}s but the model was fitted on a {self.kind} axis: "
                f"give {self.kind}s (or float times in {self.unit}s since {self.origin})"
            )
        origin = np.asarray(self.origin).astype(v.dtype.kind + "8[ns]")
        seconds = (v.astype(origin.dtype) - origin) / np.timedelta64(1, "ns") * 1e-9
        if self.calendar is None:
            return seconds / UNIT_SECONDS[self.unit]
        # calendar steps: the fractional step between the neighbouring calendar dates
        step_s = dt * (UNIT_SECONDS.get(self.unit, 86400.0))
        approx = seconds / step_s
        k0 = int(np.floor(approx.min())) - 2
        k1 = int(np.ceil(approx.max())) + 2
        ns = self._calendar_ns(k0, k1)
        base = float(origin.astype("int64"))
        steps = np.interp(seconds * 1e9 + base, ns, np.arange(k0, k1 + 1))
        return steps * dt


def natural_unit(step_seconds: float) -> str:
    """The unit datetime series are reported in: hours for hourly steps, days for daily
    and weekly ones, ... (see :data:`UNIT_SECONDS`).

    Examples
    --------
    >>> natural_unit(3600.0), natural_unit(7 * 86400.0)
    ('hour', 'day')
    """
    for unit in ("year", "day", "hour", "minute"):
        if unit == "year":
            if step_seconds >= 28 * 86400:
                return unit
        elif step_seconds >= UNIT_SECONDS[unit] * (1 - 1e-9):
            return unit
    return "s"


def calendar_of(values: np.ndarray) -> tuple[str, float] | None:
    """``(frequency, months per step)`` of datetimes on a month/quarter/year calendar, or
    ``(frequency, nan)`` for business days; None otherwise.

    Examples
    --------
    >>> import pandas as pd
    >>> calendar_of(pd.date_range("2000-01-01", periods=4, freq="QS").values)
    ('QS-JAN', 3.0)
    """
    if len(values) < 3:
        return None
    try:
        freq = xr.infer_freq(xr.DataArray(values, dims=TIME))
    except (ValueError, TypeError):
        return None
    if freq is None:
        return None
    import pandas as pd

    offset = pd.tseries.frequencies.to_offset(freq)
    name = type(offset).__name__
    if name in _MONTHS:
        return freq, float(offset.n * _MONTHS[name])
    if name in _YEARS:
        return freq, float(12 * offset.n)
    if name == "BusinessDay":
        return freq, np.nan
    return None


def time_values(
    coord: xr.DataArray | xr.Variable, time_unit: str | None = None
) -> tuple[np.ndarray, str, float | None, Clock | None]:
    """Float times, their units, the step when the calendar fixes it, and the clock.

    Examples
    --------
    >>> import pandas as pd
    >>> hours = xr.DataArray(pd.date_range("2000-01-01", periods=3, freq="h"), dims=TIME)
    >>> times, unit, step, clock = time_values(hours)
    >>> times.tolist(), unit, step, clock.kind
    ([0.0, 1.0, 2.0], 'hour', None, 'datetime')
    """
    values = np.asarray(coord.values)
    units = str(coord.attrs.get("units", ""))
    if values.dtype.kind in "Mm":
        kind = "datetime" if values.dtype.kind == "M" else "timedelta"
        if time_unit is not None and time_unit not in (*UNIT_SECONDS, BUSINESS_DAY):
            raise KoopkitError(
                f"time_unit={time_unit!r} is not one of {', '.join(UNIT_SECONDS)} "
                f"(or {BUSINESS_DAY!r} for business-day series)"
            )
        cal = calendar_of(values) if kind == "datetime" else None
        if cal is not None:
            freq, months = cal
            if np.isnan(months):  # business days: uniform in business days only
                if time_unit not in (None, BUSINESS_DAY):
                    raise KoopkitError(
                        f"a business-day series is uniform in business days only: drop "
                        f"time_unit={time_unit!r} or resample to calendar days"
                    )
                unit, step = BUSINESS_DAY, float(pd_offset_n(freq))
            else:
                unit = time_unit or "year"
                if unit == BUSINESS_DAY:
                    raise KoopkitError(f"the series steps by {freq}, not by business days")
                step = months / 12 * UNIT_SECONDS["year"] / UNIT_SECONDS[unit]
            clock = Clock(kind, values[0], unit, freq)
            return np.arange(len(values)) * step, unit, step, clock
        seconds = (values - values[0]) / np.timedelta64(1, "ns") * 1e-9
        if kind == "timedelta":
            seconds = values / np.timedelta64(1, "ns") * 1e-9
        seconds = np.asarray(seconds, dtype=float)
        if time_unit == BUSINESS_DAY:
            raise KoopkitError("time_unit='business day' needs a business-day calendar series")
        unit = time_unit or natural_unit(abs(seconds[1] - seconds[0]) if len(seconds) > 1 else 1)
        origin = values[0] if kind == "datetime" else np.timedelta64(0, "ns")
        return seconds / UNIT_SECONDS[unit], unit, None, Clock(kind, origin, unit)
    if time_unit is not None:
        raise KoopkitError(
            "time_unit= converts datetime axes; this time coordinate holds numbers: "
            "convert them yourself and set data.time.attrs['units']"
        )
    if values.dtype.kind not in "biuf":
        raise KoopkitError(
            f"the time coordinate has dtype {values.dtype}: use numbers or datetimes for time"
        )
    return values.astype(float), units, None, None


def pd_offset_n(freq: str) -> int:
    """The multiple ``n`` of a pandas frequency string.

    Examples
    --------
    >>> pd_offset_n("2B")
    2
    """
    import pandas as pd

    return int(pd.tseries.frequencies.to_offset(freq).n)


def check_uniform(times: np.ndarray) -> float:
    """Return the time step of a uniform grid, or raise naming the first uneven step."""
    steps = np.diff(times)
    dt = float(steps[0])
    if not np.isfinite(dt) or dt <= 0:
        raise KoopkitError(
            f"time must increase: the first step is {dt:g}; sort the data by time "
            "(data.sortby('time'))"
        )
    bad = np.flatnonzero(np.abs(steps - dt) > UNIFORM_RTOL * abs(dt))
    if bad.size:
        i = int(bad[0])
        raise KoopkitError(
            f"time steps are uneven: step {i} (t={times[i]:g} -> {times[i + 1]:g}) is "
            f"{steps[i]:g} but the first step is {dt:g}: fit any sample times with "
            "backend='optdmd' (koopkit.OptDMD; --backend optdmd), or resample to a uniform "
            "grid first (e.g. data.interp(time=...))"
        )
    return dt


def check_increasing(times: np.ndarray) -> float:
    """Return the median step of strictly increasing times, or raise naming the first
    step that does not increase (uneven steps and gaps are fine).

    Examples
    --------
    >>> check_increasing(np.array([0.0, 0.5, 1.5, 2.0]))
    0.5
    """
    steps = np.diff(times)
    bad = np.flatnonzero(~(steps > 0))
    if bad.size:
        i = int(bad[0])
        raise KoopkitError(
            f"time must increase strictly: step {i} (t={times[i]:g} -> {times[i + 1]:g}) "
            "does not; sort the data by time and drop repeated times "
            "(data.sortby('time').drop_duplicates('time'))"
        )
    return float(np.median(steps))

"""Argument checks shared by the dataset generators."""

from __future__ import annotations

import numbers

import numpy as np

from koopkit._errors import KoopkitError


def check_int(name: str, value: object, minimum: int) -> int:
    """Return ``value`` as an int, or raise if it is not an integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise KoopkitError(
            f"{name} must be an integer, got {value!r}: pass e.g. {name}={max(minimum, 1)}"
        )
    if value < minimum:
        raise KoopkitError(f"{name} must be at least {minimum}, got {value}: pass a larger {name}")
    return int(value)


def check_float(name: str, value: object, *, positive: bool = False) -> float:
    """Return ``value`` as a finite float (``> 0`` if ``positive``, else ``>= 0``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise KoopkitError(f"{name} must be a real number, got {value!r}: pass e.g. {name}=1.0")
    out = float(value)
    if not np.isfinite(out) or out < 0 or (positive and out == 0):
        bound = "positive" if positive else "non-negative"
        raise KoopkitError(f"{name} must be a finite {bound} number, got {value!r}: fix {name}")
    return out


def check_seed(seed: object) -> int:
    """Return ``seed`` as a non-negative int."""
    return check_int("seed", seed, 0)


def float_array(name: str, values: object, n: int | None = None, per: str = "item") -> np.ndarray:
    """``values`` as a 1-D finite float64 array (of length ``n``, one per ``per``, if given)."""
    try:
        out = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise KoopkitError(
            f"{name} must be a sequence of real numbers, got {values!r}: pass e.g. {name}=(1.0,)"
        ) from exc
    if not np.all(np.isfinite(out)):
        raise KoopkitError(f"{name} must be finite, got {values!r}: remove NaN/inf values")
    if n is not None and out.size != n:
        raise KoopkitError(
            f"{name} has {out.size} values but {n} are needed (one per {per}): pass {n} values"
        )
    return out


def check_real(name: str, value: object) -> float:
    """Return ``value`` as a finite float of either sign (the caller checks its range)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise KoopkitError(f"{name} must be a real number, got {value!r}: pass e.g. {name}=100")
    out = float(value)
    if not np.isfinite(out):
        raise KoopkitError(f"{name} must be finite, got {value!r}: pass a finite {name}")
    return out

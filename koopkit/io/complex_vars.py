"""Complex variables in netCDF4, which has no complex type: split on write, join on read.

Files get one convention: a complex variable ``z`` (data or coordinate) is stored as two
real variables ``z__real`` and ``z__imag``, each marked with the attribute
``koopkit_split_complex`` (``"real"`` or ``"imag"``); ``z``'s own attributes ride on the
real part. :func:`join_complex` also reads the convention that koopkit spectra were written
with before (``z_real``/``z_imag`` marked ``koopkit_complex_part``, attributes on both), so
older files keep opening.
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import xarray as xr

from koopkit._errors import KoopkitError
from koopkit._validation import is_lazy

#: Marker attribute of the parts written by :func:`split_complex`.
COMPLEX_ATTR = "koopkit_split_complex"
#: Marker attribute of the parts in the older spectrum convention (read only).
LEGACY_COMPLEX_ATTR = "koopkit_complex_part"

# (marker attribute, suffix of the real part, suffix of the imaginary part)
_CONVENTIONS = (
    (COMPLEX_ATTR, "__real", "__imag"),
    (LEGACY_COMPLEX_ATTR, "_real", "_imag"),
)


def complex_part(var: xr.Variable | xr.DataArray) -> str | None:
    """``"real"`` or ``"imag"`` if ``var`` is one half of a split complex variable, else None.

    Examples
    --------
    >>> import xarray as xr
    >>> split = split_complex(xr.Dataset({"z": ("t", [1 + 2j])}))
    >>> complex_part(split["z__imag"]), complex_part(xr.Variable("t", [1.0]))
    ('imag', None)
    """
    for attr, _, _ in _CONVENTIONS:
        part = var.attrs.get(attr)
        if part in ("real", "imag"):
            return str(part)
    return None


def split_complex(ds: xr.Dataset) -> xr.Dataset:
    """Replace each complex variable (data or coordinate) by its real and imaginary parts.

    The parts are named ``<name>__real``/``<name>__imag`` and marked with
    :data:`COMPLEX_ATTR`; lazy (dask) data stay lazy. Real variables are left as they are.

    Raises
    ------
    KoopkitError
        If a part's name is already taken by another variable.

    Examples
    --------
    >>> import xarray as xr
    >>> sorted(split_complex(xr.Dataset({"z": ("t", [1 + 2j])})).data_vars)
    ['z__imag', 'z__real']
    """
    complex_names = [name for name, var in ds.variables.items() if var.dtype.kind == "c"]
    if not complex_names:
        return ds
    _, real_suffix, imag_suffix = _CONVENTIONS[0]
    new_coords: dict[Hashable, xr.Variable] = {}
    new_data: dict[Hashable, xr.Variable] = {}
    for name in complex_names:
        var = ds.variables[name]
        part_dtype = np.real(np.zeros((), dtype=var.dtype)).dtype
        for suffix, part, kind in (
            (real_suffix, np.real(var.data), "real"),
            (imag_suffix, np.imag(var.data), "imag"),
        ):
            part_name = f"{name}{suffix}"
            if part_name in ds.variables:
                raise KoopkitError(
                    f"cannot store complex variable {name!r}: {part_name!r} already exists: "
                    "rename one of them"
                )
            attrs = dict(var.attrs) if kind == "real" else {}
            attrs[COMPLEX_ATTR] = kind
            part_var = xr.Variable(var.dims, part.astype(part_dtype, copy=False), attrs)
            (new_coords if name in ds.coords else new_data)[part_name] = part_var
    ds = ds.drop_vars(complex_names)
    return ds.assign_coords(new_coords).assign(new_data)


def _pairs(ds: xr.Dataset, legacy: bool) -> list[tuple[str, Hashable, Hashable, str]]:
    """(joined name, real part, imaginary part, marker) of every split pair in ``ds``."""
    pairs = []
    conventions = _CONVENTIONS if legacy else _CONVENTIONS[:1]
    for name, var in ds.variables.items():
        sname = str(name)
        for attr, real_suffix, imag_suffix in conventions:
            if var.attrs.get(attr) != "real" or not sname.endswith(real_suffix):
                continue
            base = sname[: -len(real_suffix)]
            imag = ds.variables.get(base + imag_suffix)
            if imag is None or base in ds.variables:
                continue
            if attr == LEGACY_COMPLEX_ATTR and imag.attrs.get(attr) != "imag":
                continue  # e.g. a real quantity that merely ends in _real/_imag
            pairs.append((base, name, base + imag_suffix, attr))
            break
    return pairs


def join_complex(ds: xr.Dataset, legacy: bool = True) -> xr.Dataset:
    """Undo :func:`split_complex`; with ``legacy``, also the older ``_real``/``_imag`` pairs.

    A pair is joined only when its marker attribute says so and both halves are present;
    anything else is left as it is, so this is safe on any Dataset and idempotent. Lazy
    (dask) parts give a lazy complex variable. koopkit's readers pass ``legacy=False``:
    older spectrum files are joined where spectra are read, so ``open_dataset`` on them
    still shows the parts as stored.

    Examples
    --------
    >>> import xarray as xr
    >>> ds = xr.Dataset({"z": ("t", [1 + 2j])})
    >>> join_complex(split_complex(ds)).identical(ds)
    True
    """
    pairs = _pairs(ds, legacy)
    if not pairs:
        return ds
    coords: dict[Hashable, xr.Variable] = {}
    data: dict[Hashable, xr.Variable] = {}
    for base, real_name, imag_name, attr in pairs:
        real = ds.variables[real_name]
        imag = ds.variables[imag_name]
        dtype = np.result_type(real.dtype, np.complex64)
        if is_lazy(real.data):
            values = (real.data + 1j * imag.data).astype(dtype)
        else:
            values = np.empty(real.shape, dtype=dtype)
            values.real = real.values
            values.imag = imag.values
        attrs = {k: v for k, v in real.attrs.items() if k != attr}
        (coords if real_name in ds.coords else data)[base] = xr.Variable(real.dims, values, attrs)
    ds = ds.drop_vars([name for _, r, i, _ in pairs for name in (r, i)])
    return ds.assign_coords(coords).assign(data)

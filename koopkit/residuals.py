"""How far to trust a spectrum: ResDMD's pseudospectrum from a fitted model's matrices.

Every backend that measures residuals keeps ResDMD's ``G``, ``A`` and ``L`` of its
snapshot pairs in its dictionary (``model.residual_matrices_``). From the same matrices,
for any point ``z`` of the complex plane,

    tau(z) = min_g ||K g - z g|| / ||g||   (g in the dictionary's span),

and the epsilon-pseudospectrum is ``{z : tau(z) < epsilon}`` (Colbrook & Townsend, CPAM
2024). True eigenvalues sit in deep wells of ``tau``; spurious ones do not.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from koopkit._errors import KoopkitError


def pseudospectrum(model: Any, grid: Any) -> xr.DataArray:
    """``tau(z) = min_g ||K g - z g|| / ||g||`` over a grid of the complex plane.

    Parameters
    ----------
    model : fitted estimator
        One that measures residuals (``dmd``, ``exact_dmd``, ``edmd``, ``autoencoder``):
        it holds ``residual_matrices_``.
    grid : (real, imag) pair of 1-D arrays, or complex array_like
        A pair spans a mesh (discrete-time eigenvalue plane); a complex array gives the
        points themselves.

    Returns
    -------
    xr.DataArray
        Dims ``("imag", "real")`` with those coordinates for a pair; otherwise dims
        ``("point",)`` (or the array's shape) with the points as a ``z`` coordinate.
        ``attrs`` name the backend and the number of snapshot pairs used.

    Examples
    --------
    >>> import numpy as np, koopkit
    >>> t = np.arange(40) * 0.1
    >>> model = koopkit.DMD(rank=2).fit(np.stack([np.cos(t), np.sin(t)], 1), dt=0.1)
    >>> ps = pseudospectrum(model, (np.linspace(-1.2, 1.2, 5), np.linspace(-1.2, 1.2, 5)))
    >>> ps.dims
    ('imag', 'real')
    >>> bool(pseudospectrum(model, model.spectrum_.eigenvalues.values).max() < 1e-8)
    True
    """
    mats = getattr(model, "residual_matrices_", None)
    if mats is None:
        name = getattr(model, "name", type(model).__name__)
        raise KoopkitError(
            f"{type(model).__name__} ({name}) holds no residual matrices: fit it first, or use "
            "a backend that measures residuals (dmd, exact_dmd, edmd, autoencoder)"
        )
    attrs = {
        "long_name": "min ||K g - z g|| / ||g|| (ResDMD pseudospectrum)",
        "units": "1",
        "backend": str(getattr(model, "name", "")),
        "n_pairs": int(mats.n_pairs),
        "n_functions": int(mats.n_functions),
    }
    if isinstance(grid, tuple) and len(grid) == 2:
        re = np.asarray(grid[0], dtype=float).ravel()
        im = np.asarray(grid[1], dtype=float).ravel()
        if not (re.size and im.size and np.isfinite(re).all() and np.isfinite(im).all()):
            raise KoopkitError("grid=(real, imag) needs two non-empty 1-D arrays of finite numbers")
        z = re[None, :] + 1j * im[:, None]
        return xr.DataArray(
            mats.pseudospectrum(z),
            dims=("imag", "real"),
            coords={"imag": im, "real": re},
            name="pseudospectrum",
            attrs=attrs,
        )
    z = np.asarray(grid, dtype=complex)
    if not np.isfinite(z).all():
        raise KoopkitError("grid points must be finite complex numbers")
    values = mats.pseudospectrum(z)
    if z.ndim <= 1:
        z = np.atleast_1d(z)
        return xr.DataArray(
            np.atleast_1d(values),
            dims=("point",),
            coords={"z": ("point", z)},
            name="pseudospectrum",
            attrs=attrs,
        )
    return xr.DataArray(values, name="pseudospectrum", attrs=attrs)


__all__ = ["pseudospectrum"]

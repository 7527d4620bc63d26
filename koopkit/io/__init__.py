"""Reading and writing labelled time series: netCDF4, plain HDF5 and zarr.

One module per format, in the manner of xarray's ``backends/``:

* :mod:`~koopkit.io.h5netcdf_` -- netCDF4 through xarray's ``h5netcdf`` engine; writes with
  :func:`save_timeseries` (atomically, see :func:`atomic_path`);
* :mod:`~koopkit.io.h5py_` -- plain HDF5 files written with h5py, where a dataset's first axis
  is time and the times come from a sibling ``time`` dataset or a ``dt`` attribute;
* :mod:`~koopkit.io.zarr_` -- zarr stores, opened lazily;
* :mod:`~koopkit.io.api` -- :func:`open_timeseries` and :func:`open_dataset`, which pick one;
* :mod:`~koopkit.io.conventions` and :mod:`~koopkit.io.complex_vars` -- what netCDF4 cannot
  hold as is (attribute kinds, datetime resolution, complex numbers) and how it is stored;
* :mod:`~koopkit.io.common` -- the time dim, chunk choice and error text they share.
"""

from koopkit._util import atomic_path  # re-exported: koopkit.io.atomic_path stays public
from koopkit.io.api import open_dataset, open_timeseries
from koopkit.io.common import PathLike
from koopkit.io.complex_vars import join_complex, split_complex
from koopkit.io.conventions import encode_dataset
from koopkit.io.h5netcdf_ import save_timeseries
from koopkit.io.zarr_ import is_zarr

__all__ = [
    "PathLike",
    "atomic_path",
    "encode_dataset",
    "is_zarr",
    "join_complex",
    "open_dataset",
    "open_timeseries",
    "save_timeseries",
    "split_complex",
]

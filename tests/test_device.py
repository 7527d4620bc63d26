"""The torch path of the linear backends: the same fit on another device.

CI has no GPU, so the path runs here with torch on the CPU (``device="torch:cpu"``), the
code a GPU runs; the GPU itself is measured by ``benchmarks/dmd_speed.py --device cuda``.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from conftest import TRUE_EIGENVALUES, make_linear, match

from koopkit import DMD, ExactDMD, KoopkitError

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("cls", [DMD, ExactDMD])
@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-10)])
@pytest.mark.parametrize("delays", [1, 4])
def test_torch_path_equals_numpy(cls, dtype, tol, delays):
    x = make_linear(TRUE_EIGENVALUES, 300, 200, 0.1).astype(dtype)
    ref = cls(rank=6, delays=delays, solver="gram", device="cpu").fit(x)
    got = cls(rank=6, delays=delays, device="torch:cpu").fit(x)
    assert got.solver_ == "gram"
    np.testing.assert_allclose(
        np.sort_complex(got.spectrum_.eigenvalues.values),
        np.sort_complex(ref.spectrum_.eigenvalues.values),
        atol=tol,
    )
    assert match(got.spectrum_.eigenvalues.values, TRUE_EIGENVALUES).max() < 100 * tol
    scale = np.abs(x.values).max()
    np.testing.assert_allclose(
        got.predict(steps=5).values, ref.predict(steps=5).values, atol=10 * tol * scale
    )
    np.testing.assert_allclose(got.spectrum_.residuals, ref.spectrum_.residuals, atol=tol)


def test_torch_path_with_trajectories_weights_and_scale():
    x = make_linear(TRUE_EIGENVALUES, 40, 200, 0.1)
    parts = [x.isel(time=slice(40 * i, 40 * i + 40)) * 1e200 for i in range(5)]
    w = xr.DataArray(np.linspace(0.5, 2, 40), dims="feature")
    ref = ExactDMD(rank=6, delays=2, solver="gram", device="cpu").fit(parts, weights=w)
    got = ExactDMD(rank=6, delays=2, device="torch:cpu").fit(parts, weights=w)
    np.testing.assert_allclose(
        np.sort_complex(got.spectrum_.eigenvalues.values),
        np.sort_complex(ref.spectrum_.eigenvalues.values),
        atol=1e-10,
    )
    np.testing.assert_allclose(got.predict(steps=3).values, ref.predict(steps=3).values, rtol=1e-8)


def test_device_errors_are_one_line():
    x = make_linear(TRUE_EIGENVALUES, 10, 50, 0.1)
    cases = [
        (dict(device="torch:cpu", solver="svd"), "runs the Gram solver"),
        (dict(device="nowhere"), "not a device"),
        (dict(device=3), "must be a string"),
    ]
    if not torch.cuda.is_available():
        cases.append((dict(device="cuda"), "no CUDA GPU"))
    for kwargs, message in cases:
        with pytest.raises(KoopkitError, match=message) as err:
            DMD(rank=6, **kwargs).fit(x)
        assert "\n" not in str(err.value)
    # "auto" without a GPU is the NumPy path: the same numbers as "cpu"
    if not torch.cuda.is_available():
        a = DMD(rank=6).fit(x).spectrum_.eigenvalues.values
        b = DMD(rank=6, device="cpu").fit(x).spectrum_.eigenvalues.values
        np.testing.assert_array_equal(a, b)


def test_lazy_data_with_an_explicit_device_is_refused():
    da = pytest.importorskip("dask.array")
    x = make_linear(TRUE_EIGENVALUES, 10, 50, 0.1)
    lazy = x.copy(data=da.from_array(x.values, chunks=(10, 10)))
    with pytest.raises(KoopkitError, match="works on data in memory"):
        DMD(rank=6, device="torch:cpu").fit(lazy)
    DMD(rank=6, device="auto").fit(lazy)  # auto: dask streams through NumPy


@pytest.mark.parametrize("form", ["primal", "kernel"])
def test_edmd_torch_path_equals_numpy(monkeypatch, form):
    from koopkit import EDMD
    from koopkit.backends import edmd as edmd_module
    from koopkit.observables import RBF, Polynomial

    monkeypatch.setattr(edmd_module, "QR_WORK_LIMIT", 0)  # the Gram path at any size
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 3)).cumsum(0) * 0.05
    obs = Polynomial(2) + RBF(20, seed=1)
    ref = EDMD(obs, rank=12, form=form, device="cpu").fit(x, dt=1.0, residual_data=x[::-1])
    got = EDMD(obs, rank=12, form=form, device="torch:cpu").fit(x, dt=1.0, residual_data=x[::-1])
    np.testing.assert_allclose(
        got.spectrum_.eigenvalues.values, ref.spectrum_.eigenvalues.values, atol=1e-9
    )
    np.testing.assert_allclose(got.predict(steps=3).values, ref.predict(steps=3).values, atol=1e-8)


def test_auto_device_does_not_import_torch_on_a_machine_without_a_gpu_driver():
    """device="auto" (every linear fit's default) asks torch for a GPU only where a GPU
    driver is present: importing torch costs about 350 MB of resident memory, which an
    out-of-core fit on a CPU machine must not pay. Run in a fresh interpreter."""
    import subprocess
    import sys

    from koopkit.backends._device import gpu_driver_present

    code = (
        "import sys, numpy as np; import koopkit; "
        "from koopkit.backends._device import gpu_possible; "
        "koopkit.DMD(rank=2).fit(np.random.default_rng(0).standard_normal((50, 4)), dt=0.1); "
        "koopkit.EDMD().fit(np.random.default_rng(0).standard_normal((50, 4)), dt=0.1); "
        "print(gpu_possible(), 'torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    if gpu_driver_present():  # a GPU machine: torch is asked, as it should be
        assert out[0] == "True"
    else:
        assert out == ["False", "False"]

"""The shared linear algebra: leading eigenpairs of Hermitian matrices, one BLAS thread."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
from threadpoolctl import threadpool_info

from koopkit.backends._linalg import HermitianEig, one_thread
from koopkit.backends._linalg import eigen as eigen_module


def _cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    n = 64
    a = rng.standard_normal((159, n)) * np.r_[np.geomspace(1, 1e-3, 7), 1e-3 * np.ones(n - 7)]
    ac = a + 1j * rng.standard_normal(a.shape) * 1e-3
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    b = rng.standard_normal((n, 3))
    t = np.arange(157)[:, None] * np.arange(256)[None, :] * 0.01
    smooth = np.cos(t)
    return {
        "noisy rank 7": a.T @ a,
        "complex": ac.conj().T @ ac,
        "diagonal": np.diag(np.arange(float(n))),
        "repeated leading eigenvalue": q @ np.diag(np.r_[3.0 * np.ones(5), np.zeros(n - 5)]) @ q.T,
        "rank 3": b @ b.T,
        "fast decay (157 x 157)": smooth @ smooth.T,
        "small (order below the piecewise route)": (b @ b.T)[:10, :10],
    }


@pytest.mark.parametrize("name", list(_cases()))
@pytest.mark.parametrize("k", [1, 5, 10])
def test_hermitian_eig_gives_every_eigenvalue_and_the_leading_eigenpairs(name, k):
    g = _cases()[name]
    eig = HermitianEig(g)
    ref = np.linalg.eigvalsh(g)[::-1]
    norm = max(abs(ref[0]), abs(ref[-1]))
    n = len(g)
    tol = 100 * n * np.finfo(float).eps * norm
    np.testing.assert_allclose(eig.values, ref, rtol=0, atol=tol)
    v = eig.leading(k)
    assert v.shape == (n, k)
    assert v.dtype == g.dtype
    # eigenpairs of the k largest eigenvalues, orthonormal, largest first
    np.testing.assert_allclose(g @ v, v * eig.values[:k], rtol=0, atol=tol)
    np.testing.assert_allclose(v.conj().T @ v, np.eye(k), rtol=0, atol=100 * n * 2.2e-16)
    # the same subspace as LAPACK's own driver where the k-th value is separated
    if k < n and ref[k - 1] - ref[k] > 1e-6 * norm:
        _, ref_v = sla.eigh(g, subset_by_index=[n - k, n - 1])
        overlap = np.linalg.svd(ref_v.conj().T @ v, compute_uv=False)
        np.testing.assert_allclose(overlap, 1.0, atol=1e-9)


def test_hermitian_eig_falls_back_to_lapack_when_its_check_fails(monkeypatch):
    g = _cases()["noisy rank 7"]
    monkeypatch.setattr(eigen_module, "_accurate", lambda *a: False)
    v = HermitianEig(g).leading(7)
    _, ref = sla.eigh(g, subset_by_index=[57, 63], driver="evr")
    np.testing.assert_allclose(np.abs(v), np.abs(ref[:, ::-1]), atol=1e-12)


def test_one_thread_limits_blas_inside_and_restores_it_after():
    def counts():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    before = counts()
    with one_thread():
        assert set(counts()) == {1}
        with one_thread():  # nested: nothing changes
            assert set(counts()) == {1}
        assert set(counts()) == {1}
    assert counts() == before

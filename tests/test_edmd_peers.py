"""koopkit's EDMD against deeptime's on the same data and the same dictionary.

EDMD's Koopman matrix is the Galerkin projection of the Koopman operator onto the span of
the dictionary in the data's inner product: it depends on the span, not on the basis or
on the route (koopkit: QR or Gram products, truncated SVD, or the kernel form; deeptime:
``pinv`` of the covariance). So both must give the same eigenvalues, up to round-off
amplified by the conditioning of the problem (the tolerances below say how much).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from koopkit import EDMD
from koopkit.backends.edmd import ResidualWarning
from koopkit.observables import RBF, GaussianKernel, Polynomial, RandomFourier

deeptime = pytest.importorskip("deeptime")
from deeptime.basis import Monomials  # noqa: E402
from deeptime.decomposition import EDMD as DeeptimeEDMD  # noqa: E402


def _matched_gap(a: np.ndarray, b: np.ndarray) -> float:
    """Largest ``|a_i - b_j|`` over an optimal one-to-one pairing of ``a`` into ``b``."""
    cost = np.abs(a[:, None] - b[None, :])
    rows, cols = linear_sum_assignment(cost)
    assert rows.size == a.size
    return float(cost[rows, cols].max())


def _pairs(rng: np.random.Generator, step, n: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    x = rng.uniform(-1, 1, (n, dim))
    return x, step(x)


def _trajectories(x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """Each pair as a 2-snapshot trajectory, as koopkit takes pairs."""
    return [np.stack([a, b]) for a, b in zip(x, y, strict=True)]


def test_williams_linear_map_both_packages_find_the_truth():
    """J = [[0.9, -0.1], [0, 0.8]], Polynomial(4): the 15 eigenvalues 0.9^i 0.8^j (i+j <= 4).

    The dictionary is closed under the map, so both packages must return the exact
    eigenvalues; round-off in a 15-function, well-conditioned problem stays below 1e-10.
    """
    j = np.array([[0.9, -0.1], [0.0, 0.8]])
    x, y = _pairs(np.random.default_rng(0), lambda x: x @ j.T, 500, 2)
    truth = np.array([0.9**a * 0.8**b for a in range(5) for b in range(5 - a)], dtype=complex)
    ours = EDMD(Polynomial(4)).fit(_trajectories(x, y), dt=1.0).spectrum_.eigenvalues.values
    theirs = DeeptimeEDMD(Monomials(4, 2)).fit((x, y)).fetch_model().eigenvalues
    assert ours.size == theirs.size == 15
    assert _matched_gap(truth, ours) < 1e-10
    assert _matched_gap(truth, theirs) < 1e-10
    assert _matched_gap(ours, theirs) < 1e-10


def test_rbf_dictionary_on_a_nonlinear_map_same_eigenvalues():
    """A nonlinear map (no finite invariant subspace), koopkit's fitted RBF(40) given to
    deeptime as its basis: all 40 eigenvalues agree.

    Tolerance: with width 0.2 the Gram matrix of these 40 Gaussians on 2,000 pairs has a
    condition number below 1e6 (checked; about 8e4), so each route's Koopman matrix is
    accurate to about ``cond * eps <= 2e-10`` relative; 1e-9 allows a factor 5 for the
    eigenvalues of this non-normal matrix (measured gap: 8e-12). With the default width
    (the median distance) the Gram's condition number is 5e17 and the two routes
    truncate differently: no tolerance would mean anything there.
    """
    rng = np.random.default_rng(1)

    def step(x):
        return np.stack([0.9 * x[:, 0] + 0.1 * x[:, 1] ** 2, 0.7 * x[:, 1] - 0.2 * x[:, 0]], 1)

    x, y = _pairs(rng, step, 2000, 2)
    model = EDMD(RBF(40, width=0.2, seed=3)).fit(_trajectories(x, y), dt=1.0)
    basis = model.observables_.transform  # the same 40 fitted functions
    psi = basis(x)
    assert np.linalg.cond(psi.T @ psi) < 1e6
    theirs = DeeptimeEDMD(basis).fit((x, y)).fetch_model().eigenvalues
    ours = model.spectrum_.eigenvalues.values
    assert model.rank_ == ours.size == theirs.size == 40
    assert _matched_gap(ours, theirs) < 1e-9


def test_kernel_form_matches_deeptime_with_the_explicit_functions():
    """400 random Fourier functions on 150 pairs: koopkit takes the kernel form (cost in
    the pairs), deeptime the primal form with all 400 functions (rank 150, 250 zero
    eigenvalues). The 150 non-zero eigenvalues agree.

    Tolerance: in 5 dimensions, with bandwidth 0.5, the 150 x 150 kernel Gram has a
    condition number below 1e4 (checked; about 400), so both routes are accurate to about
    1e-12; 1e-10 leaves room for the non-normal eigenvalue problem (measured: 2e-14).
    koopkit's kept dictionary is as large as the number of pairs here, so it fits them
    exactly and warns that their residuals are meaningless.
    """
    rng = np.random.default_rng(2)
    a = np.linalg.qr(rng.standard_normal((5, 5)))[0] * 0.95

    def step(x):
        return np.tanh(x @ a.T)

    x, y = _pairs(rng, step, 150, 5)
    with pytest.warns(ResidualWarning):
        model = EDMD(RandomFourier(400, bandwidth=0.5, seed=4)).fit(_trajectories(x, y), dt=1.0)
    assert model.form_ == "kernel"
    psi = model.observables_.transform(x)
    assert np.linalg.cond(psi @ psi.T) < 1e4
    theirs = DeeptimeEDMD(model.observables_.transform).fit((x, y)).fetch_model().eigenvalues
    ours = model.spectrum_.eigenvalues.values
    assert ours.size == 150
    assert np.sum(np.abs(theirs) > 1e-8) == 150
    assert _matched_gap(ours, theirs) < 1e-10


def _tanh_map(seed: int, n: int, dim: int = 5):
    rng = np.random.default_rng(seed)
    a = np.linalg.qr(rng.standard_normal((dim, dim)))[0] * 0.95
    return _pairs(rng, lambda x: np.tanh(x @ a.T), n, dim)


def test_exact_gaussian_kernel_is_deeptime_kernel_edmd():
    """``EDMD(GaussianKernel(sigma), regularization=eps)`` and deeptime's
    ``KernelEDMD(GaussianKernel(sigma), epsilon=eps)`` solve the same problem:
    ``(G_XX + eps I)^-1 G_YX``, koopkit in the orthogonal basis of ``G_XX``'s eigenvectors.
    All 150 eigenvalues agree, and so do the eigenfunctions at new states (``k(u, X)``
    times the eigenvectors), up to one complex factor each.

    Tolerance: the 150 x 150 Gram has a condition number below 1e4 (checked; about 130),
    so both routes are accurate to about 1e-12; 1e-10 leaves room for the non-normal
    eigenvalue problem (measured: 1e-14).
    """
    from deeptime.decomposition import KernelEDMD
    from deeptime.kernels import GaussianKernel as DeeptimeGaussian

    x, y = _tanh_map(2, 150)
    with pytest.warns(ResidualWarning):  # 150 kernel functions on 150 pairs: no residuals
        model = EDMD(GaussianKernel(0.5), regularization=1e-8).fit(_trajectories(x, y), dt=1.0)
    assert model.form_ == "kernel" and model.n_observables_ == 150
    assert np.linalg.cond(model.observables_.kernel(x)) < 1e4
    theirs = KernelEDMD(DeeptimeGaussian(0.5), epsilon=1e-8).fit((x, y)).fetch_model()
    ours = model.spectrum_.eigenvalues.values
    assert ours.size == theirs.eigenvalues.size == 150
    assert _matched_gap(ours, theirs.eigenvalues) < 1e-10
    # eigenfunctions at 40 new states, matched by eigenvalue, equal up to a factor
    new = np.random.default_rng(7).uniform(-1, 1, (40, 5))
    f_ours = model.eigenfunctions(new).values
    f_theirs = theirs.transform(new)
    cost = np.abs(ours[:, None] - theirs.eigenvalues[None, :])
    rows, cols = linear_sum_assignment(cost)
    worst = 0.0
    for i, j in zip(rows, cols, strict=True):
        if abs(ours[i]) < 0.5:  # the well-separated, well-conditioned part of the spectrum
            continue
        a, b = f_ours[:, i], f_theirs[:, j]
        scale = np.vdot(b, a) / np.vdot(b, b)
        worst = max(worst, np.linalg.norm(a - scale * b) / np.linalg.norm(a))
    assert worst < 1e-6


def test_gaussian_kernel_on_one_series_and_its_default_bandwidth_is_deeptime_s():
    """One trajectory of 200 snapshots, the default bandwidth (the median distance); deeptime
    is given koopkit's fitted bandwidth.

    Tolerance: the regularized Gram ``G_XX + 1e-3 I`` has a condition number below 1e6
    (checked; about 1.2e5), so both routes are accurate to about ``cond * eps``, 3e-11;
    1e-8 allows for the non-normal eigenvalue problem (measured: 6e-10). (With
    ``eps = 1e-8`` the condition number is 1e10 and the routes differ by 0.1.)"""
    from deeptime.decomposition import KernelEDMD
    from deeptime.kernels import GaussianKernel as DeeptimeGaussian

    rng = np.random.default_rng(5)
    a = np.linalg.qr(rng.standard_normal((4, 4)))[0] * 0.97
    x = [rng.uniform(-1, 1, 4)]
    for _ in range(199):
        x.append(np.tanh(a @ x[-1]) + 0.05 * rng.standard_normal(4))
    x = np.array(x)
    with pytest.warns(ResidualWarning):
        model = EDMD(GaussianKernel(), regularization=1e-3).fit(x, dt=1.0)
    sigma = model.observables_.bandwidth_
    gxx = model.observables_.kernel(x[:-1])
    assert np.linalg.cond(gxx + 1e-3 * np.eye(199)) < 1e6
    theirs = KernelEDMD(DeeptimeGaussian(sigma), epsilon=1e-3).fit((x[:-1], x[1:]))
    ours = model.spectrum_.eigenvalues.values
    assert ours.size == 199
    assert _matched_gap(ours, theirs.fetch_model().eigenvalues) < 1e-8


def test_gaussian_kernel_with_delays_is_deeptime_on_the_embedded_states():
    """``GaussianKernel(delays=3)`` is the kernel of the delay-embedded states: deeptime's
    KernelEDMD on the explicitly embedded states (built here with NumPy) gives the same
    eigenvalues."""
    from deeptime.decomposition import KernelEDMD
    from deeptime.kernels import GaussianKernel as DeeptimeGaussian

    rng = np.random.default_rng(11)
    t = np.arange(120) * 0.3
    x = np.stack([np.cos(t), np.sin(1.7 * t)], 1) + 0.05 * rng.standard_normal((120, 2))
    with pytest.warns(ResidualWarning):
        model = EDMD(GaussianKernel(1.0, delays=3), regularization=1e-8).fit(x, dt=0.3)
    states = np.concatenate([x[0:-2], x[1:-1], x[2:]], axis=1)  # oldest frame first
    theirs = KernelEDMD(DeeptimeGaussian(1.0), epsilon=1e-8).fit((states[:-1], states[1:]))
    ours = model.spectrum_.eigenvalues.values
    assert ours.size == 117
    assert _matched_gap(ours, theirs.fetch_model().eigenvalues) < 1e-9

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
from koopkit.observables import RBF, Polynomial, RandomFourier

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

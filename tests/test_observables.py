"""Observables: each dictionary against its formula, computed here independently."""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest

from koopkit import KoopkitError
from koopkit.observables import (
    RBF,
    Concatenated,
    Delays,
    GaussianKernel,
    Identity,
    Observable,
    Polynomial,
    RandomFourier,
)


@pytest.fixture
def x(rng):
    return rng.standard_normal((40, 3))


def test_polynomial_is_every_monomial_up_to_the_degree(x):
    poly = Polynomial(3).fit(x)
    psi = poly.transform(x)
    powers = poly.powers()
    # every exponent vector with total degree <= 3 exactly once: C(3 + 3, 3) = 20
    expected = {p for p in product(range(4), repeat=3) if sum(p) <= 3}
    assert psi.shape == (40, 20) and {tuple(p) for p in powers} == expected
    assert list(powers.sum(1)) == sorted(powers.sum(1))  # by degree
    direct = np.prod(x[:, None, :] ** powers[None], axis=2)
    np.testing.assert_allclose(psi, direct, rtol=1e-13, atol=1e-14)
    no_bias = Polynomial(2, include_bias=False).fit(x)
    assert no_bias.transform(x).shape == (40, 9) and not (no_bias.powers().sum(1) == 0).any()


def test_delays_stack_oldest_first_like_dmd(x):
    d = Delays(3).fit(x)
    psi = d.transform(x)
    assert d.lag == 2 and psi.shape == (38, 9)
    np.testing.assert_array_equal(psi[5], np.concatenate([x[5], x[6], x[7]]))
    # the same embedding DMD uses, never built: its Gram equals the built one's
    emb = d.embedding(x)
    np.testing.assert_allclose(emb.gram(), psi @ psi.T, rtol=1e-12)


def test_rbf_is_gaussian_around_training_snapshots(x):
    rbf = RBF(7, seed=3).fit(x)
    assert rbf.centers_.shape == (7, 3)
    # centres are rows of the data
    assert all(np.any(np.all(x == c, axis=1)) for c in rbf.centers_)
    d2 = ((x[:, None, :] - rbf.centers_[None]) ** 2).sum(-1)
    np.testing.assert_allclose(rbf.transform(x), np.exp(-d2 / (2 * rbf.width_**2)), rtol=1e-12)
    # the default width is the median distance between the centres
    c = rbf.centers_
    dist = np.sqrt(((c[:, None] - c[None]) ** 2).sum(-1))[np.triu_indices(7, 1)]
    assert rbf.width_ == pytest.approx(np.median(dist))
    assert RBF(7, width=2.0).fit(x).width_ == 2.0
    np.testing.assert_array_equal(RBF(7, seed=3).fit(x).centers_, rbf.centers_)


def test_random_fourier_features_approximate_the_gaussian_kernel(rng):
    x = rng.standard_normal((30, 2))
    sigma = 1.3
    exact = np.exp(-((x[:, None] - x[None]) ** 2).sum(-1) / (2 * sigma**2))
    errors = []
    for n in (200, 20000):
        z = RandomFourier(n, bandwidth=sigma, seed=1).fit(x).transform(x)
        errors.append(np.abs(z @ z.T - exact).max())
    # Monte Carlo error shrinks like 1/sqrt(n): 10x from 100x more features (with slack)
    assert errors[1] < 0.03 and errors[1] < errors[0] / 4


def test_gaussian_kernel_is_the_gaussian_of_the_distances(rng):
    """The Gram matrix against a direct NumPy evaluation, on data far from the origin
    (an offset 1e4 times their spread: the centring keeps the distances accurate)."""
    x = 1e4 + rng.standard_normal((60, 3))
    gauss = GaussianKernel(bandwidth=0.8).fit(x)
    direct = np.exp(-((x[:, None] - x[None]) ** 2).sum(-1) / (2 * 0.8**2))
    np.testing.assert_allclose(gauss.kernel(x), direct, rtol=0, atol=1e-10)
    np.testing.assert_allclose(gauss.kernel(x[:7], x[20:]), direct[:7, 20:], rtol=0, atol=1e-10)
    assert np.array_equal(np.diag(gauss.kernel(x)), np.ones(60))
    np.testing.assert_array_equal(gauss.kernel(x[3]), gauss.kernel(x[3:4]))  # one state
    np.testing.assert_allclose(gauss.fit_kernel(x), direct, rtol=0, atol=1e-10)


def test_gaussian_kernel_default_bandwidth_is_random_fourier_s(rng):
    """The median distance between up to 500 training states, drawn as RandomFourier draws
    them (the same ``sigma`` on the same data and seed); below 500 states, all of them."""
    for n in (80, 700):
        x = rng.standard_normal((n, 3))
        gauss = GaussianKernel(seed=4).fit(x)
        assert gauss.bandwidth_ == RandomFourier(10, seed=4).fit(x).bandwidth_
    small = rng.standard_normal((80, 3))
    dist = np.sqrt(((small[:, None] - small[None]) ** 2).sum(-1))[np.triu_indices(80, 1)]
    assert GaussianKernel().fit(small).bandwidth_ == pytest.approx(np.median(dist), rel=1e-12)
    # the Gram computed with the fit shares its distances and gives the same bandwidth
    twin = GaussianKernel()
    k = twin.fit_kernel(small)
    assert twin.bandwidth_ == GaussianKernel().fit(small).bandwidth_
    np.testing.assert_allclose(k, GaussianKernel().fit(small).kernel(small), atol=1e-15)


def test_gaussian_kernel_with_delays_is_the_kernel_of_the_embedded_states(x):
    gauss = GaussianKernel(bandwidth=2.0, delays=3).fit(x)
    states = gauss.states(x)
    assert gauss.lag == 2 and states.shape == (38, 9)
    np.testing.assert_array_equal(states, Delays(3).fit(x).transform(x))
    direct = np.exp(-((states[:, None] - states[None]) ** 2).sum(-1) / 8.0)
    np.testing.assert_allclose(gauss.kernel(states), direct, atol=1e-13)
    np.testing.assert_allclose(gauss.fit_kernel(x), direct, atol=1e-13)
    # the default bandwidth: the median distance between the embedded states
    dist = np.sqrt(((states[:, None] - states[None]) ** 2).sum(-1))[np.triu_indices(38, 1)]
    assert GaussianKernel(delays=3).fit(x).bandwidth_ == pytest.approx(np.median(dist))
    twin = GaussianKernel(delays=3).fit(x)
    assert twin.clone().set_state(twin.get_state()).bandwidth_ == twin.bandwidth_


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda x: GaussianKernel() + Identity(), "cannot be combined"),
        (lambda x: Polynomial(2) + GaussianKernel(), "cannot be combined"),
        (lambda x: Delays(2) + (Identity() + GaussianKernel()), "cannot be combined"),
        (lambda x: GaussianKernel().fit(x).transform(x), "no finite list of functions"),
        (lambda x: GaussianKernel().kernel(x), "not fitted"),
        (lambda x: GaussianKernel().fit(x).kernel(x[:, :2]), "not states of 3 features"),
        (lambda x: GaussianKernel(delays=2).fit(x).kernel(x), "not states of 6 features"),
        (lambda x: GaussianKernel().fit(x + 1j), "real data"),
        (lambda x: GaussianKernel(bandwidth=0.0).fit(x), "bandwidth=0.0"),
        (lambda x: GaussianKernel(bandwidth="wide").fit(x), "bandwidth='wide'"),
        (lambda x: GaussianKernel(delays=50).fit(x), "needs 50 snapshots"),
    ],
)
def test_gaussian_kernel_bad_input_gives_one_line_errors(x, make, message):
    with pytest.raises(KoopkitError, match=message) as err:
        make(x)
    assert "\n" not in str(err.value)


def test_concatenation_aligns_rows_on_the_newest_snapshot(x):
    both = Delays(2) + Polynomial(1)
    assert isinstance(both, Concatenated)
    psi = both.fit(x).transform(x)
    assert both.lag == 1 and psi.shape == (39, 6 + 4)
    np.testing.assert_array_equal(psi[0, :6], np.concatenate([x[0], x[1]]))
    np.testing.assert_array_equal(psi[0, 6:], [1.0, *x[1]])  # the newest snapshot, x[1]
    three = both + Identity()
    assert len(three.parts) == 3 and three.fit(x).transform(x).shape == (39, 13)


def test_clone_is_unfitted_with_the_same_parameters(x):
    obs = (RBF(5, seed=2) + Polynomial(2)).fit(x)
    copy = obs.clone()
    assert repr(copy) == repr(obs) and not hasattr(copy.parts[0], "centers_")
    assert copy.parts[0] is not obs.parts[0]


def test_a_new_observable_is_one_class_with_one_method(x):
    class Sines(Observable):
        def transform(self, x):
            return np.sin(self._check(x))

    np.testing.assert_array_equal(Sines().fit(x).transform(x), np.sin(x))
    assert repr(Sines()) == "Sines()"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda x: Polynomial(0).fit(x), "degree=0"),
        (lambda x: Polynomial(40).fit(np.ones((3, 30))), "monomials"),
        (lambda x: RBF(100).fit(x), "at least 100 training snapshots"),
        (lambda x: RBF(3, width=-1.0).fit(x), "width"),
        (lambda x: RandomFourier(5, bandwidth=0.0).fit(x), "bandwidth"),
        (lambda x: Polynomial(2).transform(x), "not fitted"),
        (lambda x: Polynomial(2).fit(x).transform(np.ones((4, 2))), "fitted on 3 features"),
        (lambda x: Delays(3).fit(x).transform(x[:2]), "needs 3 snapshots"),
        (lambda x: RBF(3).fit(x + 1j), "real data"),
    ],
)
def test_bad_input_gives_one_line_errors(x, make, message):
    with pytest.raises(KoopkitError, match=message) as err:
        make(x)
    assert "\n" not in str(err.value)

"""The tanh-squashed Gaussian against numerical references."""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

from memb.networks.distributions import bounded_log_std, gaussian_log_prob, tanh_gaussian_log_prob


def density_1d(a, mean, log_std):
    u = np.arctanh(a)
    return float(np.exp(tanh_gaussian_log_prob(jnp.array([[u]]), jnp.array([[mean]]), jnp.array([[log_std]]))[0]))


@pytest.mark.parametrize("mean,log_std", [(0.0, 0.0), (0.7, -0.5), (-1.5, 0.4)])
def test_tanh_gaussian_density_is_derivative_of_the_cdf(mean, log_std):
    # P(tanh(u) <= x) = Phi((atanh(x) - mean) / std); its numerical derivative is the density.
    std = np.exp(log_std)
    cdf = lambda x: stats.norm.cdf((np.arctanh(x) - mean) / std)  # noqa: E731
    for x in (-0.9, -0.3, 0.0, 0.5, 0.95):
        h = 1e-5
        numeric = (cdf(x + h) - cdf(x - h)) / (2 * h)
        assert density_1d(x, mean, log_std) == pytest.approx(numeric, rel=1e-3)


def test_tanh_gaussian_density_integrates_to_one():
    total, _ = integrate.quad(lambda a: density_1d(a, 0.3, -0.2), -1 + 1e-9, 1 - 1e-9, limit=200)
    assert total == pytest.approx(1.0, abs=1e-4)


def test_multivariate_log_prob_is_sum_of_dimensions_and_matches_scipy():
    rng = np.random.default_rng(1)
    u, mean, log_std = rng.normal(size=(3, 5, 4))
    expected_gauss = stats.norm.logpdf(u, mean, np.exp(log_std)).sum(-1)
    np.testing.assert_allclose(gaussian_log_prob(u, mean, log_std), expected_gauss, rtol=1e-5)
    expected = expected_gauss - np.log(1 - np.tanh(u) ** 2).sum(-1)
    np.testing.assert_allclose(tanh_gaussian_log_prob(u, mean, log_std), expected, rtol=1e-5)


def test_log_prob_stays_finite_when_the_action_saturates():
    # tanh(20) == 1.0 in float32: a density through a = tanh(u) would be inf; through u it is exact.
    lp = tanh_gaussian_log_prob(jnp.array([[20.0]]), jnp.array([[19.0]]), jnp.array([[0.0]]))
    expected = stats.norm.logpdf(20.0, 19.0, 1.0) - (2 * (np.log(2) - 20 - np.log1p(np.exp(-40))))
    assert np.isfinite(lp).all()
    assert float(lp[0]) == pytest.approx(expected, rel=1e-5)


def test_bounded_log_std_maps_onto_the_authors_range():
    raw = jnp.array([-100.0, 0.0, 100.0])
    np.testing.assert_allclose(bounded_log_std(raw, -20.0, 2.0), [-20.0, -9.0, 2.0])

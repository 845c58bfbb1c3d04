import numpy as np
import pytest

import dualfilter as df
from dualfilter import brute_force as bf


@pytest.mark.parametrize("T", [1, 3, 6])
def test_riccati_mse_equals_best_additive_mse(small_hmm, T):
    rng = np.random.default_rng(T)
    for _ in range(3):
        f = rng.normal(size=small_hmm.n_states)
        lp = df.linear_predictor(small_hmm, T)
        assert abs(lp.mse(f) - bf.best_additive_mse(small_hmm, f, T)) < 1e-9


def test_riccati_estimator_achieves_its_mse(small_hmm):
    """The estimator built from the gains has exactly the mean-square error f^T Sigma_T f."""
    T = 5
    f = np.linspace(-1, 1, small_hmm.n_states) ** 2
    lp = df.linear_predictor(small_hmm, T)
    achieved = bf.estimator_mse(small_hmm, f, T, lambda z: lp.estimate(z, f))
    assert abs(achieved - lp.mse(f)) < 1e-10
    assert abs(df.control_cost(small_hmm, f, lp.controls(f)) - lp.mse(f)) < 1e-10


def test_sigma_zero_is_prior_covariance_and_psd():
    h = df.random_hmm(5, 3, seed=2, stickiness=0.6)
    lp = df.linear_predictor(h, 20)
    np.testing.assert_allclose(lp.Sigma[0], np.diag(h.mu) - np.outer(h.mu, h.mu), atol=1e-15)
    assert lp.Sigma.shape == (21, 5, 5) and lp.gains.shape == (20, 3, 5)
    for S in lp.Sigma:
        np.testing.assert_allclose(S, S.T, atol=1e-14)
        assert np.linalg.eigvalsh(S).min() > -1e-12
        np.testing.assert_allclose(S @ np.ones(5), 0, atol=1e-12)  # constants are known exactly


@pytest.mark.parametrize("concentration", [0.1, 1.0, 10.0])
def test_mmse_below_linear_mse(concentration):
    h = df.random_hmm(3, 3, seed=4, emission_concentration=concentration, stickiness=0.5)
    T = 6
    for k in range(3):
        f = np.eye(3)[k]
        assert bf.mmse(h, f, T) <= df.linear_predictor(h, T).mse(f) + 1e-12


def test_linear_predictor_validation():
    h = df.random_hmm(3, 2, seed=0)
    with pytest.raises(ValueError, match="T must be a non-negative integer"):
        df.linear_predictor(h, -2)
    lp = df.linear_predictor(h, 3)
    with pytest.raises(ValueError, match="tokens must have length T = 3"):
        lp.estimate([0, 1], np.ones(3))

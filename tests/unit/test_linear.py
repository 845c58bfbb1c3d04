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


def test_estimates_are_the_riccati_estimates_for_every_horizon():
    """Row t of LinearPredictor.estimates is the best additive estimate from the first t
    tokens: m_t f = linear_predictor(hmm, t).estimate(tokens[:t], f) for every f."""
    hmm = df.random_hmm(4, 3, seed=2)
    _, tokens = df.sample(hmm, 7, seed=3)
    m = df.linear_predictor(hmm, 7).estimates(tokens)
    assert m.shape == (8, 4)
    for f in (np.array([0.5, -1.0, 2.0, 0.0]), np.eye(4)[1]):
        for t in range(8):
            assert abs(m[t] @ f - df.linear_predictor(hmm, t).estimate(tokens[:t], f)) < 1e-10
    np.testing.assert_allclose(df.linear_predictor(hmm, 9).estimates(tokens), m, atol=1e-13)
    with pytest.raises(ValueError, match="at most T = 5"):
        df.linear_predictor(hmm, 5).estimates(tokens)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        df.linear_predictor(hmm, 7).estimates([0, 3])


def test_mc_mmse_is_the_control_variate_estimate_and_close_to_the_exact_mmse():
    hmm = df.random_hmm(3, 2, seed=5, stickiness=0.5, emission_concentration=0.5)
    f = np.array([1.0, 0.0, 2.0])
    lp = df.linear_predictor(hmm, 8)
    gap = 0.0                                   # the definition, path by path
    for k in range(5):
        _, tokens = df.sample(hmm, 8, seed=(0, k))
        gap += (df.predict(hmm, tokens)[8] @ f - lp.estimate(tokens, f)) ** 2
    assert abs(bf.mc_mmse(lp, f, 0, 5) - (lp.mse(f) - gap / 5)) < 1e-12
    exact = bf.mmse(hmm, f, 8)
    estimate = bf.mc_mmse(lp, f, seed=0, paths=400)
    assert abs(estimate - exact) < 0.05 * exact
    assert estimate <= lp.mse(f)
    for paths in (0, 2.5, True):
        with pytest.raises(ValueError, match="paths must be a positive integer"):
            bf.mc_mmse(lp, f, 0, paths)

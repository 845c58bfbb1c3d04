"""Extreme but valid models: the kernels must stay finite and exact where float64 allows.

The reference is the forward algorithm in log space of tests/oracles.py: log-probabilities
are combined with logsumexp (numpy's ``logaddexp.reduce``, which is scipy.special.logsumexp
without its per-call overhead: 10^5 steps must run in about a second), so nothing underflows
however small the probabilities are.
"""

import numpy as np
import pytest
from scipy.special import logsumexp

import dualfilter as df
from oracles import log_space_forward


def near_deterministic_model(d=4, eps=1e-300, stickiness=1 - 1e-12, seed=0):
    """State i emits token i with probability ~1 and every other token with probability eps."""
    A = df.random_hmm(d, 2, seed=seed, stickiness=stickiness).A
    C = np.full((d, d + 1), eps)
    C[np.arange(d), np.arange(d)] = 1.0 - d * eps
    return df.HMM(A, C, np.full(d, 1.0 / d))


def test_reference_logsumexp_agrees_with_scipy():
    rng = np.random.default_rng(0)
    x = rng.normal(scale=300.0, size=(7, 5))
    np.testing.assert_allclose(np.logaddexp.reduce(x, axis=0), logsumexp(x, axis=0), rtol=1e-14)


def test_long_sticky_near_deterministic_sequence_matches_log_space():
    """T = 100000, emissions 1e-300, stickiness 1 - 1e-12: finite, normalised, exact."""
    h = near_deterministic_model()
    rng = np.random.default_rng(1)
    # long runs of each state's own token, with rare tokens (probability ~1e-300) inside
    tokens = np.repeat(rng.integers(0, 4, size=50), 2000)
    tokens[rng.choice(tokens.size, size=30, replace=False)] = 4
    pi = df.predict(h, tokens)
    assert pi.shape == (100_001, 4)
    assert np.all(np.isfinite(pi)) and np.all(pi >= 0)
    np.testing.assert_allclose(pi.sum(axis=1), 1.0, atol=1e-12)
    ref = log_space_forward(h, tokens)
    log_ref, loglik_ref = ref.log_pi, ref.loglik
    np.testing.assert_allclose(pi, np.exp(log_ref), rtol=0, atol=1e-12)
    loglik = df.log_likelihood(h, tokens)
    assert loglik < -1e4  # 30 tokens of probability ~1e-300 and many state switches
    assert abs(loglik - loglik_ref) <= 1e-10 * abs(loglik_ref)


def test_tiny_positive_probability_is_not_reported_as_zero():
    """P(token) ~ 1e-350 underflows in the plain normaliser; the rescaled step keeps it."""
    A = [[1.0, 1e-200], [0.5, 0.5]]              # row 0 sums to 1 in float64
    C = [[1.0, 0.0], [1.0, 1e-150]]
    h = df.HMM(A, C, [1.0, 0.0])
    tokens = np.array([0, 0, 1, 0])
    pi = df.predict(h, tokens)
    ref = log_space_forward(h, tokens)
    log_ref, loglik_ref = ref.log_pi, ref.loglik
    assert loglik_ref < -700                     # exp of it underflows to 0 in float64
    np.testing.assert_allclose(pi, np.exp(log_ref), rtol=1e-12, atol=0)
    np.testing.assert_allclose(pi[3], h.A[1], rtol=1e-15)   # the state is now known: X_2 = 1
    assert abs(df.log_likelihood(h, tokens) - loglik_ref) <= 1e-12 * abs(loglik_ref)
    batch = df.log_likelihood(h, np.stack([tokens, tokens[::-1]]))
    assert abs(batch[0] - loglik_ref) <= 1e-12 * abs(loglik_ref)
    rho = df.dual_filter(h, tokens, len(tokens) + 1)
    np.testing.assert_allclose(rho, pi, atol=1e-12)


def test_exactly_zero_probability_is_still_refused():
    A = [[1.0, 0.0], [0.5, 0.5]]
    C = [[1.0, 0.0], [1.0, 1e-150]]
    h = df.HMM(A, C, [1.0, 0.0])
    with pytest.raises(ValueError, match="token 1 at position 2 has zero probability"):
        df.predict(h, [0, 0, 1])


@pytest.mark.parametrize("eps", [1e-300, 1e-200, 1e-30])
def test_dual_filter_stays_finite_on_near_deterministic_models(eps):
    h = near_deterministic_model(eps=eps, stickiness=1 - 1e-12, seed=2)
    rng = np.random.default_rng(3)
    tokens = np.repeat(rng.integers(0, 4, size=20), 50)
    pi = df.predict(h, tokens)
    rho = df.dual_filter(h, tokens, 12)
    assert np.all(np.isfinite(rho))
    assert np.abs(df.fixed_point_map(h, tokens, pi) - pi).max() < 1e-12

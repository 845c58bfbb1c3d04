import numpy as np
import pytest
from oracles import hmmlearn_model as _hmmlearn_model

import dualfilter as df
from dualfilter.brute_force import joint_weights


@pytest.mark.parametrize("d, n, T, seed", [(2, 3, 10, 0), (5, 4, 200, 1), (12, 30, 500, 2), (40, 100, 1000, 3)])
def test_log_likelihood_matches_hmmlearn(d, n, T, seed):
    h = df.random_hmm(d, n, seed=seed, stickiness=0.3)
    _, tokens = df.sample(h, T, seed=seed + 100)
    expected = _hmmlearn_model(h).score(tokens.reshape(-1, 1))
    got = df.log_likelihood(h, tokens)
    assert abs(got - expected) <= 1e-9 * abs(expected)


@pytest.mark.parametrize("d, n, T, seed", [(3, 4, 50, 4), (8, 5, 300, 5)])
def test_predict_matches_hmmlearn_posteriors(d, n, T, seed):
    """hmmlearn's filtered posteriors P(X_t | Z_0..Z_t), pushed through A, are pi_{t+1}."""
    h = df.random_hmm(d, n, seed=seed)
    _, tokens = df.sample(h, T, seed=seed)
    pi = df.predict(h, tokens)
    model = _hmmlearn_model(h)
    # hmmlearn has no public filter; its forward lattice on prefixes gives the same quantity.
    for t in (0, 1, T // 2, T - 1):
        _, post = model.score_samples(tokens[: t + 1].reshape(-1, 1))
        np.testing.assert_allclose(post[-1] @ h.A, pi[t + 1], atol=1e-10)


def test_predict_matches_enumeration(small_hmm):
    """pi_T = alpha_T / sum(alpha_T) with alpha the joint weights of every sequence."""
    T = 5
    seqs, alpha = joint_weights(small_hmm, T)
    for k in range(0, seqs.shape[0], 7):
        pi = df.predict(small_hmm, seqs[k])
        np.testing.assert_allclose(pi[-1], alpha[k] / alpha[k].sum(), atol=1e-12)
        np.testing.assert_allclose(
            df.log_likelihood(small_hmm, seqs[k]), np.log(alpha[k].sum()), atol=1e-12
        )


def test_next_token_probs_are_marginals_of_the_joint(small_hmm):
    """P(Z_T = z | Z_{0:T-1}) equals the ratio of joint probabilities of T+1 and T tokens."""
    T = 4
    seqs, alpha = joint_weights(small_hmm, T)
    seqs_long, alpha_long = joint_weights(small_hmm, T + 1)
    probs_long = alpha_long.sum(1)
    n = small_hmm.n_tokens
    for k in range(seqs.shape[0]):
        got = df.next_token_probs(small_hmm, seqs[k])[-1]
        expected = probs_long[k * n:(k + 1) * n] / alpha[k].sum()
        np.testing.assert_allclose(got, expected, atol=1e-12)
        assert abs(got.sum() - 1) < 1e-12


def test_predict_rows_are_probabilities_and_empty_sequence():
    h = df.random_hmm(6, 5, seed=0)
    _, tokens = df.sample(h, 100, seed=0)
    pi = df.predict(h, tokens)
    assert pi.shape == (101, 6)
    np.testing.assert_allclose(pi.sum(1), 1, atol=1e-12)
    assert (pi >= 0).all()
    np.testing.assert_array_equal(df.predict(h, []), h.mu[None, :])
    assert df.log_likelihood(h, np.array([], dtype=int)) == 0.0


def test_zero_probability_token_is_named():
    A = np.eye(2)
    C = np.array([[1.0, 0.0], [0.5, 0.5]])
    h = df.HMM(A, C, [1.0, 0.0])
    with pytest.raises(ValueError, match="token 1 at position 2 has zero probability"):
        df.predict(h, [0, 0, 1])
    with pytest.raises(ValueError, match="position 2"):
        df.log_likelihood(h, [0, 0, 1])


@pytest.mark.parametrize(
    "tokens, message",
    [
        ([0, 5], "token 5 at position 1 is outside the vocabulary 0..2"),
        ([0, -1], "token -1 at position 1 is outside"),
        ([0.0, 1.0], "tokens must be integers"),
        ([[[0, 1]]], r"tokens must have shape"),
        (["a"], "tokens must be integers"),
    ],
)
def test_bad_tokens_are_rejected(tokens, message):
    h = df.random_hmm(2, 3, seed=0)
    with pytest.raises(ValueError, match=message):
        df.predict(h, tokens)

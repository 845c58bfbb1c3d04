"""Batched inputs, tokens (B, T): every sequence gets exactly its single-sequence answer."""

import numpy as np
import pytest

import dualfilter as df


@pytest.fixture(params=[(1, 6, 5, 0), (4, 7, 9, 1), (9, 30, 40, 2)], ids=lambda p: f"B{p[0]}d{p[1]}")
def batch(request):
    """(hmm, tokens (B, T)) with every sequence sampled from the model."""
    B, d, n, seed = request.param
    h = df.random_hmm(d, n, seed=seed, stickiness=0.4, emission_concentration=0.3)
    tokens = np.stack([df.sample(h, 60, seed=seed * 100 + b)[1] for b in range(B)])
    return h, tokens


def test_predict_and_likelihood_match_each_sequence(batch):
    h, tokens = batch
    pi = df.predict(h, tokens)
    loglik = df.log_likelihood(h, tokens)
    probs = df.next_token_probs(h, tokens)
    assert pi.shape == (len(tokens), tokens.shape[1] + 1, h.n_states)
    assert loglik.shape == (len(tokens),) and probs.shape == (len(tokens), tokens.shape[1] + 1, h.n_tokens)
    for b, seq in enumerate(tokens):
        np.testing.assert_allclose(pi[b], df.predict(h, seq), rtol=0, atol=1e-12)
        assert abs(loglik[b] - df.log_likelihood(h, seq)) <= 1e-12 * abs(loglik[b])
        np.testing.assert_allclose(probs[b], df.next_token_probs(h, seq), rtol=0, atol=1e-12)


@pytest.mark.parametrize("normalize", [True, False])
def test_layer_map_and_dual_filter_match_each_sequence(batch, normalize):
    h, tokens = batch
    B, T = tokens.shape
    rng = np.random.default_rng(5)
    rho = rng.dirichlet(np.ones(h.n_states), size=(B, T + 1))
    out = df.fixed_point_map(h, tokens, rho, normalize=normalize)
    layers = df.dual_filter(h, tokens, 4, init=rho, normalize=normalize, relax=0.7, return_all=True)
    prior = df.dual_filter(h, tokens, 3, normalize=normalize)
    assert out.shape == (B, T + 1, h.n_states) and layers.shape == (B, 5, T + 1, h.n_states)
    for b, seq in enumerate(tokens):
        np.testing.assert_allclose(out[b], df.fixed_point_map(h, seq, rho[b], normalize=normalize),
                                   rtol=0, atol=1e-12)
        single = df.dual_filter(h, seq, 4, init=rho[b], normalize=normalize, relax=0.7, return_all=True)
        np.testing.assert_allclose(layers[b], single, rtol=0, atol=1e-12)
        np.testing.assert_allclose(prior[b], df.dual_filter(h, seq, 3, normalize=normalize),
                                   rtol=0, atol=1e-12)


def test_batched_dual_filter_reaches_the_filter(batch):
    """T+1 layers give the nonlinear predictor exactly, for every sequence of the batch."""
    h, tokens = batch
    assert np.abs(df.dual_filter(h, tokens, tokens.shape[1] + 1) - df.predict(h, tokens)).max() < 1e-10


def test_batch_of_one_and_empty_sequences():
    h = df.random_hmm(5, 4, seed=7)
    _, seq = df.sample(h, 30, seed=1)
    np.testing.assert_allclose(df.predict(h, seq[None])[0], df.predict(h, seq), rtol=0, atol=1e-12)
    assert df.predict(h, seq[None]).shape == (1, 31, 5)
    assert df.log_likelihood(h, seq[None]).shape == (1,)
    assert df.dual_filter(h, seq[None], 2).shape == (1, 31, 5)
    assert df.dual_filter(h, seq[None], 2, return_all=True).shape == (1, 3, 31, 5)
    empty = np.zeros((3, 0), dtype=np.int64)
    np.testing.assert_array_equal(df.predict(h, empty), np.broadcast_to(h.mu, (3, 1, 5)))
    np.testing.assert_array_equal(df.log_likelihood(h, empty), np.zeros(3))
    np.testing.assert_array_equal(df.dual_filter(h, empty, 2), np.broadcast_to(h.mu, (3, 1, 5)))


def test_zero_probability_token_names_sequence_and_position():
    A = np.eye(2)
    C = np.array([[1.0, 0.0], [0.5, 0.5]])
    h = df.HMM(A, C, [1.0, 0.0])
    tokens = np.array([[0, 0, 0], [0, 0, 0], [0, 0, 1]])
    message = "token 1 at position 2 of sequence 2 has zero probability"
    for call in (df.predict, df.log_likelihood, df.next_token_probs):
        with pytest.raises(ValueError, match=message):
            call(h, tokens)


@pytest.mark.parametrize(
    "tokens, message",
    [
        (np.zeros((2, 2, 3), dtype=int), r"tokens must have shape \(T,\) or \(B, T\)"),
        ([[0, 1], [1, 3]], r"token 3 at position \(1, 1\) is outside the vocabulary"),
        ([[0.0, 1.0]], "tokens must be integers"),
    ],
)
def test_bad_batches_are_rejected(tokens, message):
    h = df.random_hmm(3, 3, seed=0)
    for call in (df.predict, lambda h, z: df.dual_filter(h, z, 1)):
        with pytest.raises(ValueError, match=message):
            call(h, tokens)


def test_batched_measures_must_match_the_batch():
    h = df.random_hmm(3, 3, seed=0)
    tokens = np.array([[0, 1], [2, 1]])
    with pytest.raises(ValueError, match=r"rho must have shape \(B, T\+1, n_states\) = \(2, 3, 3\)"):
        df.fixed_point_map(h, tokens, h.prior_marginals(2))
    with pytest.raises(ValueError, match=r"init must have shape \(B, T\+1, n_states\)"):
        df.dual_filter(h, tokens, 1, init=np.ones((3, 3, 3)) / 3)
    bad = np.full((2, 3, 3), 1 / 3)
    bad[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match="init contains NaN or infinite entries"):
        df.dual_filter(h, tokens, 1, init=bad)

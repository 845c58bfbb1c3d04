import numpy as np
import pytest

import dualfilter as df


def _direct_layer_map(h, tokens, rho):
    """(FP) written as the double sum, with no scan and no normalisation."""
    T = len(tokens)
    out = np.empty_like(rho)
    for t in range(T + 1):
        acc = h.mu @ np.linalg.matrix_power(h.A, t)
        for s in range(t):
            post = rho[s] * h.C[:, tokens[s]] / (rho[s] @ h.C[:, tokens[s]])
            acc = acc + (post - rho[s]) @ np.linalg.matrix_power(h.A, t - s)
        out[t] = acc
    return out


@pytest.fixture
def sequence():
    h = df.random_hmm(5, 4, seed=3, stickiness=0.5, emission_concentration=0.5)
    _, tokens = df.sample(h, 40, seed=8)
    return h, tokens


def test_layer_map_is_the_double_sum(sequence):
    h, tokens = sequence
    rng = np.random.default_rng(0)
    rho = rng.dirichlet(np.ones(5), size=41)
    for normalize in (True, False):  # identical on the simplex
        np.testing.assert_allclose(
            df.fixed_point_map(h, tokens, rho, normalize=normalize),
            _direct_layer_map(h, tokens, rho), atol=1e-12,
        )


def test_filter_is_a_fixed_point(sequence):
    h, tokens = sequence
    pi = df.predict(h, tokens)
    for normalize in (True, False):
        assert np.abs(df.fixed_point_map(h, tokens, pi, normalize=normalize) - pi).max() < 1e-12


@pytest.mark.parametrize("normalize", [True, False])
def test_T_plus_one_layers_are_exact_from_any_start(sequence, normalize):
    h, tokens = sequence
    T = len(tokens)
    pi = df.predict(h, tokens)
    rng = np.random.default_rng(1)
    starts = ["prior", rng.dirichlet(np.ones(5), size=T + 1), np.abs(rng.normal(size=(T + 1, 5))) + 0.1]
    for init in starts:
        rho = df.dual_filter(h, tokens, T + 1, init=init, normalize=normalize)
        assert np.abs(rho - pi).max() < 1e-10


def test_causality_positions_become_exact_one_by_one(sequence):
    h, tokens = sequence
    pi = df.predict(h, tokens)
    layers = df.dual_filter(h, tokens, 10, return_all=True)
    assert layers.shape == (11, 41, 5)
    for k in range(1, 11):
        assert np.abs(layers[k, :k] - pi[:k]).max() < 1e-12


def test_uniqueness_only_fixed_point_on_the_simplex(sequence):
    """Any fixed point of N found from random simplex starts equals pi."""
    h, tokens = sequence
    pi = df.predict(h, tokens)
    rng = np.random.default_rng(5)
    for _ in range(5):
        rho = df.dual_filter(h, tokens, 200, init=rng.dirichlet(np.ones(5), size=41))
        assert np.abs(df.fixed_point_map(h, tokens, rho) - rho).max() < 1e-12
        assert np.abs(rho - pi).max() < 1e-12


@pytest.mark.parametrize("seed", range(4))
def test_normalised_iteration_stays_finite_on_sticky_informative_models(seed):
    h = df.random_hmm(8, 6, seed=seed, stickiness=0.98, emission_concentration=0.05)
    _, tokens = df.sample(h, 200, seed=seed)
    history = df.dual_filter(h, tokens, 201, return_all=True)
    assert np.isfinite(history).all()
    assert np.abs(history[-1] - df.predict(h, tokens)).max() < 1e-10


def test_relaxation_has_same_fixed_point(sequence):
    h, tokens = sequence
    pi = df.predict(h, tokens)
    rho = df.dual_filter(h, tokens, 400, relax=0.5)
    assert np.abs(rho - pi).max() < 1e-9


def test_relaxed_layer_is_the_convex_combination_at_every_position(sequence):
    # (1 - a) rho + a N(rho) at every position, position 0 included (N(rho)_0 = mu), for a
    # single sequence, a batch, and the shared prior start
    h, tokens = sequence
    T, a = len(tokens), 0.3
    rng = np.random.default_rng(5)
    rho = rng.dirichlet(np.ones(h.n_states), size=T + 1)
    expected = (1 - a) * rho + a * df.fixed_point_map(h, tokens, rho)
    np.testing.assert_allclose(df.dual_filter(h, tokens, 1, init=rho, relax=a), expected,
                               rtol=0, atol=1e-15)
    batch = np.stack([rho, rng.dirichlet(np.ones(h.n_states), size=T + 1)])
    both = np.stack([tokens, tokens])
    expected = (1 - a) * batch + a * df.fixed_point_map(h, both, batch)
    np.testing.assert_allclose(df.dual_filter(h, both, 1, init=batch, relax=a), expected,
                               rtol=0, atol=1e-15)
    prior = h.prior_marginals(T)
    expected = (1 - a) * prior + a * df.fixed_point_map(h, tokens, prior)
    np.testing.assert_allclose(df.dual_filter(h, tokens, 1, relax=a), expected, rtol=0, atol=1e-15)


def test_contributions_reconstruct_the_layer(sequence):
    h, tokens = sequence
    T = len(tokens)
    rho = np.random.default_rng(2).dirichlet(np.ones(5), size=T + 1)
    f = np.array([1.0, 0.0, 2.0, -1.0, 0.5])
    W = df.contributions(h, tokens, rho, f)
    assert W.shape == (T + 1, T + 1)
    assert np.all(np.triu(W) == 0)
    expected = df.fixed_point_map(h, tokens, rho) @ f
    np.testing.assert_allclose(h.prior_marginals(T) @ f + W.sum(axis=1), expected, atol=1e-12)


def test_dual_filter_validation(sequence):
    h, tokens = sequence
    with pytest.raises(ValueError, match="layers must be a non-negative integer"):
        df.dual_filter(h, tokens, -1)
    with pytest.raises(ValueError, match="relax must lie in"):
        df.dual_filter(h, tokens, 3, relax=0.0)
    with pytest.raises(ValueError, match="init must be"):
        df.dual_filter(h, tokens, 3, init="uniform")
    with pytest.raises(ValueError, match=r"init must have shape \(T\+1, n_states\) = \(41, 5\)"):
        df.dual_filter(h, tokens, 3, init=np.ones((40, 5)))
    with pytest.raises(ValueError, match="rho contains NaN"):
        df.fixed_point_map(h, tokens, np.full((41, 5), np.nan))
    assert df.dual_filter(h, tokens, 0).shape == (41, 5)


def test_out_receives_the_result_and_is_returned():
    h = df.random_hmm(4, 3, seed=1)
    _, z = df.sample(h, 20, seed=1)
    batch = np.stack([z, z[::-1]])
    for tokens in (z, batch):
        for layers in (0, 1, 2, 3, 30):
            expected = df.dual_filter(h, tokens, layers)
            out = np.full(expected.shape, np.nan)
            assert df.dual_filter(h, tokens, layers, out=out) is out
            np.testing.assert_array_equal(out, expected)
    init = df.dual_filter(h, batch, 2)
    with pytest.raises(ValueError, match="overlap"):
        df.dual_filter(h, batch, 2, init=init, out=init)
    with pytest.raises(ValueError, match="out must be"):
        df.dual_filter(h, batch, 2, out=np.empty((2, 21, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="return_all"):
        df.dual_filter(h, batch, 2, out=np.empty((2, 21, 4)), return_all=True)
    assert df.dual_filter(h, batch, 0, init=init) is not init

import numpy as np
import pytest

import dualfilter as df


def test_random_hmm_is_reproducible_and_stochastic():
    a = df.random_hmm(5, 7, seed=3, stickiness=0.4)
    b = df.random_hmm(5, 7, seed=3, stickiness=0.4)
    np.testing.assert_array_equal(a.A, b.A)
    np.testing.assert_array_equal(a.C, b.C)
    assert a.n_states == 5 and a.n_tokens == 7
    np.testing.assert_allclose(a.A.sum(1), 1, atol=1e-12)
    np.testing.assert_allclose(a.C.sum(1), 1, atol=1e-12)
    assert np.all(np.diag(a.A) >= 0.4)


def test_stickiness_mixes_in_identity():
    base = df.random_hmm(4, 3, seed=9)
    sticky = df.random_hmm(4, 3, seed=9, stickiness=0.25)
    np.testing.assert_allclose(sticky.A, 0.25 * np.eye(4) + 0.75 * base.A, atol=1e-15)
    np.testing.assert_array_equal(sticky.C, base.C)


def test_tiny_concentration_gives_valid_rows():
    h = df.random_hmm(6, 50, seed=0, transition_concentration=1e-4, emission_concentration=1e-4)
    np.testing.assert_allclose(h.C.sum(1), 1, atol=1e-12)
    assert np.isfinite(h.A).all()


def test_sample_shapes_and_determinism():
    h = df.random_hmm(4, 6, seed=1)
    s1, z1 = df.sample(h, 50, seed=2)
    s2, z2 = df.sample(h, 50, seed=2)
    assert s1.shape == (51,) and z1.shape == (50,)
    assert s1.dtype == np.int64 and z1.dtype == np.int64
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(z1, z2)
    assert df.sample(h, 0, seed=0)[1].shape == (0,)


def test_sample_frequencies_match_model():
    """Empirical transition and emission frequencies converge to A and C (chi-square-sized bound)."""
    h = df.random_hmm(3, 4, seed=5)
    states, tokens = df.sample(h, 200_000, seed=11)
    for i in range(3):
        from_i = states[:-1] == i
        n_i = from_i.sum()
        trans = np.bincount(states[1:][from_i], minlength=3) / n_i
        emit = np.bincount(tokens[from_i], minlength=4) / n_i
        assert np.abs(trans - h.A[i]).max() < 5 / np.sqrt(n_i)
        assert np.abs(emit - h.C[i]).max() < 5 / np.sqrt(n_i)


def test_sample_respects_zero_probabilities():
    A = np.array([[0.0, 1.0], [1.0, 0.0]])
    C = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    h = df.HMM(A, C, [1.0, 0.0])
    states, tokens = df.sample(h, 100, seed=0)
    np.testing.assert_array_equal(states, np.arange(101) % 2)
    np.testing.assert_array_equal(tokens, 2 * (np.arange(100) % 2))


@pytest.mark.parametrize(
    "A, C, mu, message",
    [
        ([[0.5, 0.5], [0.2, 0.7]], [[1, 0], [0, 1]], [0.5, 0.5], "row 1 of A sums to"),
        ([[0.5, 0.5], [0.2, 0.8]], [[1, 0], [0.3, 0.3]], [0.5, 0.5], "row 1 of C sums to"),
        ([[1.5, -0.5], [0.2, 0.8]], [[1, 0], [0, 1]], [0.5, 0.5], "A has a negative entry"),
        ([[0.5, 0.5], [0.2, 0.8]], [[1, 0], [0, 1]], [0.6, 0.6], "mu sums to"),
        ([[np.nan, 0.5], [0.2, 0.8]], [[1, 0], [0, 1]], [0.5, 0.5], "A contains NaN"),
        ([[0.5, 0.5], [0.2, 0.8]], [[1, 0], [0, np.inf]], [0.5, 0.5], "C contains NaN or inf"),
        ([[0.5, 0.5, 0.0], [0.2, 0.8, 0.0]], [[1, 0], [0, 1]], [0.5, 0.5], "square"),
        ([[0.5, 0.5], [0.2, 0.8]], [[1, 0], [0, 1], [0, 1]], [0.5, 0.5], "C must have shape"),
        ([[0.5, 0.5], [0.2, 0.8]], [[1, 0], [0, 1]], [0.5, 0.3, 0.2], "mu must have shape"),
        ([0.5, 0.5], [[1, 0], [0, 1]], [0.5, 0.5], "A must be 2-dimensional"),
        ([["a", "b"], ["c", "d"]], [[1, 0], [0, 1]], [0.5, 0.5], "A must be an array of real numbers"),
    ],
)
def test_hmm_rejects_bad_input(A, C, mu, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        df.HMM(A, C, mu)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_states=0, n_tokens=2), "n_states must be a positive integer"),
        (dict(n_states=2.5, n_tokens=2), "n_states must be a positive integer"),
        (dict(n_states=2, n_tokens=2, stickiness=1.5), "stickiness must lie in"),
        (dict(n_states=2, n_tokens=2, emission_concentration=0), "emission_concentration must be"),
        (dict(n_states=2, n_tokens=2, transition_concentration=np.nan), "transition_concentration"),
    ],
)
def test_random_hmm_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        df.random_hmm(seed=0, **kwargs)


@pytest.mark.parametrize("T", [-1, 2.0, "3", True])
def test_sample_rejects_bad_horizon(T):
    with pytest.raises(ValueError, match="T must be a non-negative integer"):
        df.sample(df.random_hmm(2, 2, seed=0), T, seed=0)

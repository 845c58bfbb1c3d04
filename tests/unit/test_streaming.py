"""Online prediction: the forward step and the windowed dual filter (chapter 11)."""

import numpy as np
import pytest

import dualfilter as df
from dualfilter import StreamingPredictor


def stream(hmm, tokens, **kwargs):
    """(laws (T+1, d), log-likelihood) of a predictor fed the tokens one by one."""
    sp = StreamingPredictor(hmm, **kwargs)
    laws = [sp.law]
    for z in tokens:
        sp.update(z)
        laws.append(sp.law)
    assert sp.n_seen == len(tokens)
    return np.array(laws), sp.log_likelihood


MODELS = {
    "dense": dict(n_states=5, n_tokens=4, seed=0),
    "sticky-informative": dict(n_states=8, n_tokens=8, seed=2, stickiness=0.95,
                               emission_concentration=0.1),
    "near-deterministic": dict(n_states=6, n_tokens=5, seed=4, stickiness=0.99,
                               emission_concentration=0.01, transition_concentration=0.01),
}


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("window", [None, 1, 2, 3, 7, 50])
def test_stream_is_predict(name, window):
    h = df.random_hmm(**MODELS[name])
    _, tokens = df.sample(h, 3000, seed=5)
    laws, loglik = stream(h, tokens, window=window)
    np.testing.assert_allclose(laws, df.predict(h, tokens), rtol=0, atol=1e-12)
    ref = df.log_likelihood(h, tokens)
    assert abs(loglik - ref) <= 1e-12 * abs(ref)


def test_window_is_the_fixed_point_equation_on_the_window():
    """The windowed output is the right side of (WIN), evaluated independently with matrix
    powers at the exact laws."""
    h = df.random_hmm(5, 4, seed=6, stickiness=0.7, emission_concentration=0.3)
    _, tokens = df.sample(h, 40, seed=7)
    pi = df.predict(h, tokens)
    H = 6
    laws, _ = stream(h, tokens, window=H)
    for t in range(H, 40):                      # pi_{t+1} from pi_{t+1-H} and tokens t+1-H..t
        first = t + 1 - H
        acc = pi[first] @ np.linalg.matrix_power(h.A, H)
        for s in range(first, t + 1):
            post = pi[s] * h.C[:, tokens[s]] / (pi[s] @ h.C[:, tokens[s]])
            acc = acc + (post - pi[s]) @ np.linalg.matrix_power(h.A, t + 1 - s)
        np.testing.assert_allclose(laws[t + 1], acc, atol=1e-13)


def test_forward_step_falls_back_to_log_space():
    from test_extreme import near_deterministic_model

    h = near_deterministic_model()
    rng = np.random.default_rng(1)
    tokens = np.repeat(rng.integers(0, 4, size=10), 500)
    tokens[rng.choice(tokens.size, size=10, replace=False)] = 4
    laws, loglik = stream(h, tokens)
    np.testing.assert_allclose(laws, df.predict(h, tokens), atol=1e-12)
    ref = df.log_likelihood(h, tokens)
    assert abs(loglik - ref) <= 1e-12 * abs(ref)


def test_next_token_probs_and_law():
    h = df.random_hmm(4, 3, seed=1)
    sp = StreamingPredictor(h, window=3)
    _, tokens = df.sample(h, 10, seed=2)
    for z in tokens:
        sp.update(z)
    np.testing.assert_allclose(sp.next_token_probs(), df.next_token_probs(h, tokens)[-1], atol=1e-14)
    law = sp.law
    with pytest.raises(ValueError):
        law[0] = 1.0                            # read-only
    assert sp.window == 3 and "window=3" in repr(sp)


def test_bad_tokens_leave_the_predictor_unchanged():
    h = df.HMM([[1.0, 0.0], [0.5, 0.5]], [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]], [1.0, 0.0])
    for window in (None, 2):
        sp = StreamingPredictor(h, window=window)
        sp.update(0)
        before = (sp.law.copy(), sp.log_likelihood, sp.n_seen)
        for bad, match in ((3, "outside the vocabulary"), (2, "no hidden state emits"),
                           (1.0, "token must be an integer"), (True, "token must be an integer")):
            with pytest.raises(ValueError, match=match):
                sp.update(bad)
        np.testing.assert_array_equal(sp.law, before[0])
        assert (sp.log_likelihood, sp.n_seen) == before[1:]
    sp = StreamingPredictor(h)
    with pytest.raises(ValueError, match="token 1 at position 0 has zero probability"):
        sp.update(1)


@pytest.mark.parametrize("window,match", [(0, "window"), (1.5, "window"), (True, "window"),
                                          ("3", "window")])
def test_bad_window(window, match):
    with pytest.raises(ValueError, match=match):
        StreamingPredictor(df.random_hmm(3, 2, seed=0), window=window)


def test_bad_model_and_flag():
    with pytest.raises(ValueError, match="hmm"):
        StreamingPredictor(np.eye(2))
    with pytest.raises(ValueError, match="normalize"):
        StreamingPredictor(df.random_hmm(3, 2, seed=0), window=2, normalize="no")

"""fit_hmm (Baum-Welch): against hmmlearn's EM, a known generating model, the EM inequality."""

import numpy as np
import pytest
from hmmlearn.base import ConvergenceMonitor
from hmmlearn.hmm import CategoricalHMM
from scipy.optimize import linear_sum_assignment

import dualfilter as df
from dualfilter.learning import _EStep


class _Recorder(ConvergenceMonitor):
    """hmmlearn's convergence monitor, keeping every reported log-likelihood."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.path = []

    def report(self, log_prob):
        self.path.append(log_prob)
        super().report(log_prob)


def _hmmlearn_fit(init, sequences, n_iter):
    """hmmlearn's CategoricalHMM.fit from the parameters of ``init``: (model, path)."""
    model = CategoricalHMM(n_components=init.n_states, n_features=init.n_tokens,
                           init_params="", params="ste", n_iter=n_iter, tol=-np.inf)
    model.startprob_, model.transmat_, model.emissionprob_ = init.mu.copy(), init.A.copy(), init.C.copy()
    model.monitor_ = _Recorder(model.tol, model.n_iter, False)
    model.fit(np.concatenate(sequences)[:, None], lengths=[len(s) for s in sequences])
    return model, np.array(model.monitor_.path)


@pytest.mark.parametrize("d, n, lengths, n_iter", [
    (4, 6, [300], 25),                    # one sequence
    (5, 7, [400, 37, 1, 250], 20),        # sequences of different lengths, one of length 1
    (16, 12, [2500, 2100], 6),            # large enough for the two-thread E-step
])
def test_same_path_as_hmmlearn(d, n, lengths, n_iter):
    truth = df.random_hmm(d, n, seed=d, stickiness=0.4)
    seqs = [df.sample(truth, T, seed=k)[1] for k, T in enumerate(lengths)]
    init = df.random_hmm(d, n, seed=100 + d)
    hmm, path = df.fit_hmm(seqs, d, n_tokens=n, n_iter=n_iter, tol=0.0, init=init, floor=0.0)
    model, reference = _hmmlearn_fit(init, seqs, n_iter)
    # hmmlearn reports the log-likelihood of the parameters before each of its n_iter updates
    assert path.shape == (n_iter + 1,) and reference.shape == (n_iter,)
    np.testing.assert_allclose(path[:n_iter], reference, rtol=1e-8, atol=0)
    np.testing.assert_allclose(hmm.A, model.transmat_, atol=1e-8)
    np.testing.assert_allclose(hmm.C, model.emissionprob_, atol=1e-8)
    np.testing.assert_allclose(hmm.mu, model.startprob_, atol=1e-8)


def test_log_likelihood_is_non_decreasing_and_is_that_of_the_iterate():
    truth = df.random_hmm(6, 8, seed=3, stickiness=0.5, emission_concentration=0.3)
    seqs = [df.sample(truth, T, seed=k)[1] for k, T in enumerate([2000, 1500, 900])]
    hmm, path = df.fit_hmm(seqs, 6, n_iter=150, tol=0.0, seed=1, floor=0.0)
    steps = np.diff(path)
    # the EM inequality, up to the rounding of a sum of ~4400 logarithms
    assert steps.min() >= -1e-12 * abs(path[-1]), steps.min()
    assert path[-1] > path[0] + 100            # it learned something
    assert np.isclose(sum(df.log_likelihood(hmm, s) for s in seqs), path[-1], rtol=1e-12, atol=0)


def test_tol_stops_on_the_per_token_improvement():
    h = df.random_hmm(3, 4, seed=0, stickiness=0.5)
    z = df.sample(h, 3000, seed=0)[1]
    _, full = df.fit_hmm(z, 3, n_iter=400, tol=0.0, seed=2, floor=0.0)
    _, early = df.fit_hmm(z, 3, n_iter=400, tol=1e-5, seed=2, floor=0.0)
    gains = np.diff(full) / z.size
    stop = int(np.argmax(gains < 1e-5)) + 1          # first update gaining less than tol
    assert early.shape == (stop + 1,)
    np.testing.assert_array_equal(early, full[: stop + 1])


def test_recovers_a_generating_hmm_up_to_a_permutation():
    A = np.array([[0.90, 0.05, 0.05], [0.10, 0.80, 0.10], [0.05, 0.15, 0.80]])
    C = np.array([[0.70, 0.20, 0.05, 0.05, 0.00],
                  [0.05, 0.05, 0.70, 0.20, 0.00],
                  [0.00, 0.05, 0.05, 0.20, 0.70]])
    truth = df.HMM(A, C, [1 / 3, 1 / 3, 1 / 3])
    seqs = [df.sample(truth, 5000, seed=s)[1] for s in range(6)]       # 30,000 tokens
    hmm, path = df.fit_hmm(seqs, 3, n_iter=300, tol=1e-8, seed=0, floor=0.0)
    # match fitted states to true ones by their emission rows (Hungarian algorithm)
    cost = np.abs(hmm.C[:, None, :] - C[None, :, :]).sum(-1)
    rows, cols = linear_sum_assignment(cost)
    perm = rows[np.argsort(cols)]                 # fitted state matched to true state j
    # sampling error of a frequency from ~10^4 visits is ~0.005: 0.03 is six of them
    np.testing.assert_allclose(hmm.C[perm], C, atol=0.03)
    np.testing.assert_allclose(hmm.A[np.ix_(perm, perm)], A, atol=0.03)
    # the maximum-likelihood estimate fits the data at least as well as the truth
    assert path[-1] >= sum(df.log_likelihood(truth, s) for s in seqs)


def test_one_state_is_the_unigram_model():
    z = np.array([0, 2, 2, 1, 2, 0, 2, 3])
    hmm, path = df.fit_hmm(z, 1, n_iter=3, tol=0.0, floor=0.0)
    np.testing.assert_allclose(hmm.C[0], np.bincount(z) / z.size, atol=1e-15)
    assert hmm.A[0, 0] == 1.0 and hmm.mu[0] == 1.0
    assert np.isclose(path[-1], np.log(np.bincount(z) / z.size)[z].sum(), rtol=1e-14)


def test_batch_and_list_of_rows_agree_and_one_sequence_is_a_list_of_one():
    h = df.random_hmm(4, 5, seed=1)
    batch = np.stack([df.sample(h, 200, seed=s)[1] for s in range(3)])
    a, pa = df.fit_hmm(batch, 4, n_iter=5, seed=3)
    b, pb = df.fit_hmm(list(batch), 4, n_iter=5, seed=3)
    np.testing.assert_array_equal(pa, pb)
    np.testing.assert_array_equal(a.A, b.A)
    c, pc = df.fit_hmm(batch[0], 4, n_iter=5, seed=3)
    e, pe = df.fit_hmm([batch[0]], 4, n_iter=5, seed=3)
    np.testing.assert_array_equal(pc, pe)
    np.testing.assert_array_equal(c.C, e.C)


def test_two_threads_and_one_thread_agree(monkeypatch):
    h = df.random_hmm(16, 10, seed=4, stickiness=0.3)
    z = df.sample(h, 6000, seed=4)[1]
    hmm2, path2 = df.fit_hmm(z, 16, n_iter=4, tol=0.0, seed=0)
    monkeypatch.setattr(_EStep, "PARALLEL_WORK", 10**18)
    hmm1, path1 = df.fit_hmm(z, 16, n_iter=4, tol=0.0, seed=0)
    np.testing.assert_allclose(path2, path1, rtol=1e-13)
    np.testing.assert_allclose(hmm2.A, hmm1.A, atol=1e-13)


def test_unvisited_state_keeps_its_rows_and_nothing_is_nan():
    """State 2 has mu = 0 and no transition into it: its expected occupancy is exactly 0."""
    A = np.array([[0.6, 0.4, 0.0], [0.3, 0.7, 0.0], [0.2, 0.2, 0.6]])
    C = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0.2, 0.2, 0.6]])
    init = df.HMM(A, C, [0.5, 0.5, 0.0])
    z = df.sample(df.random_hmm(2, 3, seed=0), 500, seed=1)[1]
    hmm, path = df.fit_hmm(z, 3, n_iter=20, init=init, floor=0.0)
    assert np.all(np.isfinite(path)) and np.all(np.diff(path) >= -1e-12 * abs(path[-1]))
    np.testing.assert_array_equal(hmm.A[2], A[2])
    np.testing.assert_array_equal(hmm.C[2], C[2])
    assert hmm.mu[2] == 0.0 and np.all(hmm.A[:2, 2] == 0.0)


def test_unseen_token_gets_the_floor_and_held_out_text_stays_possible():
    h = df.random_hmm(3, 4, seed=5)
    z = df.sample(h, 2000, seed=5)[1]
    z = z[z < 3]                                        # token 3 never occurs
    bare, path = df.fit_hmm(z, 3, n_tokens=5, n_iter=10, floor=0.0, seed=1)
    assert np.all(bare.C[:, 3:] == 0.0) and not bare.emitted[3]
    floor = 1e-6
    hmm, path_f = df.fit_hmm(z, 3, n_tokens=5, n_iter=10, floor=floor, seed=1)
    np.testing.assert_array_equal(path_f, path)        # the floor is applied after EM
    np.testing.assert_allclose(hmm.C, (bare.C + floor) / (1 + 5 * floor), rtol=1e-12)
    tf = df.learning.TRANSITION_FLOOR
    np.testing.assert_allclose(hmm.A, (bare.A + tf) / (1 + 3 * tf), rtol=1e-12)
    np.testing.assert_allclose(hmm.mu, (bare.mu + tf) / (1 + 3 * tf), rtol=1e-12)
    assert np.isfinite(df.log_likelihood(hmm, [0, 3, 4, 1]))
    # the documented bound on what the floors cost on the training data
    ll = df.log_likelihood(hmm, z)
    assert path[-1] - z.size * (np.log1p(5 * floor) + np.log1p(3 * tf)) - 1e-12 <= ll


def test_n_iter_zero_returns_the_initial_model():
    init = df.random_hmm(3, 4, seed=2)
    z = df.sample(init, 100, seed=2)[1]
    hmm, path = df.fit_hmm(z, 3, n_tokens=4, n_iter=0, init=init, floor=0.0)
    np.testing.assert_array_equal(hmm.A, init.A)
    assert path.shape == (1,) and np.isclose(path[0], df.log_likelihood(init, z), rtol=1e-13)


def test_default_initial_model_is_reproducible_and_seeded():
    z = df.sample(df.random_hmm(3, 6, seed=0), 300, seed=0)[1]
    a, _ = df.fit_hmm(z, 4, n_iter=0, seed=7, floor=0.0)
    b, _ = df.fit_hmm(z, 4, n_iter=0, seed=7, floor=0.0)
    c, _ = df.fit_hmm(z, 4, n_iter=0, seed=8, floor=0.0)
    np.testing.assert_array_equal(a.C, b.C)
    assert not np.array_equal(a.C, c.C)
    np.testing.assert_array_equal(a.mu, np.full(4, 0.25))


@pytest.mark.parametrize("kwargs, match", [
    (dict(tokens=[]), "tokens is empty"),
    (dict(tokens=[[0, 1], []]), "sequence 1 of tokens is empty"),
    (dict(tokens=np.zeros((2, 0), dtype=int)), "empty"),
    (dict(tokens=[0, -1, 2]), "token -1 at position 1"),
    (dict(tokens=[0, 1, 7], n_tokens=5), "token 7 at position 2 .* outside the vocabulary"),
    (dict(tokens=[[0, 1], [1, 9]], n_tokens=3), "token 9 at position 1 of sequence 1"),
    (dict(tokens=[0.0, 1.0]), "tokens must be integers"),
    (dict(tokens=np.zeros((2, 2, 2), dtype=int)), "tokens must be one sequence"),
    (dict(tokens=[0, [1, 2]]), "tokens must be a rectangular array"),
    (dict(n_states=0), "n_states must be a positive integer"),
    (dict(n_states=2.0), "n_states must be a positive integer"),
    (dict(n_tokens=0), "n_tokens must be a positive integer"),
    (dict(n_iter=-1), "n_iter must be a non-negative integer"),
    (dict(tol=-1e-3), "tol must be non-negative"),
    (dict(tol=float("nan")), "tol must be finite"),
    (dict(floor=0.5), "floor must lie in"),
    (dict(seed=-1), "seed must be a non-negative integer"),
    (dict(init="random"), "init must be None or a dualfilter.HMM"),
    (dict(init=df.random_hmm(3, 3, seed=0)), "init has 3 states and 3 tokens"),
])
def test_bad_input_is_named(kwargs, match):
    args = dict(tokens=[0, 1, 2, 1], n_states=2)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        df.fit_hmm(args.pop("tokens"), args.pop("n_states"), **args)


def test_initial_model_that_cannot_explain_the_data_is_refused():
    init = df.HMM(np.eye(2), [[1.0, 0.0], [1.0, 0.0]], [0.5, 0.5])
    with pytest.raises(ValueError, match="init.*token 1 at position 2"):
        df.fit_hmm([0, 0, 1], 2, init=init)

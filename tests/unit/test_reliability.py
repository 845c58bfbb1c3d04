"""Never a silent wrong answer: the cases of the adversarial review (issue 11), and properties.

The contract: every model representable in float64 gets the log-space answer, or a clear
ValueError saying why; never NaN, never a silently different answer; every bad argument gets
a ValueError (or an ``ArgumentTypeError``, which is both a TypeError and a ValueError) that
names it; no call runs away in time or memory on bad arguments.
"""

from __future__ import annotations

import time
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dualfilter as df
from dualfilter import brute_force as bf
from oracles import log_space_forward

PROPERTY = settings(derandomize=True, database=None, max_examples=150,
                    deadline=timedelta(seconds=30),
                    suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- silent answers
def test_dual_filter_is_exact_on_near_deterministic_emissions():
    """The review's example: [1, 0] instead of [.5, .5] (rounding the 1e-17 away)."""
    h = df.HMM(np.eye(2), [[1, 1e-17], [1e-17, 1]], [0.5, 0.5])
    np.testing.assert_allclose(df.dual_filter(h, [0, 1], 3)[2], [0.5, 0.5], rtol=1e-15)
    np.testing.assert_allclose(df.dual_filter(h, [0, 1], 3, normalize=False)[2], [0.5, 0.5],
                               rtol=1e-15)


@pytest.mark.parametrize("seed", range(40))
def test_dual_filter_reaches_predict_on_sticky_informative_models(seed):
    """Random sticky models with emission concentration 0.01 (L1 errors of 2.0 before)."""
    h = df.random_hmm(3 + seed % 6, 2 + seed % 5, seed=seed, stickiness=0.9,
                      emission_concentration=0.01, transition_concentration=0.3)
    _, tokens = df.sample(h, 25 + seed, seed=seed)
    pi = df.predict(h, tokens)
    for normalize in (True, False):
        try:
            rho = df.dual_filter(h, tokens, len(tokens) + 1, normalize=normalize)
        except ValueError as exc:       # the raw transient may overflow: said, not hidden
            assert not normalize and "overflowed" in str(exc)
            continue
        assert np.abs(rho - pi).sum(axis=1).max() <= 1e-12


def test_dual_filter_stops_once_the_iterate_stops_changing():
    h = df.random_hmm(4, 3, seed=0)
    _, z = df.sample(h, 30, seed=0)
    start = time.perf_counter()
    rho = df.dual_filter(h, z, 10**9)                 # fixed after T+1 = 31 layers
    assert time.perf_counter() - start < 5
    np.testing.assert_array_equal(rho, df.dual_filter(h, z, 31))
    history = df.dual_filter(h, z, 40, return_all=True)
    assert history.shape == (41, 31, 4)
    np.testing.assert_array_equal(history[31:], np.broadcast_to(history[31], (10, 31, 4)))
    # a relaxed iteration that stagnates in float64 stops too, with the same answer
    slow = df.dual_filter(h, z, 200_000, relax=0.5)
    np.testing.assert_allclose(slow, df.predict(h, z), atol=1e-12)


def test_dual_filter_refuses_to_return_a_wrong_fixed_point():
    """A probability of 1e-400 on the way, which matters later: linear space cannot hold it."""
    C = [[1.0, 0.0], [1e-200, 1.0], [1e-200, 1.0]]
    h = df.HMM(np.eye(3), C, [1.0 - 4e-200, 1e-200, 3e-200])
    tokens = [0, 1]            # after token 0, states 1 and 2 are 1e-400 and 3e-400 likely
    pi = df.predict(h, tokens)
    np.testing.assert_allclose(pi[2], [0.0, 0.25, 0.75], rtol=1e-12)
    with pytest.raises(ValueError, match="log space"):
        df.dual_filter(h, tokens, 3)


def test_probabilities_below_the_float64_range_take_the_log_space_path():
    h = df.HMM(np.eye(2), [[1.0, 0.0], [1e-200, 1.0]], [1.0, 1e-200])
    tokens = [0, 1, 1, 0]
    ref = log_space_forward(h, tokens)
    assert ref.loglik < -399 * np.log(10)                # P(tokens) ~ 1e-400
    assert abs(df.log_likelihood(h, tokens) - ref.loglik) <= 1e-12 * abs(ref.loglik)
    np.testing.assert_allclose(df.predict(h, tokens), ref.pi, atol=1e-15)
    batch = np.array([tokens, [0, 0, 0, 0]])
    np.testing.assert_allclose(df.log_likelihood(h, batch)[0], ref.loglik, rtol=1e-12)
    np.testing.assert_allclose(df.predict(h, batch)[0], ref.pi, atol=1e-15)


def test_a_sequence_of_probability_5e_minus_401_is_not_refused():
    h = df.HMM([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.5e-200, 1 - 0.5e-200]],
               [1.0 - 1e-200, 1e-200])
    loglik = df.log_likelihood(h, [0, 1])                # 1e-200 * 0.5e-200 * 1
    assert abs(loglik - (np.log(1e-200) + np.log(0.5e-200))) < 1e-10


def test_riccati_agrees_with_brute_force_on_near_deterministic_models():
    h = df.random_hmm(4, 3, seed=39, emission_concentration=0.01, transition_concentration=0.01)
    for T in (2, 3):
        lp = df.linear_predictor(h, T)
        for k in range(4):
            f = np.eye(4)[k]
            value = lp.mse(f)
            assert value >= 0.0
            assert abs(value - bf.best_additive_mse(h, f, T)) <= 1e-11


# --------------------------------------------------------------------------- options
@pytest.mark.parametrize("call, name", [
    (lambda h, z: df.dual_filter(h, z, 2, normalize="False"), "normalize"),
    (lambda h, z: df.dual_filter(h, z, 2, relax=True), "relax"),
    (lambda h, z: df.dual_filter(h, z, 2, relax=None), "relax"),
    (lambda h, z: df.dual_filter(h, z, 2, relax="0.5"), "relax"),
    (lambda h, z: df.dual_filter(h, z, 2.0), "layers"),
    (lambda h, z: df.dual_filter(h, z, 2, return_all=1), "return_all"),
    (lambda h, z: df.fixed_point_map(h, z, df.prior_measures(h, 3), normalize=0), "normalize"),
    (lambda h, z: df.contributions(h, z, df.prior_measures(h, 3), [1, 0], normalize="yes"), "normalize"),
    (lambda h, z: df.predict((h.A, h.C, h.mu), z), "hmm"),
    (lambda h, z: df.sample(h, 3.0, seed=0), "T"),
    (lambda h, z: df.sample(h, 3, seed=-1), "seed"),
    (lambda h, z: df.random_hmm(2, 2, seed="a"), "seed"),
    (lambda h, z: df.random_hmm(2, 2, seed=0, stickiness=10**400), "stickiness"),
    (lambda h, z: df.random_hmm(2, 2, seed=0, emission_concentration=None), "emission_concentration"),
    (lambda h, z: df.linear_predictor(h, "3"), "T"),
])
def test_options_of_the_wrong_type_are_refused_by_name(call, name):
    h = df.random_hmm(2, 2, seed=0)
    with pytest.raises(ValueError, match=name) as info:
        call(h, [0, 1, 0])
    if isinstance(info.value, TypeError):             # ArgumentTypeError: both kinds
        assert isinstance(info.value, ValueError)


def test_complex_arrays_are_refused():
    A = np.eye(2) + 0j
    with pytest.raises(ValueError, match="A must be real"):
        df.HMM(A, [[1, 0], [0, 1]], [0.5, 0.5])
    h = df.random_hmm(2, 2, seed=0)
    with pytest.raises(ValueError, match="f must be real"):
        df.optimal_control(h, [0, 1], np.array([1, 0]) + 1j)
    with pytest.raises(ValueError, match="rho must be real"):
        df.fixed_point_map(h, [0, 1], df.prior_measures(h, 2) + 0j)


def test_ragged_token_lists_are_named():
    h = df.random_hmm(2, 2, seed=0)
    with pytest.raises(ValueError, match="rectangular"):
        df.predict(h, [[0, 1], [0]])


def test_control_cost_without_controls_says_what_to_pass():
    h = df.random_hmm(2, 2, seed=0)
    with pytest.raises(ValueError, match=r"np\.zeros\(\(T, hmm\.n_tokens\)\)") as info:
        df.control_cost(h, [1.0, 0.0], None)
    assert "horizon T" not in str(info.value)


# --------------------------------------------------------------------------- memory and time
@pytest.mark.parametrize("call", [
    lambda h, z: df.random_hmm(10**6, 2, seed=0),
    lambda h, z: df.random_hmm(2, 10**10, seed=0),
    lambda h, z: h.prior_marginals(10**12),
    lambda h, z: df.prior_measures(h, 10**12),
    lambda h, z: df.dual_filter(h, z, 10**9, return_all=True),
    lambda h, z: df.sample(h, 10**12, seed=0),
    lambda h, z: df.linear_predictor(h, 10**10),
    lambda h, z: df.dual_backward(h, [1.0, 0.0], T=10**12),
])
def test_huge_arguments_get_a_value_error_up_front(call):
    h = df.random_hmm(2, 2, seed=0)
    start = time.perf_counter()
    with pytest.raises(ValueError, match="GiB"):
        call(h, np.array([0, 1, 0]))
    assert time.perf_counter() - start < 2


def test_relaxed_iterations_have_a_layer_cap():
    h = df.random_hmm(2, 2, seed=0)
    with pytest.raises(ValueError, match="layers"):
        df.dual_filter(h, [0, 1], 10**7, relax=0.5)


# --------------------------------------------------------------------------- properties
def extreme_models():
    """Models with entries down to 1e-300 (or exactly 0) and chains from sticky to fast."""
    @st.composite
    def build(draw):
        d = draw(st.integers(2, 4))
        n = draw(st.integers(2, 4))
        seed = draw(st.integers(0, 10**6))
        conc = draw(st.sampled_from([1.0, 0.1, 0.01, 0.001]))
        stick = draw(st.sampled_from([0.0, 0.9, 1 - 1e-9]))
        h = df.random_hmm(d, n, seed=seed, stickiness=stick, emission_concentration=conc,
                          transition_concentration=draw(st.sampled_from([1.0, 0.05])))
        floor = draw(st.sampled_from([0.0, 1e-300, 1e-150]))
        if floor:
            C = h.C + floor * (h.C == 0)
            h = df.HMM(h.A, C / C.sum(axis=1, keepdims=True), h.mu)
        T = draw(st.integers(0, 12))
        tokens = df.sample(h, T, seed=seed)[1]
        if draw(st.booleans()) and T:             # a rare token somewhere
            tokens[draw(st.integers(0, T - 1))] = int(np.argmin(h.C.max(axis=0) + ~h.emitted))
        return h, tokens
    return build()


@PROPERTY
@given(extreme_models())
def test_every_representable_model_gets_the_log_space_answer(case):
    h, tokens = case
    ref = log_space_forward(h, tokens)
    if ref is None:
        with pytest.raises(ValueError, match="zero probability"):
            df.predict(h, tokens)
        return
    pi = df.predict(h, tokens)
    np.testing.assert_allclose(pi, ref.pi, atol=1e-12, rtol=0)
    assert abs(df.log_likelihood(h, tokens) - ref.loglik) <= 1e-11 * max(1.0, abs(ref.loglik))
    try:
        rho = df.dual_filter(h, tokens, len(tokens) + 1)
    except ValueError as exc:
        assert "log space" in str(exc)
    else:
        np.testing.assert_allclose(rho, pi, atol=1e-9, rtol=0)


@settings(derandomize=True, database=None, max_examples=60, deadline=timedelta(seconds=30),
          suppress_health_check=[HealthCheck.too_slow])
@given(extreme_models())
def test_riccati_mse_is_the_brute_force_best_additive_mse(case):
    h, tokens = case
    T = min(len(tokens), 4)
    lp = df.linear_predictor(h, T)
    for k in range(h.n_states):
        f = np.eye(h.n_states)[k]
        value = lp.mse(f)
        assert value >= 0.0
        assert abs(value - bf.best_additive_mse(h, f, T)) <= 1e-10


def test_tiny_normal_emissions_stay_exact_and_subnormal_ones_take_the_log_path():
    """Chapter 12's kind of model: emission entries far below 1e-280, some subnormal.

    A normal product prior * C is exact to rounding (no switch needed); a subnormal emission
    entry makes the sequence continue in log space, whose prediction step is one matrix
    product with a term-by-term log-space column where the product's sum is tiny. Both must
    equal the log-space oracle.
    """
    from dualfilter.filtering import MIN_NORMAL, _forward_kernel

    hmm = df.random_hmm(64, 2000, seed=2026, transition_concentration=0.02,
                        emission_concentration=0.002, stickiness=0.5)
    positive = hmm.C[hmm.C > 0]
    assert (positive < 1e-280).mean() > 0.02 and (positive < MIN_NORMAL).any()
    tokens = np.stack([df.sample(hmm, 128, seed=b)[1] for b in range(3)])
    pi = np.empty((3, 129, 64))
    loglik, lossy = np.empty(3), np.empty(3, dtype=np.int64)
    _forward_kernel(hmm.A, hmm.AT, hmm.CT, hmm.mu, tokens, pi, loglik, lossy)
    for b in range(3):                   # the first step: tiny normal products do not switch
        column = hmm.C[:, tokens[b, 0]]
        products = hmm.mu * column
        tiny_only = ((column > 0) & (column < 1e-280)).any() and not (
            (products > 0) & (products < MIN_NORMAL)).any()
        if tiny_only:
            assert lossy[b] != 0
    assert (lossy >= 0).any()            # and some sequence does meet a subnormal product
    pi = df.predict(hmm, tokens)
    for b in range(3):
        oracle = log_space_forward(hmm, tokens[b])
        assert np.abs(pi[b] - oracle.pi).max() < 1e-12
        assert abs(df.log_likelihood(hmm, tokens[b]) - oracle.loglik) <= 1e-12 * abs(oracle.loglik)


def test_log_path_columns_whose_terms_all_underflow():
    """A near-deterministic sticky chain: predicted probabilities near 1e-600 in exact
    arithmetic must come out of the log-space step exactly (term by term), as the oracle says."""
    eps = 1e-300
    A = np.array([[1 - eps, eps, 0.0], [0.0, 1 - eps, eps], [eps, 0.0, 1 - eps]])
    C = np.array([[1 - 2e-200, 1e-200, 1e-200], [1e-200, 1 - 2e-200, 1e-200],
                  [1e-200, 1e-200, 1 - 2e-200]])
    hmm = df.HMM(A, C, [1.0, 0.0, 0.0])
    tokens = np.array([0, 0, 1, 1, 2, 2, 0, 1, 2, 2, 1, 0])
    oracle = log_space_forward(hmm, tokens)
    assert np.abs(df.predict(hmm, tokens) - oracle.pi).max() < 1e-12
    assert abs(df.log_likelihood(hmm, tokens) - oracle.loglik) <= 1e-12 * abs(oracle.loglik)

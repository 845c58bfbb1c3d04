"""The parallel prefix scan: oracle tests against the forward algorithm (chapter 11)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dualfilter as df
from dualfilter import scan
from dualfilter.scan import scan_schedule

VARIANTS = [False, True]


def families():
    """(name, model): the model families of the issue, from dense to near-deterministic."""
    return [
        ("dense", df.random_hmm(5, 4, seed=0)),
        ("fast-informative", df.random_hmm(8, 8, seed=1, emission_concentration=0.1)),
        ("sticky-informative", df.random_hmm(8, 8, seed=2, stickiness=0.95, emission_concentration=0.1)),
        ("sticky-uninformative", df.random_hmm(8, 8, seed=3, stickiness=0.95, emission_concentration=10.0)),
        ("near-deterministic", df.random_hmm(8, 6, seed=4, stickiness=0.99, emission_concentration=0.01,
                                             transition_concentration=0.01)),
        ("d16", df.random_hmm(16, 16, seed=5, stickiness=0.95, emission_concentration=0.1)),
    ]


@pytest.mark.parametrize("name,hmm", families(), ids=[n for n, _ in families()])
@pytest.mark.parametrize("work_efficient", VARIANTS)
def test_scan_is_the_forward_algorithm(name, hmm, work_efficient):
    _, tokens = df.sample(hmm, 600, seed=11)
    pi, loglik = df.parallel_scan(hmm, tokens, work_efficient=work_efficient, return_loglik=True)
    assert pi.shape == (601, hmm.n_states)
    np.testing.assert_allclose(pi, df.predict(hmm, tokens), rtol=0, atol=1e-10)
    ref = df.log_likelihood(hmm, tokens)
    assert abs(loglik - ref) <= 1e-12 * abs(ref)


@pytest.mark.parametrize("work_efficient", VARIANTS)
def test_batches_are_sequences_side_by_side(work_efficient):
    hmm = df.random_hmm(6, 5, seed=7, stickiness=0.8, emission_concentration=0.3)
    tokens = np.stack([df.sample(hmm, 200, seed=s)[1] for s in range(3)])
    pi, levels, loglik = df.parallel_scan(hmm, tokens, work_efficient=work_efficient,
                                          return_levels=True, return_loglik=True)
    assert pi.shape == (3, 201, 6) and loglik.shape == (3,)
    np.testing.assert_allclose(pi, df.predict(hmm, tokens), atol=1e-12)
    np.testing.assert_allclose(loglik, df.log_likelihood(hmm, tokens), rtol=1e-12)
    for b in range(3):
        one = df.parallel_scan(hmm, tokens[b], work_efficient=work_efficient, return_levels=True)
        np.testing.assert_array_equal(levels[b], one[1])
        np.testing.assert_array_equal(pi[b], one[0])


@pytest.mark.parametrize("T", [0, 1, 2, 3, 4, 7, 8, 9, 100, 1600])
def test_number_of_levels(T):
    n = T + 1
    hs = scan_schedule(T)
    assert len(hs) == (math.ceil(math.log2(n)) if n > 1 else 0)
    bk = scan_schedule(T, work_efficient=True)
    expected = int(math.floor(math.log2(n))) + (int(math.floor(math.log2(n / 3))) + 1 if n >= 3 else 0)
    assert len(bk) == expected
    assert len(bk) <= 2 * math.ceil(math.log2(n)) if n > 1 else len(bk) == 0
    if T == 1600:
        assert len(hs) == 11 and len(bk) == 20


def test_hillis_steele_level_k_is_dilation_two_to_the_k():
    for k, pairs in enumerate(scan_schedule(40)):
        np.testing.assert_array_equal(pairs[:, 0] - pairs[:, 1], 2 ** k)
        np.testing.assert_array_equal(np.sort(pairs[:, 0]), np.arange(2 ** k, 41))


@pytest.mark.parametrize("work_efficient", VARIANTS)
def test_every_schedule_computes_every_prefix(work_efficient):
    """Run the schedule on intervals: combining [a, b] with [b+1, c] must give [a, c]."""
    for n in range(1, 70):
        lo, hi = np.arange(n), np.arange(n)
        for pairs in scan_schedule(n - 1, work_efficient=work_efficient):
            t, s = pairs[:, 0], pairs[:, 1]
            assert np.all(hi[s] + 1 == lo[t])          # adjacent windows, source first
            assert len(np.intersect1d(t, s)) == 0 or not work_efficient
            new_lo = lo[s].copy()
            lo[t] = new_lo
        np.testing.assert_array_equal(lo, 0)          # every window reaches position 0


@pytest.mark.parametrize("T", [1, 5, 100, 1600])
def test_work_is_T_log_T_against_T(T):
    """Hillis & Steele: sum_k (n - 2^(k+1))^+ matrix products; Brent-Kung/Blelloch: fewer than n."""
    hmm = df.random_hmm(4, 3, seed=1)
    _, tokens = df.sample(hmm, T, seed=2)
    n = T + 1
    _, _, _, hs = scan._scan(hmm, tokens[None], False, False)
    _, _, _, bk = scan._scan(hmm, tokens[None], True, False)
    L = math.ceil(math.log2(n))
    assert hs[0] == sum(max(0, n - 2 ** (k + 1)) for k in range(L))
    assert hs[1] == n - 1                               # each position finishes once
    assert bk[0] < n and bk[1] == n - 1 and bk.sum() < 2 * n
    if T == 1600:
        assert hs[0] > 8 * bk[0]                        # about log2(T) / 1 times the work
    sched = scan_schedule(T, work_efficient=True)
    assert sum(len(p) for p in sched) == bk.sum()


@pytest.mark.parametrize("work_efficient", VARIANTS)
def test_levels_estimates(work_efficient):
    hmm = df.random_hmm(6, 6, seed=3, stickiness=0.7, emission_concentration=0.3)
    T = 100
    _, tokens = df.sample(hmm, T, seed=4)
    pi = df.predict(hmm, tokens)
    out, levels = df.parallel_scan(hmm, tokens, work_efficient=work_efficient, return_levels=True)
    L = len(scan_schedule(T, work_efficient=work_efficient))
    assert levels.shape == (L + 1, T + 1, 6)
    np.testing.assert_array_equal(levels[-1], out)
    np.testing.assert_allclose(levels.sum(axis=-1), 1.0, atol=1e-12)
    # level 0: each position has seen its own last token, from the prior law
    p = df.prior_measures(hmm, T)
    post = p[:-1] * hmm.C[:, tokens].T
    post /= post.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(levels[0, 1:], post @ hmm.A, atol=1e-12)
    np.testing.assert_allclose(levels[0, 0], hmm.mu, atol=1e-15)
    if not work_efficient:                              # after j levels: 0..2^j - 1 exact
        for j in range(L + 1):
            k = min(2 ** j, T + 1)
            np.testing.assert_allclose(levels[j, :k], pi[:k], atol=1e-12)
            # the others: the filter of the last 2^j tokens started from the prior law
            t = k + 3
            if t <= T:
                a = t - 2 ** j
                window = df.HMM(hmm.A, hmm.C, p[a])
                np.testing.assert_allclose(levels[j, t], df.predict(window, tokens[a:t])[-1],
                                           atol=1e-12)


def test_long_near_deterministic_sequence():
    """T = 100000, emissions 1e-300, stickiness 1 - 1e-12 (tests/test_extreme.py's model)."""
    from test_extreme import near_deterministic_model

    h = near_deterministic_model()
    rng = np.random.default_rng(1)
    tokens = np.repeat(rng.integers(0, 4, size=50), 2000)
    tokens[rng.choice(tokens.size, size=30, replace=False)] = 4
    pi, loglik = df.parallel_scan(h, tokens, work_efficient=True, return_loglik=True)
    assert np.all(np.isfinite(pi)) and pi.shape == (100_001, 4)
    np.testing.assert_allclose(pi, df.predict(h, tokens), atol=1e-12)
    # predict's log-space path sums 10^5 terms of up to ~700: it is exact to ~2e-12 relative
    # here, the scan (one exponent sum and one logarithm) to ~1e-15 (against long double)
    ref = df.log_likelihood(h, tokens)
    assert abs(loglik - ref) <= 1e-11 * abs(ref)


def test_near_deterministic_against_the_log_space_forward():
    """The independent log-space forward algorithm of tests/oracles.py as the oracle."""
    from oracles import log_space_forward
    from test_extreme import near_deterministic_model

    h = near_deterministic_model(eps=1e-200, seed=3)
    rng = np.random.default_rng(2)
    tokens = np.repeat(rng.integers(0, 4, size=20), 500)
    tokens[rng.choice(tokens.size, size=12, replace=False)] = 4
    ref = log_space_forward(h, tokens)
    log_ref, loglik_ref = ref.log_pi, ref.loglik
    for we in VARIANTS:
        pi, loglik = df.parallel_scan(h, tokens, work_efficient=we, return_loglik=True)
        np.testing.assert_allclose(pi, np.exp(log_ref), rtol=0, atol=1e-12)
        assert abs(loglik - loglik_ref) <= 1e-12 * abs(loglik_ref)


def test_collapsing_products_fall_back_to_log_space():
    """Two switches that each cost 1e-200 in one window: the product underflows to zero."""
    A = [[1.0, 1e-200], [1e-200, 1.0]]
    C = [[1.0, 1e-200], [1e-200, 1.0]]
    h = df.HMM(A, C, [0.5, 0.5])
    tokens = np.array([0] * 5 + [1] * 5 + [0] * 5 + [1] * 5)
    # the linear pass gives up (its error bound is exceeded) ...
    CT, index = h.CT, tokens[None]
    plan = scan._plan(len(tokens) + 1, False)
    pi = np.empty((len(tokens) + 1, 2))
    _, status = scan._scan_kernel(False, h.mu, *scan._base_elements(h, CT, False), index[0],
                                  *plan, np.empty((1, 2)), np.empty((1, 2)), False,
                                  np.empty((1, 1, 2)), pi, np.zeros(2, dtype=np.int64))
    assert status == 1
    # ... and the log-space pass along the same schedule is exact
    for we in VARIANTS:
        out, loglik = df.parallel_scan(h, tokens, work_efficient=we, return_loglik=True)
        np.testing.assert_allclose(out, df.predict(h, tokens), atol=1e-12)
        ref = df.log_likelihood(h, tokens)
        assert ref < -900 and abs(loglik - ref) <= 1e-12 * abs(ref)


def test_tiny_positive_probability_stays_exact():
    A = [[1.0, 1e-200], [0.5, 0.5]]
    C = [[1.0, 0.0], [1.0, 1e-150]]
    h = df.HMM(A, C, [1.0, 0.0])
    tokens = np.array([0, 0, 1, 0])
    for we in VARIANTS:
        pi, loglik = df.parallel_scan(h, tokens, work_efficient=we, return_loglik=True)
        np.testing.assert_allclose(pi, df.predict(h, tokens), rtol=1e-12, atol=0)
        assert abs(loglik - df.log_likelihood(h, tokens)) <= 1e-12 * abs(loglik)


def test_zero_probability_is_refused_like_predict():
    h = df.HMM([[1.0, 0.0], [0.5, 0.5]], [[1.0, 0.0], [1.0, 1e-150]], [1.0, 0.0])
    for we in VARIANTS:
        with pytest.raises(ValueError, match="token 1 at position 2 has zero probability"):
            df.parallel_scan(h, [0, 0, 1, 0], work_efficient=we)
        with pytest.raises(ValueError, match="position 2 of sequence 1"):
            df.parallel_scan(h, [[0, 0, 0, 0], [0, 0, 1, 0]], work_efficient=we)


def test_empty_sequence():
    h = df.random_hmm(3, 2, seed=0)
    pi, levels, loglik = df.parallel_scan(h, np.array([], dtype=int), return_levels=True,
                                          return_loglik=True)
    np.testing.assert_array_equal(pi, h.mu[None])
    assert levels.shape == (1, 1, 3) and loglik == 0.0


@pytest.mark.parametrize("kwargs,match", [
    (dict(work_efficient="yes"), "work_efficient"),
    (dict(work_efficient=1), "work_efficient"),
    (dict(return_levels=None), "return_levels"),
    (dict(return_loglik="True"), "return_loglik"),
])
def test_bad_flags(kwargs, match):
    h = df.random_hmm(3, 2, seed=0)
    with pytest.raises(ValueError, match=match):
        df.parallel_scan(h, [0, 1], **kwargs)


def test_bad_arguments():
    h = df.random_hmm(3, 2, seed=0)
    with pytest.raises(ValueError, match="hmm"):
        df.parallel_scan(np.eye(3), [0, 1])
    with pytest.raises(ValueError, match="tokens"):
        df.parallel_scan(h, [0.0, 1.0])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        df.parallel_scan(h, [0, 2])
    with pytest.raises(ValueError, match="T"):
        scan_schedule(-1)


@settings(max_examples=30, deadline=None)
@given(d=st.integers(1, 5), n_tokens=st.integers(1, 4), T=st.integers(0, 40),
       stick=st.sampled_from([0.0, 0.9, 0.999]), conc=st.sampled_from([0.05, 1.0]),
       seed=st.integers(0, 2**16), we=st.booleans())
def test_property_scan_equals_predict(d, n_tokens, T, stick, conc, seed, we):
    h = df.random_hmm(d, n_tokens, seed=seed, stickiness=stick, emission_concentration=conc,
                      transition_concentration=conc)
    _, tokens = df.sample(h, T, seed=seed + 1)
    pi, loglik = df.parallel_scan(h, tokens, work_efficient=we, return_loglik=True)
    np.testing.assert_allclose(pi, df.predict(h, tokens), atol=1e-10)
    ref = df.log_likelihood(h, tokens)
    assert abs(loglik - ref) <= 1e-12 * max(abs(ref), 1.0)

import itertools

import numpy as np
import pytest

import dualfilter as df
from dualfilter import brute_force as bf


def _mse_by_full_enumeration(h, f, T, estimator):
    """E|f(X_T) - S(Z)|^2 summing over every state path AND token path (no recursion at all)."""
    d, n = h.n_states, h.n_tokens
    total = 0.0
    for x in itertools.product(range(d), repeat=T + 1):
        px = h.mu[x[0]] * np.prod([h.A[x[t], x[t + 1]] for t in range(T)])
        if px == 0:
            continue
        for z in itertools.product(range(n), repeat=T):
            p = px * np.prod([h.C[x[t], z[t]] for t in range(T)])
            total += p * (f[x[T]] - estimator(np.array(z))) ** 2
    return total


def test_dual_backward_without_control_is_matrix_power(small_hmm):
    f = np.arange(small_hmm.n_states, dtype=float)
    y = df.dual_backward(small_hmm, f, T=6)
    for t in range(7):
        np.testing.assert_allclose(y[t], np.linalg.matrix_power(small_hmm.A, 6 - t) @ f, atol=1e-14)
    np.testing.assert_allclose(df.dual_backward(small_hmm, f, np.zeros((6, small_hmm.n_tokens))), y)


def test_dual_backward_solves_the_bde(small_hmm):
    rng = np.random.default_rng(0)
    f = rng.normal(size=small_hmm.n_states)
    u = rng.normal(size=(5, small_hmm.n_tokens))
    y = df.dual_backward(small_hmm, f, u)
    np.testing.assert_array_equal(y[5], f)
    for t in range(5):
        np.testing.assert_allclose(y[t], small_hmm.A @ y[t + 1] + small_hmm.C @ u[t], atol=1e-14)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cost_identity_by_enumeration(small_hmm, seed):
    """E|f(X_T) - S|^2 = Var_mu(y_0) + sum_t p_t(Gamma_A(y_{t+1}) + Gamma_C(u_t)) (math.md sec. 3)."""
    rng = np.random.default_rng(seed)
    T = 4
    f = rng.normal(size=small_hmm.n_states)
    u = rng.normal(size=(T, small_hmm.n_tokens))
    y0 = df.dual_backward(small_hmm, f, u)[0]

    def S(z):
        return small_hmm.mu @ y0 - u[np.arange(T), z].sum()

    identity = df.control_cost(small_hmm, f, u)
    assert abs(identity - bf.estimator_mse(small_hmm, f, T, S)) < 1e-10 * max(1, identity)


def test_cost_identity_against_full_path_enumeration():
    h = df.random_hmm(3, 2, seed=7)
    rng = np.random.default_rng(1)
    T = 3
    f = rng.normal(size=3)
    u = rng.normal(size=(T, 2))
    y0 = df.dual_backward(h, f, u)[0]
    exact = _mse_by_full_enumeration(h, f, T, lambda z: h.mu @ y0 - u[np.arange(T), z].sum())
    assert abs(df.control_cost(h, f, u) - exact) < 1e-10


def test_estimator_is_unbiased(small_hmm):
    """E[S] = E[f(X_T)] = mu A^T f for every deterministic control."""
    T = 4
    rng = np.random.default_rng(3)
    f = rng.normal(size=small_hmm.n_states)
    u = rng.normal(size=(T, small_hmm.n_tokens))
    seqs, alpha = bf.joint_weights(small_hmm, T)
    y0 = df.dual_backward(small_hmm, f, u)[0]
    S = small_hmm.mu @ y0 - u[np.arange(T), seqs].sum(axis=1)
    mean_S = alpha.sum(1) @ S
    assert abs(mean_S - small_hmm.prior_marginals(T)[T] @ f) < 1e-12


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_optimal_control_estimator_equals_filter(seed):
    h = df.random_hmm(6, 5, seed=seed, stickiness=0.5, emission_concentration=0.3)
    _, tokens = df.sample(h, 80, seed=seed)
    f = np.random.default_rng(seed).normal(size=6)
    U = df.optimal_control(h, tokens, f)
    assert U.shape == (80, 5)
    pi = df.predict(h, tokens)
    assert abs(df.estimate(h, tokens, f, U) - pi[-1] @ f) < 1e-10
    # centred: pi_t(C U_t) = E[U_t(Z_t) | Z_0..Z_{t-1}] = 0
    np.testing.assert_allclose(np.einsum("tz,tz->t", pi[:-1] @ h.C, U), 0, atol=1e-12)


def test_optimal_control_gain_form(small_hmm):
    """U_t = -diag(pi_t C)^{-1} C^T Sigma^{pi_t} A y_{t+1} (conditional-covariance gain)."""
    T = 5
    _, tokens = df.sample(small_hmm, T, seed=4)
    f = np.linspace(-1, 2, small_hmm.n_states)
    U = df.optimal_control(small_hmm, tokens, f)
    pi = df.predict(small_hmm, tokens)
    y = df.dual_backward(small_hmm, f, T=T)
    C, A = small_hmm.C, small_hmm.A
    for t in range(T):
        cov = np.diag(pi[t]) - np.outer(pi[t], pi[t])
        gain = -np.diag(1 / (pi[t] @ C)) @ C.T @ cov @ A @ y[t + 1]
        np.testing.assert_allclose(U[t], gain, atol=1e-12)


def test_optimal_estimator_mse_is_mmse_and_beats_linear(small_hmm):
    T = 5
    f = np.linspace(1, -1, small_hmm.n_states)

    def S(z):
        return df.estimate(small_hmm, z, f, df.optimal_control(small_hmm, z, f))

    optimal = bf.estimator_mse(small_hmm, f, T, S)
    assert abs(optimal - bf.mmse(small_hmm, f, T)) < 1e-12
    assert optimal <= df.linear_predictor(small_hmm, T).mse(f) + 1e-12


def test_control_input_validation():
    h = df.random_hmm(3, 2, seed=0)
    with pytest.raises(ValueError, match="horizon T"):
        df.dual_backward(h, np.ones(3))
    with pytest.raises(ValueError, match="f must be a function on the 3 hidden states"):
        df.dual_backward(h, np.ones(4), T=2)
    with pytest.raises(ValueError, match=r"u must have shape \(T, n_tokens=2\)"):
        df.dual_backward(h, np.ones(3), np.ones((2, 3)))
    with pytest.raises(ValueError, match="u contains NaN"):
        df.control_cost(h, np.ones(3), np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="U has 3 rows but there are T = 2 tokens"):
        df.estimate(h, [0, 1], np.ones(3), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="f contains NaN"):
        df.optimal_control(h, [0, 1], [np.nan, 0, 0])

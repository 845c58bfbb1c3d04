"""Solvers of the fixed-point equation: Jacobi, damped Jacobi, Anderson (chapter 11)."""

import numpy as np
import pytest

import dualfilter as df
from dualfilter.solvers import damped_relaxation, symbol_spectrum, token_channel


def errors_by_layer(hmm, tokens, **kwargs):
    """(result, max_t ||x_l - pi_t||_1 for l = 0..layers) through the callback."""
    pi = df.predict(hmm, tokens)
    errs = []
    res = df.solve_fixed_point(hmm, tokens, callback=lambda l, x: errs.append(
        np.abs(x - pi).sum(axis=1).max()), **kwargs)
    return res, np.array(errs)


def first_below(errs, eps=1e-6):
    hit = np.flatnonzero(errs < eps)
    return int(hit[0]) if hit.size else None


def perfect_chain(theta=0.8, d=4, seed=0):
    """C = I, A = theta I + (1 - theta) 1 nu: chapter 8's perfectly observed chain."""
    rng = np.random.default_rng(seed)
    nu = rng.dirichlet(np.ones(d))
    return df.HMM(theta * np.eye(d) + (1 - theta) * np.outer(np.ones(d), nu), np.eye(d),
                  rng.dirichlet(np.ones(d)))


@pytest.fixture
def sequence():
    h = df.random_hmm(6, 5, seed=3, stickiness=0.6, emission_concentration=0.5)
    _, tokens = df.sample(h, 60, seed=8)
    return h, tokens


def test_jacobi_is_the_dual_filter(sequence):
    h, tokens = sequence
    for layers in (0, 1, 5, 30):
        res = df.solve_fixed_point(h, tokens, tol=0.0, max_layers=layers)
        assert res.layers == layers and res.residuals.shape == (layers,)
        np.testing.assert_array_equal(res.measures, df.dual_filter(h, tokens, layers))


def test_jacobi_is_exact_after_T_plus_one_layers(sequence):
    h, tokens = sequence
    T = len(tokens)
    res = df.solve_fixed_point(h, tokens, tol=0.0)
    assert res.converged and res.layers <= T + 2 and res.residuals[-1] == 0.0
    np.testing.assert_allclose(res.measures, df.predict(h, tokens), atol=1e-12)


@pytest.mark.parametrize("method", ["jacobi", "damped", "anderson"])
def test_residuals_are_the_fixed_point_residuals(sequence, method):
    h, tokens = sequence
    xs = []
    res = df.solve_fixed_point(h, tokens, method=method, tol=0.0, max_layers=12,
                               callback=lambda l, x: xs.append(np.array(x)))
    assert len(xs) == res.layers + 1
    np.testing.assert_array_equal(xs[-1], res.measures)
    for k in range(res.layers):
        r = np.abs(df.fixed_point_map(h, tokens, xs[k]) - xs[k]).sum(axis=1).max()
        assert abs(res.residuals[k] - r) <= 1e-14


def test_damped_jacobi_is_the_relaxed_layer(sequence):
    h, tokens = sequence
    xs = []
    df.solve_fixed_point(h, tokens, method="damped", relax=0.4, tol=0.0, max_layers=6,
                         callback=lambda l, x: xs.append(np.array(x)))
    for k in range(6):
        np.testing.assert_allclose(xs[k + 1], 0.6 * xs[k] + 0.4 * df.fixed_point_map(h, tokens, xs[k]),
                                   atol=1e-15)


@pytest.mark.parametrize("method", ["damped", "anderson"])
def test_methods_converge_to_the_predictor(sequence, method):
    h, tokens = sequence
    res = df.solve_fixed_point(h, tokens, method=method, tol=1e-12)
    assert res.converged and res.residuals[-1] <= 1e-12
    np.testing.assert_allclose(res.measures, df.predict(h, tokens), atol=1e-10)


def test_anderson_iterates_are_probability_vectors(sequence):
    h, tokens = sequence
    xs = []
    df.solve_fixed_point(h, tokens, method="anderson", memory=3, tol=0.0, max_layers=10,
                         callback=lambda l, x: xs.append(np.array(x)))
    for x in xs[1:]:
        assert np.all(x >= 0)
        np.testing.assert_allclose(x.sum(axis=1), 1.0, atol=1e-14)
        np.testing.assert_array_equal(x[0], h.mu)


def test_anderson_beats_jacobi_on_a_mixing_model():
    h = df.random_hmm(8, 8, seed=0, stickiness=0.8, emission_concentration=1.0)
    _, tokens = df.sample(h, 200, seed=1000)
    _, jac = errors_by_layer(h, tokens, tol=0.0, max_layers=201)
    _, aa = errors_by_layer(h, tokens, method="anderson", tol=0.0, max_layers=201)
    _, dmp = errors_by_layer(h, tokens, method="damped", tol=0.0, max_layers=201)
    L_jac, L_aa, L_dmp = first_below(jac), first_below(aa), first_below(dmp)
    assert L_aa is not None and L_dmp is not None
    assert L_aa < 0.6 * L_jac and L_dmp < 0.7 * L_jac


@pytest.mark.parametrize("method", ["damped", "anderson"])
def test_causal_variants_are_exact_after_T_plus_one_layers(method):
    """On a sticky informative chain damping and acceleration alone do not converge in T
    layers; keeping the exact prefix makes them exact after T+1 layers, as Jacobi."""
    h = df.random_hmm(8, 8, seed=0, stickiness=0.95, emission_concentration=0.1)
    _, tokens = df.sample(h, 80, seed=1000)
    _, plain = errors_by_layer(h, tokens, method=method, tol=0.0, max_layers=81)
    res, causal = errors_by_layer(h, tokens, method=method, causal=True, tol=0.0, max_layers=81)
    assert plain[-1] > 1e-6
    assert causal[-1] < 1e-12
    pi = df.predict(h, tokens)
    xs = []
    df.solve_fixed_point(h, tokens, method=method, causal=True, tol=0.0, max_layers=20,
                         callback=lambda l, x: xs.append(np.array(x)))
    for k, x in enumerate(xs):
        assert np.abs(x[:k + 1] - pi[:k + 1]).max() < 1e-13


def test_default_max_layers_is_ten_T_plus_one():
    h = df.random_hmm(8, 8, seed=0, stickiness=0.95, emission_concentration=0.1)
    _, tokens = df.sample(h, 20, seed=1)
    res = df.solve_fixed_point(h, tokens, method="damped", relax=0.01, tol=0.0)
    assert res.layers == 10 * 21 and not res.converged


# ------------------------------------------------------------------- the relaxation rule
def test_rule_on_the_perfectly_observed_chain():
    for theta in (0.3, 0.8, 0.95):
        a, q = damped_relaxation(perfect_chain(theta))
        assert abs(a - (1 - theta ** 2)) < 1e-6
        assert abs(q - theta) < 1e-6


def test_rule_closed_form_when_the_symbol_commutes():
    """A = theta I + (1 - theta) 1 nu acts as theta on mass-zero measures, so it commutes
    with the token channel: a = (1 - l^2) / (1 - l^2 + k l^2), k = 2nd eigenvalue of Xi."""
    theta, d = 0.9, 5
    rng = np.random.default_rng(1)
    nu = np.full(d, 1 / d)
    A = theta * np.eye(d) + (1 - theta) * np.outer(np.ones(d), nu)
    C = rng.dirichlet(np.full(3, 0.5), size=d)
    h = df.HMM(A, C, nu)
    Xi, pi_bar = token_channel(h)
    S = np.sqrt(pi_bar)
    kappa = np.sort(np.linalg.eigvalsh(S[:, None] * Xi / S[None, :]))[-2]   # symmetrised
    a, q = damped_relaxation(h)
    assert abs(a - (1 - theta ** 2) / (1 - theta ** 2 + kappa * theta ** 2)) < 1e-6
    assert abs(q - kappa * theta / (1 - theta ** 2 + kappa * theta ** 2)) < 1e-6


def test_token_channel_is_the_averaged_bayes_jacobian():
    h = df.random_hmm(5, 4, seed=2, emission_concentration=0.4)
    Xi, pi_bar = token_channel(h)
    np.testing.assert_allclose(Xi.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(pi_bar[:, None] * Xi, (pi_bar[:, None] * Xi).T, atol=1e-14)
    S = np.sqrt(pi_bar)
    eig = np.linalg.eigvalsh(S[:, None] * Xi / S[None, :])
    assert eig.min() > -1e-12 and eig.max() < 1 + 1e-12
    # sum_z pi(C_z) J(pi, z) m = -m Xi, J the Jacobian of rho -> rho^z - rho (finite differences)
    m = np.random.default_rng(0).normal(size=5)
    m -= m.mean()
    eps = 1e-6

    def innovation(rho, z):
        post = rho * h.C[:, z] / (rho @ h.C[:, z])
        return post - rho

    avg = sum((pi_bar @ h.C[:, z]) * (innovation(pi_bar + eps * m, z) - innovation(pi_bar - eps * m, z))
              / (2 * eps) for z in range(h.n_tokens))
    np.testing.assert_allclose(avg, -m @ Xi, atol=1e-8)


def test_symbol_spectrum_shape_and_pole():
    h = df.random_hmm(4, 3, seed=0, stickiness=0.5)
    assert symbol_spectrum(h, 64).shape == (64, 3)
    periodic = df.HMM([[0.0, 1.0], [1.0, 0.0]], [[0.9, 0.1], [0.2, 0.8]], [0.5, 0.5])
    with pytest.raises(ValueError, match="modulus 1"):
        symbol_spectrum(periodic)
    assert damped_relaxation(periodic) == (1.0, float("inf"))


# ------------------------------------------------------------------- arguments
@pytest.mark.parametrize("kwargs,match", [
    (dict(method="newton"), "method"),
    (dict(method=1), "method"),
    (dict(tol=-1.0), "tol"),
    (dict(tol="small"), "tol"),
    (dict(tol=float("nan")), "tol"),
    (dict(max_layers=-1), "max_layers"),
    (dict(max_layers=2.0), "max_layers"),
    (dict(method="damped", relax=0.0), "relax"),
    (dict(method="damped", relax=1.5), "relax"),
    (dict(method="anderson", relax=True), "relax"),
    (dict(relax=0.5), "relax"),
    (dict(method="anderson", memory=0), "memory"),
    (dict(init="zeros"), "init"),
    (dict(init=np.ones((3, 3))), "init"),
    (dict(causal="yes"), "causal"),
    (dict(callback=3), "callback"),
])
def test_bad_arguments(sequence, kwargs, match):
    h, tokens = sequence
    with pytest.raises(ValueError, match=match):
        df.solve_fixed_point(h, tokens, **kwargs)


def test_bad_tokens(sequence):
    h, tokens = sequence
    with pytest.raises(ValueError, match="tokens"):
        df.solve_fixed_point(h, np.stack([tokens, tokens]))
    with pytest.raises(ValueError, match="hmm"):
        df.solve_fixed_point("model", tokens)


@pytest.mark.parametrize("stop", [True, np.True_])
def test_callback_can_stop_the_solver(sequence, stop):
    h, tokens = sequence
    seen = []
    res = df.solve_fixed_point(h, tokens, method="anderson", tol=0.0, max_layers=50,
                               callback=lambda l, x: seen.append(l) or (stop if l == 3 else None))
    assert res.layers == 3 and seen == [0, 1, 2, 3]
    np.testing.assert_array_equal(res.measures, x_at(h, tokens, 3))


def x_at(h, tokens, layers):
    """The Anderson iterate after a given number of layers, run without a callback."""
    return df.solve_fixed_point(h, tokens, method="anderson", tol=0.0, max_layers=layers).measures

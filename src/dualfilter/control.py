"""Estimators as controls: the dual control system (chapters 3, 4 and 6 of the book).

An estimator of f(X_T) from Z_0..Z_{T-1} is written S = c - sum_t U_t(Z_t), with U_t a function
on the vocabulary (shape (n_tokens,)). With deterministic controls u_t, the backward
difference equation (BΔE)

    y_t = A y_{t+1} + C u_t,   y_T = f,   t = T-1, ..., 0

makes S = mu(y_0) - sum_t u_t(Z_t) unbiased with the cost identity

    E|f(X_T) - S|^2 = Var_mu(y_0) + sum_t p_t( Gamma_A(y_{t+1}) + Gamma_C(u_t) ),

Gamma_A(g) = A(g^2) - (A g)^2, Gamma_C(u) = C(u^2) - (C u)^2, p_t = mu A^t. The optimal adapted
control (chapter 6) is U_t(z) = -(pi_t(C_z y_t) - pi_t(C_z) pi_t(y_t)) / pi_t(C_z), y_t = A^{T-t} f.
"""

from __future__ import annotations

import numpy as np

from .filtering import predict
from .model import HMM, check_finite_result, check_function, check_horizon, check_tokens, _as_finite_array

__all__ = ["dual_backward", "control_cost", "optimal_control", "estimate"]


def _check_controls(hmm: HMM, u, T: int | None) -> np.ndarray:
    """Controls as an array (T, n_tokens); ``None`` means zero controls (then T is needed)."""
    if u is None:
        if T is None:
            raise ValueError("pass the horizon T when the controls u are None")
        return np.zeros((check_horizon(T), hmm.n_tokens))
    u = _as_finite_array(u, "u", 2)
    if u.shape[1] != hmm.n_tokens:
        raise ValueError(f"u must have shape (T, n_tokens={hmm.n_tokens}), got {u.shape}")
    if T is not None and u.shape[0] != check_horizon(T):
        raise ValueError(f"u has {u.shape[0]} rows but T = {T}")
    return u


def dual_backward(hmm: HMM, f, u=None, *, T: int | None = None) -> np.ndarray:
    """Solve the BΔE y_t = A y_{t+1} + C u_t backwards from y_T = f; shape (T+1, d).

    ``u`` has shape (T, n_tokens); ``u=None`` (with ``T`` given) means zero controls, which
    gives y_t = A^{T-t} f.
    """
    f = check_function(hmm, f)
    u = _check_controls(hmm, u, T)
    T = u.shape[0]
    y = np.empty((T + 1, hmm.n_states))
    y[T] = f
    for t in range(T - 1, -1, -1):
        y[t] = hmm.A @ y[t + 1] + hmm.C @ u[t]
    return check_finite_result(y, "dual_backward")


def control_cost(hmm: HMM, f, u) -> float:
    """The right side of the cost identity (chapter 4) for deterministic controls u (T, n_tokens).

    Var_mu(y_0) + sum_t p_t(Gamma_A(y_{t+1}) + Gamma_C(u_t)) where y solves the BΔE. It equals
    the mean-square error E|f(X_T) - S|^2 of S = mu(y_0) - sum_t u_t(Z_t).
    """
    u = _check_controls(hmm, u, None)
    y = dual_backward(hmm, f, u)
    A, C = hmm.A, hmm.C
    p = hmm.prior_marginals(u.shape[0])
    cost = hmm.mu @ y[0] ** 2 - (hmm.mu @ y[0]) ** 2
    for t in range(u.shape[0]):
        gamma_A = A @ y[t + 1] ** 2 - (A @ y[t + 1]) ** 2
        gamma_C = C @ u[t] ** 2 - (C @ u[t]) ** 2
        cost += p[t] @ (gamma_A + gamma_C)
    return float(check_finite_result(cost, "control_cost"))


def optimal_control(hmm: HMM, tokens, f) -> np.ndarray:
    """The optimal (adapted) control of chapter 6, shape (T, n_tokens).

    U_t(z) = -(pi_t(C_z y_t) - pi_t(C_z) pi_t(y_t)) / pi_t(C_z), y_t = A^{T-t} f, where pi_t is the
    nonlinear predictor given the observed ``tokens`` (T,). Row t depends on Z_0..Z_{t-1} only.
    Equivalently U_t = -diag(pi_t C)^{-1} C^T Sigma^{pi_t} A y_{t+1} with
    Sigma^pi = diag(pi) - pi^T pi. The control is centred, pi_t(C U_t) = 0. For a token z with
    pi_t(C_z) = 0 (it cannot occur at time t) U_t(z) is set to 0.
    """
    tokens = check_tokens(hmm, tokens)
    f = check_function(hmm, f)
    T = tokens.shape[0]
    pi = predict(hmm, tokens)
    y = dual_backward(hmm, f, T=T)
    C = hmm.C
    prob = pi[:T] @ C                                  # pi_t(C_z), (T, n_tokens)
    weighted = (pi[:T] * y[:T]) @ C                    # pi_t(C_z y_t), (T, n_tokens)
    mean_y = np.einsum("td,td->t", pi[:T], y[:T])      # pi_t(y_t), (T,)
    numerator = weighted - prob * mean_y[:, None]
    U = np.zeros((T, hmm.n_tokens))
    np.divide(-numerator, prob, out=U, where=prob > 0)
    return check_finite_result(U, "optimal_control")


def estimate(hmm: HMM, tokens, f, U) -> float:
    """The estimator S = mu(A^T f) - sum_t U_t(z_t) for controls U (T, n_tokens) and tokens (T,)."""
    tokens = check_tokens(hmm, tokens)
    f = check_function(hmm, f)
    U = _check_controls(hmm, U, tokens.shape[0])
    T = tokens.shape[0]
    y0 = dual_backward(hmm, f, T=T)[0]
    return float(check_finite_result(hmm.mu @ y0 - U[np.arange(T), tokens].sum(), "estimate"))

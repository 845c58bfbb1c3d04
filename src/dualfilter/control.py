"""Estimators as controls: the dual control system (chapters 3, 4 and 6 of the book).

An estimator of f(X_T) from Z_0..Z_{T-1} is written S = c - sum_t U_t(Z_t), with U_t a function
on the vocabulary (shape (n_tokens,)). With deterministic controls u_t, the backward
difference equation (BΔE)

    y_t = A y_{t+1} + C u_t,   y_T = f,   t = T-1, ..., 0

makes S = mu(y_0) - sum_t u_t(Z_t) unbiased with the cost identity

    E|f(X_T) - S|^2 = Var_mu(y_0) + sum_t p_t( Gamma_A(y_{t+1}) + Gamma_C(u_t) ),

Gamma_A(g) = A(g^2) - (A g)^2, Gamma_C(u) = C(u^2) - (C u)^2, p_t = mu A^t. The optimal adapted
control (chapter 6) is U_t(z) = -(pi_t(C_z y_t) - pi_t(C_z) pi_t(y_t)) / pi_t(C_z), y_t = A^{T-t} f.

The BΔE is implemented once, in ``_backward``, for given controls and for the linear
feedback u_t = -K_t y_{t+1} of the Riccati predictor (``linear``).
"""

from __future__ import annotations

import numpy as np

from ._validate import (
    as_real_array,
    check_array_size,
    check_finite_result,
    check_function,
    check_hmm,
    check_horizon,
    check_tokens,
)
from .filtering import _forward
from .model import HMM

__all__ = ["dual_backward", "control_cost", "optimal_control", "estimate"]


def _backward(hmm: HMM, f: np.ndarray, T: int, u: np.ndarray | None = None,
              gains: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Solve the BΔE y_t = A y_{t+1} + C u_t backwards from y_T = f: (y (T+1, d), u (T, n_tokens)).

    The controls are ``u`` (T, n_tokens) if given, else the feedback u_t = -K_t y_{t+1} with
    ``gains`` K_t (T, n_tokens, d) if given, else zero (then y_t = A^{T-t} f).
    """
    y = np.empty((T + 1, hmm.n_states))
    if u is None:
        u = np.zeros((T, hmm.n_tokens))
        if gains is not None:
            u = np.empty((T, hmm.n_tokens))
    y[T] = f
    for t in range(T - 1, -1, -1):
        if gains is not None:
            u[t] = -(gains[t] @ y[t + 1])
        y[t] = hmm.A @ y[t + 1] + hmm.C @ u[t]
    return y, u


def _estimate(hmm: HMM, y0: np.ndarray, u: np.ndarray, tokens: np.ndarray) -> float:
    """S = mu(y_0) - sum_t u_t(z_t) for the dual state y_0 and controls u (T, n_tokens)."""
    return float(hmm.mu @ y0 - u[np.arange(tokens.shape[0]), tokens].sum())


def _check_controls(hmm: HMM, u, name: str = "u") -> np.ndarray:
    """Controls as a float64 array (T, n_tokens)."""
    u = as_real_array(u, name, 2)
    if u.shape[1] != hmm.n_tokens:
        raise ValueError(f"{name} must have shape (T, n_tokens={hmm.n_tokens}), got {u.shape}")
    return u


def dual_backward(hmm: HMM, f, u=None, *, T=None) -> np.ndarray:
    """Solve the BΔE y_t = A y_{t+1} + C u_t backwards from y_T = f (chapter 4).

    Parameters
    ----------
    hmm : HMM
    f : array_like, shape (d,)
        The terminal condition, a function on the hidden states.
    u : array_like, shape (T, n_tokens), optional
        Deterministic controls. ``None`` (with ``T`` given) means zero controls, which give
        y_t = A^{T-t} f.
    T : int >= 0, optional
        The horizon; needed when ``u`` is None, else it must equal ``len(u)`` if given.

    Returns
    -------
    ndarray, shape (T+1, d)
        Row t is the dual state y_t.

    Raises
    ------
    ValueError
        On a bad shape or value, or when neither ``u`` nor ``T`` is given.
    """
    check_hmm(hmm)
    f = check_function(hmm, f)
    if u is None:
        if T is None:
            raise ValueError("dual_backward needs the controls u or, for zero controls, the horizon T")
        T = check_horizon(T)
    else:
        u = _check_controls(hmm, u)
        if T is not None and check_horizon(T) != u.shape[0]:
            raise ValueError(f"u has {u.shape[0]} rows but T = {T}")
        T = u.shape[0]
    check_array_size((T + 1, hmm.n_states), "dual_backward(T)")
    with np.errstate(over="ignore", invalid="ignore"):  # reported by check_finite_result
        y = _backward(hmm, f, T, u)[0]
    return check_finite_result(y, "dual_backward")


def control_cost(hmm: HMM, f, u) -> float:
    """The right side of the cost identity (chapter 4) for deterministic controls.

    Parameters
    ----------
    hmm : HMM
    f : array_like, shape (d,)
    u : array_like, shape (T, n_tokens)
        The controls; the horizon is ``len(u)`` (zero controls: ``np.zeros((T, n_tokens))``).

    Returns
    -------
    float
        Var_mu(y_0) + sum_t p_t(Gamma_A(y_{t+1}) + Gamma_C(u_t)) where y solves the BΔE. It
        equals the mean-square error E|f(X_T) - S|^2 of S = mu(y_0) - sum_t u_t(Z_t).

    Raises
    ------
    ValueError
        On a bad shape or value (including ``u=None``: the cost needs explicit controls).
    """
    check_hmm(hmm)
    f = check_function(hmm, f)
    if u is None:
        raise ValueError(
            "control_cost needs the controls u, an array of shape (T, n_tokens); for zero "
            "controls pass np.zeros((T, hmm.n_tokens))"
        )
    u = _check_controls(hmm, u)
    T = u.shape[0]
    A, C = hmm.A, hmm.C
    p = hmm.prior_marginals(T)
    with np.errstate(over="ignore", invalid="ignore"):  # reported by check_finite_result
        y = _backward(hmm, f, T, u)[0]
        cost = hmm.mu @ y[0] ** 2 - (hmm.mu @ y[0]) ** 2
        for t in range(T):
            gamma_A = A @ y[t + 1] ** 2 - (A @ y[t + 1]) ** 2
            gamma_C = C @ u[t] ** 2 - (C @ u[t]) ** 2
            cost += p[t] @ (gamma_A + gamma_C)
    return float(check_finite_result(cost, "control_cost"))


def optimal_control(hmm: HMM, tokens, f) -> np.ndarray:
    """The optimal (adapted) control of chapter 6.

    U_t(z) = -(pi_t(C_z y_t) - pi_t(C_z) pi_t(y_t)) / pi_t(C_z), y_t = A^{T-t} f, where pi_t is
    the nonlinear predictor given the observed tokens. Equivalently
    U_t = -diag(pi_t C)^{-1} C^T Sigma^{pi_t} A y_{t+1} with Sigma^pi = diag(pi) - pi^T pi.

    Parameters
    ----------
    hmm : HMM
    tokens : array_like of int, shape (T,)
    f : array_like, shape (d,)

    Returns
    -------
    ndarray, shape (T, n_tokens)
        Row t depends on Z_0..Z_{t-1} only. The control is centred, pi_t(C U_t) = 0. For a
        token z with pi_t(C_z) = 0 (it cannot occur at time t) U_t(z) is set to 0: the
        control is unique only on tokens of positive probability.

    Raises
    ------
    ValueError
        As :func:`dualfilter.predict`, or on a bad ``f``.
    """
    check_hmm(hmm)
    tokens = check_tokens(hmm, tokens)
    f = check_function(hmm, f)
    T = tokens.shape[0]
    pi = _forward(hmm, tokens[None])[0][0]
    y = _backward(hmm, f, T)[0]
    C = hmm.C
    prob = pi[:T] @ C                                  # pi_t(C_z), (T, n_tokens)
    weighted = (pi[:T] * y[:T]) @ C                    # pi_t(C_z y_t), (T, n_tokens)
    mean_y = np.einsum("td,td->t", pi[:T], y[:T])      # pi_t(y_t), (T,)
    numerator = weighted - prob * mean_y[:, None]
    U = np.zeros((T, hmm.n_tokens))
    np.divide(-numerator, prob, out=U, where=prob > 0)
    return check_finite_result(U, "optimal_control")


def estimate(hmm: HMM, tokens, f, U) -> float:
    """The estimator S = mu(A^T f) - sum_t U_t(z_t) of f(X_T) (chapters 3 and 6).

    Parameters
    ----------
    hmm : HMM
    tokens : array_like of int, shape (T,)
    f : array_like, shape (d,)
    U : array_like, shape (T, n_tokens)
        Controls (adapted or not), e.g. :func:`optimal_control`.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        On a bad shape or value.
    """
    check_hmm(hmm)
    tokens = check_tokens(hmm, tokens)
    f = check_function(hmm, f)
    U = _check_controls(hmm, U, "U")
    T = tokens.shape[0]
    if U.shape[0] != T:
        raise ValueError(f"U has {U.shape[0]} rows but there are T = {T} tokens")
    y0 = _backward(hmm, f, T)[0][0]
    with np.errstate(over="ignore", invalid="ignore"):  # reported by check_finite_result
        value = _estimate(hmm, y0, U, tokens)
    return check_finite_result(value, "estimate")

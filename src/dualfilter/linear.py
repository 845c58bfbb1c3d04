"""The best additive (linear) predictor as an LQ optimal control problem (chapter 5).

With deterministic controls the cost identity is quadratic in (y, u), and dynamic programming
forward in t with value function V_t(y) = y^T Sigma_t y gives the Riccati recursion

    Sigma_0 = diag(mu) - mu^T mu,
    K_t = S_t^+ C^T Sigma_t A,          S_t = C^T Sigma_t C + R_t,
    Sigma_{t+1} = A^T Sigma_t A + Q_t - A^T Sigma_t C K_t,

Q_t = diag(p_{t+1}) - A^T diag(p_t) A,  R_t = diag(p_t C) - C^T diag(p_t) C,  p_t = mu A^t.
The optimal control is u_t = -K_t y_{t+1} and the minimal cost f^T Sigma_T f is the MSE of the
best estimator of f(X_T) that is additive in the one-hot token features. It is the Kalman
filter of the linear representation e_{X_{t+1}} = A^T e_{X_t} + w_t, e_{Z_t} = C^T e_{X_t} + v_t,
whose noises have the covariances Q_t and R_t.

Numerics. Every matrix of the recursion is a covariance, so the recursion is computed in a
form that keeps it positive semi-definite to rounding, which matters on nearly deterministic
models (probabilities within 1e-12 of 0 or 1), where the textbook form subtracts nearly
equal numbers:

- Q_t = sum_x p_t(x) (diag(A_x) - A_x^T A_x) and R_t likewise, with the diagonal computed
  as sum_x p_t(x) a (1 - a), never as a difference of two sums;
- Sigma_{t+1} = A^T P_t A + Q_t with the posterior covariance in Joseph form,
  P_t = (I - G C^T) Sigma_t (I - G C^T)^T + G R_t G^T, G = Sigma_t C S_t^+;
- S_t^+ is the pseudo-inverse by a symmetric eigen-decomposition that drops eigenvalues
  below ``PINV_CUTOFF`` * max(1, largest eigenvalue). S_t is always singular (the one-hot
  features sum to one) and its scale is that of probabilities, so a cutoff relative to its
  own (possibly tiny) norm would invert rounding noise.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._validate import check_array_size, check_finite_result, check_function, check_hmm, check_horizon, check_tokens
from .control import _backward, _estimate
from .model import HMM, _prior_marginals

__all__ = ["linear_predictor", "LinearPredictor"]

PINV_CUTOFF = 1e-12


@njit(cache=True)
def _psd_pinv(S, cutoff):
    """Pseudo-inverse of a symmetric positive semi-definite matrix (see the module docstring)."""
    w, V = np.linalg.eigh(S)
    top = max(1.0, w[-1])
    out = np.zeros_like(S)
    for k in range(w.shape[0]):
        if w[k] > cutoff * top:
            v = V[:, k]
            out += np.outer(v, v) / w[k]
    return out


@njit(cache=True)
def _noise_covariance(p, M):
    """sum_x p(x) (diag(M_x) - M_x^T M_x) for a row-stochastic M, positive semi-definite."""
    pM = M * p.reshape(-1, 1)
    cov = -(M.T @ pM)
    diag = p @ (M * (1.0 - M))
    for j in range(cov.shape[0]):
        cov[j, j] = diag[j]
    return cov


@njit(cache=True)
def _riccati_kernel(A, C, mu, p, cutoff, Sigma, gains):
    """Fill Sigma (T+1, d, d) and gains (T, n_tokens, d) by the Riccati recursion (Joseph form).

    p (T+1, d) holds the prior marginals p_t = mu A^t.
    """
    T = gains.shape[0]
    d = A.shape[0]
    eye = np.eye(d)
    Sigma[0] = _noise_covariance(np.ones(1), mu.reshape(1, -1))
    CT = np.ascontiguousarray(C.T)
    AT = np.ascontiguousarray(A.T)
    for t in range(T):
        S = np.ascontiguousarray(Sigma[t])
        R = _noise_covariance(p[t], C)
        SC = S @ C
        G = SC @ _psd_pinv(CT @ SC + R, cutoff)          # (d, n_tokens)
        F = eye - G @ CT
        posterior = F @ S @ F.T + G @ R @ G.T            # Joseph form
        nxt = AT @ posterior @ A + _noise_covariance(p[t], A)
        Sigma[t + 1] = 0.5 * (nxt + nxt.T)
        gains[t] = G.T @ A                               # S^+ C^T Sigma_t A


class LinearPredictor:
    """The Riccati solution of chapter 5 for horizon T (build it with :func:`linear_predictor`).

    The recursion (chapter 5, eq. ``eq-linear-riccati``) runs in one numba kernel in Joseph
    form, with the pseudo-inverse cutoff ``PINV_CUTOFF`` relative to the largest eigenvalue.

    Parameters
    ----------
    hmm : HMM
        A validated model (the public entry point :func:`linear_predictor` validates).
    T : int
        The horizon, T >= 0.

    Attributes
    ----------
    hmm : HMM
    T : int
    Sigma : ndarray, shape (T+1, d, d)
        Sigma_t; f^T Sigma_t f is the minimal MSE of an additive estimator of f(X_t).
    gains : ndarray, shape (T, n_tokens, d)
        K_t, the optimal feedback u_t = -K_t y_{t+1}. The gains do not depend on the horizon:
        the predictor for horizon T' <= T has the first T' of them.
    """

    def __init__(self, hmm: HMM, T: int):
        self.hmm = hmm
        self.T = T
        d, n = hmm.n_states, hmm.n_tokens
        self.Sigma = np.empty((T + 1, d, d))
        self.gains = np.empty((T, n, d))
        _riccati_kernel(hmm.A, hmm.C, hmm.mu, _prior_marginals(hmm, T), PINV_CUTOFF,
                        self.Sigma, self.gains)
        check_finite_result(self.Sigma, "linear_predictor")

    def mse(self, f) -> float:
        """Minimal mean-square error f^T Sigma_T f of an additive estimator of f(X_T).

        Parameters
        ----------
        f : array_like, shape (d,)

        Returns
        -------
        float
            Non-negative: a rounding-level negative value (Sigma_T is positive semi-definite
            only to rounding) is returned as 0. Accurate to about 1e-12 * |f|^2 in absolute
            terms (the pseudo-inverse cutoff), however small the MSE.
        """
        f = check_function(self.hmm, f)
        with np.errstate(over="ignore", invalid="ignore"):  # reported by check_finite_result
            value = f @ self.Sigma[self.T] @ f
        value = float(check_finite_result(value, "mse"))
        return max(value, 0.0)

    def controls(self, f) -> np.ndarray:
        """Optimal deterministic controls u_t = -K_t y_{t+1} along the closed-loop BΔE.

        Parameters
        ----------
        f : array_like, shape (d,)

        Returns
        -------
        ndarray, shape (T, n_tokens)
        """
        f = check_function(self.hmm, f)
        return check_finite_result(_backward(self.hmm, f, self.T, gains=self.gains)[1], "controls")

    def estimate(self, tokens, f) -> float:
        """The best additive estimate mu(y_0) - sum_t u_t(z_t) of f(X_T).

        Parameters
        ----------
        tokens : array_like of int, shape (T,)
        f : array_like, shape (d,)

        Returns
        -------
        float
        """
        tokens = check_tokens(self.hmm, tokens)
        if tokens.shape[0] != self.T:
            raise ValueError(f"tokens must have length T = {self.T}, got {tokens.shape[0]}")
        f = check_function(self.hmm, f)
        y, u = _backward(self.hmm, f, self.T, gains=self.gains)
        return check_finite_result(_estimate(self.hmm, y[0], u, tokens), "estimate")

    def estimates(self, tokens) -> np.ndarray:
        """The best additive estimates of the state indicator along a path, the Kalman form.

        With the gains K_t of the Riccati recursion (they do not depend on the horizon) the
        best additive estimate m_t f of f(X_t) from Z_0..Z_{t-1} obeys

            m_0 = mu,   m_{t+1} = m_t A + (e_{z_t} - m_t C) K_t,

        the filter form of the linear predictor (chapter 5); m_t f equals
        ``linear_predictor(hmm, t).estimate(tokens[:t], f)`` for every f and t.

        Parameters
        ----------
        tokens : int array, shape (S,) with S <= T
            The tokens z_0..z_{S-1}, each in 0..n_tokens-1.

        Returns
        -------
        m : array, shape (S+1, d)
            Row t is the signed measure m_t: m_t f estimates f(X_t) from the first t tokens.

        Raises
        ------
        ValueError
            If a token is outside the vocabulary or has zero probability under every state,
            or if ``tokens`` is longer than the horizon T of this predictor.
        """
        tokens = check_tokens(self.hmm, tokens)
        if tokens.shape[0] > self.T:
            raise ValueError(f"tokens must have length at most T = {self.T}, got {tokens.shape[0]}")
        A, C = self.hmm.A, self.hmm.C
        m = np.empty((tokens.shape[0] + 1, self.hmm.n_states))
        m[0] = self.hmm.mu
        for t, z in enumerate(tokens):
            m[t + 1] = m[t] @ A + (self.gains[t][z] - m[t] @ C @ self.gains[t])
        return check_finite_result(m, "estimates")


def linear_predictor(hmm: HMM, T) -> LinearPredictor:
    """Solve the Riccati recursion of chapter 5 for horizon T.

    Parameters
    ----------
    hmm : HMM
    T : int >= 0

    Returns
    -------
    LinearPredictor

    Raises
    ------
    ValueError
        On a bad horizon, or one whose (T+1, d, d) Riccati matrices would not fit in memory.
    """
    check_hmm(hmm)
    T = check_horizon(T)
    check_array_size((T + 1, hmm.n_states, max(hmm.n_states, hmm.n_tokens)), "linear_predictor(T)")
    return LinearPredictor(hmm, T)

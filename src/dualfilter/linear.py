"""The best additive (linear) predictor as an LQ optimal control problem (chapter 5).

With deterministic controls the cost identity is quadratic in (y, u), and dynamic programming
forward in t with value function V_t(y) = y^T Sigma_t y gives the Riccati recursion

    Sigma_0 = diag(mu) - mu^T mu,
    K_t = (C^T Sigma_t C + R_t)^+ C^T Sigma_t A,
    Sigma_{t+1} = A^T Sigma_t A + Q_t - A^T Sigma_t C K_t,

Q_t = diag(p_{t+1}) - A^T diag(p_t) A,  R_t = diag(p_t C) - C^T diag(p_t) C,  p_t = mu A^t.
The optimal control is u_t = -K_t y_{t+1} and the minimal cost f^T Sigma_T f is the MSE of the
best estimator of f(X_T) that is additive in the one-hot token features.
"""

from __future__ import annotations

import numpy as np

from .model import HMM, check_finite_result, check_function, check_horizon, check_tokens

__all__ = ["linear_predictor", "LinearPredictor"]

PINV_RCOND = 1e-12


class LinearPredictor:
    """Riccati solution for horizon T.

    Attributes
    ----------
    Sigma : array (T+1, d, d)
        Sigma_t; f^T Sigma_t f is the minimal MSE of an additive estimator of f(X_t).
    gains : array (T, n_tokens, d)
        K_t, the optimal feedback u_t = -K_t y_{t+1}.
    """

    def __init__(self, hmm: HMM, T: int):
        self.hmm = hmm
        self.T = T
        A, C = hmm.A, hmm.C
        p = hmm.prior_marginals(T)
        d, n = hmm.n_states, hmm.n_tokens
        self.Sigma = np.empty((T + 1, d, d))
        self.gains = np.empty((T, n, d))
        self.Sigma[0] = np.diag(hmm.mu) - np.outer(hmm.mu, hmm.mu)
        for t in range(T):
            S = self.Sigma[t]
            Q = np.diag(p[t + 1]) - A.T @ (p[t][:, None] * A)
            R = np.diag(p[t] @ C) - C.T @ (p[t][:, None] * C)
            SA = S @ A
            K = np.linalg.pinv(C.T @ S @ C + R, rcond=PINV_RCOND, hermitian=True) @ (C.T @ SA)
            nxt = A.T @ SA + Q - SA.T @ C @ K
            self.Sigma[t + 1] = 0.5 * (nxt + nxt.T)  # symmetric up to rounding
            self.gains[t] = K

    def mse(self, f) -> float:
        """Minimal mean-square error f^T Sigma_T f of an additive estimator of f(X_T)."""
        f = check_function(self.hmm, f)
        return float(check_finite_result(f @ self.Sigma[self.T] @ f, "mse"))

    def controls(self, f) -> np.ndarray:
        """Optimal deterministic controls u_t = -K_t y_{t+1}, shape (T, n_tokens)."""
        f = check_function(self.hmm, f)
        u = np.empty((self.T, self.hmm.n_tokens))
        y = f
        for t in range(self.T - 1, -1, -1):
            u[t] = -self.gains[t] @ y
            y = self.hmm.A @ y + self.hmm.C @ u[t]
        return check_finite_result(u, "controls")

    def estimate(self, tokens, f) -> float:
        """The best additive estimate mu(y_0) - sum_t u_t(z_t) of f(X_T) from tokens (T,)."""
        tokens = check_tokens(self.hmm, tokens)
        if tokens.shape[0] != self.T:
            raise ValueError(f"tokens must have length T = {self.T}, got {tokens.shape[0]}")
        u = self.controls(f)
        y = check_function(self.hmm, f)
        for t in range(self.T - 1, -1, -1):
            y = self.hmm.A @ y + self.hmm.C @ u[t]
        return float(check_finite_result(self.hmm.mu @ y - u[np.arange(self.T), tokens].sum(), "estimate"))

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


def linear_predictor(hmm: HMM, T: int) -> LinearPredictor:
    """Solve the Riccati recursion of chapter 5 for horizon T (see ``LinearPredictor``)."""
    return LinearPredictor(hmm, check_horizon(T))

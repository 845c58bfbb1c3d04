"""The nonlinear predictor by the forward algorithm (chapter 2 of the book).

pi_t(f) = E[f(X_t) | Z_0..Z_{t-1}] is computed by the recursion

    pi_0 = mu,    pi_{t+1} = pi_t^{z_t} A,    rho^z := (rho .* C_z) / rho(C_z),

the Bayes update rho -> rho^z followed by the Markov prediction. The normaliser
pi_t(C_{z_t}) = P(Z_t = z_t | Z_0..Z_{t-1}) is the next-token probability of the token that
occurred, so the log-likelihood is sum_t log pi_t(C_{z_t}).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .model import HMM, check_tokens

__all__ = ["predict", "log_likelihood", "next_token_probs"]


@njit(cache=True)
def _forward_kernel(A, C, mu, tokens, pi):
    """Fill pi (T+1, d) with the predictive laws; return (log-likelihood, failing position).

    The failing position is -1 when every token has positive probability, else the first t
    with pi_t(C_{z_t}) = 0 (the remaining rows of pi are then left unset).
    """
    d = A.shape[0]
    T = tokens.shape[0]
    pi[0, :] = mu
    posterior = np.empty(d)
    loglik = 0.0
    for t in range(T):
        z = tokens[t]
        norm = 0.0
        for i in range(d):
            w = pi[t, i] * C[i, z]
            posterior[i] = w
            norm += w
        if not norm > 0.0:
            return loglik, t
        inv = 1.0 / norm
        for i in range(d):
            posterior[i] *= inv
        pi[t + 1, :] = np.dot(posterior, A)
        loglik += np.log(norm)
    return loglik, -1


def _forward(hmm: HMM, tokens) -> tuple[np.ndarray, float]:
    tokens = check_tokens(hmm, tokens)
    pi = np.empty((tokens.shape[0] + 1, hmm.n_states))
    loglik, failed = _forward_kernel(hmm.A, hmm.C, hmm.mu, tokens, pi)
    if failed >= 0:
        raise ValueError(
            f"token {int(tokens[failed])} at position {failed} has zero probability under the "
            f"model given the tokens before it"
        )
    return pi, loglik


def predict(hmm: HMM, tokens) -> np.ndarray:
    """The nonlinear predictor pi_t = P(X_t | Z_0..Z_{t-1}) for t = 0..T, shape (T+1, d).

    Implements the forward recursion pi_{t+1} = pi_t^{z_t} A of chapter 2; row t is a
    probability vector over the hidden states. ``tokens`` has shape (T,).

    Raises ValueError for a token outside the vocabulary or a token that the model gives
    zero probability (the message names its position).
    """
    return _forward(hmm, tokens)[0]


def log_likelihood(hmm: HMM, tokens) -> float:
    """log P(Z_0..Z_{T-1} = tokens) = sum_t log pi_t(C_{z_t}) (natural log)."""
    return float(_forward(hmm, tokens)[1])


def next_token_probs(hmm: HMM, tokens) -> np.ndarray:
    """P(Z_t = z | Z_0..Z_{t-1}) = pi_t(C_z) for t = 0..T, shape (T+1, n_tokens).

    Row T is the prediction of the token that follows the whole sequence.
    """
    return predict(hmm, tokens) @ hmm.C

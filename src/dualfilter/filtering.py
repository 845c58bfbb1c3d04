"""The nonlinear predictor by the forward algorithm (chapter 2 of the book).

pi_t(f) = E[f(X_t) | Z_0..Z_{t-1}] is computed by the recursion

    pi_0 = mu,    pi_{t+1} = pi_t^{z_t} A,    rho^z := (rho .* C_z) / rho(C_z),

the Bayes update rho -> rho^z followed by the Markov prediction. The normaliser
pi_t(C_{z_t}) = P(Z_t = z_t | Z_0..Z_{t-1}) is the next-token probability of the token that
occurred, so the log-likelihood is sum_t log pi_t(C_{z_t}).

Every function accepts one sequence, tokens of shape (T,), or a batch of B sequences of the
same length, tokens of shape (B, T); batched results carry a leading axis of length B. For a
batch the prediction step of all sequences is one (B x d)(d x d) matrix product.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .model import HMM, check_tokens

__all__ = ["predict", "log_likelihood", "next_token_probs"]

# Below this the plain normaliser pi_t(C_z) has lost precision (or underflowed): rescale.
_UNDERFLOW = 1e-280


@njit(cache=True)
def _bayes_step(prior, c_z, post):
    """post = prior^z = (prior .* c_z) / prior(c_z); return log prior(c_z), or -inf if it is 0.

    prior, post, c_z = C[:, z] all (d,). When the plain normaliser underflows the products
    are formed in log space and rescaled by their maximum, so a token of tiny but positive
    probability keeps a finite log-probability and an exact posterior.
    """
    d = prior.shape[0]
    norm = 0.0
    for i in range(d):
        w = prior[i] * c_z[i]
        post[i] = w
        norm += w
    if norm > _UNDERFLOW:
        inv = 1.0 / norm
        for i in range(d):
            post[i] *= inv
        return np.log(norm)
    top = -np.inf
    for i in range(d):
        if prior[i] > 0.0 and c_z[i] > 0.0:
            post[i] = np.log(prior[i]) + np.log(c_z[i])
            top = max(top, post[i])
        else:
            post[i] = -np.inf
    if top == -np.inf:
        return top
    norm = 0.0
    for i in range(d):
        post[i] = np.exp(post[i] - top)
        norm += post[i]
    inv = 1.0 / norm
    for i in range(d):
        post[i] *= inv
    return top + np.log(norm)


@njit(cache=True)
def _forward_kernel(AT, CT, mu, index, pi, loglik):
    """Forward recursion pi_{t+1} = pi_t^{z_t} A for B sequences at once; AT = A^T (d, d).

    CT (U, d) holds the emission columns C[:, z] of the U distinct tokens as rows and index
    (B, T) the row of each token (see emission_columns). Fills pi (B, T+1, d) and loglik
    (B,). The prediction step of the batch is one (B x d)(d x d) product by BLAS; for B = 1
    it is the matrix-vector product A^T pi_t^{z_t}, BLAS's faster layout. Returns (-1, -1), or the first (position t,
    sequence b) with pi_t(C_{z_t}) = 0 (rows of pi after t are then unset).
    """
    B, T = index.shape
    d = AT.shape[0]
    post = np.empty((B, d))
    for b in range(B):
        pi[b, 0, :] = mu
        loglik[b] = 0.0
    for t in range(T):
        for b in range(B):
            lp = _bayes_step(pi[b, t], CT[index[b, t]], post[b])
            if lp == -np.inf:
                return t, b
            loglik[b] += lp
        if B == 1:
            pi[0, t + 1, :] = np.dot(AT, post[0])
        else:
            nxt = np.dot(post, AT.T)
            for b in range(B):
                pi[b, t + 1, :] = nxt[b]
    return -1, -1


def emission_columns(hmm: HMM, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(CT, index): CT[k] = C[:, used[k]] for the distinct tokens ``used``, shape (U, d),
    and ``index`` (shape of tokens) with tokens = used[index].

    Gathering the columns once, as contiguous rows, spares the kernels a strided read of
    the (d, n_tokens) matrix at every step.
    """
    used, index = np.unique(tokens, return_inverse=True)
    CT = np.ascontiguousarray(hmm.C[:, used].T)
    return CT, index.reshape(tokens.shape).astype(np.int64)


def _forward(hmm: HMM, tokens) -> tuple[np.ndarray, np.ndarray]:
    """(pi, loglik) with shapes (T+1, d), () or (B, T+1, d), (B,) following ``tokens``."""
    tokens = check_tokens(hmm, tokens, allow_batch=True)
    batch = tokens[None, :] if tokens.ndim == 1 else tokens
    pi = np.empty((batch.shape[0], batch.shape[1] + 1, hmm.n_states))
    loglik = np.empty(batch.shape[0])
    CT, index = emission_columns(hmm, batch)
    AT = np.ascontiguousarray(hmm.A.T)
    failed, seq = _forward_kernel(AT, CT, hmm.mu, index, pi, loglik)
    if failed >= 0:
        where = f"position {failed}" + (f" of sequence {seq}" if tokens.ndim == 2 else "")
        raise ValueError(
            f"token {int(batch[seq, failed])} at {where} has zero probability under the "
            f"model given the tokens before it"
        )
    if tokens.ndim == 1:
        return pi[0], loglik[0]
    return pi, loglik


def predict(hmm: HMM, tokens) -> np.ndarray:
    """The nonlinear predictor pi_t = P(X_t | Z_0..Z_{t-1}) for t = 0..T.

    Implements the forward recursion pi_{t+1} = pi_t^{z_t} A of chapter 2; row t is a
    probability vector over the hidden states. ``tokens`` (T,) gives shape (T+1, d);
    a batch (B, T) gives (B, T+1, d).

    Raises ValueError for a token outside the vocabulary or a token that the model gives
    zero probability (the message names its position, and its sequence in a batch).
    """
    return _forward(hmm, tokens)[0]


def log_likelihood(hmm: HMM, tokens):
    """log P(Z_0..Z_{T-1} = tokens) = sum_t log pi_t(C_{z_t}) (natural log).

    A float for tokens (T,), an array (B,) for a batch (B, T).
    """
    loglik = _forward(hmm, tokens)[1]
    return float(loglik) if np.ndim(loglik) == 0 else loglik


def next_token_probs(hmm: HMM, tokens) -> np.ndarray:
    """P(Z_t = z | Z_0..Z_{t-1}) = pi_t(C_z) for t = 0..T, shape (T+1, n_tokens).

    Row T is the prediction of the token that follows the whole sequence. A batch (B, T)
    gives shape (B, T+1, n_tokens).
    """
    return predict(hmm, tokens) @ hmm.C

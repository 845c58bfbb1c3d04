"""The nonlinear predictor by the forward algorithm (chapter 2 of the book).

pi_t(f) = E[f(X_t) | Z_0..Z_{t-1}] is computed by the recursion

    pi_0 = mu,    pi_{t+1} = pi_t^{z_t} A,    rho^z := (rho .* C_z) / rho(C_z),

the Bayes update rho -> rho^z followed by the Markov prediction. The normaliser
pi_t(C_{z_t}) = P(Z_t = z_t | Z_0..Z_{t-1}) is the next-token probability of the token that
occurred, so the log-likelihood is sum_t log pi_t(C_{z_t}).

Every function accepts one sequence, tokens of shape (T,), or a batch of B sequences of the
same length, tokens of shape (B, T); batched results carry a leading axis of length B. For a
batch the prediction step of all sequences is one (B x d)(d x d) matrix product.

Precision. The scaled pass keeps pi_t normalised, so it never underflows as a whole, but a
single probability can fall below the float64 range (a state that two near-impossible
tokens in a row make ~1e-400 likely) and a later token can make that state the likely one.
The scaled pass watches for this: whenever a probability that is positive in exact
arithmetic loses its relative precision (a product in the Bayes step falls below the smallest
normal float64, ``MIN_NORMAL``; a predicted probability, a sum of d such products, falls
below ``UNDERFLOW`` = 1e-280), it stops for that sequence and the forward algorithm continues
in log space (logsumexp over states), which is exact for every model whose entries are
representable in float64. A tiny but normal probability (an emission entry of 1e-300, say)
is exact to rounding and does not trigger the switch. The result is the same function; only
the cost differs (d^2 exponentials per step instead of one matrix-vector product).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._validate import check_array_size, check_hmm, check_tokens
from .model import HMM

__all__ = ["predict", "log_likelihood", "next_token_probs"]

# A probability that is positive in exact arithmetic and computed below this value may have
# lost its relative precision (its terms underflowed): the log-space path takes over.
# A product of two probabilities is exact to rounding unless it falls below the smallest
# normal float64 (then it is subnormal or zero: its relative precision is lost).
MIN_NORMAL = float(np.finfo(np.float64).tiny)
UNDERFLOW = 1e-280


@njit(cache=True)
def _bayes_step(prior, c_z, post):
    """post = prior^z = (prior .* c_z) / prior(c_z); return (log prior(c_z), exact).

    prior (d,) is a non-negative measure (any total mass), c_z = C[:, z] (d,), post (d,) is
    overwritten. The log-evidence is -inf if the token is impossible under ``prior``
    (post is then unset). When the plain normaliser is below UNDERFLOW the products are
    formed in log space and rescaled by their maximum, so a token of tiny but positive
    probability keeps a finite log-probability and an exact posterior. ``exact`` is False
    when a posterior entry that is positive in exact arithmetic lost its relative precision:
    its product prior[i] * c_z[i] or the entry itself is below MIN_NORMAL (a normal product
    divided by a normal normaliser stays exact to rounding, however small).
    """
    d = prior.shape[0]
    norm = 0.0
    for i in range(d):
        w = prior[i] * c_z[i]
        post[i] = w
        norm += w
    plain = norm > UNDERFLOW
    if plain:
        for i in range(d):
            post[i] = post[i] / norm
        log_norm = np.log(norm)
    else:
        top = -np.inf
        for i in range(d):
            if prior[i] > 0.0 and c_z[i] > 0.0:
                post[i] = np.log(prior[i]) + np.log(c_z[i])
                if post[i] > top:
                    top = post[i]
            else:
                post[i] = -np.inf
        if top == -np.inf:
            return top, True
        norm = 0.0
        for i in range(d):
            post[i] = np.exp(post[i] - top)
            norm += post[i]
        for i in range(d):
            post[i] = post[i] / norm
        log_norm = top + np.log(norm)
    exact = True
    for i in range(d):
        if prior[i] > 0.0 and c_z[i] > 0.0:
            value = min(prior[i] * c_z[i], post[i]) if plain else post[i]
            if value < MIN_NORMAL:
                exact = False
    return log_norm, exact


@njit(cache=True)
def _prediction_exact(post, A, pred):
    """Whether pred = post A kept every positive entry above UNDERFLOW.

    An entry pred[j] below UNDERFLOW is fine if it is zero in exact arithmetic (no state i
    with post[i] > 0 and A[i, j] > 0); otherwise its terms underflowed.
    """
    d = pred.shape[0]
    for j in range(d):
        if pred[j] < UNDERFLOW:
            for i in range(d):
                if post[i] > 0.0 and A[i, j] > 0.0:
                    return False
    return True


@njit(cache=True)
def _forward_kernel(A, AT, CT, mu, tokens, pi, loglik, lossy):
    """Scaled forward recursion pi_{t+1} = pi_t^{z_t} A for B sequences at once.

    A (d, d), AT = A^T, CT = C^T (n_tokens, d) (row z is the emission column C_z), tokens
    (B, T). Fills pi (B, T+1, d) and loglik (B,). The prediction step of the batch is one
    (B x d)(d x d) product by BLAS; for B = 1 the matrix-vector product A^T pi_t^{z_t}.

    lossy (B,) is set to the first step t at which sequence b lost precision (see the module
    docstring), or -1; such a sequence is left at step t (rows after t unset) for the
    log-space pass. Returns (-1, -1), or the first (position t, sequence b) at which a token
    has probability exactly zero under the exact pi_t (rows after t unset).
    """
    B, T = tokens.shape
    d = AT.shape[0]
    post = np.empty((B, d))
    nxt = np.empty((B, d))
    step = np.zeros(B)                       # log pi_t(C_{z_t}) of the current step
    active = np.ones(B, dtype=np.bool_)
    for b in range(B):
        pi[b, 0, :] = mu
        loglik[b] = 0.0
        lossy[b] = -1
    for t in range(T):
        for b in range(B):
            if not active[b]:
                post[b, :] = 0.0
                continue
            lp, exact = _bayes_step(pi[b, t], CT[tokens[b, t]], post[b])
            if lp == -np.inf:
                return t, b
            if not exact:
                lossy[b] = t
                active[b] = False
                post[b, :] = 0.0
                continue
            step[b] = lp
        if B == 1:
            if active[0]:
                np.dot(AT, post[0], pi[0, t + 1])
        else:
            np.dot(post, A, nxt)
            for b in range(B):
                if active[b]:
                    pi[b, t + 1, :] = nxt[b]
        for b in range(B):
            if active[b]:
                if _prediction_exact(post[b], A, pi[b, t + 1]):
                    loglik[b] += step[b]
                else:
                    lossy[b] = t
                    active[b] = False
    return -1, -1


@njit(cache=True)
def _logsumexp(x):
    top = -np.inf
    for v in x:
        if v > top:
            top = v
    if top == -np.inf:
        return top
    s = 0.0
    for v in x:
        s += np.exp(v - top)
    return top + np.log(s)


@njit(cache=True)
def _log_forward_kernel(AT, logA, logCT, index, start, pi):
    """The forward recursion in log space for one sequence, from step ``start`` on.

    logA = log A (d, d), logCT (U, d) the logs of the emission columns of the tokens used
    (-inf for zeros), index (T,) the row of logCT of each token; pi (T+1, d) must
    hold an exact pi_start; rows start+1..T are filled (as probabilities, exp of the log
    law, entries below the float64 range being 0). Returns the log-likelihood of tokens
    start..T-1 given the ones before, or returns (-inf, t) at the first token t of
    probability zero; the second value is -1 otherwise.
    """
    T = index.shape[0]
    d = logA.shape[0]
    log_pi = np.empty(d)
    for i in range(d):
        log_pi[i] = np.log(pi[start, i]) if pi[start, i] > 0.0 else -np.inf
    joint = np.empty(d)
    column = np.empty(d)
    scaled = np.empty(d)
    summed = np.empty(d)
    total = 0.0
    for t in range(start, T):
        c = logCT[index[t]]
        for i in range(d):
            joint[i] = log_pi[i] + c[i]
        log_evidence = _logsumexp(joint)
        if log_evidence == -np.inf:
            return -np.inf, t
        total += log_evidence
        top = -np.inf
        for i in range(d):
            joint[i] -= log_evidence
            if joint[i] > top:
                top = joint[i]
        # log pi_{t+1}[j] = logsumexp_i(joint[i] + log A[i, j]) = top + log((e^{joint-top} A)[j]):
        # one BLAS product; a column whose sum falls below UNDERFLOW (every term of it
        # underflowed or tiny) is recomputed term by term in log space
        for i in range(d):
            scaled[i] = np.exp(joint[i] - top)
        np.dot(AT, scaled, summed)
        for j in range(d):
            if summed[j] >= UNDERFLOW:
                log_pi[j] = top + np.log(summed[j])
            else:
                for i in range(d):
                    column[i] = joint[i] + logA[i, j]
                log_pi[j] = _logsumexp(column)
        for j in range(d):
            pi[t + 1, j] = np.exp(log_pi[j])
    return total, -1


def _forward(hmm: HMM, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pi, loglik) with shapes (B, T+1, d), (B,) for validated tokens (B, T)."""
    B, T = tokens.shape
    check_array_size((B, T + 1, hmm.n_states), "predict(tokens)")
    pi = np.empty((B, T + 1, hmm.n_states))
    loglik = np.empty(B)
    lossy = np.empty(B, dtype=np.int64)
    failed, seq = _forward_kernel(hmm.A, hmm.AT, hmm.CT, hmm.mu, tokens, pi, loglik, lossy)
    if failed < 0 and np.any(lossy >= 0):
        with np.errstate(divide="ignore"):
            logA = np.log(hmm.A)
        for b in np.flatnonzero(lossy >= 0):
            used, index = np.unique(tokens[b], return_inverse=True)
            with np.errstate(divide="ignore"):
                logCT = np.log(hmm.CT[used])
            rest, failed = _log_forward_kernel(hmm.AT, logA, logCT, index.astype(np.int64), lossy[b], pi[b])
            if failed >= 0:
                seq = b
                break
            loglik[b] += rest
    if failed >= 0:
        where = f"position {failed}" + (f" of sequence {seq}" if B > 1 else "")
        raise ValueError(
            f"token {int(tokens[seq, failed])} at {where} has zero probability under the "
            f"model given the tokens before it"
        )
    return pi, loglik


def _batch(hmm, tokens) -> tuple[np.ndarray, bool]:
    """Validated tokens as a batch (B, T), and whether the caller passed a single sequence."""
    check_hmm(hmm)
    tokens = check_tokens(hmm, tokens, allow_batch=True)
    return (tokens[None, :], True) if tokens.ndim == 1 else (tokens, False)


def predict(hmm: HMM, tokens) -> np.ndarray:
    """The nonlinear predictor pi_t = P(X_t | Z_0..Z_{t-1}) for t = 0..T.

    Implements the forward recursion pi_{t+1} = pi_t^{z_t} A of chapter 2, in log space
    where the scaled pass would underflow (see the module docstring).

    Parameters
    ----------
    hmm : HMM
    tokens : array_like of int, shape (T,) or (B, T)
        One sequence, or a batch of B sequences of the same length.

    Returns
    -------
    ndarray, shape (T+1, d), or (B, T+1, d) for a batch
        Row t is the probability vector pi_t.

    Raises
    ------
    ValueError
        For a token outside the vocabulary, or a token that the model gives zero
        probability (the message names its position, and its sequence in a batch).
    """
    batch, single = _batch(hmm, tokens)
    pi = _forward(hmm, batch)[0]
    return pi[0] if single else pi


def log_likelihood(hmm: HMM, tokens):
    """log P(Z_0..Z_{T-1} = tokens) = sum_t log pi_t(C_{z_t}) (natural log).

    Parameters
    ----------
    hmm : HMM
    tokens : array_like of int, shape (T,) or (B, T)

    Returns
    -------
    float, or ndarray of shape (B,) for a batch
        Finite for every sequence of positive probability, however small (the log-space
        path takes over where the scaled pass would underflow).

    Raises
    ------
    ValueError
        As :func:`predict`.
    """
    batch, single = _batch(hmm, tokens)
    loglik = _forward(hmm, batch)[1]
    return float(loglik[0]) if single else loglik


def next_token_probs(hmm: HMM, tokens) -> np.ndarray:
    """P(Z_t = z | Z_0..Z_{t-1}) = pi_t(C_z) for t = 0..T.

    Parameters
    ----------
    hmm : HMM
    tokens : array_like of int, shape (T,) or (B, T)

    Returns
    -------
    ndarray, shape (T+1, n_tokens), or (B, T+1, n_tokens) for a batch
        Row T is the prediction of the token that follows the whole sequence.

    Raises
    ------
    ValueError
        As :func:`predict`.
    """
    batch, single = _batch(hmm, tokens)
    check_array_size((batch.shape[0], batch.shape[1] + 1, hmm.n_tokens), "next_token_probs(tokens)")
    probs = _forward(hmm, batch)[0] @ hmm.C
    return probs[0] if single else probs

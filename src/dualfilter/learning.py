"""Learning an HMM from tokens: Baum-Welch, the EM algorithm for HMMs (chapter 13).

Given sequences of tokens, ``fit_hmm`` looks for the parameters theta = (mu, A, C) that
maximise the log-likelihood log P_theta(Z = tokens) by expectation-maximisation
(Baum et al. 1970; Dempster, Laird and Rubin 1977). One iteration, at parameters theta:

E-step (the scaled forward-backward pass). For one sequence z_0..z_{T-1}:

    forward   alpha_0 = mu .* C_{z_0} / c_0,  alpha_t = (alpha_{t-1} A) .* C_{z_t} / c_t,
              c_t = P(Z_t = z_t | Z_{0:t-1}),  so alpha_t = P(X_t | Z_{0:t}) and
              log P(Z_{0:T-1}) = sum_t log c_t;
    backward  beta_{T-1} = 1,  beta_t = A (C_{z_{t+1}} .* beta_{t+1}) / s_t, with s_t any
              positive scale (here the sum of the entries), so that
              beta_t is proportional to P(Z_{t+1:T-1} | X_t);
    posteriors gamma_t = alpha_t .* beta_t / g_t,  g_t = alpha_t . beta_t,
              xi_t[i, j] = alpha_t[i] A[i, j] C[j, z_{t+1}] beta_{t+1}[j] / (c_{t+1} g_{t+1}).

The expected transition counts are a single matrix product:

    sum_t xi_t = A .* (alpha_{0:T-2}^T W),   W[t] = C_{z_{t+1}} .* beta_{t+1} / (c_{t+1} g_{t+1}),

a (d x (T-1)) by ((T-1) x d) product done by BLAS; the expected emission counts
sum_{t: z_t = z} gamma_t and the initial law gamma_0 are accumulated in the same pass.

M-step. mu <- average of gamma_0 over sequences; A[i] <- expected transitions out of i,
normalised; C[i] <- expected emissions of i, normalised. A state of zero expected occupancy
(its rows do not affect the likelihood) keeps its previous rows, so no row is 0/0.

Each iteration does not decrease the log-likelihood (the EM inequality); ``fit_hmm``
returns the whole path. The forward and backward passes of a sequence are independent
once theta is fixed (the backward pass is scaled by its own sums), so they run side by side
on two threads (the numba kernels release the GIL).
"""

from __future__ import annotations

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from ._validate import (
    ArgumentTypeError,
    check_array_size,
    check_hmm,
    check_int,
    check_real,
    check_token_sequences,
)
from .model import HMM, _dirichlet_rows, _rng

try:  # optional: keeps BLAS to one thread per worker while the E-step runs its own two threads
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl is in requirements.txt
    threadpool_limits = None

__all__ = ["fit_hmm"]

DEFAULT_FLOOR = 1e-6
# EM drives the probabilities of transitions it never uses towards 0 geometrically (below
# 1e-300 after a few hundred iterations of a 256-state model of text). In float64 such values
# make the forward algorithm's products underflow, and df.predict then finishes in log space
# at a hundred times the cost. The returned model raises them to about this value instead.
TRANSITION_FLOOR = 1e-12


@njit(cache=True, nogil=True)
def _vec_mat(x, M, out):
    """out = x M for x (d,), M (d, d) C-contiguous: out[j] = sum_i x[i] M[i, j].

    Four rows of M are combined per sweep over out (a loop that vectorises and loads and
    stores ``out`` a quarter as often as row by row).
    """
    d = M.shape[0]
    n = M.shape[1]
    for j in range(n):
        out[j] = 0.0
    i = 0
    while i + 4 <= d:
        x0, x1, x2, x3 = x[i], x[i + 1], x[i + 2], x[i + 3]
        m0, m1, m2, m3 = M[i], M[i + 1], M[i + 2], M[i + 3]
        for j in range(n):
            out[j] += x0 * m0[j] + x1 * m1[j] + x2 * m2[j] + x3 * m3[j]
        i += 4
    while i < d:
        xi = x[i]
        mi = M[i]
        for j in range(n):
            out[j] += xi * mi[j]
        i += 1


@njit(cache=True, nogil=True)
def _forward_filter(A, CT, mu, index, alpha, scale):
    """Scaled forward pass of one sequence: alpha[t] = P(X_t | Z_{0:t}), scale[t] = c_t.

    A (d, d); CT (U, d) the emission columns of the distinct tokens as rows; index (T,) the
    row of CT of each token; alpha (>= T, d) and scale (>= T,) are filled for t < T.
    Returns -1, or the first position t whose token has probability zero (c_t = 0).
    """
    T = index.shape[0]
    d = A.shape[0]
    pred = np.empty(d)
    for t in range(T):
        if t == 0:
            for j in range(d):
                pred[j] = mu[j]
        else:
            _vec_mat(alpha[t - 1], A, pred)
        c = CT[index[t]]
        s = 0.0
        for j in range(d):
            v = pred[j] * c[j]
            alpha[t, j] = v
            s += v
        if not s > 0.0:
            return t
        for j in range(d):
            alpha[t, j] = alpha[t, j] / s
        scale[t] = s
    return -1


@njit(cache=True, nogil=True)
def _backward(AT, CT, index, beta):
    """Backward pass of one sequence, each beta[t] scaled to sum one.

    beta[T-1] = 1/d, beta[t] proportional to A (C_{z_{t+1}} .* beta[t+1]), computed as the
    vector-matrix product w AT (contiguous rows of AT = A^T). beta (>= T, d) is filled for
    t < T. A row that vanishes (possible only for a sequence of probability zero, which the
    forward pass reports) is left at zero.
    """
    T = index.shape[0]
    d = AT.shape[0]
    w = np.empty(d)
    for i in range(d):
        beta[T - 1, i] = 1.0 / d
    for t in range(T - 2, -1, -1):
        c = CT[index[t + 1]]
        for j in range(d):
            w[j] = c[j] * beta[t + 1, j]
        _vec_mat(w, AT, beta[t])
        s = 0.0
        for i in range(d):
            s += beta[t, i]
        if s > 0.0:
            for i in range(d):
                beta[t, i] = beta[t, i] / s


@njit(cache=True, nogil=True)
def _posteriors(CT, index, alpha, beta, scale, emit, start):
    """Accumulate the expected counts of one sequence; overwrite beta with the weights W.

    emit (U, d) += gamma_t in row index[t]; start (d,) += gamma_0; on return beta[t] holds
    W[t] = C_{z_{t+1}} .* beta_{t+1} / (c_{t+1} g_{t+1}) for t = 0..T-2, so that the
    expected transition counts are A .* (alpha[:T-1]^T beta[:T-1]) (module docstring).
    """
    T = index.shape[0]
    d = alpha.shape[1]
    for t in range(T):
        g = 0.0
        for i in range(d):
            g += alpha[t, i] * beta[t, i]
        row = emit[index[t]]
        for i in range(d):
            row[i] += alpha[t, i] * beta[t, i] / g
        if t == 0:
            for i in range(d):
                start[i] += alpha[0, i] * beta[0, i] / g
        else:
            c = CT[index[t]]
            f = scale[t] * g
            for i in range(d):
                beta[t - 1, i] = c[i] * beta[t, i] / f


def _workers() -> int:
    try:
        return min(2, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return min(2, os.cpu_count() or 1)


class _EStep:
    """Buffers and the thread pool of one fit: the E-step of all sequences at given theta."""

    # below this many multiply-adds per pass a second thread costs more than it saves
    PARALLEL_WORK = 500_000

    def __init__(self, sequences, n_tokens, n_states):
        self.sequences = sequences
        self.n_tokens = n_tokens
        longest = max(seq.shape[0] for seq in sequences)
        check_array_size((longest, n_states), "fit_hmm(tokens): the longest sequence")
        self.alpha = np.empty((longest, n_states))
        self.beta = np.empty((longest, n_states))
        self.scale = np.empty(longest)
        self.used = np.unique(np.concatenate(sequences))
        lookup = np.zeros(n_tokens, dtype=np.int64)
        lookup[self.used] = np.arange(self.used.size)
        self.index = [np.ascontiguousarray(lookup[seq]) for seq in sequences]
        parallel = _workers() > 1 and longest * n_states**2 >= self.PARALLEL_WORK
        self.pool = ThreadPoolExecutor(max_workers=1) if parallel else None

    def _transition_product(self, alpha, weights):
        """alpha^T weights, shapes (T, d) and (T, d) -> (d, d), by BLAS (halves of the sum over
        t on two threads when the pool exists and the product is large)."""
        T, d = alpha.shape
        if self.pool is None or T * d * d < self.PARALLEL_WORK:
            return alpha.T @ weights
        h = T // 2
        first = self.pool.submit(np.dot, alpha[:h].T, weights[:h])
        second = alpha[h:].T @ weights[h:]
        return first.result() + second

    def close(self):
        if self.pool is not None:
            self.pool.shutdown()

    def __call__(self, hmm: HMM, stats: bool):
        """Log-likelihood at theta = hmm and, if ``stats``, the expected counts
        (start (d,), transitions (d, d), emissions (d, n_tokens))."""
        d = hmm.n_states
        A, AT, mu = hmm.A, hmm.AT, hmm.mu
        CT = np.ascontiguousarray(hmm.CT[self.used])
        start = np.zeros(d)
        product = np.zeros((d, d))
        emit = np.zeros((self.used.size, d))
        loglik = 0.0
        for k, index in enumerate(self.index):
            T = index.shape[0]
            alpha, beta, scale = self.alpha[:T], self.beta[:T], self.scale[:T]
            pending = None
            if stats:
                if self.pool is not None and T * d * d >= self.PARALLEL_WORK:
                    pending = self.pool.submit(_backward, AT, CT, index, beta)
                else:
                    _backward(AT, CT, index, beta)
            failed = _forward_filter(A, CT, mu, index, alpha, scale)
            if pending is not None:
                pending.result()
            if failed >= 0:
                where = f"position {failed}" + (
                    f" of sequence {k}" if len(self.index) > 1 else "")
                raise ValueError(
                    f"the initial model (init) gives token {int(self.sequences[k][failed])} "
                    f"at {where} of tokens probability zero; EM cannot start from it"
                )
            loglik += float(np.log(scale).sum())
            if stats:
                _posteriors(CT, index, alpha, beta, scale, emit, start)
                if T > 1:
                    product += self._transition_product(alpha[: T - 1], beta[: T - 1])
        if not stats:
            return loglik, None
        emissions = np.zeros((d, self.n_tokens))
        emissions[:, self.used] = emit.T
        return loglik, (start, A * product, emissions)


def _normalise_rows(counts: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Rows of counts divided by their sums; a row of zero sum keeps the previous row."""
    sums = counts.sum(axis=1, keepdims=True)
    out = np.divide(counts, sums, out=previous.copy(), where=sums > 0)
    return out


def _m_step(hmm: HMM, counts, n_sequences: int) -> HMM:
    start, transitions, emissions = counts
    mu = start / start.sum()
    A = _normalise_rows(transitions, hmm.A)
    C = _normalise_rows(emissions, hmm.C)
    return HMM(A, C, mu)


def _initial_model(n_states, n_tokens, seed, sequences) -> HMM:
    """The default start of EM (documented in fit_hmm)."""
    rng = _rng(seed)
    counts = np.bincount(np.concatenate(sequences), minlength=n_tokens).astype(float)
    unigram = (counts + 1.0) / (counts.sum() + n_tokens)
    A = _dirichlet_rows(rng, 1.0, n_states, n_states)
    noise = _dirichlet_rows(rng, 1.0, n_states, n_tokens)
    C = 0.5 * unigram + 0.5 * noise
    mu = np.full(n_states, 1.0 / n_states)
    return HMM(A, C / C.sum(axis=1, keepdims=True), mu)


def _floored(hmm: HMM, floor: float) -> HMM:
    """The returned model: emission floor ``floor``, transition floor TRANSITION_FLOOR."""
    if floor == 0.0:
        return hmm
    C = hmm.C + floor
    A = hmm.A + TRANSITION_FLOOR
    mu = hmm.mu + TRANSITION_FLOOR
    return HMM(A / A.sum(axis=1, keepdims=True), C / C.sum(axis=1, keepdims=True), mu / mu.sum())


def fit_hmm(tokens, n_states, *, n_tokens=None, n_iter=50, tol=1e-6, seed=0, init=None,
            floor=DEFAULT_FLOOR):
    """Fit an HMM to token sequences by Baum-Welch (EM), chapter 13.

    Implements the E-step and M-step of the module docstring, equations (eq-rt-backward),
    (eq-rt-posteriors), (eq-rt-xi-product) and (eq-rt-mstep) of chapter 13: the scaled
    forward-backward pass, the expected transition counts sum_t xi_t = A .* (alpha^T W) as
    one matrix product, and the normalised expected counts.

    Parameters
    ----------
    tokens : array_like of int, shape (T,); or shape (B, T); or a list of 1-D sequences
        One sequence, or several (a list may mix lengths). Sequences are independent, each
        starting from mu. Every sequence must be non-empty.
    n_states : int >= 1
        The number of hidden states d.
    n_tokens : int >= 1, optional
        The size of the vocabulary m + 1; by default the largest token plus one. Tokens of
        the vocabulary that never occur get emission probability ``floor`` (below).
    n_iter : int >= 0
        The largest number of EM iterations (parameter updates).
    tol : float >= 0
        Stop as soon as an iteration raises the log-likelihood per token (in nats) by less
        than ``tol``. The log-likelihood is summed over all tokens, so this criterion does
        not depend on the amount of data; hmmlearn's ``tol`` is on the sum.
    seed : int >= 0, tuple of int or numpy.random.Generator
        Seed of the default initial model (ignored when ``init`` is given).
    init : HMM, optional
        The initial parameters. By default: mu uniform, rows of A drawn from Dirichlet(1),
        rows of C the even mixture of the (add-one smoothed) token frequencies and a
        Dirichlet(1) draw, so that every state starts near the unigram law but the states
        differ.
    floor : float in [0, 1 / n_tokens)
        After the last iteration every emission probability is raised to at least about
        ``floor``, C <- (C + floor) / (1 + n_tokens floor), so that every token of the
        vocabulary has probability at least floor / (1 + n_tokens floor) at every position,
        whatever the context: a held-out sequence never gets probability zero (a token that
        EM drove to zero emission costs at most -log2(floor), about 20 bits for the default
        1e-6). The price on the training data is at most log(1 + n_tokens floor) nats per
        token (5.5e-5 for 55 tokens). With ``floor > 0`` the transition probabilities and the
        initial law are also raised, to about 1e-12: A <- (A + 1e-12) / (1 + d 1e-12), and
        likewise mu. EM drives unused transitions towards 0 (below 1e-300 for large models),
        where the forward algorithm's products underflow and ``predict`` must work in log
        space; the raised values keep every computation in the fast scaled pass, at a price
        of at most log(1 + d 1e-12) nats per token (2.6e-10 for d = 256). ``floor=0``
        returns the EM iterate itself.

    Returns
    -------
    hmm : HMM
        The fitted model: the last EM iterate, with the floors applied.
    log_likelihoods : ndarray, shape (n + 1,)
        Entry k is the log-likelihood (natural log, summed over all sequences) of the
        training tokens under the EM iterate after k updates (entry 0: the initial model),
        n <= n_iter the number of updates done. Non-decreasing up to rounding (the EM
        inequality). The floors are not included: the returned model's log-likelihood is at
        most (number of tokens) * log((1 + n_tokens floor) (1 + d 1e-12)) below the last
        entry.

    Raises
    ------
    ValueError
        On empty data (no sequence, or an empty one), tokens that are not integers or are
        outside 0..n_tokens-1, n_states < 1, n_iter < 0, tol < 0, a floor outside its range,
        an ``init`` that is not an HMM of the right shape or that gives the data probability
        zero. Every message names the argument.

    Notes
    -----
    Cost per iteration: two passes of T d^2 multiply-adds (forward and backward, on two
    threads when two cores are available) and one (d x T)(T x d) matrix product (its two
    halves on the two threads), with T the total number of tokens. While the fit runs, BLAS
    is limited to one thread per caller (threadpoolctl, when installed; restored on return),
    since two multi-threaded products on two cores would oversubscribe them. Memory: two
    arrays of (longest sequence) x d floats.
    """
    n_states = check_int(n_states, "n_states", low=1)
    sequences, n_tokens = check_token_sequences(tokens, n_tokens)
    n_iter = check_int(n_iter, "n_iter", low=0)
    tol = check_real(tol, "tol")
    if tol < 0:
        raise ValueError(f"tol must be non-negative, got {tol!r}")
    floor = check_real(floor, "floor")
    if not 0.0 <= floor < 1.0 / n_tokens:
        raise ValueError(f"floor must lie in [0, 1/n_tokens) = [0, {1.0 / n_tokens:.3g}), "
                         f"got {floor!r}")
    check_array_size((n_states, max(n_states, n_tokens)), "fit_hmm(n_states, n_tokens)")
    if init is None:
        hmm = _initial_model(n_states, n_tokens, seed, sequences)
    else:
        if not isinstance(init, HMM):
            raise ArgumentTypeError(
                f"init must be None or a dualfilter.HMM, got {type(init).__name__}")
        check_hmm(init)
        if init.n_states != n_states or init.n_tokens != n_tokens:
            raise ValueError(
                f"init has {init.n_states} states and {init.n_tokens} tokens; expected "
                f"n_states = {n_states} and n_tokens = {n_tokens}"
            )
        hmm = init
    n_total = sum(seq.shape[0] for seq in sequences)
    e_step = _EStep(sequences, n_tokens, n_states)
    history = []
    # The E-step runs two threads of its own: BLAS is kept to one thread meanwhile (restored
    # on return), since two multi-threaded GEMMs on two cores oversubscribe them.
    one_blas_thread = (threadpool_limits(limits=1, user_api="blas")
                       if threadpool_limits is not None and e_step.pool is not None
                       else contextlib.nullcontext())
    try:
        with one_blas_thread:
            for iteration in range(n_iter + 1):
                loglik, counts = e_step(hmm, stats=iteration < n_iter)
                history.append(loglik)
                if iteration > 0 and (history[-1] - history[-2]) / n_total < tol:
                    break
                if counts is None:
                    break
                hmm = _m_step(hmm, counts, len(sequences))
    finally:
        e_step.close()
    return _floored(hmm, floor), np.array(history)

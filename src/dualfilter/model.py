"""Hidden Markov models: the validated model, random models, and sampling.

Notation (chapter 2 of the book): hidden states S = {0, ..., d-1}, tokens O = {0, ..., m}
with ``n_tokens = m + 1``. ``A[i, j] = P(X_{t+1} = j | X_t = i)`` (d x d, row-stochastic),
``C[i, z] = P(Z_t = z | X_t = i)`` (d x n_tokens, row-stochastic), ``mu`` is the law of X_0.
Measures are row vectors (shape (d,)), functions on S are column vectors (shape (d,)).

Arguments are checked once, at the public boundary, by the private module ``_validate``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._validate import (
    as_real_array,
    check_array_size,
    check_horizon,
    check_hmm,
    check_int,
    check_real,
    check_stochastic,
)

__all__ = ["HMM", "random_hmm", "sample"]


class HMM:
    """A validated hidden Markov model with finite states and a finite vocabulary.

    The arrays are copied, checked and made read-only, so a model never changes after it is
    built; what every computation re-derives from them is computed once here.

    Parameters
    ----------
    A : array_like, shape (d, d)
        Transition matrix, ``A[i, j] = P(X_{t+1} = j | X_t = i)``; rows sum to 1.
    C : array_like, shape (d, n_tokens)
        Emission matrix, ``C[i, z] = P(Z_t = z | X_t = i)``; rows sum to 1.
    mu : array_like, shape (d,)
        Law of the initial state X_0.

    Attributes
    ----------
    A, C, mu : ndarray
        The model (float64, C-contiguous, read-only). Rows are divided by their sums (which
        were checked to lie within 1e-9 of one), so they sum to one to rounding.
    AT : ndarray, shape (d, d)
        A transposed and contiguous (the layout of the forward pass's matrix-vector product).
    CT : ndarray, shape (n_tokens, d)
        C transposed and contiguous: row z is the emission column C_z, gathered without a
        strided read.
    emitted : ndarray of bool, shape (n_tokens,)
        Whether some hidden state emits token z (column z of C is not zero). A token that no
        state emits has probability zero under every law of the state.

    Raises
    ------
    ValueError
        On a wrong shape, a complex, NaN or infinite entry, a negative entry, or a row that
        does not sum to 1 within 1e-9. The message names the offending matrix and row.
    """

    def __init__(self, A, C, mu):
        A = as_real_array(A, "A", 2)
        C = as_real_array(C, "C", 2)
        mu = as_real_array(mu, "mu", 1)
        d = A.shape[0]
        if d == 0 or A.shape[1] != d:
            raise ValueError(f"A must be a non-empty square matrix, got shape {A.shape}")
        if C.shape[0] != d or C.shape[1] == 0:
            raise ValueError(
                f"C must have shape (n_states, n_tokens) = ({d}, n_tokens >= 1), got {C.shape}"
            )
        if mu.shape != (d,):
            raise ValueError(f"mu must have shape ({d},) to match A, got {mu.shape}")
        check_stochastic(A, "A")
        check_stochastic(C, "C")
        check_stochastic(mu, "mu")
        # rows summed to one within 1e-9; dividing by the sums makes them sum to one to
        # rounding, so that laws propagated by the model keep mass one to rounding too
        self.A = A / A.sum(axis=1, keepdims=True)
        self.C = C / C.sum(axis=1, keepdims=True)
        self.mu = mu / mu.sum()
        self.AT = np.ascontiguousarray(self.A.T)
        self.CT = np.ascontiguousarray(self.C.T)
        self.emitted = np.any(self.C > 0, axis=0)
        for arr in (self.A, self.C, self.mu, self.AT, self.CT, self.emitted):
            arr.flags.writeable = False

    @property
    def n_states(self) -> int:
        """Number of hidden states d."""
        return self.A.shape[0]

    @property
    def n_tokens(self) -> int:
        """Size of the vocabulary, m + 1."""
        return self.C.shape[1]

    def prior_marginals(self, T) -> np.ndarray:
        """The prior laws p_t = mu A^t of X_t for t = 0..T.

        Parameters
        ----------
        T : int >= 0
            The horizon.

        Returns
        -------
        ndarray, shape (T+1, d)
            Row t is p_t (chapter 2).

        Raises
        ------
        ValueError
            If T is negative, not an integer, or so large that the result would not fit in
            memory.
        """
        T = check_horizon(T)
        check_array_size((T + 1, self.n_states), "prior_marginals(T)")
        return _prior_marginals(self, T)

    def __repr__(self) -> str:
        return f"HMM(n_states={self.n_states}, n_tokens={self.n_tokens})"


def _prior_marginals(hmm: HMM, T: int) -> np.ndarray:
    """p_t = mu A^t for t = 0..T, shape (T+1, d), for a validated horizon."""
    p = np.empty((T + 1, hmm.n_states))
    p[0] = hmm.mu
    for t in range(T):
        p[t + 1] = p[t] @ hmm.A
    return p


def random_hmm(
    n_states: int,
    n_tokens: int,
    *,
    seed,
    transition_concentration: float = 1.0,
    emission_concentration: float = 1.0,
    stickiness: float = 0.0,
) -> HMM:
    """A reproducible random HMM with Dirichlet rows.

    Parameters
    ----------
    n_states, n_tokens : int >= 1
        The number of hidden states d and the size of the vocabulary m + 1.
    seed : int >= 0, tuple of int >= 0, numpy.random.SeedSequence or numpy.random.Generator
        Seed of ``numpy.random.default_rng``: the same seed gives the same model.
    transition_concentration, emission_concentration : float > 0
        Each row of the random transition matrix is Dirichlet(``transition_concentration``),
        each row of C is Dirichlet(``emission_concentration``); mu is Dirichlet(1). Small
        concentrations give sparse, informative rows; large ones give nearly uniform rows.
    stickiness : float in [0, 1]
        s mixes in the identity, A = s I + (1 - s) A_random, which slows the mixing of the
        chain (|lambda_2| grows towards 1 as s -> 1).

    Returns
    -------
    HMM

    Raises
    ------
    ValueError
        On an argument of the wrong type or out of range, or a model too large for memory.
    """
    n_states = check_int(n_states, "n_states", low=1)
    n_tokens = check_int(n_tokens, "n_tokens", low=1)
    check_array_size((n_states, max(n_states, n_tokens)), "random_hmm(n_states, n_tokens)")
    for name, value in (
        ("transition_concentration", transition_concentration),
        ("emission_concentration", emission_concentration),
    ):
        if not check_real(value, name) > 0:
            raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    stickiness = check_real(stickiness, "stickiness")
    if not 0.0 <= stickiness <= 1.0:
        raise ValueError(f"stickiness must lie in [0, 1], got {stickiness!r}")
    rng = _rng(seed)
    A_random = _dirichlet_rows(rng, float(transition_concentration), n_states, n_states)
    C = _dirichlet_rows(rng, float(emission_concentration), n_states, n_tokens)
    mu = _dirichlet_rows(rng, 1.0, 1, n_states)[0]
    A = stickiness * np.eye(n_states) + (1.0 - stickiness) * A_random
    return HMM(A, C, mu)


def _rng(seed) -> np.random.Generator:
    """``numpy.random.default_rng(seed)`` for a validated seed: an int >= 0, a tuple of them,
    a SeedSequence or a Generator (ValueError naming ``seed`` otherwise)."""
    if isinstance(seed, (np.random.Generator, np.random.SeedSequence)):
        return np.random.default_rng(seed)
    if isinstance(seed, tuple) and seed:
        return np.random.default_rng([check_int(s, "seed", low=0) for s in seed])
    return np.random.default_rng(check_int(seed, "seed", low=0))


def _dirichlet_rows(rng, alpha: float, rows: int, cols: int) -> np.ndarray:
    """Rows of independent Dirichlet(alpha, ..., alpha) vectors, normalised exactly.

    Drawn through Gamma variables; a row whose Gammas all underflow to 0 (tiny alpha) is
    replaced by a one-hot vector at a uniformly random index, which is its limit law as
    alpha -> 0 (by symmetry the largest of the Gammas is equally likely to be any of them).
    """
    g = rng.gamma(alpha, size=(rows, cols))
    sums = g.sum(axis=1, keepdims=True)
    if not np.all(np.isfinite(sums)):  # huge alpha: the sum overflows; rescale rows first
        g = g / g.max(axis=1, keepdims=True)
        sums = g.sum(axis=1, keepdims=True)
    empty = sums[:, 0] == 0
    if np.any(empty):
        g[empty] = np.eye(cols)[rng.integers(cols, size=int(empty.sum()))]
        sums = g.sum(axis=1, keepdims=True)
    return g / sums


def sample(hmm: HMM, T: int, *, seed) -> tuple[np.ndarray, np.ndarray]:
    """Sample a path of the HMM.

    Parameters
    ----------
    hmm : HMM
    T : int >= 0
        The number of tokens.
    seed : int >= 0, tuple of int >= 0, numpy.random.SeedSequence or numpy.random.Generator

    Returns
    -------
    states : ndarray of int64, shape (T+1,)
        X_0..X_T.
    tokens : ndarray of int64, shape (T,)
        Z_0..Z_{T-1}.

    Notes
    -----
    The draws are inverse-CDF look-ups on uniforms from ``numpy.random.default_rng(seed)``,
    done in a numba kernel, so the result depends only on the model and the seed. Tokens are
    found by a binary search in block-wise cumulative sums of the emission rows of the
    states visited, computed once per call, so a large vocabulary costs one pass over those
    rows rather than one per draw.
    """
    check_hmm(hmm)
    T = check_horizon(T)
    check_array_size((2 * T + 1,), "sample(T)")
    uniforms = _rng(seed).random(2 * T + 1)
    return _sample_kernel(hmm.A, hmm.C, hmm.mu, uniforms, T, _BLOCK)


@njit(cache=True)
def _inverse_cdf(p, u):
    """Smallest index k with p[0] + ... + p[k] > u (p a probability vector, u in [0, 1))."""
    acc = 0.0
    last_positive = 0
    for k in range(p.shape[0]):
        if p[k] > 0.0:
            last_positive = k
            acc += p[k]
            if acc > u:
                return k
    return last_positive  # u within rounding of 1: the last state with positive mass


_BLOCK = 64  # entries of an emission row per block of the cumulative table


@njit(cache=True)
def _block_cumsums(C, rows, block):
    """Cumulative sums of the rows C[rows[j]] at block boundaries, shape (len(rows), nb+1).

    table[j, b] = C[r, 0] + ... + C[r, b*block - 1] (r = rows[j], nb = ceil(n_tokens/block)),
    accumulated left to right exactly as _inverse_cdf does; the last column is the row sum.
    Eight rows are accumulated side by side (eight independent chains of additions, the
    last group padded by repeating a row) so that the pass runs at memory speed.
    """
    n = C.shape[1]
    nb = (n + block - 1) // block
    R = rows.shape[0]
    table = np.empty((R, nb + 1))
    for g in range(0, R, 8):
        width = min(8, R - g)
        r = np.array([rows[g + min(j, width - 1)] for j in range(8)])
        c0, c1, c2, c3 = C[r[0]], C[r[1]], C[r[2]], C[r[3]]
        c4, c5, c6, c7 = C[r[4]], C[r[5]], C[r[6]], C[r[7]]
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
        for b in range(nb + 1):
            acc = (a0, a1, a2, a3, a4, a5, a6, a7)
            for j in range(width):
                table[g + j, b] = acc[j]
            for k in range(b * block, min((b + 1) * block, n)):
                a0 += c0[k]
                a1 += c1[k]
                a2 += c2[k]
                a3 += c3[k]
                a4 += c4[k]
                a5 += c5[k]
                a6 += c6[k]
                a7 += c7[k]
    return table


@njit(cache=True)
def _inverse_cdf_blocked(p, cums, block, u):
    """_inverse_cdf(p, u) in O(log(n / block) + block): binary search in the block sums cums."""
    nb = cums.shape[0] - 1
    if not cums[nb] > u:
        k = p.shape[0] - 1
        while k > 0 and not p[k] > 0.0:
            k -= 1
        return k  # u within rounding of 1: the last state with positive mass
    lo, hi = 0, nb  # invariant: cums[lo] <= u < cums[hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if cums[mid] > u:
            hi = mid
        else:
            lo = mid
    acc = cums[lo]
    for k in range(lo * block, p.shape[0]):
        if p[k] > 0.0:
            acc += p[k]
            if acc > u:
                return k
    return p.shape[0] - 1  # not reached: the scan reproduces cums[hi] > u


@njit(cache=True)
def _sample_kernel(A, C, mu, uniforms, T, block):
    """Draw X_0 ~ mu, Z_t ~ C[X_t], X_{t+1} ~ A[X_t]; return states (T+1,), tokens (T,).

    uniforms (2T+1,): uniforms[0] for X_0, uniforms[2t+1] for Z_t, uniforms[2t+2] for
    X_{t+1}. The chain does not depend on the tokens, so the path is drawn first; the token
    draws then share one block-cumulative table (_block_cumsums) per visited state.
    """
    d = A.shape[0]
    states = np.empty(T + 1, dtype=np.int64)
    tokens = np.empty(T, dtype=np.int64)
    states[0] = _inverse_cdf(mu, uniforms[0])
    for t in range(T):
        states[t + 1] = _inverse_cdf(A[states[t]], uniforms[2 * t + 2])
    slot = np.full(d, -1, dtype=np.int64)
    rows = np.empty(min(d, T), dtype=np.int64)
    R = 0
    for t in range(T):
        if slot[states[t]] < 0:
            slot[states[t]] = R
            rows[R] = states[t]
            R += 1
    table = _block_cumsums(C, rows[:R], block)
    for t in range(T):
        x = states[t]
        tokens[t] = _inverse_cdf_blocked(C[x], table[slot[x]], block, uniforms[2 * t + 1])
    return states, tokens

"""Hidden Markov models: the validated model, random models, and sampling.

Notation (chapter 2 of the book): hidden states S = {0, ..., d-1}, tokens O = {0, ..., m}
with ``n_tokens = m + 1``. ``A[i, j] = P(X_{t+1} = j | X_t = i)`` (d x d, row-stochastic),
``C[i, z] = P(Z_t = z | X_t = i)`` (d x n_tokens, row-stochastic), ``mu`` is the law of X_0.
Measures are row vectors (shape (d,)), functions on S are column vectors (shape (d,)).

This module also holds the input checks used at the package's public boundary: every public
function validates its arguments once, here, and the numba kernels behind it trust them.
"""

from __future__ import annotations

import numbers

import numpy as np
from numba import njit

__all__ = ["HMM", "random_hmm", "sample"]

ROW_SUM_TOLERANCE = 1e-9


def _as_finite_array(x, name: str, ndim: int) -> np.ndarray:
    """Return ``x`` as a C-contiguous float64 array of dimension ``ndim``, or raise ValueError."""
    try:
        arr = np.array(x, dtype=np.float64, copy=True, order="C")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of real numbers ({exc})") from None
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite entries")
    return arr


def check_finite_result(value, what: str):
    """Return ``value`` if every entry is finite, else raise ValueError.

    Used on the results of the public functions: finite inputs of huge magnitude (around
    1e154 and beyond, whose squares overflow) can push a float64 computation to inf or NaN,
    and a silent inf/NaN result is never returned.
    """
    if not np.all(np.isfinite(value)):
        raise ValueError(
            f"{what} overflowed to inf/NaN in float64: the inputs are of extreme magnitude "
            f"(rescale them, e.g. so that their entries are at most 1e100)"
        )
    return value


def _check_real(value, name: str) -> float:
    """Return a real scalar option as a float, or raise ValueError (None and strings too)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    return float(value)


def _check_stochastic(arr: np.ndarray, name: str) -> None:
    """Raise ValueError unless every row of ``arr`` is a probability vector."""
    if np.any(arr < 0):
        i = np.argwhere(arr < 0)[0]
        raise ValueError(f"{name} has a negative entry at index {tuple(int(k) for k in i)}")
    sums = arr.sum(axis=-1)
    bad = np.flatnonzero(np.abs(np.atleast_1d(sums) - 1.0) > ROW_SUM_TOLERANCE)
    if bad.size:
        row = int(bad[0])
        total = float(np.atleast_1d(sums)[row])
        where = f"row {row} of {name}" if arr.ndim == 2 else name
        raise ValueError(
            f"{where} sums to {total!r}, not 1 (tolerance {ROW_SUM_TOLERANCE}): "
            f"{name} must be row-stochastic"
        )


class HMM:
    """A validated hidden Markov model with finite states and a finite vocabulary.

    Parameters
    ----------
    A : array (d, d)
        Transition matrix, ``A[i, j] = P(X_{t+1} = j | X_t = i)``; rows sum to 1.
    C : array (d, n_tokens)
        Emission matrix, ``C[i, z] = P(Z_t = z | X_t = i)``; rows sum to 1.
    mu : array (d,)
        Law of the initial state X_0.

    Raises
    ------
    ValueError
        On a wrong shape, a NaN or infinite entry, a negative entry, or a row that does not
        sum to 1 within 1e-9. The message names the offending matrix and row.
    """

    def __init__(self, A, C, mu):
        A = _as_finite_array(A, "A", 2)
        C = _as_finite_array(C, "C", 2)
        mu = _as_finite_array(mu, "mu", 1)
        d = A.shape[0]
        if d == 0 or A.shape[1] != d:
            raise ValueError(f"A must be a non-empty square matrix, got shape {A.shape}")
        if C.shape[0] != d or C.shape[1] == 0:
            raise ValueError(
                f"C must have shape (n_states, n_tokens) = ({d}, n_tokens >= 1), got {C.shape}"
            )
        if mu.shape != (d,):
            raise ValueError(f"mu must have shape ({d},) to match A, got {mu.shape}")
        _check_stochastic(A, "A")
        _check_stochastic(C, "C")
        _check_stochastic(mu, "mu")
        for arr in (A, C, mu):
            arr.flags.writeable = False
        self.A, self.C, self.mu = A, C, mu

    @property
    def n_states(self) -> int:
        """Number of hidden states d."""
        return self.A.shape[0]

    @property
    def n_tokens(self) -> int:
        """Size of the vocabulary, m + 1."""
        return self.C.shape[1]

    def prior_marginals(self, T: int) -> np.ndarray:
        """The prior laws p_t = mu A^t of X_t for t = 0..T, shape (T+1, d)."""
        T = check_horizon(T)
        p = np.empty((T + 1, self.n_states))
        p[0] = self.mu
        for t in range(T):
            p[t + 1] = p[t] @ self.A
        return p

    def __repr__(self) -> str:
        return f"HMM(n_states={self.n_states}, n_tokens={self.n_tokens})"


def check_horizon(T) -> int:
    """Return the horizon ``T`` as a Python int >= 0, or raise ValueError."""
    if isinstance(T, bool) or not isinstance(T, numbers.Integral):
        raise ValueError(f"T must be a non-negative integer, got {T!r}")
    if T < 0:
        raise ValueError(f"T must be a non-negative integer, got {T}")
    return int(T)


def check_tokens(hmm: HMM, tokens, *, allow_batch: bool = False) -> np.ndarray:
    """Return ``tokens`` as a C-contiguous int64 array, or raise ValueError.

    Shape (T,) or, with ``allow_batch``, (B, T). Every entry must be an integer in
    0..n_tokens-1. Floats are refused even when integral, so that a probability vector
    passed by mistake is not silently truncated.
    """
    arr = np.asarray(tokens)
    if arr.dtype == object or arr.dtype.kind not in "iu":
        if arr.size == 0 and arr.dtype.kind == "f":
            arr = arr.astype(np.int64)  # np.asarray([]) is float64: an empty sequence is fine
        else:
            raise ValueError(f"tokens must be integers, got dtype {arr.dtype}")
    allowed = (1, 2) if allow_batch else (1,)
    if arr.ndim not in allowed:
        shapes = "(T,) or (B, T)" if allow_batch else "(T,)"
        raise ValueError(f"tokens must have shape {shapes}, got {arr.shape}")
    if arr.size:
        bad = np.flatnonzero((arr.ravel() < 0) | (arr.ravel() >= hmm.n_tokens))
        if bad.size:
            pos = np.unravel_index(bad[0], arr.shape)
            pos = int(pos[0]) if arr.ndim == 1 else tuple(int(p) for p in pos)
            raise ValueError(
                f"token {int(arr[pos])} at position {pos} is outside the vocabulary "
                f"0..{hmm.n_tokens - 1}"
            )
        mute = np.flatnonzero(~np.any(hmm.C > 0, axis=0)[arr.ravel()])
        if mute.size:  # such a token has zero probability under every law of the state
            pos = np.unravel_index(mute[0], arr.shape)
            pos = int(pos[0]) if arr.ndim == 1 else tuple(int(p) for p in pos)
            raise ValueError(
                f"token {int(arr[pos])} at position {pos} has zero probability under the "
                f"model: no hidden state emits it (column {int(arr[pos])} of C is zero)"
            )
    return np.ascontiguousarray(arr, dtype=np.int64)


def check_function(hmm: HMM, f, name: str = "f") -> np.ndarray:
    """Return a function on the hidden states as a float64 vector of shape (d,), or raise."""
    arr = _as_finite_array(f, name, 1)
    if arr.shape != (hmm.n_states,):
        raise ValueError(
            f"{name} must be a function on the {hmm.n_states} hidden states, shape "
            f"({hmm.n_states},), got {arr.shape}"
        )
    return arr


def check_measures(hmm: HMM, rho, T: int, name: str = "rho") -> np.ndarray:
    """Return a sequence of (signed) measures of shape (T+1, d) as float64, or raise."""
    arr = _as_finite_array(rho, name, 2)
    if arr.shape != (T + 1, hmm.n_states):
        raise ValueError(
            f"{name} must have shape (T+1, n_states) = ({T + 1}, {hmm.n_states}), got {arr.shape}"
        )
    return arr


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

    Each row of the random transition matrix is Dirichlet(``transition_concentration``),
    each row of C is Dirichlet(``emission_concentration``) and mu is Dirichlet(1). Small
    concentrations give sparse, informative rows; large ones give nearly uniform rows.
    ``stickiness`` s in [0, 1] mixes in the identity, A = s I + (1 - s) A_random, which
    slows the mixing of the chain (|lambda_2| grows towards 1 as s -> 1).
    """
    for name, value in (("n_states", n_states), ("n_tokens", n_tokens)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    for name, value in (
        ("transition_concentration", transition_concentration),
        ("emission_concentration", emission_concentration),
    ):
        value = _check_real(value, name)
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    stickiness = _check_real(stickiness, "stickiness")
    if not (np.isfinite(stickiness) and 0.0 <= stickiness <= 1.0):
        raise ValueError(f"stickiness must lie in [0, 1], got {stickiness!r}")
    rng = np.random.default_rng(seed)
    A_random = _dirichlet_rows(rng, transition_concentration, n_states, n_states)
    C = _dirichlet_rows(rng, emission_concentration, n_states, n_tokens)
    mu = _dirichlet_rows(rng, 1.0, 1, n_states)[0]
    A = stickiness * np.eye(n_states) + (1.0 - stickiness) * A_random
    return HMM(A, C, mu)


def _dirichlet_rows(rng, alpha: float, rows: int, cols: int) -> np.ndarray:
    """Rows of independent Dirichlet(alpha, ..., alpha) vectors, normalised exactly.

    Drawn through Gamma variables; a row whose Gammas all underflow to 0 (tiny alpha) is
    replaced by a one-hot vector at the largest log-Gamma, which is its limit law.
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

    Returns ``(states, tokens)`` with shapes (T+1,) and (T,): X_0..X_T and Z_0..Z_{T-1}.
    The draws are inverse-CDF look-ups on uniforms from ``numpy.random.default_rng(seed)``,
    done in a numba kernel, so the result depends only on the model and the seed. Tokens are
    found by a binary search in block-wise cumulative sums of the emission rows of the
    states visited, computed once per call, so a large vocabulary costs one pass over those
    rows rather than one per draw.
    """
    T = check_horizon(T)
    rng = np.random.default_rng(seed)
    uniforms = rng.random(2 * T + 1)
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

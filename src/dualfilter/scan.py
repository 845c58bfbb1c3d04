"""The nonlinear predictor by a parallel prefix scan (chapter 11 of the book).

With the transfer matrices M_z = diag(C_z) A (d x d) the forward algorithm reads

    pi_t  proportional to  mu M_{z_0} M_{z_1} ... M_{z_{t-1}},      t = 0..T,         (SCAN)

and mu M_{z_0} ... M_{z_{T-1}} 1 = P(Z_0..Z_{T-1} = tokens) (the rows of A sum to one). The
T+1 elements e_0 = mu (a row vector) and e_t = M_{z_{t-1}} (t = 1..T) are combined by the
associative product, so all the prefixes of (SCAN) can be computed by a parallel prefix scan:

- Hillis & Steele (``work_efficient=False``): at level k = 0, 1, ..., every position t >= 2^k
  replaces its element by x_{t-2^k} x_t. After level k position t holds the product of the
  window of elements (t - 2^{k+1}, t], so after ceil(log2(T+1)) levels every window reaches
  e_0: the shallowest scan, at the price of O(T log T) matrix products. Level k is a causal
  attention with the single dilation 2^k.
- Brent & Kung / Blelloch (``work_efficient=True``): an up-sweep that builds the products of
  aligned blocks of 2, 4, 8, ... elements (x_i <- x_{i-2^k} x_i for i+1 divisible by
  2^{k+1}), then a down-sweep that completes the other prefixes (x_i <- x_{i-2^k} x_i for
  i+1 = 2^k times an odd number >= 3): about 2 log2(T+1) levels and fewer than 2 (T+1)
  products, of which fewer than T+1 are d x d matrix products (the down-sweep multiplies
  finished prefixes, which are row vectors).

Which position combines with which at every level is the *schedule* (:func:`scan_schedule`);
one numba kernel executes any schedule.

Scaling and exactness. Every partial product x is stored as 2^E X with an integer exponent E
and X scaled so that its largest entry lies in [1/2, 1) (scaling by a power of two is exact),
so nothing overflows and the log-likelihood is E ln 2 + log(sum of the last prefix),
exactly. What scaling cannot prevent is that an entry of X, tiny beside the largest one,
underflows; such an entry matters later if a product of two stored factors comes out much
smaller than the product of their maxima (the large entries of one meet the small ones of
the other), which a product of two windows can do. The kernel therefore carries, for every
stored X, a rigorous bound tau on the absolute error that underflow has put into its entries
(relative to the scale of X): tau_XY = 2^s d (tau_X + tau_Y + 2 tau_X tau_Y + 2^-1074), s the
exponent of the rescaling of the product (kept as log2, and bounded by four times the largest
term). All the entries are non-negative, so there is no cancellation and the rounding errors
are relative (about (d + 2) machine epsilons per level); the bound tau covers underflow, the
only other error. At the end the error of every pi_t in L1 is at most 2 d tau / sum(x_t).
Where that bound exceeds ``BOUND`` (1e-15), or a product came out exactly zero, the sequence
is scanned again, along the same schedule, with the partial products stored as logarithms
(logsumexp products): exact for every model whose entries are representable, at the cost of
d^3 exponentials per product. A token of probability exactly zero is refused as ``predict``
refuses it.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import njit

from ._validate import check_array_size, check_flag, check_hmm, check_int, check_tokens
from .model import HMM, _prior_marginals

__all__ = ["parallel_scan", "scan_schedule"]

# the error bound (L1, on pi_t) above which a sequence is scanned again in log space
BOUND = 1e-15
_LOG2 = math.log(2.0)
_SMALL_D = 8         # up to this d the products are written out; above it they go to BLAS
_TINY = -1074.0      # log2 of the smallest subnormal: the absolute error of one underflow
_ZERO = 1 << 40      # the exponent _rescale reports for a product that is exactly zero


# --------------------------------------------------------------------------- schedule
def _levels(n: int, work_efficient: bool) -> list[tuple[str, int]]:
    """[(phase, k), ...]: the levels of the scan of n elements, in order."""
    if not work_efficient:
        return [("hs", k) for k in range(max(n - 1, 0).bit_length())]
    up = [("up", k) for k in range(n.bit_length()) if 2 ** (k + 1) <= n]
    down = [("down", k) for k in reversed(range(n.bit_length())) if 3 * 2 ** k <= n]
    return up + down


def _level_pairs(n: int, phase: str, k: int) -> np.ndarray:
    """(targets, sources) of one level, targets in decreasing order, shape (m, 2)."""
    step = 2 ** k
    if phase == "hs":
        targets = np.arange(n - 1, step - 1, -1)
    elif phase == "up":
        targets = np.arange(2 * step - 1, n, 2 * step)[::-1]
    else:
        targets = np.arange(3 * step - 1, n, 2 * step)[::-1]
    pairs = np.empty((len(targets), 2), dtype=np.int64)
    pairs[:, 0] = targets
    pairs[:, 1] = targets - step
    return pairs


def scan_schedule(T, *, work_efficient=False) -> list[np.ndarray]:
    """Which position combines with which at every level of the scan (chapter 11).

    Position t holds the element e_t (e_0 = mu, e_t = M_{z_{t-1}}); a pair (t, s) of a level
    means x_t <- x_s x_t, all the pairs of a level at once (the sources of a level are read
    before any target is written).

    Parameters
    ----------
    T : int >= 0
        The number of tokens (T+1 positions).
    work_efficient : bool
        False: Hillis & Steele, level k pairs (t, t - 2^k) for every t >= 2^k. True: the
        up-sweep/down-sweep scan of Brent & Kung and Blelloch.

    Returns
    -------
    list of ndarray of int64, one (m_k, 2) array per level
        The rows are (target t, source s), targets in decreasing order. The number of
        levels is ceil(log2(T+1)) (Hillis & Steele) or floor(log2(T+1)) +
        (floor(log2((T+1)/3)) + 1 if T+1 >= 3) (up- and down-sweep).
    """
    T = check_int(T, "T", low=0)
    work_efficient = check_flag(work_efficient, "work_efficient")
    n = T + 1
    return [_level_pairs(n, phase, k) for phase, k in _levels(n, work_efficient)]


@functools.lru_cache(maxsize=32)
def _plan(n: int, work_efficient: bool):
    """The schedule as flat arrays for the kernel, with the kind of every combination.

    Returns (ptr (L+1,), pairs (P, 2), matrix (P,) bool, slot (n,), n_slots): pairs
    ptr[k]..ptr[k+1]-1 form level k; ``matrix`` tells whether the source is still a matrix
    (a d x d product) or already a finished prefix (a row vector times a matrix); ``slot[t]``
    is the storage slot of position t's matrix, or -1 if it never holds a computed matrix.
    """
    levels = [_level_pairs(n, phase, k) for phase, k in _levels(n, work_efficient)]
    ptr = np.zeros(len(levels) + 1, dtype=np.int64)
    for k, pairs in enumerate(levels):
        ptr[k + 1] = ptr[k] + len(pairs)
    pairs = np.concatenate(levels) if levels else np.zeros((0, 2), dtype=np.int64)
    start = np.arange(n)                 # window of position t: elements start[t]..t
    matrix = np.zeros(len(pairs), dtype=np.bool_)
    for k in range(len(levels)):
        block = pairs[ptr[k]:ptr[k + 1]]
        src_start = start[block[:, 1]]   # (a copy: fancy indexing)
        matrix[ptr[k]:ptr[k + 1]] = src_start > 0
        start[block[:, 0]] = src_start
    owns = np.zeros(n, dtype=np.bool_)
    owns[pairs[matrix, 0]] = True
    owners = np.flatnonzero(owns)
    slot = np.full(n, -1, dtype=np.int64)
    slot[owners] = np.arange(len(owners))
    for arr in (ptr, pairs, matrix, slot):
        arr.flags.writeable = False      # cached: shared by every call with this n
    return ptr, pairs, matrix, slot, len(owners)


# --------------------------------------------------------------------------- kernels
@njit(cache=True)
def _tau_product(tx, ty, shift, log2d):
    """log2 of a bound on 2^shift d (tau_x + tau_y + 2 tau_x tau_y + 2^-1074), the underflow
    error of a product (tx, ty: log2 of the factors' bounds, log2d = log2(d)).

    The sum of the four terms is at most four times the largest. shift = -_ZERO (the product
    is exactly zero) gives +inf: nothing is left of it.
    """
    if shift == -_ZERO:
        return np.inf
    top = max(tx, ty, tx + ty + 1.0, _TINY)
    return shift + log2d + 2.0 + top


@njit(cache=True)
def _rescale(Z):
    """Scale Z (any shape, entries >= 0) exactly so that its largest entry is in [1/2, 1).

    Returns the exponent e with Z_before = 2^e Z_after, or a huge sentinel if Z is all zero.
    """
    flat = Z.reshape(-1)
    top = 0.0
    for v in flat:
        if v > top:
            top = v
    if top == 0.0:
        return _ZERO
    e = math.frexp(top)[1]
    if e == 0:
        return 0
    if -1000 < e < 1000:
        f = 2.0 ** (-e)
        for i in range(flat.shape[0]):
            flat[i] *= f
    else:
        for i in range(flat.shape[0]):
            flat[i] = math.ldexp(flat[i], -e)
    return e


@njit(cache=True)
def _log_rescale(Z):
    """Shift the logarithms Z so that their largest entry is 0; return the shift (-inf if all -inf)."""
    flat = Z.reshape(-1)
    top = -np.inf
    for v in flat:
        if v > top:
            top = v
    if top == -np.inf:
        return top
    for i in range(flat.shape[0]):
        flat[i] -= top
    return top


@njit(cache=True)
def _matmul(X, Y, Z):
    """Z = X Y for d x d matrices (loops for small d, BLAS above)."""
    d = X.shape[0]
    if d <= _SMALL_D:
        for i in range(d):
            for j in range(d):
                Z[i, j] = 0.0
            for k in range(d):
                x = X[i, k]
                for j in range(d):
                    Z[i, j] += x * Y[k, j]
    else:
        np.dot(X, Y, Z)


@njit(cache=True)
def _vecmat(v, Y, w):
    """w = v Y for a row vector v (d,)."""
    d = Y.shape[0]
    for j in range(d):
        w[j] = 0.0
    for k in range(d):
        x = v[k]
        for j in range(d):
            w[j] += x * Y[k, j]


@njit(cache=True)
def _log_matmul(X, Y, Z, column):
    """Z = log(exp(X) exp(Y)) by logsumexp over the inner index."""
    d = X.shape[0]
    for i in range(d):
        for j in range(d):
            top = -np.inf
            for k in range(d):
                column[k] = X[i, k] + Y[k, j]
                if column[k] > top:
                    top = column[k]
            if top == -np.inf:
                Z[i, j] = -np.inf
                continue
            acc = 0.0
            for k in range(d):
                acc += np.exp(column[k] - top)
            Z[i, j] = top + np.log(acc)


@njit(cache=True)
def _log_vecmat(v, Y, w, column):
    d = Y.shape[0]
    for j in range(d):
        top = -np.inf
        for k in range(d):
            column[k] = v[k] + Y[k, j]
            if column[k] > top:
                top = column[k]
        if top == -np.inf:
            w[j] = -np.inf
            continue
        acc = 0.0
        for k in range(d):
            acc += np.exp(column[k] - top)
        w[j] = top + np.log(acc)


@njit(cache=True)
def _estimate(log_space, vec, out):
    """out = the probability vector of a finished prefix vec (linear or logarithms)."""
    d = vec.shape[0]
    if log_space:
        top = -np.inf
        for i in range(d):
            if vec[i] > top:
                top = vec[i]
        total = 0.0
        for i in range(d):
            out[i] = np.exp(vec[i] - top) if top > -np.inf else 0.0
            total += out[i]
    else:
        total = 0.0
        for i in range(d):
            out[i] = vec[i]
            total += vec[i]
    if total > 0.0:
        for i in range(d):
            out[i] = out[i] / total


@njit(cache=True)
def _record_level(log_space, n, d, start, done, vecs, mats, slot, base, index, prior, logprior,
                  buf, column, out):
    """out[t] = the estimate of every position after a level (see ``parallel_scan``)."""
    for t in range(n):
        if done[t]:
            _estimate(log_space, vecs[t], out[t])
            continue
        X = mats[slot[t]] if slot[t] >= 0 and start[t] < t else base[index[t - 1]]
        a = start[t] - 1                  # the window starts from the prior law of X_a
        if log_space:
            _log_vecmat(logprior[a], X, buf, column)
        else:
            _vecmat(prior[a], X, buf)
        _estimate(log_space, buf, out[t])


@njit(cache=True)
def _scan_kernel(log_space, mu, base, base_scale, base_tau, index, ptr, pairs, matrix, slot,
                 n_slots, prior, logprior, record, levels_out, pi_out, counts):
    """Run a scan schedule over one sequence; fill pi_out (T+1, d); return (loglik, status).

    base (U, d, d): the scaled transfer matrices of the distinct tokens (logarithms when
    ``log_space``), with their scales base_scale (U,) (exponents of 2, or natural logs) and
    underflow bounds base_tau (U,) (log2); index (T,) the row of each token. The schedule is
    (ptr, pairs, matrix, slot, n_slots) from ``_plan``. With ``record`` the estimate after
    every level is written to levels_out (L+1, T+1, d). counts (2,) accumulates the numbers
    of matrix-matrix and vector-matrix products.

    status: 0 exact; 1 the underflow bound exceeded BOUND (rescan in log space);
    2 + t: the token at position t has probability zero (log space only).
    """
    n = index.shape[0] + 1
    d = mu.shape[0]
    log2d = np.log2(d)
    vecs = np.empty((n, d))
    vscale = np.zeros(n)
    vtau = np.full(n, -np.inf)
    done = np.zeros(n, dtype=np.bool_)
    mats = np.empty((max(n_slots, 0) + 1, d, d))
    mscale = np.zeros(n_slots + 1)
    mtau = np.full(n_slots + 1, -np.inf)
    where = slot.copy()                   # the storage of each position's matrix (-1: base)
    spare = n_slots
    start = np.arange(n)
    buf = np.empty(d)
    column = np.empty(d)
    # position 0: the initial law
    if log_space:
        for i in range(d):
            vecs[0, i] = np.log(mu[i]) if mu[i] > 0.0 else -np.inf
        vscale[0] = _log_rescale(vecs[0])
    else:
        vecs[0, :] = mu
        vscale[0] = _rescale(vecs[0])
    done[0] = True
    if record:
        _record_level(log_space, n, d, start, done, vecs, mats, where, base, index, prior,
                      logprior, buf, column, levels_out[0])
    L = ptr.shape[0] - 1
    for level in range(L):
        for q in range(ptr[level], ptr[level + 1]):
            t = pairs[q, 0]
            s = pairs[q, 1]
            # the target's own matrix x_t (never a finished prefix: its window starts > 0)
            if start[t] < t:
                X = mats[where[t]]
                xs, xt = mscale[where[t]], mtau[where[t]]
            else:
                u = index[t - 1]
                X = base[u]
                xs, xt = base_scale[u], base_tau[u]
            if not matrix[q]:             # a finished prefix times a matrix: a row vector
                if log_space:
                    _log_vecmat(vecs[s], X, vecs[t], column)
                    shift = _log_rescale(vecs[t])
                    vscale[t] = vscale[s] + xs + shift
                else:
                    _vecmat(vecs[s], X, vecs[t])
                    e = _rescale(vecs[t])
                    vscale[t] = vscale[s] + xs + e
                    vtau[t] = _tau_product(vtau[s], xt, -e, log2d)
                done[t] = True
                counts[1] += 1
            else:                         # a d x d product x_s x_t
                if start[s] < s:
                    Y = mats[where[s]]
                    ys, yt = mscale[where[s]], mtau[where[s]]
                else:
                    u = index[s - 1]
                    Y = base[u]
                    ys, yt = base_scale[u], base_tau[u]
                into = spare if start[t] < t else slot[t]
                Z = mats[into]
                if log_space:
                    _log_matmul(Y, X, Z, column)
                    shift = _log_rescale(Z)
                    mscale[into] = ys + xs + shift
                else:
                    _matmul(Y, X, Z)
                    e = _rescale(Z)
                    mscale[into] = ys + xs + e
                    mtau[into] = _tau_product(yt, xt, -e, log2d)
                if start[t] < t:          # swap the spare slot in
                    spare = where[t]
                    where[t] = into
                else:
                    where[t] = into
                counts[0] += 1
            start[t] = start[s]
        if record:
            _record_level(log_space, n, d, start, done, vecs, mats, where, base, index, prior,
                          logprior, buf, column, levels_out[level + 1])
    # read out pi_t and the log-likelihood
    for t in range(n):
        if log_space:
            if vscale[t] == -np.inf or np.isnan(vscale[t]):
                return -np.inf, 2 + t - 1
        else:
            total = 0.0
            for i in range(d):
                total += vecs[t, i]
            bound = 2.0 * d * 2.0 ** vtau[t] / total if total > 0.0 else np.inf
            if not bound <= BOUND:
                return -np.inf, 1
        _estimate(log_space, vecs[t], pi_out[t])
    last = n - 1
    if log_space:
        top = 0.0                         # the vector is shifted: its largest log is 0
        acc = 0.0
        for i in range(d):
            acc += np.exp(vecs[last, i] - top)
        return vscale[last] + np.log(acc), 0
    total = 0.0
    for i in range(d):
        total += vecs[last, i]
    return vscale[last] * _LOG2 + np.log(total), 0


# --------------------------------------------------------------------------- wrapper
def _base_elements(hmm: HMM, CT: np.ndarray, log_space: bool):
    """The scaled transfer matrices M_z = diag(C_z) A of the U distinct tokens.

    Returns (base (U, d, d), scale (U,), tau (U,)): M_z = 2^scale base with the largest entry
    of base in [1/2, 1) and underflow bound tau (log2); in log space base holds log M_z
    shifted to a largest entry 0 and scale the shift (natural log).
    """
    U, d = CT.shape
    base = np.empty((U, d, d))
    scale = np.zeros(U)
    tau = np.full(U, -np.inf)
    if log_space:
        with np.errstate(divide="ignore"):
            logA, logCT = np.log(hmm.A), np.log(CT)
        for u in range(U):
            base[u] = logCT[u][:, None] + logA
            top = base[u].max()
            base[u] -= top
            scale[u] = top
        return base, scale, tau
    for u in range(U):
        ec = math.frexp(CT[u].max())[1]                  # column scaled exactly to [1/2, 1)
        base[u] = np.ldexp(CT[u], -ec)[:, None] * hmm.A
        e = _rescale(base[u])
        scale[u] = ec + e
        tau[u] = -e + _TINY                              # one underflow in each product
    return base, scale, tau


def _scan(hmm: HMM, tokens: np.ndarray, work_efficient: bool, record: bool):
    """(pi (B, T+1, d), levels (B, L+1, T+1, d) or None, loglik (B,), counts (2,))."""
    B, T = tokens.shape
    n, d = T + 1, hmm.n_states
    ptr, pairs, matrix, slot, n_slots = _plan(n, work_efficient)
    L = len(ptr) - 1
    check_array_size((B, n, d), "parallel_scan(tokens)")
    check_array_size((n_slots + 1, d, d), "parallel_scan: the partial products of the scan")
    if record:
        check_array_size((B, L + 1, n, d), "parallel_scan(return_levels=True)")
    pi = np.empty((B, n, d))
    levels = np.empty((B, L + 1, n, d)) if record else np.empty((B, 1, 1, d))
    loglik = np.empty(B)
    counts = np.zeros(2, dtype=np.int64)
    # the transfer matrices of the distinct tokens only: CT[k] = C_{used[k]}, tokens = used[index]
    used, index = np.unique(tokens, return_inverse=True)
    CT, index = hmm.CT[used], index.reshape(tokens.shape).astype(np.int64)
    prior = _prior_marginals(hmm, T) if record else np.empty((1, d))
    with np.errstate(divide="ignore"):
        logprior = np.log(prior) if record else np.empty((1, d))
    linear = _base_elements(hmm, CT, False)
    logs = None
    for b in range(B):
        lv = levels[b] if record else levels[0]
        loglik[b], status = _scan_kernel(False, hmm.mu, *linear, index[b], ptr, pairs, matrix,
                                         slot, n_slots, prior, logprior, record, lv, pi[b], counts)
        if status == 1:
            if logs is None:
                logs = _base_elements(hmm, CT, True)
            loglik[b], status = _scan_kernel(True, hmm.mu, *logs, index[b], ptr, pairs, matrix,
                                             slot, n_slots, prior, logprior, record, lv, pi[b],
                                             np.zeros(2, dtype=np.int64))
        if status >= 2:
            t = status - 2
            where = f"position {t}" + (f" of sequence {b}" if B > 1 else "")
            raise ValueError(
                f"token {int(tokens[b, t])} at {where} has zero probability under the model "
                f"given the tokens before it"
            )
    return pi, (levels if record else None), loglik, counts


def parallel_scan(hmm: HMM, tokens, *, work_efficient=False, return_levels=False,
                  return_loglik=False):
    """The nonlinear predictor pi_t, t = 0..T, by a parallel prefix scan of (SCAN).

    pi_t is proportional to mu M_{z_0} ... M_{z_{t-1}} with M_z = diag(C_z) A (chapter 11);
    the prefix products are computed in ceil(log2(T+1)) levels (Hillis & Steele) or about
    2 log2(T+1) levels with O(T) products (``work_efficient``). Same function as
    :func:`dualfilter.predict` (to rounding), a different circuit.

    Parameters
    ----------
    hmm : HMM
    tokens : array_like of int, shape (T,) or (B, T)
        One sequence, or a batch of B sequences of the same length.
    work_efficient : bool
        False (default): Hillis & Steele, ceil(log2(T+1)) levels, level k combining position
        t with t - 2^k, O(T log T) d x d products. True: the up-sweep/down-sweep scan
        (Brent & Kung; Blelloch), about 2 log2(T+1) levels and fewer than T+1 d x d products.
        :func:`scan_schedule` lists the pairs of every level.
    return_levels : bool
        Also return the estimate after every level, shape (L+1, T+1, d) ((B, L+1, T+1, d)
        for a batch), L the number of levels. After a level, position t holds the product of
        a window of elements a..t; the estimate is pi_t where the window reaches e_0 = mu
        (those positions are exact), and otherwise the filter of the window's tokens started
        from the prior law mu A^{a-1} (row 0: each position has seen its own last token only).
        The last row is the result.
    return_loglik : bool
        Also return log P(Z_0..Z_{T-1} = tokens) from the scan: E ln 2 + log(x_T 1) with the
        exact power-of-two exponent E of the last prefix (a float, or (B,) for a batch). It
        agrees with :func:`dualfilter.log_likelihood` to about 1e-15 relative.

    Returns
    -------
    pi : ndarray, shape (T+1, d), or (B, T+1, d) for a batch
    levels : ndarray, only with ``return_levels``
    loglik : float or ndarray (B,), only with ``return_loglik``
        Returned in this order, as a tuple when more than pi is asked for.

    Raises
    ------
    ValueError
        On a bad argument; for a token of probability zero given the tokens before it (as
        :func:`dualfilter.predict`); if the partial products would not fit in memory (the
        scan stores up to T+1 matrices of d x d).

    Notes
    -----
    The partial products are rescaled by powers of two and carry a bound on the error that
    underflow can cause (module docstring); a sequence whose bound exceeds 1e-15 is scanned
    again along the same schedule in log space, so the result matches the log-space forward
    algorithm on near-deterministic models and horizons of 10^5 and more.
    """
    check_hmm(hmm)
    tokens = check_tokens(hmm, tokens, allow_batch=True)
    work_efficient = check_flag(work_efficient, "work_efficient")
    return_levels = check_flag(return_levels, "return_levels")
    return_loglik = check_flag(return_loglik, "return_loglik")
    single = tokens.ndim == 1
    batch = tokens[None] if single else tokens
    pi, levels, loglik, _ = _scan(hmm, batch, work_efficient, return_levels)
    out = [pi[0] if single else pi]
    if return_levels:
        out.append(levels[0] if single else levels)
    if return_loglik:
        out.append(float(loglik[0]) if single else loglik)
    return out[0] if len(out) == 1 else tuple(out)

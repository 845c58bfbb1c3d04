"""The fixed-point equation on probability measures and the dual filter (chapters 7-10).

For tokens z_0..z_{T-1} the layer map N sends a sequence of measures rho = (rho_0..rho_T) to

    N(rho)_t = mu A^t + sum_{s<t} (P(rho_s)^{z_s} - P(rho_s)) A^{t-s},   t = 0..T,      (FP)

computed as the causal scan r_0 = mu, r_{t+1} = ((r_t - P(rho_t)) + P(rho_t)^{z_t}) A in
O(T d^2). P is the normalisation (``normalize=True``: negative parts clipped, mass
renormalised; a measure that is already a probability vector to rounding is left as it is)
or the identity (``normalize=False``, the raw map). The nonlinear predictor pi = (pi_0..pi_T)
is the unique fixed point of N in P(S)^{T+1}; the dual filter iterates N layer by layer.

A batch of B sequences (tokens (B, T), measures (B, T+1, d)) runs the scans side by side, so
each step is one (B x d)(d x d) matrix product.

Exactness in floating point. Position t of N(rho) depends on rho_0..rho_{t-1} only, so after
l layers positions 0..l-1 no longer change. The scan subtracts P(rho_t) from the new r_t
*before* adding the posterior, so at a position that no longer changes r_t - P(rho_t) is
exactly zero and the step computes P(rho_t)^{z_t} A, the forward algorithm's own step: the
iterate reaches the forward algorithm's answer to rounding, even where a posterior entry is
1e-17 of its prior (adding the innovation to r_t first would round such entries away).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._validate import (
    check_array_size,
    check_finite_result,
    check_flag,
    check_function,
    check_hmm,
    check_int,
    check_measures,
    check_real,
    check_tokens,
)
from .filtering import _bayes_step, _forward
from .model import HMM, _prior_marginals

__all__ = ["fixed_point_map", "dual_filter", "contributions", "prior_measures"]

_EPS = 2.220446049250313e-16  # float64 machine epsilon

@njit(cache=True)
def _project(rho_t, normalize, out):
    """out = P(rho_t): the Bayes step's input (d,), see the module docstring.

    With ``normalize``: negative entries clipped to 0 and the mass divided out (division, not
    multiplication by 1/mass, so a subnormal mass does not overflow); a non-negative measure
    whose mass is one to within 16 d ulps is copied unchanged (it is a probability vector to
    rounding, and renormalising it would only move its entries by rounding); zero mass gives
    the uniform law. Without ``normalize``: a copy.
    """
    d = rho_t.shape[0]
    mass = 0.0
    clipped = False
    for i in range(d):
        v = rho_t[i]
        if normalize and v < 0.0:
            v = 0.0
            clipped = True
        out[i] = v
        mass += v
    if not normalize:
        return
    if mass > 0.0:
        if clipped or abs(mass - 1.0) > 16.0 * d * _EPS:
            for i in range(d):
                out[i] = out[i] / mass
    else:
        for i in range(d):
            out[i] = 1.0 / d


@njit(cache=True)
def _posterior(q, c_z, post):
    """post = q^z = (q .* c_z) / q(c_z) for a (possibly signed) measure q (d,).

    A non-negative q goes through the forward algorithm's own Bayes step (rescaled where the
    evidence is tiny). A signed q (the raw map's transient) is divided by its evidence as it
    is. Where the evidence is exactly zero the posterior is undefined; the likelihood-only
    posterior C_z / sum(C_z) (Bayes' rule from the uniform prior) is used. At the fixed point
    this never happens: a token of zero evidence under pi_t has probability zero, which
    ``predict`` refuses.
    """
    d = q.shape[0]
    signed = False
    for i in range(d):
        if q[i] < 0.0:
            signed = True
    if not signed:
        log_evidence, _ = _bayes_step(q, c_z, post)
        if log_evidence != -np.inf:
            return
    else:
        evidence = 0.0
        for i in range(d):
            evidence += q[i] * c_z[i]
        if evidence != 0.0:
            for i in range(d):
                post[i] = (q[i] / evidence) * c_z[i]
            return
    total = 0.0
    for i in range(d):
        total += c_z[i]
    for i in range(d):
        post[i] = c_z[i] / total


@njit(cache=True)
def _layer_kernel(A, CT, mu, tokens, rho, normalize, relax, out):
    """out = (1 - relax) rho + relax N(rho) for B sequences, by the causal scan of (FP).

    CT = C^T (n_tokens, d), tokens (B, T); rho (B or 1, T+1, d): a leading axis of length 1
    is shared by every sequence (the prior initialisation); out (B, T+1, d). Each step is one
    (B x d)(d x d) product by BLAS. Returns False if a value overflowed to inf or NaN.
    """
    B, T = tokens.shape
    d = A.shape[0]
    shared = rho.shape[0] == 1
    r = np.empty((B, d))          # r_t = N(rho)_t, unrelaxed
    q = np.empty(d)
    post = np.empty(d)
    carry = np.empty((B, d))
    finite = True
    for b in range(B):
        r[b, :] = mu
        rho_0 = rho[0, 0] if shared else rho[b, 0]
        for i in range(d):
            out[b, 0, i] = mu[i] if relax == 1.0 else relax * mu[i] + (1.0 - relax) * rho_0[i]
    for t in range(T):
        for b in range(B):
            rho_bt = rho[0, t] if shared else rho[b, t]
            _project(rho_bt, normalize, q)
            _posterior(q, CT[tokens[b, t]], post)
            for i in range(d):
                carry[b, i] = (r[b, i] - q[i]) + post[i]
        np.dot(carry, A, r)
        for b in range(B):
            rho_next = rho[0, t + 1] if shared else rho[b, t + 1]
            for i in range(d):
                v = r[b, i]
                if relax != 1.0:
                    v = relax * v + (1.0 - relax) * rho_next[i]
                if not np.isfinite(v):
                    finite = False
                out[b, t + 1, i] = v
        if not finite:
            return False
    return True


def prior_measures(hmm: HMM, T) -> np.ndarray:
    """The prior initialisation rho_t^(0) = mu A^t, t = 0..T.

    Parameters
    ----------
    hmm : HMM
    T : int >= 0

    Returns
    -------
    ndarray, shape (T+1, d)
    """
    check_hmm(hmm)
    return hmm.prior_marginals(T)


def _check_relax(relax) -> float:
    relax = check_real(relax, "relax")
    if not 0.0 < relax <= 1.0:
        raise ValueError(f"relax must lie in (0, 1], got {relax!r}")
    return relax


def _as_batch(x: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """View a single-sequence array as a batch of one (leading axis), batches unchanged."""
    return x[None] if tokens.ndim == 1 else x


def fixed_point_map(hmm: HMM, tokens, rho, *, normalize=True) -> np.ndarray:
    """One layer of the dual filter: N(rho) of equation (FP) (chapter 7).

    Parameters
    ----------
    hmm : HMM
    tokens : array_like of int, shape (T,) or (B, T)
    rho : array_like, shape (T+1, d) or (B, T+1, d)
        A sequence of (possibly signed) measures for every sequence of tokens.
    normalize : bool
        Apply the normalisation P to each Bayes input (default) or not (the raw map).

    Returns
    -------
    ndarray, shape of ``rho``
        Position t depends on rho_0..rho_{t-1} only (causality).

    Raises
    ------
    ValueError
        On a bad argument, or if the raw map overflows to inf.
    """
    check_hmm(hmm)
    tokens = check_tokens(hmm, tokens, allow_batch=True)
    rho = check_measures(hmm, rho, tokens)
    normalize = check_flag(normalize, "normalize")
    out = np.empty(rho.shape)
    if not _layer_kernel(hmm.A, hmm.CT, hmm.mu, _as_batch(tokens, tokens), _as_batch(rho, tokens),
                         normalize, 1.0, _as_batch(out, tokens)):
        check_finite_result(out, "fixed_point_map")
    return out


def dual_filter(hmm: HMM, tokens, layers, *, init="prior", normalize=True, relax=1.0,
                return_all=False, out=None) -> np.ndarray:
    """Iterate the layer map: rho^(l+1) = (1 - relax) rho^(l) + relax N(rho^(l)) (chapter 8).

    Parameters
    ----------
    hmm : HMM
    tokens : array_like of int, shape (T,), or (B, T) for a batch of B sequences
    layers : int >= 0
        The number of layers L.
    init : "prior" or array_like, shape (T+1, d) (a batch: (B, T+1, d))
        rho^(0); "prior" is rho_t^(0) = mu A^t.
    normalize : bool
        Apply the normalisation P to each Bayes input (the normalisation layer).
    relax : float in (0, 1]
        The relaxation a; a < 1 mixes in the previous iterate.
    return_all : bool
        Return every layer, shape (L+1, T+1, d) (a batch: (B, L+1, T+1, d)); otherwise the
        last, (T+1, d) (a batch: (B, T+1, d)).
    out : ndarray, optional
        A C-contiguous float64 array of the shape of the result (not with ``return_all``),
        which receives rho^(L) and is returned: a caller who runs many batches can reuse one
        buffer instead of paying for fresh memory on every call. It must not overlap ``init``.

    Returns
    -------
    ndarray
        rho^(L) (or the history).

    Raises
    ------
    ValueError
        On a bad argument; if the raw iteration overflows to inf in its transient; if the
        history would not fit in memory; or if, with relax = 1 and L >= T+1 layers, the
        result is not the forward algorithm's answer (see Notes).

    Notes
    -----
    The iteration stops as soon as an iterate equals the previous one bit for bit: every
    later layer would repeat it, so the result is that of L layers at the cost of fewer. With
    relax = 1 this happens after at most T+1 layers (position t is final after t+1 layers),
    and the result is then the nonlinear predictor pi (the forward algorithm's answer) to
    rounding, from any start; this is checked, and a model on which float64 cannot hold it
    in linear space (a probability below 1e-280 that later matters, where ``predict``
    switches to log space) raises ValueError instead of returning a different answer.
    With relax < 1 the number of layers is limited to 10**6.
    """
    check_hmm(hmm)
    tokens = check_tokens(hmm, tokens, allow_batch=True)
    T = tokens.shape[-1]
    relax = _check_relax(relax)
    layers = check_int(layers, "layers", low=0, high=None if relax == 1.0 else 10**6)
    normalize = check_flag(normalize, "normalize")
    return_all = check_flag(return_all, "return_all")
    shape = tokens.shape[:-1] + (T + 1, hmm.n_states)
    check_array_size(shape, "dual_filter(tokens)")
    if return_all:
        check_array_size(tokens.shape[:-1] + (layers + 1,) + shape[-2:],
                         "dual_filter(return_all=True) with this many layers")
    if isinstance(init, str):
        if init != "prior":
            raise ValueError(f'init must be "prior" or an array of measures, got {init!r}')
        rho = _prior_marginals(hmm, T)[None]           # shared by every sequence
    else:
        rho = _as_batch(check_measures(hmm, init, tokens, "init"), tokens)
    batch = _as_batch(tokens, tokens)
    full = (batch.shape[0],) + shape[-2:]
    given = out
    if out is not None:
        if return_all:
            raise ValueError("out cannot be used with return_all=True")
        if not (isinstance(out, np.ndarray) and out.dtype == np.float64 and out.shape == shape
                and out.flags.c_contiguous and out.flags.writeable):
            raise ValueError(f"out must be a writeable C-contiguous float64 array of shape {shape}")
        if np.may_share_memory(out, rho):
            raise ValueError("out must not overlap init")
        out = out.reshape(full)
    history = None
    if return_all:
        history = np.empty((batch.shape[0], layers + 1) + shape[-2:])
        history[:, 0] = rho
    # two buffers that the layers alternate between; layer L writes into the last one (out)
    buffers = [np.empty(full) for _ in range(min(layers, 2) - (out is not None))]
    if out is not None:
        buffers.append(out)
    if len(buffers) == 2 and layers % 2:
        buffers.reverse()
    done = 0
    for layer in range(1, layers + 1):
        nxt = buffers[layer % len(buffers)]
        if not _layer_kernel(hmm.A, hmm.CT, hmm.mu, batch, rho, normalize, relax, nxt):
            raise ValueError(
                f"the dual filter overflowed at layer {layer} (normalize={normalize}); the "
                f"un-normalised iteration can blow up in its transient: use normalize=True"
            )
        stalled = nxt.shape == rho.shape and np.array_equal(nxt, rho)
        rho = nxt
        done = layer
        if return_all:
            history[:, layer] = rho
        if stalled:
            break
    if return_all and done < layers:
        history[:, done + 1:] = rho[:, None]
    if relax == 1.0 and layers >= T + 1:
        _check_exact(hmm, tokens, rho)
    if return_all:
        result = history
    else:
        result = out
        if result is None:         # L = 0: rho is the shared prior, or the caller's init
            result = rho if done > 0 else np.empty(full)
        if result is not rho:
            result[...] = rho
        if given is not None:
            return given
    return result[0] if tokens.ndim == 1 else result


def _check_exact(hmm: HMM, tokens: np.ndarray, rho: np.ndarray) -> None:
    """Raise ValueError unless the final iterate rho (B, T+1, d) is the forward algorithm's pi."""
    pi = _forward(hmm, _as_batch(tokens, tokens))[0]
    error = np.abs(rho - pi).sum(axis=-1).max(initial=0.0)
    if not error <= 1e-9:
        raise ValueError(
            f"the dual filter's fixed point differs from the forward algorithm by {error:.3g} "
            f"in L1: on this model a probability falls below the float64 range (~1e-280) and "
            f"matters later, which the linear-space layer map cannot represent; "
            f"df.predict computes the answer in log space"
        )


def contributions(hmm: HMM, tokens, rho, f, *, normalize=True) -> np.ndarray:
    """The "attention" matrix of one layer for the query f (chapter 10).

    W[t, s] = (P(rho_s)^{z_s} - P(rho_s)) A^{t-s} f for s < t and 0 otherwise, so that
    N(rho)_t(f) = mu A^t f + sum_s W[t, s]. The dependence on t - s alone through A^{t-s} is
    the relative positional encoding.

    Parameters
    ----------
    hmm : HMM
    tokens : array_like of int, shape (T,)
    rho : array_like, shape (T+1, d)
    f : array_like, shape (d,)
    normalize : bool

    Returns
    -------
    ndarray, shape (T+1, T+1)
        Strictly lower triangular; column T is zero (position T has no token yet).
    """
    check_hmm(hmm)
    tokens = check_tokens(hmm, tokens)
    T = tokens.shape[0]
    rho = check_measures(hmm, rho, tokens)
    f = check_function(hmm, f)
    normalize = check_flag(normalize, "normalize")
    check_array_size((T + 1, T + 1), "contributions(tokens)")
    innovations = np.empty((T, hmm.n_states))
    q = np.empty(hmm.n_states)
    post = np.empty(hmm.n_states)
    for s in range(T):
        _project(rho[s], normalize, q)
        _posterior(q, hmm.CT[tokens[s]], post)
        innovations[s] = post - q
    powers = np.empty((T + 1, hmm.n_states))           # powers[k] = A^k f
    powers[0] = f
    for k in range(T):
        powers[k + 1] = hmm.A @ powers[k]
    with np.errstate(over="ignore", invalid="ignore"):  # reported by check_finite_result
        values = innovations @ powers.T                # values[s, k] = delta_s A^k f
    W = np.zeros((T + 1, T + 1))
    for t in range(1, T + 1):
        s = np.arange(t)
        W[t, :t] = values[s, t - s]
    return check_finite_result(W, "contributions")

"""The fixed-point equation on probability measures and the dual filter (chapters 7-9).

For tokens z_0..z_{T-1} the layer map N sends a sequence of measures rho = (rho_0..rho_T) to

    N(rho)_t = mu A^t + sum_{s<t} (rho_s^{z_s} - rho_s) A^{t-s},   t = 0..T,       (FP)

computed as the causal scan r_0 = mu, r_{t+1} = (r_t + rho_t^{z_t} - rho_t) A in O(T d^2).
A batch of B sequences (tokens (B, T), measures (B, T+1, d)) runs the scans side by side, so
each step is one (B x d)(d x d) matrix product.
The nonlinear predictor pi = (pi_0..pi_T) is its unique fixed point in P(S)^{T+1}; the dual
filter iterates N layer by layer. With ``normalize=True`` the input of each Bayes step is
first projected onto the simplex (negative parts clipped, mass renormalised), which keeps
the iteration finite without moving the fixed point.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .filtering import emission_columns
from .model import HMM, check_finite_result, check_function, check_measures, check_tokens

__all__ = ["fixed_point_map", "dual_filter", "contributions", "prior_measures"]


@njit(cache=True)
def _innovation(rho_t, c_z, normalize, out):
    """out = rho^z - rho for the measure rho_t (d,) and the emission column c_z = C[:, z] (d,).

    With ``normalize`` rho_t is first projected onto the simplex (negative parts clipped, mass
    renormalised): the normalisation layer. If the token has zero probability under the
    (projected) measure, the Bayes posterior is undefined; the likelihood-only posterior
    C_z / sum(C_z) is used instead, which is what Bayes' rule gives from the uniform prior.
    """
    d = rho_t.shape[0]
    if normalize:
        mass = 0.0
        for i in range(d):
            v = rho_t[i] if rho_t[i] > 0.0 else 0.0
            out[i] = v
            mass += v
        if mass > 0.0:
            inv = 1.0 / mass
            for i in range(d):
                out[i] *= inv
        else:
            for i in range(d):
                out[i] = 1.0 / d
    else:
        for i in range(d):
            out[i] = rho_t[i]
    evidence = 0.0
    for i in range(d):
        evidence += out[i] * c_z[i]
    if evidence != 0.0:
        inv = 1.0 / evidence
        for i in range(d):
            out[i] = out[i] * (c_z[i] * inv - 1.0)
    else:
        total = 0.0
        for i in range(d):
            total += c_z[i]
        for i in range(d):
            out[i] = c_z[i] / total - out[i]


@njit(cache=True)
def _layer_kernel(A, CT, mu, index, rho, normalize, out):
    """out = N(rho) of (FP) for B sequences by the causal scan r_{t+1} = (r_t + delta_t) A.

    rho, out (B, T+1, d); delta_t = rho_t^{z_t} - rho_t; the emission column of token z_t of
    sequence b is CT[index[b, t]] (see filtering.emission_columns). Each step is one
    (B x d)(d x d) matrix product by BLAS.
    """
    B, T = index.shape
    d = A.shape[0]
    carry = np.empty((B, d))
    for b in range(B):
        out[b, 0, :] = mu
    for t in range(T):
        for b in range(B):
            _innovation(rho[b, t], CT[index[b, t]], normalize, carry[b])
            for i in range(d):
                carry[b, i] += out[b, t, i]
        nxt = np.dot(carry, A)
        for b in range(B):
            out[b, t + 1, :] = nxt[b]


def prior_measures(hmm: HMM, T: int) -> np.ndarray:
    """The prior initialisation rho_t^(0) = mu A^t, t = 0..T, shape (T+1, d)."""
    return hmm.prior_marginals(T)


def _batched_measures(hmm: HMM, rho, tokens: np.ndarray, name: str) -> np.ndarray:
    """Validate measures for tokens (T,) -> (T+1, d) or (B, T) -> (B, T+1, d), as float64.

    A batch that is already a C-contiguous float64 array is not copied (it can be large).
    """
    if tokens.ndim == 1:
        return check_measures(hmm, rho, tokens.shape[0], name=name)
    B, T = tokens.shape
    try:
        arr = np.ascontiguousarray(rho, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of real numbers ({exc})") from None
    if arr.shape != (B, T + 1, hmm.n_states):
        raise ValueError(
            f"{name} must have shape (B, T+1, n_states) = ({B}, {T + 1}, {hmm.n_states}) for "
            f"tokens of shape {tokens.shape}, got {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite entries")
    return arr


def _as_batch(x: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """View a single-sequence array as a batch of one (leading axis), batches unchanged."""
    return x[None] if tokens.ndim == 1 else x


def fixed_point_map(hmm: HMM, tokens, rho, *, normalize: bool = True) -> np.ndarray:
    """One layer of the dual filter: N(rho) of equation (FP).

    ``tokens`` (T,) with ``rho`` (T+1, d) gives shape (T+1, d); a batch, tokens (B, T) with
    rho (B, T+1, d), gives (B, T+1, d). Position t of the output depends on rho_0..rho_{t-1}
    only (causality).
    """
    tokens = check_tokens(hmm, tokens, allow_batch=True)
    rho = _batched_measures(hmm, rho, tokens, "rho")
    out = np.empty_like(rho)
    CT, index = emission_columns(hmm, _as_batch(tokens, tokens))
    _layer_kernel(hmm.A, CT, hmm.mu, index, _as_batch(rho, tokens), bool(normalize),
                  _as_batch(out, tokens))
    return check_finite_result(out, "fixed_point_map")


def dual_filter(
    hmm: HMM,
    tokens,
    layers: int,
    *,
    init="prior",
    normalize: bool = True,
    relax: float = 1.0,
    return_all: bool = False,
) -> np.ndarray:
    """Iterate the layer map: rho^(l+1) = (1 - relax) rho^(l) + relax N(rho^(l)).

    Parameters
    ----------
    tokens : int array (T,), or (B, T) for a batch of B sequences.
    layers : int >= 0, the number of layers L.
    init : "prior" (rho_t^(0) = mu A^t) or an array (T+1, d), (B, T+1, d) for a batch.
    normalize : project each Bayes input onto the simplex (the normalisation layer).
    relax : a in (0, 1]; a < 1 is the residual connection (relaxation).
    return_all : return every layer, shape (L+1, T+1, d) (a batch: (B, L+1, T+1, d));
        otherwise the last, (T+1, d) (a batch: (B, T+1, d)).

    With relax = 1, L >= T+1 layers return the nonlinear predictor exactly from any start.
    Memory: two arrays of the output's size (plus the history if ``return_all``).
    Raises ValueError if the un-normalised iteration overflows to inf/NaN.
    """
    tokens = check_tokens(hmm, tokens, allow_batch=True)
    T = tokens.shape[-1]
    if isinstance(layers, bool) or not isinstance(layers, (int, np.integer)) or layers < 0:
        raise ValueError(f"layers must be a non-negative integer, got {layers!r}")
    if not (np.isfinite(relax) and 0.0 < relax <= 1.0):
        raise ValueError(f"relax must lie in (0, 1], got {relax!r}")
    if isinstance(init, str):
        if init != "prior":
            raise ValueError(f'init must be "prior" or an array of measures, got {init!r}')
        rho = np.empty(tokens.shape[:-1] + (T + 1, hmm.n_states))
        rho[...] = prior_measures(hmm, T)
    else:
        rho = _batched_measures(hmm, init, tokens, "init")
        if np.may_share_memory(rho, init):
            rho = rho.copy()  # the layers below overwrite it
    history = None
    if return_all:
        history = np.empty(tokens.shape[:-1] + (layers + 1, T + 1, hmm.n_states))
        history[..., 0, :, :] = rho
    nxt = np.empty_like(rho)
    CT, index = emission_columns(hmm, _as_batch(tokens, tokens))
    for layer in range(1, layers + 1):
        _layer_kernel(hmm.A, CT, hmm.mu, index, _as_batch(rho, tokens), bool(normalize),
                      _as_batch(nxt, tokens))
        if relax != 1.0:
            nxt *= relax
            nxt += (1.0 - relax) * rho
        if not np.all(np.isfinite(nxt)):
            raise ValueError(
                f"the dual filter overflowed at layer {layer} (normalize={normalize}); the "
                f"un-normalised iteration can blow up in its transient: use normalize=True"
            )
        rho, nxt = nxt, rho
        if return_all:
            history[..., layer, :, :] = rho
    return history if return_all else rho


def contributions(hmm: HMM, tokens, rho, f, *, normalize: bool = True) -> np.ndarray:
    """The "attention" matrix of one layer for the query f, shape (T+1, T+1).

    W[t, s] = (rho_s^{z_s} - rho_s) A^{t-s} f for s < t and 0 otherwise, so that
    N(rho)_t(f) = mu A^t f + sum_s W[t, s]. The dependence on t - s alone through A^{t-s} is
    the relative positional encoding. Column T is zero (position T has no token yet).
    """
    tokens = check_tokens(hmm, tokens)
    T = tokens.shape[0]
    rho = check_measures(hmm, rho, T)
    f = check_function(hmm, f)
    CT, index = emission_columns(hmm, tokens)
    innovations = np.empty((T, hmm.n_states))
    for s in range(T):
        _innovation(rho[s], CT[index[s]], bool(normalize), innovations[s])
    powers = np.empty((T + 1, hmm.n_states))           # powers[k] = A^k f
    powers[0] = f
    for k in range(T):
        powers[k + 1] = hmm.A @ powers[k]
    values = innovations @ powers.T                    # values[s, k] = delta_s A^k f
    W = np.zeros((T + 1, T + 1))
    for t in range(1, T + 1):
        s = np.arange(t)
        W[t, :t] = values[s, t - s]
    return check_finite_result(W, "contributions")

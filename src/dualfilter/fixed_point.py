"""The fixed-point equation on probability measures and the dual filter (chapters 7-9).

For tokens z_0..z_{T-1} the layer map N sends a sequence of measures rho = (rho_0..rho_T) to

    N(rho)_t = mu A^t + sum_{s<t} (rho_s^{z_s} - rho_s) A^{t-s},   t = 0..T,       (FP)

computed as the causal scan r_0 = mu, r_{t+1} = (r_t + rho_t^{z_t} - rho_t) A in O(T d^2).
The nonlinear predictor pi = (pi_0..pi_T) is its unique fixed point in P(S)^{T+1}; the dual
filter iterates N layer by layer. With ``normalize=True`` the input of each Bayes step is
first projected onto the simplex (negative parts clipped, mass renormalised), which keeps
the iteration finite without moving the fixed point.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .model import HMM, check_function, check_measures, check_tokens

__all__ = ["fixed_point_map", "dual_filter", "contributions", "prior_measures"]


@njit(cache=True)
def _innovation(rho_t, c_z, normalize, out):
    """out = rho^z - rho for the measure rho_t (optionally projected onto the simplex first).

    If the token has zero probability under the (projected) measure, the Bayes posterior is
    undefined; the likelihood-only posterior C_z / sum(C_z) is used instead, which is what
    Bayes' rule gives from the uniform prior.
    """
    d = rho_t.shape[0]
    if normalize:
        mass = 0.0
        for i in range(d):
            v = rho_t[i] if rho_t[i] > 0.0 else 0.0
            out[i] = v
            mass += v
        if mass > 0.0:
            for i in range(d):
                out[i] /= mass
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
        for i in range(d):
            out[i] = out[i] * c_z[i] / evidence - out[i]
    else:
        total = 0.0
        for i in range(d):
            total += c_z[i]
        for i in range(d):
            out[i] = c_z[i] / total - out[i]


@njit(cache=True)
def _layer_kernel(A, CT, mu, tokens, rho, normalize, out):
    """out = N(rho) by the causal scan; rho, out (T+1, d); CT = C^T (n_tokens, d)."""
    d = A.shape[0]
    T = tokens.shape[0]
    delta = np.empty(d)
    carry = np.empty(d)
    out[0, :] = mu
    for t in range(T):
        _innovation(rho[t], CT[tokens[t]], normalize, delta)
        for i in range(d):
            carry[i] = out[t, i] + delta[i]
        out[t + 1, :] = np.dot(carry, A)


def prior_measures(hmm: HMM, T: int) -> np.ndarray:
    """The prior initialisation rho_t^(0) = mu A^t, t = 0..T, shape (T+1, d)."""
    return hmm.prior_marginals(T)


def fixed_point_map(hmm: HMM, tokens, rho, *, normalize: bool = True) -> np.ndarray:
    """One layer of the dual filter: N(rho) of equation (FP), shape (T+1, d).

    ``tokens`` (T,), ``rho`` (T+1, d). Position t of the output depends on rho_0..rho_{t-1}
    only (causality).
    """
    tokens = check_tokens(hmm, tokens)
    rho = check_measures(hmm, rho, tokens.shape[0])
    out = np.empty_like(rho)
    _layer_kernel(hmm.A, np.ascontiguousarray(hmm.C.T), hmm.mu, tokens, rho, bool(normalize), out)
    return out


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
    tokens : int array (T,)
    layers : int >= 0, the number of layers L.
    init : "prior" (rho_t^(0) = mu A^t) or an array (T+1, d).
    normalize : project each Bayes input onto the simplex (the normalisation layer).
    relax : a in (0, 1]; a < 1 is the residual connection (relaxation).
    return_all : return every layer, shape (L+1, T+1, d); otherwise the last, (T+1, d).

    With relax = 1, L >= T+1 layers return the nonlinear predictor exactly from any start.
    Raises ValueError if the un-normalised iteration overflows to inf/NaN.
    """
    tokens = check_tokens(hmm, tokens)
    T = tokens.shape[0]
    if isinstance(layers, bool) or not isinstance(layers, (int, np.integer)) or layers < 0:
        raise ValueError(f"layers must be a non-negative integer, got {layers!r}")
    if not (np.isfinite(relax) and 0.0 < relax <= 1.0):
        raise ValueError(f"relax must lie in (0, 1], got {relax!r}")
    if isinstance(init, str):
        if init != "prior":
            raise ValueError(f'init must be "prior" or an array (T+1, d), got {init!r}')
        rho = prior_measures(hmm, T)
    else:
        rho = check_measures(hmm, init, T, name="init")
    CT = np.ascontiguousarray(hmm.C.T)
    history = np.empty((layers + 1, T + 1, hmm.n_states)) if return_all else None
    if return_all:
        history[0] = rho
    nxt = np.empty_like(rho)
    for layer in range(1, layers + 1):
        _layer_kernel(hmm.A, CT, hmm.mu, tokens, rho, bool(normalize), nxt)
        if relax != 1.0:
            nxt = (1.0 - relax) * rho + relax * nxt
        if not np.all(np.isfinite(nxt)):
            raise ValueError(
                f"the dual filter overflowed at layer {layer} (normalize={normalize}); the "
                f"un-normalised iteration can blow up in its transient: use normalize=True"
            )
        rho, nxt = nxt, rho
        if return_all:
            history[layer] = rho
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
    CT = np.ascontiguousarray(hmm.C.T)
    innovations = np.empty((T, hmm.n_states))
    for s in range(T):
        _innovation(rho[s], CT[tokens[s]], bool(normalize), innovations[s])
    powers = np.empty((T + 1, hmm.n_states))           # powers[k] = A^k f
    powers[0] = f
    for k in range(T):
        powers[k + 1] = hmm.A @ powers[k]
    values = innovations @ powers.T                    # values[s, k] = delta_s A^k f
    W = np.zeros((T + 1, T + 1))
    for t in range(1, T + 1):
        s = np.arange(t)
        W[t, :t] = values[s, t - s]
    return W

"""Exhaustive enumeration over all token sequences: the oracle for small models (chapters 4-6).

For n_tokens^T sequences (keep it below ~10^6) these functions compute exactly, with no
filtering recursion of the package involved beyond the definition of the joint law:

- the joint weights alpha(z, x) = P(Z_{0:T-1} = z, X_T = x) by multiplying out the model,
- the MMSE E[Var(f(X_T) | Z_{0:T-1})] of the nonlinear predictor,
- the MSE of the best estimator additive in one-hot token features, by least squares
  (the Wiener-Hopf route, O(T^3) and worse, that the Riccati recursion replaces),
- the MSE of a given estimator S(z),

and, where enumeration is too large, a Monte Carlo estimate of the MMSE (:func:`mc_mmse`).
"""

from __future__ import annotations

import itertools
import numbers

import numpy as np

from .control import dual_backward
from .filtering import predict
from .model import HMM, check_function, check_horizon, sample

__all__ = ["all_sequences", "joint_weights", "mmse", "best_additive_mse", "estimator_mse",
           "mc_mmse"]

MAX_SEQUENCES = 2_000_000


def all_sequences(n_tokens: int, T: int) -> np.ndarray:
    """Every token sequence of length T in lexicographic order, shape (n_tokens^T, T)."""
    T = check_horizon(T)
    if n_tokens**T > MAX_SEQUENCES:
        raise ValueError(f"{n_tokens}^{T} sequences is too many to enumerate (max {MAX_SEQUENCES})")
    return np.array(list(itertools.product(range(n_tokens), repeat=T)), dtype=np.int64).reshape(
        n_tokens**T, T
    )


def joint_weights(hmm: HMM, T: int) -> tuple[np.ndarray, np.ndarray]:
    """(sequences, alpha): alpha[k, x] = P(Z_{0:T-1} = sequences[k], X_T = x), shape (N, d).

    Computed by the unnormalised product alpha_{t+1}(x') = sum_x alpha_t(x) C[x, z_t] A[x, x'],
    vectorised over all N = n_tokens^T sequences at once.
    """
    seqs = all_sequences(hmm.n_tokens, T)
    alpha = np.tile(hmm.mu, (seqs.shape[0], 1))
    for t in range(T):
        alpha = (alpha * hmm.C[:, seqs[:, t]].T) @ hmm.A
    return seqs, alpha


def mmse(hmm: HMM, f, T: int) -> float:
    """E[ Var(f(X_T) | Z_0..Z_{T-1}) ], the minimal mean-square error over all estimators."""
    f = check_function(hmm, f)
    _, alpha = joint_weights(hmm, T)
    prob = alpha.sum(axis=1)
    first = alpha @ f
    second = alpha @ f**2
    keep = prob > 0
    return float(np.sum(second[keep] - first[keep] ** 2 / prob[keep]))


def estimator_mse(hmm: HMM, f, T: int, estimator) -> float:
    """E|f(X_T) - S(Z)|^2 for ``estimator`` mapping an int array (T,) to a float."""
    f = check_function(hmm, f)
    seqs, alpha = joint_weights(hmm, T)
    S = np.array([estimator(z) for z in seqs])
    return float(np.sum(alpha * (f[None, :] - S[:, None]) ** 2))


def best_additive_mse(hmm: HMM, f, T: int) -> float:
    """min over c, u_0..u_{T-1} of E|f(X_T) - c - sum_t u_t(Z_t)|^2, by weighted least squares.

    The regressors are a constant and the one-hot features of every Z_t; the regression is
    weighted by P(Z = z) over all sequences z, with target E[f(X_T) | Z = z].
    """
    f = check_function(hmm, f)
    seqs, alpha = joint_weights(hmm, T)
    prob = alpha.sum(axis=1)
    keep = prob > 0
    seqs, alpha, prob = seqs[keep], alpha[keep], prob[keep]
    target = (alpha @ f) / prob
    within = np.sum(alpha @ f**2 - prob * target**2)   # E[Var(f | Z)]: no estimator removes it
    features = [np.ones((seqs.shape[0], 1))]
    for t in range(T):
        features.append(np.eye(hmm.n_tokens)[seqs[:, t]])
    X = np.hstack(features)
    w = np.sqrt(prob)
    coef, *_ = np.linalg.lstsq(X * w[:, None], target * w, rcond=None)
    residual = np.sum(prob * (target - X @ coef) ** 2)
    return float(within + residual)


def mc_mmse(lp, f, seed, paths: int) -> float:
    """Monte Carlo MMSE E|f(X_T) - pi_T(f)|^2 with the linear predictor as a control variate.

    The best additive estimate S_lin(Z) = mu(y_0) - sum_t u_t(Z_t) (chapter 5) is itself a
    function of the tokens, so Pythagoras in L^2 (chapter 6) gives

        MMSE = f^T Sigma_T f - E|pi_T(f) - S_lin(Z)|^2.

    The first term is exact (the Riccati solution ``lp``); the second is averaged over
    ``paths`` paths sampled with seeds (seed, k), k = 0..paths-1. The estimate is unbiased,
    never exceeds the linear MSE, and is accurate exactly where the two predictors are close.

    Parameters
    ----------
    lp : LinearPredictor
        The Riccati solution ``linear_predictor(hmm, T)``; the model and horizon are its own.
    f : array, shape (d,)
        The function on the hidden states.
    seed : int or sequence of int
        Seeds the paths: path k is ``sample(lp.hmm, lp.T, seed=(seed, k))``.
    paths : int >= 1
        The number of sampled paths.

    Returns
    -------
    float
        The estimate of the MMSE of f(X_T) from Z_0..Z_{T-1}.

    Raises
    ------
    ValueError
        If ``f`` is not a finite function on the hidden states or ``paths`` is not a
        positive integer.
    """
    hmm, T = lp.hmm, lp.T
    f = check_function(hmm, f)
    if isinstance(paths, bool) or not isinstance(paths, numbers.Integral) or paths < 1:
        raise ValueError(f"paths must be a positive integer, got {paths!r}")
    u = lp.controls(f)
    offset = hmm.mu @ dual_backward(hmm, f, u)[0]        # S_lin = mu(y_0) - sum_t u_t(z_t)
    gap = 0.0
    for k in range(int(paths)):
        _, tokens = sample(hmm, T, seed=(seed, k))
        s_lin = offset - u[np.arange(T), tokens].sum()
        gap += (predict(hmm, tokens)[T] @ f - s_lin) ** 2
    return lp.mse(f) - gap / paths

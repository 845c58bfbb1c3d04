"""Exhaustive enumeration over all token sequences: the oracle for small models (chapters 4-6).

For n_tokens^T sequences (keep it below ~10^6) these functions compute exactly, with no
filtering recursion of the package involved beyond the definition of the joint law:

- the joint weights alpha(z, x) = P(Z_{0:T-1} = z, X_T = x) by multiplying out the model,
- the MMSE E[Var(f(X_T) | Z_{0:T-1})] of the nonlinear predictor,
- the MSE of the best estimator additive in one-hot token features, by least squares
  (the Wiener-Hopf route, O(T^3) and worse, that the Riccati recursion replaces),
- the MSE of a given estimator S(z).
"""

from __future__ import annotations

import itertools

import numpy as np

from .model import HMM, check_function, check_horizon

__all__ = ["all_sequences", "joint_weights", "mmse", "best_additive_mse", "estimator_mse"]

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

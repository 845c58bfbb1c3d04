"""Exhaustive enumeration over all token sequences: the oracle for small models (chapters 4-6).

For n_tokens^T sequences (keep it below ~10^6) these functions compute exactly, with no
filtering recursion of the package involved beyond the definition of the joint law:

- the joint weights alpha(z, x) = P(Z_{0:T-1} = z, X_T = x) by multiplying out the model,
- the MMSE E[Var(f(X_T) | Z_{0:T-1})] of the nonlinear predictor,
- the MSE of the best estimator additive in one-hot token features, by least squares
  (the Wiener-Hopf route, O(T^3) and worse, that the Riccati recursion replaces),
- the MSE of a given estimator S(z);
- and, for models too large to enumerate, a Monte Carlo estimate of the MMSE (``mc_mmse``).
"""

from __future__ import annotations


import numpy as np

from ._validate import check_array_size, check_function, check_hmm, check_horizon, check_int
from .control import _backward
from .filtering import _forward
from .model import _BLOCK, HMM, _rng, _sample_kernel

__all__ = ["all_sequences", "joint_weights", "mmse", "best_additive_mse", "estimator_mse", "mc_mmse"]

MAX_SEQUENCES = 2_000_000


def all_sequences(n_tokens: int, T: int) -> np.ndarray:
    """Every token sequence of length T in lexicographic order.

    Parameters
    ----------
    n_tokens : int >= 1
    T : int >= 0

    Returns
    -------
    ndarray of int64, shape (n_tokens^T, T)

    Raises
    ------
    ValueError
        If there are more than MAX_SEQUENCES (2 million) sequences.
    """
    n_tokens = check_int(n_tokens, "n_tokens", low=1)
    T = check_horizon(T)
    if n_tokens > 1 and (T * np.log(n_tokens) > np.log(MAX_SEQUENCES) + 1e-9
                         or n_tokens**T > MAX_SEQUENCES):
        raise ValueError(f"{n_tokens}^{T} sequences is too many to enumerate (max {MAX_SEQUENCES})")
    check_array_size((n_tokens**T, T), "all_sequences(n_tokens, T)")
    # row k is k written in base n_tokens with T digits, most significant first
    powers = n_tokens ** np.arange(T - 1, -1, -1, dtype=np.int64)
    return (np.arange(n_tokens**T, dtype=np.int64)[:, None] // powers) % n_tokens


def joint_weights(hmm: HMM, T: int) -> tuple[np.ndarray, np.ndarray]:
    """The joint law of every token sequence and the hidden state at time T.

    Computed by the unnormalised product alpha_{t+1}(x') = sum_x alpha_t(x) C[x, z_t] A[x, x'],
    vectorised over all N = n_tokens^T sequences at once.

    Parameters
    ----------
    hmm : HMM
    T : int >= 0

    Returns
    -------
    sequences : ndarray of int64, shape (N, T)
        :func:`all_sequences`.
    alpha : ndarray, shape (N, d)
        alpha[k, x] = P(Z_{0:T-1} = sequences[k], X_T = x).
    """
    check_hmm(hmm)
    seqs = all_sequences(hmm.n_tokens, T)
    alpha = np.tile(hmm.mu, (seqs.shape[0], 1))
    for t in range(T):
        alpha = (alpha * hmm.C[:, seqs[:, t]].T) @ hmm.A
    return seqs, alpha


def mmse(hmm: HMM, f, T: int) -> float:
    """E[ Var(f(X_T) | Z_0..Z_{T-1}) ], the minimal mean-square error over all estimators.

    Parameters
    ----------
    hmm : HMM
    f : array_like, shape (d,)
    T : int >= 0

    Returns
    -------
    float
    """
    f = check_function(hmm, f)
    _, alpha = joint_weights(hmm, T)
    prob = alpha.sum(axis=1)
    first = alpha @ f
    second = alpha @ f**2
    keep = prob > 0
    return float(np.sum(second[keep] - first[keep] ** 2 / prob[keep]))


def estimator_mse(hmm: HMM, f, T: int, estimator) -> float:
    """E|f(X_T) - S(Z)|^2 of an estimator, by enumeration.

    Parameters
    ----------
    hmm : HMM
    f : array_like, shape (d,)
    T : int >= 0
    estimator : callable
        Maps a token sequence (an int64 array of shape (T,)) to a float S(Z).

    Returns
    -------
    float
    """
    f = check_function(hmm, f)
    seqs, alpha = joint_weights(hmm, T)
    S = np.array([estimator(z) for z in seqs])
    return float(np.sum(alpha * (f[None, :] - S[:, None]) ** 2))


def best_additive_mse(hmm: HMM, f, T: int) -> float:
    """min over c, u_0..u_{T-1} of E|f(X_T) - c - sum_t u_t(Z_t)|^2, by weighted least squares.

    The regressors are a constant and the one-hot features of every Z_t; the regression is
    weighted by P(Z = z) over all sequences z, with target E[f(X_T) | Z = z]. This is the
    Wiener-Hopf route that the Riccati recursion of chapter 5 replaces.

    Parameters
    ----------
    hmm : HMM
    f : array_like, shape (d,)
    T : int >= 0

    Returns
    -------
    float
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
    """Monte Carlo estimate of the MMSE E|f(X_T) - pi_T(f)|^2, with a control variate.

    Since the best additive estimate S_lin(Z) is itself a function of the tokens, Pythagoras
    gives MMSE = f^T Sigma_T f - E|pi_T(f) - S_lin(Z)|^2 (chapter 6). The first term is exact
    (Riccati); the second is averaged over ``paths`` sampled paths. The estimate is
    unbiased, never exceeds the linear MSE, and is accurate exactly where the two
    predictors are close.

    Parameters
    ----------
    lp : LinearPredictor
        The Riccati solution for the model and horizon T (``linear_predictor(hmm, T)``).
    f : array_like, shape (d,)
    seed : int >= 0
        Path k is ``sample(hmm, T, seed=(seed, k))``.
    paths : int >= 1

    Returns
    -------
    float
    """
    hmm, T = lp.hmm, lp.T
    f = check_function(hmm, f)
    seed = check_int(seed, "seed", low=0)
    paths = check_int(paths, "paths", low=1)
    y, u = _backward(hmm, f, T, gains=lp.gains)
    offset = hmm.mu @ y[0]                      # S_lin = mu(y_0) - sum_t u_t(z_t)
    tokens = np.empty((paths, T), dtype=np.int64)
    for k in range(paths):                      # path k is sample(hmm, T, seed=(seed, k))
        uniforms = _rng((seed, k)).random(2 * T + 1)
        tokens[k] = _sample_kernel(hmm.A, hmm.C, hmm.mu, uniforms, T, _BLOCK)[1]
    s_lin = offset - u[np.arange(T), tokens].sum(axis=1)
    gap = np.mean((_forward(hmm, tokens)[0][:, T] @ f - s_lin) ** 2)
    return lp.mse(f) - gap

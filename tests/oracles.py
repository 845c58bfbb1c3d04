"""Oracles shared by the tests, written independently of the package.

- :func:`log_space_forward`: the forward algorithm on log-probabilities, combined with
  logsumexp (numpy's ``logaddexp.reduce``), so nothing underflows however small the
  probabilities are; possibility of a token is decided exactly, on supports.
- :func:`hmmlearn_model`: hmmlearn's ``CategoricalHMM`` holding the same parameters (an
  independent implementation of the forward algorithm).
- Enumeration over all token sequences lives in ``dualfilter.brute_force`` (it uses no
  filtering recursion of the package).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class LogForward:
    log_pi: np.ndarray        # (T+1, d): log pi_t (-inf where pi_t is exactly 0)
    loglik: float             # log P(z_0..z_{T-1})
    smallest_step: float      # the least log P(z_t | z_<t) met on the way (0 for T = 0)

    @property
    def pi(self) -> np.ndarray:
        return np.exp(self.log_pi)


def log_space_forward(hmm, tokens) -> LogForward | None:
    """The forward algorithm in log space, or None if some token has probability zero."""
    with np.errstate(divide="ignore"):
        log_A, log_C, log_pi = np.log(hmm.A), np.log(hmm.C), np.log(hmm.mu)
    tokens = np.asarray(tokens, dtype=np.int64)
    out = np.empty((len(tokens) + 1, len(log_pi)))
    out[0] = log_pi
    loglik, smallest = 0.0, 0.0
    for t, z in enumerate(tokens):
        joint = log_pi + log_C[:, z]
        if not np.any(np.isfinite(joint)):
            return None
        with np.errstate(invalid="ignore"):
            evidence = np.logaddexp.reduce(joint)
            loglik += evidence
            smallest = min(smallest, evidence)
            log_pi = np.logaddexp.reduce((joint - evidence)[:, None] + log_A, axis=0)
        out[t + 1] = log_pi
    return LogForward(out, float(loglik), float(smallest))


def hmmlearn_model(hmm):
    """hmmlearn's CategoricalHMM with the parameters of ``hmm`` (nothing is fitted)."""
    from hmmlearn.hmm import CategoricalHMM

    model = CategoricalHMM(n_components=hmm.n_states, n_features=hmm.n_tokens,
                           init_params="", params="")
    model.startprob_ = hmm.mu.copy()
    model.transmat_ = hmm.A.copy()
    model.emissionprob_ = hmm.C.copy()
    return model

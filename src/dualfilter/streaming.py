"""Online next-token prediction, one token at a time (chapter 11 of the book).

:class:`StreamingPredictor` holds the law pi_{t} of the next hidden state given the tokens
seen so far and updates it when a token arrives. Two circuits compute the same law:

- ``window=None``: the forward algorithm's step pi_{t+1} = pi_t^{z_t} A (chapter 2), with
  the log-space fallback of :func:`dualfilter.predict` where the scaled step underflows.
- ``window=H``: the windowed dual filter. The law H steps back is a sufficient statistic for
  the tokens before it, so the fixed-point equation (FP) restricted to the last H tokens and
  started from that stored law,

      pi_{t+1} = pi_{t+1-H} A^H + sum_{s=t+1-H}^{t} (pi_s^{z_s} - pi_s) A^{t+1-s},     (WIN)

  holds exactly (the optimal control over the window, chapter 6, written for every f at
  once). The predictor evaluates the right side of (WIN) with the stored laws pi_s of the
  window (its own earlier outputs): one dual-filter layer of attention span H, its values
  the innovations (the optimal controls) pi_s^{z_s} - pi_s, computed as the causal scan
  r <- (r + pi_s^{z_s} - pi_s) A from r = pi_{t+1-H} (from mu at time 0 while t+1 <= H),
  O(H d^2) per token. The output is then renormalised (P: negative parts clipped, mass
  divided out).

Why the renormalisation. The Bayes step ignores the mass of its input (rho^z has mass one
whatever the mass of rho), so the innovation of a stored law of mass 1 + delta_s has mass
-delta_s, and the output of (WIN) has the mass defect

    delta_{t+1} = delta_{t+1-H} - sum_{s=t+1-H}^{t} delta_s = -sum_{s=t+2-H}^{t} delta_s.

For H = 1 the defect is gone after one step; for H >= 2 the recursion has the characteristic
roots the H-th roots of unity other than one, all on the unit circle: a defect that enters
(a stored law rounded, truncated or perturbed) is never damped, it circulates with period H
for ever, and fresh defects add up. Renormalising every output removes the defect at once;
what remains is the error of the forward algorithm itself. ``normalize=False`` keeps the raw
output (for the book's comparison). The windowed filter works in linear space (no log-space
fallback): on models where ``predict`` needs its log-space path, use ``window=None``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._validate import (
    ArgumentTypeError,
    check_array_size,
    check_flag,
    check_hmm,
    check_int,
)
from .filtering import _bayes_step, _logsumexp, _prediction_exact
from .fixed_point import _posterior, _project
from .model import HMM

__all__ = ["StreamingPredictor"]


@njit(cache=True)
def _forward_step(law, AT, A, c_z, post, out):
    """out = law^z A; return (log law(c_z), exact) (see filtering._forward_kernel)."""
    lp, exact = _bayes_step(law, c_z, post)
    if lp == -np.inf or not exact:
        return lp, exact
    out[:] = np.dot(AT, post)
    return lp, _prediction_exact(post, A, out)


@njit(cache=True)
def _log_step(log_law, logA, log_c, out):
    """log of law^z A from log law (d,); return the log-evidence (-inf: impossible token)."""
    d = log_law.shape[0]
    joint = log_law + log_c
    evidence = _logsumexp(joint)
    if evidence == -np.inf:
        return evidence
    joint -= evidence
    column = np.empty(d)
    for j in range(d):
        for i in range(d):
            column[i] = joint[i] + logA[i, j]
        out[j] = _logsumexp(column)
    return evidence


@njit(cache=True)
def _window_step(A, start, innovations, slots, normalize, out):
    """out = the right side of (WIN): r = start, r <- (r + innovations[s]) A over the window
    slots (oldest first), then P(r) if ``normalize``."""
    r = start.copy()
    for k in range(slots.shape[0]):
        r = np.dot(r + innovations[slots[k]], A)
    if normalize:
        _project(r, True, out)
    else:
        out[:] = r


class StreamingPredictor:
    """Online next-token prediction: the law of the next hidden state, one token at a time.

    Parameters
    ----------
    hmm : HMM
    window : int >= 1, optional
        None (default): the forward algorithm's step. H: the windowed dual filter (WIN) over
        the last H tokens, started from the stored law H steps back (module docstring);
        exact for every H >= 1 (it agrees with :func:`dualfilter.predict` to rounding).
    normalize : bool
        Renormalise the output of the windowed filter (default). ``False`` keeps its raw
        output, whose mass defects are never damped for H >= 2 (module docstring; for the
        book's comparison). Ignored when window is None.

    Attributes
    ----------
    law : ndarray, shape (d,)
        pi_t, the law of the hidden state X_t given the t tokens seen (pi_0 = mu); read-only.
    log_likelihood : float
        log P(Z_0..Z_{t-1}) of the tokens seen, sum_s log pi_s(C_{z_s}).
    n_seen : int
        The number t of tokens seen.

    Examples
    --------
    >>> sp = StreamingPredictor(hmm, window=8)          # doctest: +SKIP
    >>> for z in tokens:
    ...     p = sp.next_token_probs()                    # P(Z_t = . | Z_0..Z_{t-1})
    ...     sp.update(z)
    """

    def __init__(self, hmm: HMM, *, window=None, normalize=True):
        self._hmm = check_hmm(hmm)
        if window is not None:
            window = check_int(window, "window", low=1)
            check_array_size((2 * (window + 1), hmm.n_states), "StreamingPredictor(window)")
        self._window = window
        self._normalize = check_flag(normalize, "normalize")
        d = hmm.n_states
        self._law = hmm.mu.copy()
        self._log_law = None                  # set when the forward step moves to log space
        self._loglik = 0.0
        self._t = 0
        self._post = np.empty(d)
        self._next = np.empty(d)
        if window is not None:
            self._laws = np.empty((window, d))    # ring: the stored laws pi_s of the window
            self._innovations = np.empty((window, d))   # ring: pi_s^{z_s} - pi_s
        self._logA = self._logCT = None

    @property
    def window(self):
        """The window H, or None for the forward step."""
        return self._window

    @property
    def law(self) -> np.ndarray:
        out = self._law.copy()
        out.flags.writeable = False
        return out

    @property
    def log_likelihood(self) -> float:
        return float(self._loglik)

    @property
    def n_seen(self) -> int:
        return self._t

    def next_token_probs(self) -> np.ndarray:
        """P(Z_t = z | Z_0..Z_{t-1}) = pi_t(C_z) for every token z, shape (n_tokens,)."""
        return self._law @ self._hmm.C

    def _check_token(self, token) -> int:
        if isinstance(token, (bool, np.bool_)) or not isinstance(token, (int, np.integer)):
            raise ArgumentTypeError(f"token must be an integer, got {token!r}")
        token = int(token)
        hmm = self._hmm
        if not 0 <= token < hmm.n_tokens:
            raise ValueError(f"token {token} is outside the vocabulary 0..{hmm.n_tokens - 1}")
        if not hmm.emitted[token]:
            raise ValueError(
                f"token {token} has zero probability under the model: no hidden state emits it"
            )
        return token

    def _impossible(self, token):
        raise ValueError(
            f"token {token} at position {self._t} has zero probability under the model given "
            f"the tokens before it"
        )

    def update(self, token) -> None:
        """Consume the token z_t: pi_t -> pi_{t+1}, and add log pi_t(C_{z_t}) to the likelihood.

        Raises
        ------
        ValueError
            For a token outside the vocabulary or of probability zero given the tokens seen
            (the predictor is left unchanged).
        """
        token = self._check_token(token)
        hmm = self._hmm
        c_z = hmm.CT[token]
        if self._window is None:
            self._forward_update(token, c_z)
        else:
            self._window_update(token, c_z)
        self._t += 1

    def _forward_update(self, token, c_z):
        hmm = self._hmm
        if self._log_law is None:
            lp, exact = _forward_step(self._law, hmm.AT, hmm.A, c_z, self._post, self._next)
            if lp == -np.inf:
                self._impossible(token)
            if exact:
                self._loglik += lp
                self._law, self._next = self._next, self._law
                return
            with np.errstate(divide="ignore"):            # precision lost: log space from here
                self._logA, self._logCT = np.log(hmm.A), np.log(hmm.CT)
                self._log_law = np.log(self._law)
        out = np.empty(hmm.n_states)
        lp = _log_step(self._log_law, self._logA, self._logCT[token], out)
        if lp == -np.inf:
            self._impossible(token)
        self._loglik += lp
        self._log_law = out
        self._law = np.exp(out - out.max())
        self._law /= self._law.sum()

    def _window_update(self, token, c_z):
        hmm, H, t = self._hmm, self._window, self._t
        law = self._law
        if self._normalize:
            lp, _ = _bayes_step(law, c_z, self._post)
        else:                                   # the raw law: any mass, possibly signed
            evidence = float(law @ c_z)
            lp = np.log(evidence) if evidence > 0 else -np.inf
            if lp > -np.inf:
                _posterior(law, c_z, self._post)
        if lp == -np.inf:
            self._impossible(token)
        slot = t % H
        self._laws[slot] = law
        self._innovations[slot] = self._post - law
        first = max(0, t + 1 - H)             # the window: tokens first..t
        slots = np.arange(first, t + 1) % H
        start = hmm.mu if first == 0 else self._laws[first % H]     # pi_first, stored
        _window_step(hmm.A, start, self._innovations, slots, self._normalize, self._next)
        self._loglik += lp
        self._law = self._next.copy()

    def __repr__(self) -> str:
        kind = "forward step" if self._window is None else f"window={self._window}"
        return f"StreamingPredictor({kind}, n_seen={self._t})"

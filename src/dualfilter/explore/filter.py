"""Chapter 2 explorer: a sampled path of a random HMM and its nonlinear predictor."""

from __future__ import annotations

import numpy as np

import dualfilter as df

from .. import plots
from ._base import MODEL_KEYS, Explorer, document_factory, make_model, model_params

__all__ = ["FilterExplorer", "filter_explorer"]


class FilterExplorer(Explorer):
    """A sampled path of a random HMM and its nonlinear predictor (chapter 2).

    Top: the tokens z_t. Middle: the heat map of pi_t = P(X_t | Z_0..Z_{t-1}) (forward
    algorithm) with the true hidden state X_t overlaid (white dots). Bottom: the probability
    pi_t(C_{z_t}) = P(Z_t = z_t | Z_0..Z_{t-1}) the predictor gave the token that then
    occurred, against the prior p_t(C_{z_t}) = P(Z_t = z_t) that ignores the past.

    ``data``: states (T+1,), tokens (T,), pi (T+1, d), observed_token_prob (T,),
    prior_token_prob (T,).
    """

    PARAMS = model_params(n_tokens=6, T=60)
    figsize = (10.0, 6.0)

    def _build(self) -> None:
        fig = self.figure
        grid = fig.add_gridspec(3, 2, width_ratios=[1, 0.025], height_ratios=[0.7, 1.2, 0.9],
                                left=0.08, right=0.92, top=0.94, bottom=0.08, hspace=0.35,
                                wspace=0.03)
        self.ax_tok = fig.add_subplot(grid[0, 0])
        self.ax_pi = fig.add_subplot(grid[1, 0], sharex=self.ax_tok)
        self.ax_prob = fig.add_subplot(grid[2, 0], sharex=self.ax_tok)
        self.line_tok = plots.plot_tokens(self.ax_tok, np.zeros(0, dtype=int))
        self.im = plots.plot_measure_heatmap(self.ax_pi, np.zeros((1, 1)))
        plots.set_title(self.ax_pi, r"nonlinear predictor $\pi_t = P(X_t \mid Z_0..Z_{t-1})$")
        self.line_state = plots.plot_states(self.ax_pi, np.zeros(0, dtype=int))
        self.ax_pi.set_xlabel("")
        fig.colorbar(self.im, cax=fig.add_subplot(grid[1, 1]), label="probability")
        self.prob_lines = plots.plot_token_probability(self.ax_prob, np.zeros(0), np.zeros(0))
        self.ax_tok.tick_params(labelbottom=False)
        self.ax_pi.tick_params(labelbottom=False)
        self.dynamic = [self.line_tok, self.im, self.line_state, *self.prob_lines.values()]

    def _compute(self, p: dict) -> dict:
        hmm, states, tokens = self._cached(p, "model", MODEL_KEYS, lambda: make_model(p))
        t = np.arange(p["T"])
        return {"states": states, "tokens": tokens, "pi": df.predict(hmm, tokens),
                "observed_token_prob": df.next_token_probs(hmm, tokens)[t, tokens],
                "prior_token_prob": (hmm.prior_marginals(p["T"]) @ hmm.C)[t, tokens]}

    def _draw(self, data: dict) -> None:
        p = self._params
        T = p["T"]
        t = np.arange(T)
        self.line_tok.set_data(t, data["tokens"])
        self.ax_tok.set_ylim(-0.5, p["n_tokens"] - 0.5)
        plots.set_measure_heatmap(self.im, data["pi"])
        self.line_state.set_data(np.arange(T + 1), data["states"])
        self.ax_pi.set_ylim(-0.5, p["n_states"] - 0.5)
        self.prob_lines["predictor"].set_data(t, data["observed_token_prob"])
        self.prob_lines["prior"].set_data(t, data["prior_token_prob"])
        self.ax_prob.set_xlim(-0.5, T + 0.5)
        plots.set_title(
            self.ax_prob,
            f"probability given to the token that occurred; log-likelihood "
            f"{np.log(data['observed_token_prob']).sum():.2f} (prior alone: "
            f"{np.log(data['prior_token_prob']).sum():.2f})")


def filter_explorer(**params) -> FilterExplorer:
    """Explorer of a random HMM, a sampled path and the nonlinear predictor (chapter 2)."""
    return FilterExplorer(**params)


document_factory(filter_explorer, FilterExplorer)

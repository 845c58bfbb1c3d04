"""Chapter 10 explorer: the "attention" matrix W[t, s] of one dual-filter layer."""

from __future__ import annotations

import numpy as np

import dualfilter as df

from .. import plots
from ._base import MODEL_KEYS, Explorer, Param, Ref, document_factory, layer_param, \
    make_model, model_params

__all__ = ["AttentionExplorer", "attention_explorer"]

SUBSCRIPTS = "₀₁₂₃₄₅₆₇₈₉"          # the query token z <= 9 as a subscript


class AttentionExplorer(Explorer):
    """The "attention" of one dual-filter layer for the query f = C_z (chapter 10).

    For the input rho = rho^(l) (layer l of the normalised dual filter from the prior) and
    f = C_z (so rho_t(f) is a next-token probability of token z), ``contributions`` gives
    W[t, s] = (rho_s^{z_s} - rho_s) A^{t-s} f, s < t, and N(rho)_t(f) = mu A^t f + sum_s W[t, s]
    (the fixed-point equation of chapter 7). Left: the bars W[t, s] over the earlier
    positions s for the chosen position t. Right: the whole causal matrix W (diverging
    colours, zero = white), the chosen row outlined.

    ``data``: W (T+1, T+1), row (t,) = W[t, :t], rho (T+1, d), pi (T+1, d), prior_term
    mu A^t f, estimate (the next layer's rho_t(f) = prior_term + sum of the row), truth
    pi_t(f).
    """

    PARAMS = model_params(T=30, controls=("n_states", "n_tokens", "T", "stickiness",
                                          "emission_concentration", "seed")) + (
        Param("position", "int", Ref("T"), "position t", 1, Ref("T"), live=True,
              doc="the position t whose row W[t, :t] is drawn"),
        Param("token", "choice", 0, "query token z", options=Ref("n_tokens"),
              doc="the query f = C_z, the probability that the next token is z"),
        layer_param(default=1, live=False),          # a new layer redraws the matrix
    )
    figsize = (10.0, 4.8)

    def _build(self) -> None:
        fig = self.figure
        grid = fig.add_gridspec(1, 3, width_ratios=[1.15, 1.0, 0.04], left=0.08, right=0.93,
                                top=0.86, bottom=0.12, wspace=0.3)
        self.ax_bar = fig.add_subplot(grid[0, 0])
        self.bars = plots.plot_attention_row(self.ax_bar)
        self.ax_mat = fig.add_subplot(grid[0, 1])
        self.im = plots.plot_attention_matrix(self.ax_mat, np.zeros((1, 1)), vmax=1.0)
        self.ax_mat.set(xlabel="earlier position $s$", ylabel="position $t$")
        self.row = plots.plot_row_outline(self.ax_mat)
        fig.colorbar(self.im, cax=fig.add_subplot(grid[0, 2]), label=r"$W[t, s]$")
        self.dynamic = [self.bars, self.im, self.row]
        self.live = [self.bars, self.row]            # what moving the position changes

    def _compute(self, p: dict) -> dict:
        hmm, states, tokens = self._cached(p, "model", MODEL_KEYS, lambda: make_model(p))
        pi = self._cached(p, "pi", MODEL_KEYS, lambda: df.predict(hmm, tokens))
        rhos = self._cached(p, "layers", MODEL_KEYS, lambda: df.dual_filter(
            hmm, tokens, p["T"] + 1, return_all=True))
        l, t, z = p["layer"], p["position"], p["token"]
        f = hmm.C[:, z]
        W = self._cached(p, "W", MODEL_KEYS + ("layer", "token"),
                         lambda: df.contributions(hmm, tokens, rhos[l], f))
        prior_term = float(hmm.prior_marginals(t)[t] @ f)
        return {"W": W, "row": W[t, :t], "rho": rhos[l], "pi": pi,
                "prior_term": np.array(prior_term),
                "estimate": np.array(prior_term + W[t, :t].sum()),
                "truth": np.array(pi[t] @ f)}

    def _draw(self, data: dict) -> None:
        p = self._params
        l, t, z, T = p["layer"], p["position"], p["token"], p["T"]
        W = data["W"]
        # one colour scale for every row (moving t blits), rounded so that it seldom moves
        vmax = plots.nice_ceiling(max(float(np.abs(W).max()), 1e-12))
        plots.set_attention_row(self.bars, data["row"])
        self.ax_bar.set(xlim=(-0.5, T - 0.5), ylim=(-1.1 * vmax, 1.1 * vmax))
        plots.set_title(                       # plain text: it changes with every position
            self.ax_bar,
            f"position t = {t}, query f = C{SUBSCRIPTS[z]}, input layer {l}\n"
            f"μAᵗf = {float(data['prior_term']):.3f}, + sum of bars = "
            f"{float(data['estimate']):.4f} (layer {l + 1}), πₜ(f) = "
            f"{float(data['truth']):.4f}", fontsize=9)
        plots.set_attention_matrix(self.im, W, vmax)
        self.row.set_bounds(-0.5, t - 0.5, T + 1, 1)
        plots.set_title(self.ax_mat, f"attention matrix of layer {l + 1}\n"
                                     f"(row t = {t} outlined)", fontsize=9)


def attention_explorer(**params) -> AttentionExplorer:
    """Explorer of the attention matrix W[t, s] of one dual-filter layer (chapter 10).

    The layer ``layer`` is the input rho^(l); W is the attention of layer l + 1. The position
    defaults to T and follows T down.
    """
    return AttentionExplorer(**params)


document_factory(attention_explorer, AttentionExplorer)

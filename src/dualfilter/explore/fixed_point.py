"""Chapter 8 explorer: the dual filter layer by layer against the nonlinear predictor."""

from __future__ import annotations

import numpy as np

import dualfilter as df

from .. import plots
from ._base import MODEL_KEYS, Explorer, LayerAnimation, Param, document_factory, layer_param, \
    make_model, model_params

__all__ = ["FixedPointExplorer", "fixed_point_explorer"]


class FixedPointExplorer(LayerAnimation, Explorer):
    """The dual filter rho^(l) against the nonlinear predictor pi (chapter 8).

    Panels: the heat map of rho_t^(l) over positions t and states (layer l of the iteration
    rho^(l+1) = (1 - a) rho^(l) + a N(rho^(l)) of the fixed-point equation of chapter 7, from
    the prior rho_t^(0) = mu A^t); the heat map of pi_t (forward algorithm, chapter 2); the L1
    error ||rho_t^(l) - pi_t||_1 per position t; and the worst error max_t ||rho_t^(l) -
    pi_t||_1 against the layer on a log axis, the current layer marked. Errors below
    ``plots.ERROR_FLOOR`` are drawn at the floor. The iterates are signed measures until they
    converge: weights below 0 or above 1 are drawn in the colour bar's end colours.

    ``data``: rho (T+1, d), pi (T+1, d), tokens (T,), error_per_position (T+1,), layers
    (T+2,), error_per_layer (T+2,).
    """

    PARAMS = model_params() + (
        layer_param(),
        Param("normalize", "bool", True, "normalise",
              doc="project each Bayes input onto the simplex (the normalisation layer)"),
        Param("relax", "float", 1.0, "relax a", 0.05, 1.0, step=0.05,
              doc="the relaxation a, the residual connection (a = 1: none)"),
    )
    figsize = (10.0, 5.6)

    def _build(self) -> None:
        fig = self.figure
        grid = fig.add_gridspec(2, 3, width_ratios=[1, 1, 0.04], height_ratios=[1, 0.9],
                                left=0.07, right=0.94, top=0.93, bottom=0.09, wspace=0.3,
                                hspace=0.45)
        self.ax_rho = fig.add_subplot(grid[0, 0])
        self.ax_pi = fig.add_subplot(grid[0, 1], sharey=self.ax_rho)
        self.ax_pos = fig.add_subplot(grid[1, 0])
        self.ax_layer = fig.add_subplot(grid[1, 1])
        empty = np.zeros((1, 1))
        self.im_rho = plots.plot_measure_heatmap(self.ax_rho, empty, signed=True)
        self.im_pi = plots.plot_measure_heatmap(self.ax_pi, empty, signed=True)
        fig.colorbar(self.im_rho, cax=fig.add_subplot(grid[0, 2]), extend="both",
                     label="weight on the state")
        plots.set_title(self.ax_rho, r"dual filter $\rho_t^{(\ell)}$", loc="left")
        plots.set_title(self.ax_pi, r"nonlinear predictor $\pi_t$ (forward algorithm)")
        self.ax_pi.set_ylabel("")
        self.ax_pi.tick_params(labelleft=False)
        self.line_pos = plots.plot_position_errors(self.ax_pos, np.zeros(1),
                                                   title="error per position")
        label = r"$\max_t \|\rho_t^{(\ell)} - \pi_t\|_1$"
        self.line_layer = plots.plot_layer_errors(
            self.ax_layer, {label: np.zeros(1)}, ylabel="worst L1 error", marker=".",
            styles={label: {"color": plots.COLORS["linear"]}}, legend_loc="lower left",
            fixed=True)[label]
        # the current layer's mark is drawn on top (above the legend), so that moving the
        # layer redraws the mark alone in this panel
        self.mark_layer = plots.plot_layer_errors(
            self.ax_layer, {"current layer": np.zeros(1)}, ylabel="worst L1 error",
            styles={"current layer": {"ls": "", "marker": "o", "ms": 8, "zorder": 6,
                                      "color": plots.COLORS["current"]}},
            legend_loc="lower left", fixed=True)["current layer"]
        plots.set_title(self.ax_layer, "error against layer")
        self.dynamic = [self.im_rho, self.im_pi, self.line_pos, self.line_layer,
                        self.mark_layer]
        self.live = [self.im_rho, self.line_pos, self.mark_layer]   # what the layer changes

    def _compute(self, p: dict) -> dict:
        hmm, states, tokens = self._cached(p, "model", MODEL_KEYS, lambda: make_model(p))
        pi = self._cached(p, "pi", MODEL_KEYS, lambda: df.predict(hmm, tokens))

        def layers():
            rhos = df.dual_filter(hmm, tokens, p["T"] + 1, normalize=p["normalize"],
                                  relax=p["relax"], return_all=True)
            return rhos, np.abs(rhos - pi[None]).sum(axis=2)      # (T+2, T+1, d), (T+2, T+1)

        rhos, errors = self._cached(p, "layers", MODEL_KEYS + ("normalize", "relax"), layers)
        l = p["layer"]
        return {"rho": rhos[l], "pi": pi, "tokens": tokens, "error_per_position": errors[l],
                "layers": np.arange(p["T"] + 2), "error_per_layer": errors.max(axis=1)}

    def _draw(self, data: dict) -> None:
        p = self._params
        l, T = p["layer"], p["T"]
        plots.set_measure_heatmap(self.im_rho, data["rho"])
        plots.set_measure_heatmap(self.im_pi, data["pi"])
        self.ax_rho.set_ylim(-0.5, p["n_states"] - 0.5)
        plots.set_title(self.ax_rho, f"layer {l} of {T + 1}"
                        + ("" if p["normalize"] else ", not normalised"), loc="right")
        plots.set_errors(self.line_pos, data["error_per_position"])
        plots.set_errors(self.line_layer, data["error_per_layer"])
        plots.set_errors(self.mark_layer, data["error_per_layer"][l], x=[l])
        self.ax_pos.set_xlim(-0.5, T + 0.5)
        self.ax_layer.set_xlim(-0.5, T + 1.5)
        # the raw iteration's transient can reach 1e27: the top follows it, in decades
        top = 10.0 ** max(1, int(np.ceil(np.log10(3.0 * data["error_per_layer"].max()))))
        for ax in (self.ax_pos, self.ax_layer):
            ax.set_ylim(plots.ERROR_FLOOR / 3, top)


def fixed_point_explorer(**params) -> FixedPointExplorer:
    """Explorer of the dual filter against the nonlinear predictor (chapter 8).

    Moving the layer only redraws: all layers are computed once per model with
    ``dual_filter(..., return_all=True)``. See :class:`FixedPointExplorer` for the panels.
    """
    return FixedPointExplorer(**params)


document_factory(fixed_point_explorer, FixedPointExplorer)

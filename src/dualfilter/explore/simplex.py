"""Chapter 7 explorer: the dual-filter iterates of a 3-state model in the probability simplex."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

import dualfilter as df

from .. import plots
from ._base import MODEL_KEYS, Explorer, LayerAnimation, document_factory, layer_param, \
    make_model, model_params

__all__ = ["SimplexExplorer", "simplex_explorer"]

ONLY_THREE = "the simplex view needs exactly 3 hidden states (a triangle)"


class SimplexExplorer(LayerAnimation, Explorer):
    """Dual-filter iterates rho_t^(l) of a 3-state model in the triangle P(S) (chapter 7).

    Left: each rho_t^(l) (filled dot, coloured by position t) in barycentric coordinates
    (vertex k = the point mass on state k), a grey segment to its target pi_t (open circle),
    the fixed point of (FP). Points may leave the triangle (negative weights) since N does not
    preserve positivity. Right: the distance ||rho_t^(l) - pi_t||_1 per position; positions
    t < l are exact (causality), drawn at ``plots.ERROR_FLOOR``.

    ``data``: rho (T+1, 3), pi (T+1, 3), rho_xy (T+1, 2), pi_xy (T+1, 2) (plane coordinates),
    error_per_position (T+1,).
    """

    PARAMS = tuple(
        replace(p, low=3, high=3, reason=ONLY_THREE) if p.name == "n_states" else p
        for p in model_params(n_states=3, T=20, max_T=60,
                              controls=("T", "stickiness", "emission_concentration", "seed"))
    ) + (layer_param(),)
    figsize = (10.0, 4.8)
    control_order = ("layer", "seed", "T", "stickiness", "emission_concentration")

    def _build(self) -> None:
        fig = self.figure
        self.ax_tri = fig.add_axes((0.0, 0.04, 0.5, 0.86))
        self.simplex = plots.plot_simplex(self.ax_tri)
        fig.colorbar(self.simplex["points"], cax=fig.add_axes((0.5, 0.14, 0.012, 0.7)),
                     label="position $t$")
        plots.set_title(self.ax_tri, "iterates ρₜ moving to their targets πₜ", loc="left")
        self.ax_err = fig.add_axes((0.66, 0.13, 0.32, 0.75))
        self.line_err = plots.plot_position_errors(self.ax_err, np.zeros(1),
                                                   title="distance to the target")
        self.ax_err.set_ylim(plots.ERROR_FLOOR / 3, 10.0)
        self.layer_title = plots.set_title(self.ax_tri, "", loc="right")
        self.layer_title.set_zorder(6)          # above the iterates: redrawn with them alone
        self.dynamic = list(self.simplex.values()) + [self.layer_title, self.line_err]
        self.live = self.dynamic                                    # the layer moves them all

    def _compute(self, p: dict) -> dict:
        hmm, states, tokens = self._cached(p, "model", MODEL_KEYS, lambda: make_model(p))
        pi = self._cached(p, "pi", MODEL_KEYS, lambda: df.predict(hmm, tokens))
        rhos = self._cached(p, "layers", MODEL_KEYS, lambda: df.dual_filter(
            hmm, tokens, p["T"] + 1, return_all=True))
        rho = rhos[p["layer"]]
        return {"rho": rho, "pi": pi, "rho_xy": plots.simplex_xy(rho),
                "pi_xy": plots.simplex_xy(pi), "error_per_position": np.abs(rho - pi).sum(axis=1)}

    def _draw(self, data: dict) -> None:
        l, T = self._params["layer"], self._params["T"]
        plots.set_simplex(self.simplex, data["rho"], data["pi"])
        plots.set_title(self.ax_tri, f"layer ℓ = {l} of {T + 1}", loc="right")
        plots.set_errors(self.line_err, data["error_per_position"])
        self.ax_err.set_xlim(-0.5, T + 0.5)


def simplex_explorer(**params) -> SimplexExplorer:
    """Explorer of the dual-filter iterates in the triangle of a 3-state model (chapter 7).

    The iteration is the normalised dual filter from the prior, all layers computed once per
    model. ``n_states`` has no control: any value but 3 is refused in ``status``.
    """
    return SimplexExplorer(**params)


document_factory(simplex_explorer, SimplexExplorer)

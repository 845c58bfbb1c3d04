"""Chapter 6 explorer: the best additive (Riccati) predictor against the nonlinear one."""

from __future__ import annotations

import numpy as np

import dualfilter as df
from dualfilter import brute_force

from .. import plots
from ._base import Explorer, Param, Ref, document_factory, model_params

__all__ = ["LinearVsNonlinearExplorer", "linear_vs_nonlinear_explorer", "CONCENTRATIONS",
           "EXACT_SEQUENCES"]

CONCENTRATIONS = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0)
EXACT_SEQUENCES = 20_000  # up to this many token sequences the MMSE is computed exactly


class LinearVsNonlinearExplorer(Explorer):
    """The best additive (Riccati) predictor against the nonlinear one (chapter 6).

    Left: against the emission concentration (the informativeness of the tokens, small =
    informative), for f = 1{X = k}: the MSE f^T Sigma_T f of the best additive predictor
    (chapter 5), the MMSE E[Var_{pi_T}(f)] of the nonlinear predictor (exact by enumeration,
    ``brute_force.mmse``, when n_tokens^T <= 20000, otherwise ``brute_force.mc_mmse`` from
    ``mc_paths`` sampled paths), and the prior variance Var_{p_T}(f) (no tokens). Right: on
    one sampled path, f(X_t), the nonlinear estimate pi_t(f) and the linear one m_t f
    (``LinearPredictor.estimates``), t = 0..T, for the current concentration.

    ``data``: concentrations (9,), linear_mse, mmse, prior_var (9,), truth, nonlinear,
    linear (T+1,).
    """

    PARAMS = tuple(p for p in model_params(
        n_states=3, n_tokens=3, T=8, controls=("n_states", "n_tokens", "T", "stickiness", "seed"))
        if p.name != "emission_concentration") + (
        Param("emission_concentration", "choice", 0.2, "emission conc.", options=CONCENTRATIONS,
              doc="the model drawn on the path panel and marked on the curves"),
        Param("target", "choice", 0, "query state k", options=Ref("n_states"),
              doc="the state k of the query f = 1{X = k}"),
        Param("mc_paths", "int", 64, "Monte Carlo paths", 8, 2000, control=False,
              doc="Monte Carlo paths per concentration when the MMSE is not exact"),
    )
    figsize = (10.0, 4.4)

    def _build(self) -> None:
        fig = self.figure
        self.ax_mse, self.ax_path = fig.subplots(1, 2, gridspec_kw=dict(
            left=0.08, right=0.98, top=0.9, bottom=0.13, wspace=0.25))
        self.mse_lines = plots.plot_predictor_mse(self.ax_mse, CONCENTRATIONS, {})
        zeros = np.zeros(1)
        self.path_lines = plots.plot_estimates_vs_truth(
            self.ax_path, zeros, {r"nonlinear $\pi_t(f)$": zeros, r"linear $m_t f$": zeros},
            ylabel="estimate of $f(X_t)$", legend="inside")
        self.ax_path.set_xlabel("position $t$")
        self.ax_path.axhline(0, color="0.8", linewidth=0.6)
        self.dynamic = list(self.mse_lines.values()) + list(self.path_lines.values())

    def _compute(self, p: dict) -> dict:
        f = np.eye(p["n_states"])[p["target"]]
        keys = ("n_states", "n_tokens", "T", "stickiness", "seed", "mc_paths")

        def riccati():
            return [df.linear_predictor(df.random_hmm(
                p["n_states"], p["n_tokens"], seed=p["seed"], stickiness=p["stickiness"],
                emission_concentration=c), p["T"]) for c in CONCENTRATIONS]

        lps = self._cached(p, "riccati", keys, riccati)
        curves = self._cached(p, "curves", keys + ("target",), lambda: self._curves(p, lps, f))
        lp = lps[CONCENTRATIONS.index(p["emission_concentration"])]
        states, tokens = df.sample(lp.hmm, p["T"], seed=p["seed"])
        return {"concentrations": np.array(CONCENTRATIONS), **curves, "truth": f[states],
                "nonlinear": df.predict(lp.hmm, tokens) @ f, "linear": lp.estimates(tokens) @ f}

    @staticmethod
    def _curves(p: dict, lps, f) -> dict:
        T = p["T"]
        linear = np.array([lp.mse(f) for lp in lps])
        p_T = [lp.hmm.prior_marginals(T)[T] for lp in lps]
        prior = np.array([q @ f**2 - (q @ f) ** 2 for q in p_T])
        if p["n_tokens"] ** T <= EXACT_SEQUENCES:
            mmse = np.array([brute_force.mmse(lp.hmm, f, T) for lp in lps])
        else:
            mmse = np.array([brute_force.mc_mmse(lp, f, p["seed"], p["mc_paths"]) for lp in lps])
        return {"linear_mse": linear, "mmse": mmse, "prior_var": prior}

    def _draw(self, data: dict) -> None:
        p = self._params
        grid = data["concentrations"]
        for name in ("prior_var", "linear_mse", "mmse"):
            self.mse_lines[name].set_data(grid, data[name])
        exact = p["n_tokens"] ** p["T"] <= EXACT_SEQUENCES
        label = "MMSE (exact)" if exact else f"MMSE (Monte Carlo, {p['mc_paths']} paths)"
        if label != self.mse_lines["mmse"].get_label():
            self.mse_lines["mmse"].set_label(label)
            self.ax_mse.legend(fontsize=plots.LEGEND_FONTSIZE, loc="lower right")
        self.mse_lines["current"].set_xdata([p["emission_concentration"]])
        top = max(data["prior_var"].max(), data["linear_mse"].max())
        self.ax_mse.set_ylim(0, plots.nice_ceiling(1.08 * top))   # seldom moves: blits
        plots.set_title(self.ax_mse, f"predicting f = 1{{X = {p['target']}}} at the horizon "
                                     f"T = {p['T']}")
        t = np.arange(p["T"] + 1)
        for line, y in zip(self.path_lines.values(),
                           (data["truth"], data["nonlinear"], data["linear"])):
            line.set_data(t, y)
        # [0, 1] plus room for the legend, widened by 0.5 steps where the linear estimate
        # leaves [0, 1] (it is not a probability)
        low = min(0.0, np.floor(2 * data["linear"].min()) / 2)
        high = max(1.0, np.ceil(2 * data["linear"].max()) / 2)
        self.ax_path.set(xlim=(-0.5, p["T"] + 0.5), ylim=(low - 0.08, high + 0.25))
        plots.set_title(
            self.ax_path,
            f"one path, concentration {p['emission_concentration']:g}\nmean squared error "
            f"over t: linear {np.mean((data['linear'] - data['truth']) ** 2):.3f}, nonlinear "
            f"{np.mean((data['nonlinear'] - data['truth']) ** 2):.3f}", fontsize=9)


def linear_vs_nonlinear_explorer(**params) -> LinearVsNonlinearExplorer:
    """Explorer of the gap between the linear and the nonlinear predictor (chapter 6).

    The Riccati solutions and the curves are cached per model: moving the concentration only
    samples a path and redraws.
    """
    return LinearVsNonlinearExplorer(**params)


document_factory(linear_vs_nonlinear_explorer, LinearVsNonlinearExplorer)

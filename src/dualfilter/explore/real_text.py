"""Chapter 13 explorer: next-character probabilities of an HMM learned from English text."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import dualfilter as df

from .. import plots, text
from ._base import Explorer, Param, document_factory

__all__ = ["RealTextExplorer", "real_text_explorer", "SIZES", "MAX_CHARS", "MAX_LAYERS",
           "DEFAULT_TEXT", "model_path", "load_model"]

#: The model sizes the explorer offers (the stored models book/data/text-hmm-d{d}.npz).
SIZES = (16, 64)
MAX_CHARS = 100
MAX_LAYERS = 32
DEFAULT_TEXT = "if an expression list is present, it is evaluat"
_DATA = Path(__file__).resolve().parents[3] / "book" / "data"
_MODELS: dict[int, df.HMM] = {}


def model_path(d: int) -> Path:
    """The stored model of chapter 13 with d states (written by benchmarks/fit_text_models.py)."""
    return _DATA / f"text-hmm-d{d}.npz"


def load_model(d: int) -> df.HMM:
    """The stored character-level HMM with ``d`` states (loaded once)."""
    if d not in _MODELS:
        path = model_path(d)
        if not path.is_file():
            raise ValueError(f"the model file {path} is missing (run "
                             f"benchmarks/fit_text_models.py --d {d})")
        with np.load(path) as f:
            _MODELS[d] = df.HMM(f["A"], f["C"], f["mu"])
    return _MODELS[d]


class RealTextExplorer(Explorer):
    """The law of the next character after a typed text: the exact predictor against the
    dual filter after L layers (chapter 13).

    The model is the stored character-level HMM with ``n_states`` states learned from Python's
    documentation (:func:`load_model`). The text is encoded with :func:`dualfilter.text.encode`
    (a character outside the vocabulary is refused with its message). Panels: the
    probability of every character of the vocabulary as the next character, under the exact
    predictor pi_T C (bars) and under the dual filter P(rho_T^(L)) C (markers; P clips the
    negative parts and renormalises, as in the chapter), with L layers of the iteration
    rho^(l+1) = (1 - a) rho^(l) + a N(rho^(l)) from the prior measures; and the L1 error
    ||rho_t^(L) - pi_t||_1 along the text.

    ``data``: tokens (T,), pi (T+1, d), rho (T+1, d), exact (n_tokens,), filtered
    (n_tokens,), error_per_position (T+1,), total_variation (a number: half the L1 distance
    between exact and filtered).
    """

    PARAMS = (
        Param("text", "text", DEFAULT_TEXT, "text", 1, MAX_CHARS,
              doc="the text typed; the explorer predicts the character that follows it"),
        Param("n_states", "choice", 64, "states d", options=SIZES,
              doc="the number of hidden states of the stored model"),
        Param("layers", "int", 4, "layers L", 0, MAX_LAYERS,
              doc="the number L of layers of the dual filter"),
        Param("relax", "float", 1.0, "relax a", 0.05, 1.0, step=0.05,
              doc="the relaxation a, the residual connection (a = 1: none)"),
    )
    figsize = (10.0, 5.6)
    control_order = ("text", "n_states", "layers", "relax")

    def _build(self) -> None:
        fig = self.figure
        grid = fig.add_gridspec(2, 1, height_ratios=[1.25, 0.8], left=0.07, right=0.98,
                                top=0.9, bottom=0.09, hspace=0.5)
        self.ax_bars = fig.add_subplot(grid[0])
        self.ax_pos = fig.add_subplot(grid[1])
        x = np.arange(text.N_TOKENS)
        self.bars = self.ax_bars.bar(x, np.zeros(text.N_TOKENS), 0.8,
                                     color=plots.COLORS["nonlinear"],
                                     label=r"exact predictor $\pi_T C$")
        (self.marks,) = self.ax_bars.plot(x, np.zeros(text.N_TOKENS), "o", ms=4,
                                          color=plots.COLORS["current"],
                                          label=r"dual filter $P(\rho_T^{(L)})\,C$")
        self.ax_bars.set_xticks(x, text.labels(), fontsize=7)
        self.ax_bars.set(xlim=(-0.7, text.N_TOKENS - 0.3),
                         xlabel="next character", ylabel="probability")
        self.ax_bars.legend(loc="upper right", fontsize=plots.LEGEND_FONTSIZE, frameon=False)
        self.line_pos = plots.plot_position_errors(
            self.ax_pos, np.zeros(1), ylabel=r"$\|\rho_t^{(L)} - \pi_t\|_1$",
            title="error of the dual filter along the text")
        self.dynamic = list(self.bars) + [self.marks, self.line_pos]
        self.live = list(self.dynamic)

    def _compute(self, p: dict) -> dict:
        hmm = load_model(p["n_states"])
        tokens = self._cached(p, "tokens", ("text",), lambda: text.encode(p["text"]))
        pi = self._cached(p, "pi", ("text", "n_states"), lambda: df.predict(hmm, tokens))

        def history():
            return df.dual_filter(hmm, tokens, MAX_LAYERS, relax=p["relax"], return_all=True)

        rhos = self._cached(p, "layers", ("text", "n_states", "relax"), history)
        # the iteration stops once an iterate repeats: later layers equal the last one
        rho = rhos[min(p["layers"], len(rhos) - 1)]
        exact = pi[-1] @ hmm.C
        bar = np.clip(rho[-1], 0.0, None)
        filtered = (bar / bar.sum()) @ hmm.C
        return {"tokens": tokens, "pi": pi, "rho": rho, "exact": exact, "filtered": filtered,
                "error_per_position": np.abs(rho - pi).sum(axis=1),
                "total_variation": 0.5 * float(np.abs(filtered - exact).sum())}

    def twin_data(self) -> dict:
        """What the page twin cannot compute: the vocabulary with its folding, and the stored
        models (A, C, mu) of every size offered (plain JSON; see explore/web/README.md)."""
        models = {}
        for d in SIZES:
            hmm = load_model(d)
            models[str(d)] = {"A": hmm.A.tolist(), "C": hmm.C.tolist(), "mu": hmm.mu.tolist()}
        return {"vocabulary": text.VOCABULARY, "other_symbol": text.OTHER_SYMBOL,
                "typography": dict(text._TYPOGRAPHY), "labels": text.labels(),
                "models": models}

    def _draw(self, data: dict) -> None:
        p = self._params
        for rect, h in zip(self.bars, data["exact"]):
            rect.set_height(h)
        self.marks.set_ydata(data["filtered"])
        plots.set_errors(self.line_pos, data["error_per_position"])
        T = len(data["tokens"])
        top = max(data["exact"].max(), data["filtered"].max())
        self.ax_bars.set_ylim(0, min(1.0, plots.nice_ceiling(1.1 * top)))
        self.ax_pos.set_xlim(-0.5, T + 0.5)
        shown = p["text"] if len(p["text"]) <= 60 else "\u2026" + p["text"][-59:]
        plots.set_title(self.ax_bars, f"after \u201c{shown}\u201d (d = {p['n_states']})",
                        loc="left")
        plots.set_title(self.ax_bars, f"L = {p['layers']}, a = {p['relax']:g}: total variation "
                        f"{data['total_variation']:.3f}", loc="right")


def real_text_explorer(**params) -> RealTextExplorer:
    """Explorer of the next-character probabilities after a typed text (chapter 13).

    See :class:`RealTextExplorer` for the panels.
    """
    return RealTextExplorer(**params)


document_factory(real_text_explorer, RealTextExplorer)

"""Chapter 11 explorer: error against layer for the four ways to compute the predictor."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

import dualfilter as df
from dualfilter.solvers import damped_relaxation

from .. import plots
from ._base import MODEL_KEYS, Explorer, Param, document_factory, model_params

__all__ = ["DepthExplorer", "depth_explorer", "METHODS", "STOP", "CAP_FACTOR",
           "solver_errors", "scan_errors", "first_below"]

METHODS = ("jacobi", "damped", "anderson", "scan")
STOP = 1e-13          # a solver stops once its error is below this (below: rounding noise)
CAP_FACTOR = 2        # damped Jacobi and Anderson get CAP_FACTOR (T + 1) layers at most
KEYS = MODEL_KEYS + ("transition_concentration",)


def solver_errors(hmm, tokens, pi, method: str, max_layers: int, stop: float = STOP, **solver):
    """max_t ||x_l - pi_t||_1 after each layer l = 0..L of ``df.solve_fixed_point``.

    Recorded by the solver's ``callback`` (its public signature is unchanged).

    Parameters
    ----------
    hmm : HMM
    tokens : ndarray of int, shape (T,)
    pi : ndarray, shape (T+1, d)
        The nonlinear predictor (``df.predict``).
    method : {"jacobi", "damped", "anderson"}
        Passed to ``solve_fixed_point``, with ``tol=0`` and ``max_layers``.
    max_layers : int
    stop : float
        The run stops after the first layer whose error is below ``stop``.
    **solver
        Keyword arguments of ``solve_fixed_point`` (``relax``, ``memory``).

    Returns
    -------
    ndarray, shape (L+1,)
        Entry l is the error of the iterate after l layers (entry 0: the prior mu A^t).
    """
    errors = []

    def record(layer, x):
        errors.append(float(np.abs(x - pi).sum(axis=1).max()))
        return errors[-1] < stop

    df.solve_fixed_point(hmm, tokens, method=method, tol=0.0, max_layers=max_layers,
                         callback=record, **solver)
    return np.array(errors)


def scan_errors(hmm, tokens, pi):
    """max_t ||x_t^(k) - pi_t||_1 after each level k of the Hillis-Steele scan.

    Parameters
    ----------
    hmm : HMM
    tokens : ndarray of int, shape (T,)
    pi : ndarray, shape (T+1, d)

    Returns
    -------
    ndarray, shape (K+1,)
        K = ceil(log2(T+1)) levels; entry 0 is the estimate before any level
        (``df.parallel_scan(..., return_levels=True)``).
    """
    _, levels = df.parallel_scan(hmm, tokens, return_levels=True)
    return np.abs(levels - pi[None]).sum(axis=2).max(axis=1)


def first_below(errors, eps: float):
    """The first index l with errors[l] < eps, or None (censored: not within the run)."""
    hit = np.flatnonzero(np.asarray(errors) < eps)
    return int(hit[0]) if hit.size else None


class DepthExplorer(Explorer):
    """Error against layer for Jacobi, damped Jacobi, Anderson and the parallel scan (ch. 11).

    One panel: max_t ||x_t^(l) - pi_t||_1 against the layer l (the level k for the scan) on a
    log axis, for the four circuits that compute the nonlinear predictor pi of a random
    model: Jacobi (the dual filter, ``solve_fixed_point(method="jacobi")``, at most T + 1
    layers, exact there), damped Jacobi (relaxation a from the Toeplitz-symbol rule,
    ``damped_relaxation``, or the chosen ``relax``), Anderson acceleration of type II with the
    chosen memory (both at most 2 (T + 1) layers) and the Hillis-Steele parallel scan
    (``parallel_scan(return_levels=True)``, ceil(log2(T + 1)) levels). A solver stops once its
    error is below 1e-13 (STOP). The tolerance eps is drawn as a dotted line; the legend gives
    L_eps, the first layer (level) with error < eps, or "> budget (censored)" when the run
    ends above eps. Errors below ``plots.ERROR_FLOOR`` are drawn at the floor.

    The model is ``random_hmm(n_states, n_tokens, seed=seed, stickiness=...,
    transition_concentration=..., emission_concentration=...)``, the path
    ``sample(hmm, T, seed=seed)``.

    ``data``: pi (T+1, d), tokens (T,), errors_jacobi, errors_damped, errors_anderson,
    errors_scan (one value per layer / level, from 0), depth (4,) L_eps per method in
    ``METHODS`` order (nan where censored), budget (4,) the most layers (levels) each may
    use, relax () the damping a used.
    """

    PARAMS = tuple(
        replace(p, low=20, high=800, default=100, reason="the explorer's range") if p.name == "T"
        else p
        for p in model_params(n_states=8, n_tokens=8, stickiness=0.8,
                              emission_concentration=1.0, max_states=16,
                              controls=("n_states", "n_tokens", "T", "stickiness",
                                        "emission_concentration", "seed"))
    ) + (
        Param("transition_concentration", "log", 1.0, "transition conc.", 0.03, 30.0, step=0.05,
              doc="the Dirichlet concentration of the rows of the random part of A"),
        Param("memory", "int", 5, "memory m", 1, 10,
              doc="the number of past iterates Anderson acceleration combines"),
        Param("relax_rule", "bool", True, "damping: rule",
              doc="damped Jacobi takes a from the Toeplitz-symbol rule (else relax)"),
        Param("relax", "float", 0.5, "relax a", 0.05, 1.0, step=0.05,
              doc="the relaxation a of damped Jacobi when the rule is off"),
        Param("eps", "log", 1e-6, "tolerance ε", 1e-12, 1e-2, step=0.25, live=True,
              doc="the tolerance eps of L_eps (the dotted line)"),
    )
    figsize = (10.0, 5.0)
    control_order = ("n_states", "n_tokens", "T", "stickiness", "emission_concentration",
                     "transition_concentration", "seed", "memory", "relax_rule", "relax", "eps")

    def _build(self) -> None:
        fig = self.figure
        self.ax = fig.add_axes((0.08, 0.11, 0.9, 0.8))
        styles = {"scan": {"marker": "o", "ms": 4}}       # the colours: C0..C3 in order
        self.lines = plots.plot_layer_errors(
            self.ax, {m: np.zeros(1) for m in METHODS}, styles=styles,
            ylabel=r"$\max_t \|x^{(\ell)}_t - \pi_t\|_1$", legend_loc="lower right", fixed=True)
        self.eps_line = self.ax.axhline(1e-6, color=plots.COLORS["truth"], ls=":", lw=1)
        self.ax.set_xlabel(r"layer $\ell$ (level $k$ for the scan)")
        self.dynamic = [*self.lines.values(), self.eps_line]
        self.live = [self.eps_line]        # eps moves the line and the legend's L_eps

    def _compute(self, p: dict) -> dict:
        def model():
            hmm = df.random_hmm(p["n_states"], p["n_tokens"], seed=p["seed"],
                                stickiness=p["stickiness"],
                                transition_concentration=p["transition_concentration"],
                                emission_concentration=p["emission_concentration"])
            states, tokens = df.sample(hmm, p["T"], seed=p["seed"])
            return hmm, states, tokens

        hmm, states, tokens = self._cached(p, "model", KEYS, model)
        T = p["T"]
        pi = self._cached(p, "pi", KEYS, lambda: df.predict(hmm, tokens))
        if p["relax_rule"]:
            a = self._cached(p, "rule", KEYS, lambda: damped_relaxation(hmm)[0])
        else:
            a = p["relax"]
        cap = CAP_FACTOR * (T + 1)
        errors = {
            "jacobi": self._cached(p, "jacobi", KEYS, lambda: solver_errors(
                hmm, tokens, pi, "jacobi", T + 1)),
            "damped": self._cached({**p, "a": a}, "damped", KEYS + ("a",), lambda: solver_errors(
                hmm, tokens, pi, "damped", cap, relax=a)),
            "anderson": self._cached(p, "anderson", KEYS + ("memory",), lambda: solver_errors(
                hmm, tokens, pi, "anderson", cap, memory=p["memory"])),
            "scan": self._cached(p, "scan", KEYS, lambda: scan_errors(hmm, tokens, pi)),
        }
        budget = np.array([T + 1, cap, cap, math.ceil(math.log2(T + 1))])
        depth = np.array([np.nan if (L := first_below(errors[m], p["eps"])) is None else L
                          for m in METHODS], dtype=float)
        return {"pi": pi, "tokens": tokens, **{f"errors_{m}": errors[m] for m in METHODS},
                "depth": depth, "budget": budget, "relax": np.float64(a)}

    @staticmethod
    def labels(data: dict, p: dict) -> list[str]:
        """The legend's labels: each method with its L_eps (or censored)."""
        names = ["Jacobi (dual filter)",
                 f"damped Jacobi, a = {float(data['relax']):.2f}"
                 + (" (rule)" if p["relax_rule"] else ""),
                 f"Anderson, memory {p['memory']}",
                 "parallel scan (per level)"]
        out = []
        for name, L, budget, m in zip(names, data["depth"], data["budget"], METHODS):
            unit = "levels" if m == "scan" else "layers"
            what = (f"> {int(budget)} {unit} (censored)" if np.isnan(L)
                    else f"= {int(L)} {unit}")
            out.append(f"{name}: $L_\\varepsilon$ {what}")
        return out

    def _draw(self, data: dict) -> None:
        p = self._params
        for m, label in zip(METHODS, self.labels(data, p)):
            plots.set_errors(self.lines[m], data[f"errors_{m}"])
            self.lines[m].set_label(label)
        self.eps_line.set_ydata([p["eps"], p["eps"]])
        self.ax.legend(fontsize=plots.LEGEND_FONTSIZE, loc="lower right")
        self.ax.set_xlim(-0.5, CAP_FACTOR * (p["T"] + 1) + 0.5)
        top = max(float(np.max(data[f"errors_{m}"])) for m in METHODS)
        self.ax.set_ylim(plots.ERROR_FLOOR / 3, 10.0 ** max(1, math.ceil(math.log10(3 * top))))
        plots.set_title(self.ax, f"d = {p['n_states']}, T = {p['T']}, stickiness "
                                 f"{p['stickiness']:g}, ε = {p['eps']:.0e}")


def depth_explorer(**params) -> DepthExplorer:
    """Explorer of the error against layer of Jacobi, damped Jacobi, Anderson and the scan
    (chapter 11).

    Each method runs once per model (and per relaxation or memory); moving eps only
    redraws. See :class:`DepthExplorer` for the panel.
    """
    return DepthExplorer(**params)


document_factory(depth_explorer, DepthExplorer)

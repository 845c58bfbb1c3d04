"""Interactive explorers (ipywidgets) for the book's chapters: the presentation wing.

One module per explorer, each a subclass of :class:`~dualfilter.explore._base.Explorer` and
a factory (the protocol, how to add an explorer and the JSON schema of the parameter
declarations are documented in :mod:`dualfilter.explore._base`):

- :func:`filter_explorer` (chapter 2): a sampled path and the nonlinear predictor pi_t.
- :func:`linear_vs_nonlinear_explorer` (chapter 6): the Riccati (linear) MSE against the MMSE.
- :func:`simplex_explorer` (chapter 7): dual-filter layers moving in the probability simplex.
- :func:`fixed_point_explorer` (chapter 8): the dual filter layer by layer against pi_t.
- :func:`attention_explorer` (chapter 10): the "attention" matrix W[t, s] of one layer.
- :func:`depth_explorer` (chapter 11): error against layer for Jacobi, damped Jacobi,
  Anderson and the parallel scan.
- :func:`real_text_explorer` (chapter 13): next-character probabilities after a typed text,
  exact predictor against the dual filter, for an HMM learned from English (the one explorer
  that does not draw a random model).

Every explorer draws the model ``random_hmm(n_states, n_tokens, seed=seed, stickiness=...,
emission_concentration=...)`` and the path ``sample(hmm, T, seed=seed)``, computes with the
public package API and draws with :mod:`dualfilter.plots`. This package needs the ``[book]``
extra (matplotlib, ipywidgets for the controls, pillow); ``import dualfilter`` does not
import it.
"""

from __future__ import annotations

try:
    import matplotlib  # noqa: F401
except ImportError as exc:                       # the core installs without it
    raise ImportError("dualfilter.explore needs the [book] extra (matplotlib, ipywidgets, "
                      "pillow): pip install 'dualfilter[book]'") from exc

from ._base import Explorer, Param, Ref
from .attention import AttentionExplorer, attention_explorer
from .depth import DepthExplorer, depth_explorer
from .filter import FilterExplorer, filter_explorer
from .fixed_point import FixedPointExplorer, fixed_point_explorer
from .linear_vs_nonlinear import CONCENTRATIONS, EXACT_SEQUENCES, LinearVsNonlinearExplorer, \
    linear_vs_nonlinear_explorer
from .real_text import RealTextExplorer, real_text_explorer
from .simplex import SimplexExplorer, simplex_explorer

__all__ = [
    "filter_explorer",
    "linear_vs_nonlinear_explorer",
    "simplex_explorer",
    "fixed_point_explorer",
    "attention_explorer",
    "depth_explorer",
    "real_text_explorer",
    "EXPLORERS",
    "parameter_spec",
    "all_specs",
    "Explorer",
    "Param",
    "Ref",
]

#: The explorers by factory name (the name the JavaScript twins register under).
EXPLORERS: dict[str, type[Explorer]] = {
    "filter_explorer": FilterExplorer,
    "linear_vs_nonlinear_explorer": LinearVsNonlinearExplorer,
    "simplex_explorer": SimplexExplorer,
    "fixed_point_explorer": FixedPointExplorer,
    "attention_explorer": AttentionExplorer,
    "depth_explorer": DepthExplorer,
    "real_text_explorer": RealTextExplorer,
}


def parameter_spec(name: str) -> list[dict]:
    """The parameter declaration of the explorer ``name`` as plain JSON.

    Parameters
    ----------
    name : str
        A factory name, e.g. ``"fixed_point_explorer"`` (a key of ``EXPLORERS``).

    Returns
    -------
    list of dict
        One JSON object per parameter, in dependency order; the schema and the semantics
        of bounds, refs and clamping are in the docstring of :mod:`dualfilter.explore._base`.

    Raises
    ------
    ValueError
        If ``name`` is not an explorer.
    """
    if name not in EXPLORERS:
        raise ValueError(f"name must be one of {', '.join(EXPLORERS)}, got {name!r}")
    return [p.to_json() for p in EXPLORERS[name].PARAMS]


def all_specs() -> dict[str, list[dict]]:
    """Every explorer's parameter declaration, {factory name: parameter_spec(name)}."""
    return {name: parameter_spec(name) for name in EXPLORERS}

"""The live twin of an explorer on the static HTML pages (issue 10): ``ex.twin()``.

A chapter's explorer cell shows ``ex.twin()``. In the built book this is the explorer itself,
live: controls generated from the same parameter declaration as the ipywidgets controls
(``ex.spec()``), recomputed in the browser by the JavaScript engine and drawn with Plotly.js,
with no kernel and no server (``explore/web/twins.js`` documents the page side). Without
JavaScript, and in a notebook, it is the static figure of the cell's parameters.

What the HTML carries (one ``<div class="dualfilter-twin">``):

- ``<script type="application/json" class="dualfilter-twin-config">``: the factory name, the
  parameter declaration, the cell's parameters, the control order, the figure size, the
  book's style (``plots.style()`` plus its colour maps sampled from matplotlib, so that the
  page's heat maps have matplotlib's colours) and ``book``, the package's own models for the
  cell's (n_states, n_tokens, seed) (:func:`book_models`);
- the static figure (a PNG, inline), which the live figure replaces once drawn;
- ``data``, only for an explorer that defines ``twin_data()`` (plain JSON): what its page twin
  needs but cannot compute, e.g. a model learned from text (chapter 13); the twin's
  ``compute`` reads it as ``ctx.data``.

The book's Sphinx extension (:mod:`dualfilter.explore.sphinxext`) adds ``twins.js`` to every
page holding a twin and serves the JavaScript and Plotly.js from the site's ``_static``.

Why the page embeds the package's models: numpy's random streams are not reproduced in
JavaScript (the engine has its own generator), but the prose around an explorer quotes what
the package's model shows. So, for the cell's (n_states, n_tokens, seed), the page receives
the draws of ``random_hmm`` at every position of the emission-concentration control (the
transition draws do not depend on it, and the stickiness enters as s I + (1 - s) A_random,
computed in the page with the same operations) and numpy's uniforms of ``sample`` for the
largest T. Moving stickiness, concentration, T, the layer or any other control then shows the
package's model and path, to rounding; another (n_states, n_tokens, seed) shows a model the
page draws itself, which it exports (``state().source`` says which).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math

import numpy as np

import dualfilter as df

from .. import plots

__all__ = ["Twin", "twin_config", "book_models", "concentration_grid", "colour_scales"]

SCALE_STOPS = 33          # samples of each matplotlib colour map (Plotly interpolates linearly)


def concentration_grid(param) -> list[float]:
    """The values of the emission-concentration control, as the page's control yields them.

    A ``log`` slider's position k gives 10**(log10(low) + k * step) rounded to 12 significant
    digits (so 0.3 is 0.3), its ends exactly ``low`` and ``high``; a ``choice`` gives its
    options. Mirrors ``sliderScale`` in twins.js.
    """
    if param.kind == "choice":
        return [float(o) for o in param.options]
    if param.kind != "log":
        raise ValueError(f"{param.name}: a concentration control must be log or choice")
    a, b = math.log10(param.low), math.log10(param.high)
    n = round((b - a) / param.step)
    grid = [float(f"{10 ** (a + k * param.step):.12g}") for k in range(n + 1)]
    grid[0], grid[-1] = float(param.low), float(param.high)
    return grid


def book_models(ex) -> dict | None:
    """The package's models for the explorer's (n_states, n_tokens, seed), for the page.

    Returns ``{"n_states", "n_tokens", "seed", "transition_concentration", "A_random" (d, d),
    "emission": [{"concentration", "C" (d, n), "mu" (d,)}, ...], "uniforms" (2 T_max + 1,)}``
    or None for an explorer without the shared model parameters. The A of ``random_hmm(d, n, seed=seed, stickiness=s,
    emission_concentration=c)`` is ``M / M.sum(axis=1)`` with ``M = s I + (1 - s) A_random``
    (``HMM`` divides rows by their sums; the page repeats numpy's summation order), its C and
    mu are those of c (checked here for the cell's parameters), and ``sample(hmm, T,
    seed=seed)`` draws with the first 2T + 1 uniforms. An explorer with a
    ``transition_concentration`` parameter gets the models of the cell's value (1 otherwise).
    """
    specs = {p.name: p for p in ex.PARAMS}
    if not {"n_states", "n_tokens", "seed", "stickiness", "emission_concentration", "T"} <= set(specs):
        return None
    p = ex.params
    d, n, seed = p["n_states"], p["n_tokens"], p["seed"]
    # an explorer with a transition-concentration control (chapter 11) gets the models of the
    # cell's transition concentration; the page draws its own for another one
    tc = float(p.get("transition_concentration", 1.0))
    grid = concentration_grid(specs["emission_concentration"])
    if p["emission_concentration"] not in grid:
        grid.append(float(p["emission_concentration"]))
    from dualfilter.model import _dirichlet_rows, _rng

    # the transition draws come first from default_rng(seed), before the emission draws:
    # A_random (the rows before HMM divides them by their sums) does not depend on c
    A_random = _dirichlet_rows(_rng(seed), tc, d, d)
    emission = []
    for c in grid:
        hmm = df.random_hmm(d, n, seed=seed, transition_concentration=tc,
                            emission_concentration=c)                     # stickiness 0
        emission.append({"concentration": c, "C": hmm.C.tolist(), "mu": hmm.mu.tolist()})
    s = p["stickiness"]
    cell = df.random_hmm(d, n, seed=seed, stickiness=s, transition_concentration=tc,
                         emission_concentration=p["emission_concentration"])
    mixed = s * np.eye(d) + (1.0 - s) * A_random
    if not np.array_equal(cell.A, mixed / mixed.sum(axis=1, keepdims=True)):
        raise RuntimeError("random_hmm: A is not s I + (1 - s) A_random with rows divided by "
                           "their sums; the page's book models assume it is")
    t_max = specs["T"].high
    uniforms = np.random.default_rng(seed).random(2 * t_max + 1)
    _, tokens = df.sample(cell, p["T"], seed=seed)
    states, tokens_again = _inverse_cdf_path(cell, uniforms, p["T"])
    if not np.array_equal(tokens, tokens_again):
        raise RuntimeError("sample: the path is not drawn from default_rng(seed).random(2T+1)")
    return {"n_states": d, "n_tokens": n, "seed": seed, "transition_concentration": tc,
            "A_random": A_random.tolist(),
            "emission": emission, "uniforms": uniforms.tolist()}


def _inverse_cdf_path(hmm, u, T):
    """df.sample's rule on the uniforms u (a check that the page's rule is the package's)."""
    from dualfilter.model import _BLOCK, _sample_kernel

    return _sample_kernel(hmm.A, hmm.C, hmm.mu, np.asarray(u[: 2 * T + 1]), T, _BLOCK)


def colour_scales(names, stops: int = SCALE_STOPS) -> dict:
    """Matplotlib colour maps as Plotly colour scales {name: [[position, "#rrggbb"], ...]}."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    return {name: [[k / (stops - 1), to_hex(colormaps[name](k / (stops - 1)))]
                   for k in range(stops)] for name in names}


def twin_config(ex) -> dict:
    """Everything the page needs to rebuild the explorer ``ex`` live (plain JSON)."""
    style = plots.style()
    style["colorscales"] = colour_scales(      # sorted: the page's HTML is deterministic
        sorted({style["sequential_cmap"], style["diverging_cmap"], style["simplex_cmap"]}))
    name = _factory_name(ex)
    config = {"name": name, "spec": ex.spec(), "params": _plain(ex.params),
              "control_order": list(ex.control_order), "figsize": list(ex.figsize),
              "style": style, "book": book_models(ex)}
    extra = getattr(ex, "twin_data", None)       # optional hook: data the page cannot make
    if callable(extra):
        config["data"] = extra()
    return config


def _factory_name(ex) -> str:
    from . import EXPLORERS

    for name, cls in EXPLORERS.items():
        if type(ex) is cls:
            return name
    raise ValueError(f"{type(ex).__name__} is not a registered explorer (explore.EXPLORERS)")


def _plain(params: dict) -> dict:
    out = {}
    for k, v in params.items():
        if isinstance(v, (bool, np.bool_)):
            out[k] = bool(v)
        elif isinstance(v, (int, np.integer)):
            out[k] = int(v)
        elif isinstance(v, str):
            out[k] = v
        else:
            out[k] = float(v)
    return out


class Twin:
    """The live twin of an explorer as a displayable object (``ex.twin()``).

    ``_repr_html_`` is the HTML block described in the module docstring; ``_repr_png_`` the
    static figure (for front ends that do not render HTML). ``config`` is the JSON carried.
    """

    def __init__(self, ex):
        self.config = twin_config(ex)
        self.png = ex.png()
        self.alt = (f"{self.config['name']} for the parameters "
                    + ", ".join(f"{k}={v}" for k, v in self.config["params"].items()))

    def html(self) -> str:
        text = json.dumps(self.config, separators=(",", ":"), allow_nan=False)
        text = text.replace("</", "<\\/")               # no "</script>" inside the block
        image = base64.b64encode(self.png).decode("ascii")
        name = html.escape(self.config["name"])
        return (
            f'<div class="dualfilter-twin" data-explorer="{name}">'
            f'<script type="application/json" class="dualfilter-twin-config">{text}</script>'
            f'<div class="dft-static"><img src="data:image/png;base64,{image}" '
            f'alt="{html.escape(self.alt)}" style="max-width:100%;height:auto">'
            f'<noscript><p style="font-size:0.85em;color:#555">The controls of this explorer '
            f'need JavaScript; the figure shows the parameters of the cell.</p></noscript>'
            f'</div></div>')

    def _repr_html_(self) -> str:
        return self.html()

    def _repr_png_(self) -> bytes:
        return self.png

    def __repr__(self) -> str:
        return f"<live twin of {self.config['name']}>"


def twin(ex) -> Twin:
    """The live twin of the explorer ``ex`` (see :class:`Twin`)."""
    return Twin(ex)

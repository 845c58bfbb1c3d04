"""The explorer protocol: parameters declared once, computed by the package, drawn by plots.

An explorer is a live figure of the book: a matplotlib figure, the ipywidgets controls that
move it, a status line, and the arrays it draws. It is testable without a notebook: every
control is a parameter of :meth:`Explorer.set`, and :attr:`Explorer.data` holds what is drawn.

Public protocol (every explorer)
--------------------------------
- ``ex.figure``: the matplotlib ``Figure`` for the current parameters (Agg, no pyplot, so
  creating an explorer displays nothing). It is created once and updated in place.
- ``ex.set(**params)``: change parameters (moves the controls, recomputes, redraws). Invalid
  input (unknown name, wrong type, out of range, a value the package refuses) is reported in
  ``ex.status`` and on the status line, and the explorer keeps its last valid state.
- ``ex.params``, ``ex.data`` (the arrays drawn, by name), ``ex.status``.
- ``ex.widget`` (controls, status line and the figure as a PNG image), ``ex.controls`` (the
  ipywidgets controls by parameter name); both are built on first access only, so a book
  build that shows ``ex.figure`` creates no widget.
- ``ex.spec()``: the parameter declaration as plain JSON (below), from which the controls are
  generated, here and in the JavaScript twins of the static pages.
- explorers with a ``layer`` parameter also have ``ex.animation(layers=None)``, an HTML player
  that needs no kernel.
- ``ex.twin()``: the explorer live on the static HTML page (:mod:`dualfilter.explore.twin`):
  the same controls, generated from ``ex.spec()``, recomputed in the browser by
  ``web/engine.js`` and drawn with Plotly.js; the static figure without JavaScript.

How to add an explorer
----------------------
1. Create ``explore/<name>.py`` with a subclass of :class:`Explorer` and a factory
   ``<name>_explorer(**params)`` returning it; add both to ``explore/__init__.py``
   (``EXPLORERS``) and give the factory's docstring a summary (its Parameters section is
   generated from the declaration, see :func:`document_factory`).
2. Declare the parameters once, as the class attribute ``PARAMS``: a tuple of :class:`Param`
   in dependency order (a parameter's bounds, options or default may refer to an earlier
   parameter through :class:`Ref`). :func:`model_params` gives the model and path parameters
   every explorer shares (``n_states``, ``n_tokens``, ``T``, ``stickiness``,
   ``emission_concentration``, ``seed``).
3. Implement three hooks:

   - ``_build()``: lay out the axes on ``self.figure`` and create the artists with
     :mod:`dualfilter.plots` functions (which own every colour, floor and font size); list the
     artists that ``_draw`` changes in ``self.dynamic``, and in ``self.live`` those that the
     live parameters (``Param(live=True)``: the layer, a position) change. While the axes'
     limits and labels are unchanged the figure is re-rendered by redrawing only those
     artists over a saved picture (:meth:`Explorer._render`), which is what makes a change
     fast; a test checks that the pixels equal a full redraw.
   - ``_compute(p)``: from the parameter dict ``p``, compute every array drawn, through the
     public package API only (``dualfilter`` functions and methods, ``dualfilter.brute_force``),
     and return them as a dict (this becomes ``ex.data``; the JavaScript twins export the same
     names). Use ``self._cached(p, name, keys, fn)`` for results that depend on few parameters.
     Raise ValueError to refuse a combination (the message becomes the status).
   - ``_draw(data)``: update the artists (``set_data`` or a ``plots.set_*`` function), axis
     limits and titles (``plots.set_title``).
4. Test it in ``tests/test_explore.py``: drive it through ``set`` and compare ``ex.data`` with
   the package; the generic tests (spec against controls, invalid input, blit against a full
   redraw) pick it up from ``EXPLORERS``.
5. Give it a live twin for the web pages: write ``web/explorers/<factory name>.js`` exporting
   ``compute(p, ctx)`` (the same arrays as ``_compute``, under the same names, with the
   functions of ``web/engine.js``; add any the engine lacks there, with a test in
   ``tests/book/test_web_engine.py``) and ``figure(outputs, p, view)`` (the Plotly figure,
   styled with ``web/plotstyle.js``); the header of ``web/twins.js`` gives the details and
   ``web/explorers/fixed_point_explorer.js`` is a model. In the chapter, display
   ``ex.twin()`` instead of ``ex.figure``. Then add the explorer's page and a
   ``recompute`` function to ``tests/book/test_live_explorers.py`` (``TWINS``): the test
   moves every control to its extremes and compares the page with the package.

What an explorer may touch: the public package API (to compute), :mod:`dualfilter.plots` (to
draw; no colours, markers or floors of its own), matplotlib layout (axes positions, limits,
titles) and this module. No numerics: a quantity that needs an algorithm belongs in the core
with a test against an oracle, and the explorer calls it.

The parameter declaration as JSON (``ex.spec()``, :func:`parameter_spec`)
-------------------------------------------------------------------------
A list of objects, one per parameter, in dependency order (resolve them in list order)::

    {"name": str,              # the keyword of set() and of the factory
     "kind": "int" | "float" | "log" | "bool" | "choice" | "text",
     "label": str,             # the control's label
     "default": value | ref,   # the factory's default
     "low": number | ref,      # int, float, log: the inclusive bounds; text: the bounds
     "high": number | ref,     #   of its length in characters (Unicode code points)
     "step": number,           # int: 1; float: the slider step; log: the step in log10 units
     "options": [number, ...] | {"range": ref},   # choice only: the allowed values;
                                                   # {"range": r} means 0, 1, ..., r - 1
     "control": bool,          # has a control (false: settable through set() only)
     "live": bool,             # the control recomputes while dragging (else on release);
                               # a live parameter changes only the explorer's live artists
     "reason": str,            # optional: why the bounds are what they are (in the message)
     "doc": str}               # optional: one line saying what the parameter is

where a ``ref`` ``{"param": "T", "offset": 1}`` stands for the current value of parameter
``T`` plus 1 (``T`` is always earlier in the list). Bounds of ``log`` parameters are numbers.

Semantics (the JavaScript twins implement the same):

- types: an ``int`` takes integers only; ``float`` and ``log`` take finite real numbers (not
  booleans); a ``bool`` takes true/false only; a ``choice`` takes one of its options; a
  ``text`` takes strings only (its control is a text box, applied on Enter or leaving it).
  Arrays are refused, and strings by every kind but ``text``.
- range: low <= value <= high after resolving refs with the new values of the earlier
  parameters. A ``float``/``log`` value within 1e-9 (relative) of a bound is snapped to it (a
  log slider's ends are 10**log10(bound), which can miss the bound by one rounding); relative
  to max(|low|, |high|, high - low) for a float, to the bound itself for a log parameter.
- ``set`` is partial: a parameter not given whose bounds or options moved (the layer when T
  drops) is clamped to the nearest bound (a choice not among its options becomes the last
  option); the factory resolves defaults in list order, refs included.
- an invalid value changes nothing and reports one message: ``"<name> must lie in [low,
  high], got <value>"`` (``"<name> must be <low>, got <value>"`` when low = high),
  ``"<name> must be an integer, got ..."``, ``"<name> must be a number, got ..."``, ``"<name>
  must be True or False, got ..."``, ``"<name> must be one of ...; got ..."``, ``"<name> must
  be a single value, got an array of shape ..."``, ``"<name> must be a string, got ..."``,
  ``"<name> must have <low> to <high> characters, got <n>"``, with ``": " + reason``
  appended to a range error when the parameter has a reason. The parameters are checked in list order and the
  first error is reported. A factory given invalid parameters shows the defaults, with the
  message in ``status``.

Example (the layer of the chapter 8 explorer)::

    {"name": "layer", "kind": "int", "label": "layer ℓ", "default": 3, "low": 0,
     "high": {"param": "T", "offset": 1}, "step": 1, "control": true, "live": true}
"""

from __future__ import annotations

import html
import math
import numbers
import struct
import zlib
from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

import dualfilter as df

from .. import plots

__all__ = ["Ref", "Param", "Explorer", "LayerAnimation", "model_params", "layer_param",
           "make_model", "document_factory", "MODEL_KEYS"]

SNAP = 1e-9           # relative distance within which a float is snapped to its bound
CACHE_SIZE = 4        # results kept per cached quantity (moving a slider back costs nothing)
FRAMES_KEPT = 4       # pictures of axes frames kept (toggling a control back costs a blit)
KINDS = ("int", "float", "log", "bool", "choice", "text")


# ======================================================================================
# Parameters
# ======================================================================================
@dataclass(frozen=True)
class Ref:
    """A bound, default or option count that follows an earlier parameter: its value + offset.

    JSON: ``{"param": name, "offset": offset}``.
    """

    param: str
    offset: int = 0

    def resolve(self, params: dict):
        return params[self.param] + self.offset

    def to_json(self) -> dict:
        return {"param": self.param, "offset": self.offset}


def _resolve(value, params: dict):
    return value.resolve(params) if isinstance(value, Ref) else value


def _jsonable(value):
    if isinstance(value, Ref):
        return value.to_json()
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return value


def _show(value) -> str:
    """A short text for a value in a message (a 400-digit integer is not printed whole)."""
    if isinstance(value, (bool, np.bool_)):
        return repr(bool(value))
    if isinstance(value, numbers.Integral):
        value = int(value)
        if abs(value) < 10**20:
            return str(value)
        digits = int(value.bit_length() * math.log10(2)) + 1     # no str(): 10**5000 fails
        return f"{'-' if value < 0 else ''}an integer of about {digits} digits"
    if isinstance(value, numbers.Real):
        try:
            return f"{float(value):g}"
        except OverflowError:
            return "a number beyond the float range"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class Param:
    """One parameter of an explorer, declared once: the control, the checks and the JSON.

    Parameters
    ----------
    name : str
        The keyword of ``set`` and of the factory.
    kind : {"int", "float", "log", "bool", "choice", "text"}
        "log" is a float shown on a log slider; "text" a string in a text box.
    default : value or Ref
        The factory's default (a :class:`Ref` follows an earlier parameter).
    label : str
        The control's label.
    low, high : number or Ref, optional
        Inclusive bounds of "int", "float" and "log" (numbers for "log"); for "text", of
        its length in characters (numbers).
    step : float, optional
        Slider step (1 for "int"; in log10 units for "log").
    options : tuple of numbers or Ref, optional
        The values of a "choice"; a :class:`Ref` r means ``range(r)``.
    control : bool
        Whether the widget has a control for it (else ``set`` and the factory only).
    live : bool
        Whether its slider recomputes while dragging (else on release). A live parameter
        must change only the explorer's ``live`` artists (what makes dragging cheap).
    reason : str
        Appended to an out-of-range message (e.g. why n_states is fixed).
    doc : str
        One line for the factory's docstring.
    """

    name: str
    kind: str
    default: Any
    label: str
    low: Any = None
    high: Any = None
    step: float | None = None
    options: Any = None
    control: bool = True
    live: bool = False
    reason: str = ""
    doc: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "int" and self.step is None:
            object.__setattr__(self, "step", 1)
        if self.kind == "log" and (isinstance(self.low, Ref) or isinstance(self.high, Ref)):
            raise ValueError("the bounds of a log parameter must be numbers")

    # ----- resolved against the current parameters -------------------------------------
    def bounds(self, params: dict) -> tuple[Any, Any]:
        return _resolve(self.low, params), _resolve(self.high, params)

    def choices(self, params: dict) -> list:
        if isinstance(self.options, Ref):
            return list(range(self.options.resolve(params)))
        return list(self.options)

    def default_for(self, params: dict):
        return self.clamp(_resolve(self.default, params), params)

    def check(self, value, params: dict) -> tuple[Any, str | None]:
        """(value coerced to the parameter's type, None) or (None, the error message)."""
        name = self.name
        if isinstance(value, np.ndarray) or _is_sequence(value):
            shape = np.shape(value) if isinstance(value, np.ndarray) else (len(value),)
            return None, f"{name} must be a single value, got an array of shape {shape}"
        if self.kind == "text":
            if not isinstance(value, str):
                return None, f"{name} must be a string, got {_show(value)}"
            low, high = self.bounds(params)
            if not low <= len(value) <= high:
                return None, (f"{name} must have {low} to {high} characters, got {len(value)}"
                              + (f": {self.reason}" if self.reason else ""))
            return value, None
        if self.kind == "bool":
            if isinstance(value, (bool, np.bool_)):
                return bool(value), None
            return None, f"{name} must be True or False, got {_show(value)}"
        if isinstance(value, (bool, np.bool_)):      # a bool is no number here
            word = "an integer" if self.kind == "int" else "a number"
            if self.kind == "choice":
                return None, f"{name} must be one of {self._shown(params)}; got {value!r}"
            return None, f"{name} must be {word}, got {value!r}"
        if self.kind == "choice":
            options = self.choices(params)
            if isinstance(value, numbers.Real):
                for option in options:
                    if value == option:
                        return option, None
            return None, f"{name} must be one of {self._shown(params)}; got {_show(value)}"
        given = value
        if self.kind == "int":
            if not isinstance(value, numbers.Integral):
                return None, f"{name} must be an integer, got {_show(value)}"
            value = int(value)
        else:
            if not isinstance(value, numbers.Real):
                return None, f"{name} must be a number, got {_show(value)}"
            try:
                number = float(value)
            except OverflowError:
                number = math.inf if value > 0 else -math.inf
            if math.isnan(number):
                return None, f"{name} must be a number, got nan"
            value = number
        low, high = self.bounds(params)
        if self.kind in ("float", "log") and math.isfinite(value):
            # a log slider spans decades: relative to the bound itself (else every value
            # within 1e-9 (high - low) of a tiny low end, e.g. eps in [1e-12, 1e-2], snaps)
            scale_low = scale_high = max(abs(low), abs(high), high - low)
            if self.kind == "log":
                scale_low, scale_high = abs(low), abs(high)
            if abs(value - low) <= SNAP * scale_low:
                value = float(low)
            elif abs(value - high) <= SNAP * scale_high:
                value = float(high)
        if not low <= value <= high:
            if low == high:
                message = f"{name} must be {_show(low)}, got {_show(given)}"
            else:
                message = (f"{name} must lie in [{_show(low)}, {_show(high)}], "
                           f"got {_show(given)}")
            return None, message + (f": {self.reason}" if self.reason else "")
        return value, None

    def clamp(self, value, params: dict):
        """The nearest allowed value (for a parameter whose bounds another one moved)."""
        if self.kind == "choice":
            options = self.choices(params)
            return value if value in options else options[-1]
        if self.kind in ("bool", "text"):
            return value
        low, high = self.bounds(params)
        return min(max(value, low), high)

    def _shown(self, params: dict) -> str:
        return ", ".join(_show(o) for o in self.choices(params))

    def to_json(self) -> dict:
        """This declaration as plain JSON (see the module docstring for the schema)."""
        out = {"name": self.name, "kind": self.kind, "label": self.label,
               "default": _jsonable(self.default)}
        if self.kind in ("int", "float", "log"):
            out.update(low=_jsonable(self.low), high=_jsonable(self.high),
                       step=_jsonable(self.step))
        if self.kind == "text":
            out.update(low=_jsonable(self.low), high=_jsonable(self.high))
        if self.kind == "choice":
            out["options"] = ({"range": self.options.to_json()} if isinstance(self.options, Ref)
                              else [_jsonable(o) for o in self.options])
        out.update(control=self.control, live=self.live)
        if self.reason:
            out["reason"] = self.reason
        if self.doc:
            out["doc"] = self.doc
        return out

    def describe(self) -> str:
        """One line for a docstring: kind, range or options, default."""
        def text(v):
            if isinstance(v, Ref):
                return v.param + (f" + {v.offset}" if v.offset > 0 else
                                  f" - {-v.offset}" if v.offset < 0 else "")
            return _show(v)
        if self.kind == "choice":
            if isinstance(self.options, Ref):
                what = f"int in 0..{text(Ref(self.options.param, self.options.offset - 1))}"
            else:
                what = "one of " + ", ".join(_show(o) for o in self.options)
        elif self.kind == "bool":
            what = "bool"
        elif self.kind == "text":
            what = f"str of {text(self.low)} to {text(self.high)} characters"
        elif self.kind == "int":
            what = f"int in {text(self.low)}..{text(self.high)}"
        else:
            what = f"float in [{text(self.low)}, {text(self.high)}]"
            what += " (log slider)" if self.kind == "log" else ""
        extra = "" if self.control else "; no control"
        return f"{what} (default {text(self.default)}{extra})"


def _is_sequence(value) -> bool:
    return isinstance(value, (list, tuple, set, frozenset, dict))


def model_params(*, n_states=4, n_tokens=4, T=40, stickiness=0.8, emission_concentration=0.3,
                 seed=0, controls=("n_states", "T", "stickiness", "emission_concentration",
                                   "seed"),
                 max_states=10, max_T=100) -> tuple[Param, ...]:
    """The parameters of the model and the sampled path, shared by every explorer.

    Keyword arguments set the defaults and the largest n_states and T; ``controls`` names
    the parameters that get a control (the others are settable through ``set`` only). The
    model is ``random_hmm(n_states, n_tokens, seed=seed, stickiness=stickiness,
    emission_concentration=emission_concentration)`` and the path ``sample(hmm, T,
    seed=seed)`` (:func:`make_model`).
    """
    specs = (
        Param("n_states", "int", n_states, "states d", 2, max_states,
              doc="the number d of hidden states"),
        Param("n_tokens", "int", n_tokens, "tokens m+1", 2, 10,
              doc="the vocabulary size m + 1"),
        Param("T", "int", T, "length T", 1, max_T, doc="the number of tokens"),
        Param("stickiness", "float", stickiness, "stickiness", 0.0, 0.99, step=0.01,
              doc="the weight of the identity in A (slow mixing)"),
        Param("emission_concentration", "log", emission_concentration, "emission conc.",
              0.03, 30.0, step=0.05,
              doc="the Dirichlet concentration of the rows of C (small = informative tokens)"),
        Param("seed", "int", seed, "seed", 0, 999, doc="the seed of the model and the path"),
    )
    return tuple(replace(p, control=p.name in controls) for p in specs)


MODEL_KEYS = ("n_states", "n_tokens", "T", "stickiness", "emission_concentration", "seed")


def layer_param(default=3, live=True) -> Param:
    """The layer ℓ shown, 0..T+1 (T+1 layers of the relax = 1 iteration are exact)."""
    return Param("layer", "int", default, "layer ℓ", 0, Ref("T", 1), live=live,
                 doc="the layer ℓ shown (T + 1 layers are exact)")


def make_model(p: dict):
    """The model and path an explorer shows: (hmm, states (T+1,), tokens (T,))."""
    hmm = df.random_hmm(p["n_states"], p["n_tokens"], seed=p["seed"],
                        stickiness=p["stickiness"],
                        emission_concentration=p["emission_concentration"])
    states, tokens = df.sample(hmm, p["T"], seed=p["seed"])
    return hmm, states, tokens


def document_factory(factory, cls) -> None:
    """Append a numpydoc Parameters section generated from ``cls.PARAMS`` to the factory's
    docstring, so the documented ranges are the declared ones."""
    lines = ["", "    Parameters", "    ----------"]
    for p in cls.PARAMS:
        lines.append(f"    {p.name} : {p.describe()}")
        if p.doc:
            lines.append(f"        {p.doc[0].upper() + p.doc[1:]}.")
    lines += ["", "    Returns", "    -------", f"    {cls.__name__}",
              "        See the class for the panels; every parameter is also settable with",
              "        ``set``. Invalid values are reported in ``status`` (the explorer then",
              "        shows the defaults)."]
    factory.__doc__ = (factory.__doc__ or "").rstrip() + "\n" + "\n".join(lines) + "\n"


def _register_figure_display() -> None:
    """Let IPython show a bare ``Figure`` (as ``ex.figure``) as a PNG.

    The inline backend registers this formatter only once pyplot is imported; the explorers
    never import pyplot, so a notebook that did not either would show the text repr.
    """
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import print_figure
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    from matplotlib.figure import Figure

    png = shell.display_formatter.formatters["image/png"]
    try:
        png.lookup_by_type(Figure)
    except KeyError:
        png.for_type(Figure, lambda fig: print_figure(fig, "png"))


# ======================================================================================
# The explorer
# ======================================================================================
class Explorer(ABC):
    """Common machinery: parameters, validation, lazy widgets, status and rendering.

    Subclasses set ``PARAMS`` (the declaration), ``figsize`` and implement ``_build``,
    ``_compute`` and ``_draw`` (see the module docstring).
    """

    PARAMS: tuple[Param, ...] = ()
    figsize = (10.0, 5.0)
    control_order: tuple[str, ...] = ()     # controls listed first in the widget, if any

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        seen = set()
        for p in cls.PARAMS:                 # refs point backwards: resolvable in order
            refs = [v for v in (p.default, p.low, p.high, p.options) if isinstance(v, Ref)]
            for ref in refs:
                if ref.param not in seen:
                    raise TypeError(f"{cls.__name__}: {p.name} refers to {ref.param}, which "
                                    f"is not declared before it")
            if p.name in seen:
                raise TypeError(f"{cls.__name__}: parameter {p.name} declared twice")
            seen.add(p.name)

    def __init__(self, **params):
        self._specs = {p.name: p for p in self.PARAMS}
        self._cache: dict[str, OrderedDict] = {}
        self._status = ""
        self._controls: dict[str, Any] | None = None
        self._widget = None
        self._syncing = False
        self._pictures = None                # the saved pictures of _render
        self._labels_fixed = False
        self.dynamic: list = []              # artists that _draw changes (set in _build)
        self.live: list = []                 # those that live parameters change (a subset)
        self.figure = plots.new_figure(self.figsize)
        _register_figure_display()
        self._build()
        defaults = self._resolve({}, initial=True)[0]
        new, error = self._resolve(params, initial=True)
        data = None
        if error is None:
            data, error = self._compute_safely(new)
        if data is None:                     # invalid factory parameters: show the defaults
            new = defaults
            data, fallback_error = self._compute_safely(new)
            if data is None:
                raise RuntimeError(f"the defaults of {type(self).__name__} fail: "
                                   f"{fallback_error}")
        self._params, self._data = new, data
        self._draw(data)
        self._set_status(error or "")

    # ----- public protocol -------------------------------------------------------------
    @property
    def params(self) -> dict:
        """The current parameters (a copy)."""
        return dict(self._params)

    @property
    def data(self) -> dict:
        """The arrays currently drawn, by name (copies)."""
        return {k: np.array(v, copy=True) for k, v in self._data.items()}

    @property
    def status(self) -> str:
        """The last error message, or "" when the last change was valid."""
        return self._status

    def spec(self) -> list[dict]:
        """The parameter declaration as a JSON-serialisable list (schema: module docstring)."""
        return [p.to_json() for p in self.PARAMS]

    def set(self, **params) -> None:
        """Set parameters (moving the controls), recompute and redraw.

        Values are checked against each parameter's declaration; a parameter bounded by
        another (the layer by T, a position by T, a token by n_tokens) follows it when it is
        not given. On invalid input, or if the package refuses the parameters (e.g. the
        un-normalised iteration overflows), ``status`` explains and nothing changes.
        """
        new, error = self._resolve(params)
        if error is None:
            data, error = self._compute_safely(new)
            if data is not None:
                self._params, self._data = new, data
                self._draw(data)
        self._set_status(error or "")
        self._sync_controls()
        if error is None:
            self._render()

    @property
    def controls(self) -> dict:
        """The ipywidgets controls by parameter name (built on first access)."""
        self._build_widget()
        return self._controls

    @property
    def widget(self):
        """An ipywidgets VBox: the controls, a status line and the figure (a PNG image)."""
        self._build_widget()
        return self._widget

    def twin(self):
        """The live twin of this explorer for the static web pages (an HTML block; the static
        figure in a notebook or without JavaScript). See :mod:`dualfilter.explore.twin`."""
        from .twin import Twin

        return Twin(self)

    def png(self) -> bytes:
        """The figure as PNG bytes, as the widget shows it (rendered incrementally)."""
        return self._render(show=False)

    # ----- parameters ----------------------------------------------------------------
    def _resolve(self, given: dict, initial: bool = False) -> tuple[dict, str | None]:
        unknown = sorted(set(given) - set(self._specs))
        if unknown:
            return None, (f"unknown parameter(s) {', '.join(unknown)}; known: "
                          + ", ".join(self._specs))
        new: dict = {} if initial else dict(self._params)
        for p in self.PARAMS:                # in order: bounds come first
            if p.name in given:
                value, error = p.check(given[p.name], new)
                if error:
                    return None, error
            elif initial:
                value = p.default_for(new)
            else:
                value = p.clamp(new[p.name], new)
            new[p.name] = value
        return new, None

    def _compute_safely(self, p: dict) -> tuple[dict | None, str | None]:
        """(data, None), or (None, message) when the package refuses the parameters."""
        try:
            return self._compute(p), None
        except ValueError as exc:
            return None, str(exc)
        except (ArithmeticError, MemoryError) as exc:
            return None, f"{type(exc).__name__}: {exc}"

    def _cached(self, p: dict, name: str, keys: tuple, compute: Callable[[], Any]):
        """compute(), once per value of the parameters ``keys`` (the last few are kept)."""
        key = tuple(p[k] for k in keys)
        store = self._cache.setdefault(name, OrderedDict())
        if key in store:
            store.move_to_end(key)
        else:
            store[key] = compute()
            if len(store) > CACHE_SIZE:
                store.popitem(last=False)
        return store[key]

    # ----- widgets ---------------------------------------------------------------------
    def _build_widget(self) -> None:
        if self._widget is not None:
            return
        import ipywidgets as W

        style = {"description_width": "110px"}
        controls = {}
        names = [n for n in self.control_order if n in self._specs]
        names += [n for n in self._specs if n not in names]
        for name in names:
            p = self._specs[name]
            if not p.control:
                continue
            common = dict(description=p.label, style=style, layout=W.Layout(width="370px"))
            value = self._params[name]
            if p.kind == "bool":
                w = W.Checkbox(value=value, indent=False, **common)
            elif p.kind == "text":
                w = W.Text(value=value, continuous_update=False,
                           **{**common, "layout": W.Layout(width="740px")})
            elif p.kind == "choice":
                w = W.Dropdown(options=self._choice_options(p), value=value, **common)
            else:
                low, high = p.bounds(self._params)
                if p.kind == "int":
                    w = W.IntSlider(min=low, max=high, step=p.step, value=value, **common)
                elif p.kind == "float":
                    w = W.FloatSlider(min=low, max=high, step=p.step, value=value, **common)
                else:
                    w = W.FloatLogSlider(min=np.log10(low), max=np.log10(high), step=p.step,
                                         value=value, readout_format=".3g", **common)
                w.continuous_update = p.live
            w.observe(self._on_control, names="value")
            controls[name] = w
        self._controls = controls
        self._status_widget = W.HTML()
        self._image = W.Image(format="png", layout=W.Layout(max_width="100%"))
        boxes = W.Box(list(controls.values()),
                      layout=W.Layout(display="flex", flex_flow="row wrap"))
        self._widget = W.VBox([boxes, self._status_widget, self._image])
        self._set_status(self._status)
        self._render()

    def _choice_options(self, p: Param) -> list:
        return [(_show(o), o) for o in p.choices(self._params)]

    def _on_control(self, change) -> None:
        if self._syncing:
            return
        name = next(n for n, w in self._controls.items() if w is change["owner"])
        self.set(**{name: change["new"]})

    def _sync_controls(self) -> None:
        """Move every control to the current parameters (without triggering observers)."""
        if self._controls is None:
            return
        self._syncing = True
        try:
            for name, w in self._controls.items():
                p, value = self._specs[name], self._params[name]
                if p.kind == "choice":
                    options = self._choice_options(p)
                    if list(w.options) != options:
                        w.options = options
                elif p.kind in ("int", "float"):
                    low, high = p.bounds(self._params)
                    if (w.min, w.max) != (low, high):
                        if low > w.max:
                            w.max, w.min = high, low
                        else:
                            w.min, w.max = low, high
                if w.value != value:
                    w.value = value
        finally:
            self._syncing = False

    def _set_status(self, message: str) -> None:
        self._status = message
        if self._widget is not None:
            self._status_widget.value = (
                f'<span style="color:#b00020">&#9888; {html.escape(message)}</span>'
                if message else "")

    # ----- rendering -------------------------------------------------------------------
    def _frame_key(self) -> tuple:
        """What a full redraw depends on beyond the dynamic artists: every axes' limits,
        scales and labels (so its ticks), and the titles of axes without dynamic artists."""
        dynamic_axes = {a.axes for a in self.dynamic}
        key = []
        for ax in self.figure.axes:
            key.append((ax.get_xlim(), ax.get_ylim(), ax.get_xscale(), ax.get_yscale(),
                        ax.xaxis.label.get_text(), ax.yaxis.label.get_text(),
                        None if ax in dynamic_axes else
                        tuple(ax.get_title(loc) for loc in ("left", "center", "right"))))
        return tuple(key)

    def _fix_xlabels(self) -> None:
        """Keep every x-axis label where the first full redraw placed it.

        Matplotlib places an axis label from the bounding boxes of the tick labels at every
        redraw (a tenth of a redraw here). The x tick labels of an explorer are one line of
        digits, whose height never changes, so the first placement holds for good.
        """
        for ax in self.figure.axes:
            label = ax.xaxis.label
            if label.get_text() and label.get_visible():
                where = label.get_transform().transform(label.get_position())
                ax.xaxis.set_label_coords(*ax.transAxes.inverted().transform(where))
        self._labels_fixed = True

    def _blit_artists(self, dynamic) -> list:
        """The artists to redraw over a background saved without ``dynamic``, in drawing
        order: in each axes holding one of them, every child at or above the lowest one's
        z-order except the axis objects (ticks, tick labels, grid), so that the result equals
        a full redraw pixel for pixel."""
        from matplotlib.axis import Axis

        out = []
        for ax in self.figure.axes:
            mine = [a for a in dynamic if a.axes is ax]
            if not mine:
                continue
            lowest = min(a.get_zorder() for a in mine)
            framed = ax.axison and ax.get_frame_on()      # as Axes.draw: else no spines
            spines = set(ax.spines.values())
            children = [a for a in ax.get_children()
                        if not isinstance(a, Axis) and a is not ax.patch
                        and (framed or a not in spines)
                        and a.get_visible() and a.get_zorder() >= lowest]
            out += sorted(children, key=lambda a: a.get_zorder())
        return out

    def _render(self, show: bool = True) -> bytes | None:
        """Render the figure and show it in the widget (only once the widget exists, unless
        ``show`` is False: then return the PNG bytes).

        Three levels, cheapest first: when only live parameters (the layer, a position)
        changed, the saved picture of everything but the ``live`` artists is restored and
        they are redrawn; when the frame (every axes' limits, scales and labels, see
        ``_frame_key``) is one of the last few drawn, its saved picture is restored and the
        ``dynamic`` artists are redrawn; otherwise the whole figure is drawn. Each level gives
        the pixels of a full redraw (tested).
        """
        if self._widget is None and show:
            return None
        canvas = self.figure.canvas
        renderer = canvas.get_renderer()
        key = self._frame_key()
        every = self._blit_artists(self.dynamic)
        live = self._blit_artists(self.live)
        base = [a for a in every if a not in live]
        live_names = {p.name for p in self.PARAMS if p.live}
        saved = self._pictures
        if saved is None or saved["renderer"] is not renderer:
            saved = self._pictures = {"renderer": renderer, "frames": OrderedDict(),
                                      "key": None, "params": None, "base": None}
        same_frame = saved["key"] == key
        changed = ({k for k, v in self._params.items() if saved["params"][k] != v}
                   if same_frame else None)
        if changed is not None and changed <= live_names:
            canvas.restore_region(saved["base"])
        else:
            frames = saved["frames"]
            if key in frames:
                frames.move_to_end(key)
                canvas.restore_region(frames[key])
            else:
                for artist in every:
                    artist.set_animated(True)
                try:
                    canvas.draw()
                    frames[key] = canvas.copy_from_bbox(self.figure.bbox)
                finally:
                    for artist in every:
                        artist.set_animated(False)
                if len(frames) > FRAMES_KEPT:
                    frames.popitem(last=False)
                if not self._labels_fixed:
                    self._fix_xlabels()
            for artist in base:
                self.figure.draw_artist(artist)
            saved["base"] = canvas.copy_from_bbox(self.figure.bbox)
        saved["key"], saved["params"] = key, dict(self._params)
        for artist in live:
            self.figure.draw_artist(artist)
        png = encode_png(np.asarray(canvas.buffer_rgba()))
        if show:
            self._image.value = png
            return None
        return png

    # ----- subclass hooks ------------------------------------------------------------
    @abstractmethod
    def _build(self) -> None:
        """Lay out the axes and create the artists (once), listing in ``self.dynamic`` the
        artists that ``_draw`` changes."""

    @abstractmethod
    def _compute(self, p: dict) -> dict:
        """Every array drawn for the parameters ``p``, by name, through the package API."""

    @abstractmethod
    def _draw(self, data: dict) -> None:
        """Update the artists, limits and titles for ``self._params`` and ``data``."""


def encode_png(rgba: np.ndarray, level: int = 1) -> bytes:
    """An opaque RGBA image (h, w, 4) uint8 as a PNG (RGB, filter "Up", zlib ``level``).

    Written with the standard library: the same bytes as an image library would store,
    in half the time of Pillow's adaptive filtering, which matters once per change.
    """
    h, w = rgba.shape[:2]
    rgb = rgba[..., :3].reshape(h, 3 * w)
    rows = np.empty((h, 1 + 3 * w), np.uint8)
    rows[:, 0] = 2                                   # filter type 2: difference to the row above
    rows[0, 1:] = rgb[0]
    np.subtract(rgb[1:], rgb[:-1], out=rows[1:, 1:])  # uint8: modulo 256, as PNG wants

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)    # 8-bit RGB, no interlace
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows.tobytes(), level)) + chunk(b"IEND", b""))


# ======================================================================================
# Layer animations (explorers with a "layer" parameter)
# ======================================================================================
FONT_AWESOME = ('<link rel="stylesheet"\nhref="https://maxcdn.bootstrapcdn.com/'
                'font-awesome/4.4.0/css/font-awesome.min.css">')
PLAYER_ICONS = {"fa fa-minus": "&minus;", "fa fa-fast-backward": "|&#9665;",
                "fa fa-step-backward": "&#9665;", "fa fa-play fa-flip-horizontal": "&#9664;",
                "fa fa-pause": "||", "fa fa-play": "&#9654;", "fa fa-step-forward": "&#9655;",
                "fa fa-fast-forward": "&#9655;|", "fa fa-plus": "+"}


class LayerAnimation:
    """``animation()`` for explorers with a ``layer`` parameter (mixin)."""

    def animation(self, layers=None, *, interval: int = 500, max_frames: int = 24,
                  dpi: int = 72):
        """An HTML animation over layers that plays without a kernel.

        Parameters
        ----------
        layers : iterable of int in 0..T+1, optional
            The layers to show; by default at most ``max_frames`` layers spread evenly over
            0..T+1 (always including 0 and T+1).
        interval : int
            Milliseconds between frames.
        max_frames : int
            The number of frames when ``layers`` is not given.
        dpi : int
            Resolution of the frames (72 keeps the page small: ~30-60 kB a frame).

        Returns
        -------
        IPython.display.HTML
            matplotlib's ``to_jshtml`` player; its button icons (Font Awesome from a CDN) are
            replaced by plain characters, so the page needs no network. The frames are drawn
            on a copy of the explorer, so this explorer's figure is untouched.

        Raises
        ------
        ValueError
            If ``layers`` is empty or holds anything but integers in 0..T+1.
        """
        from IPython.display import HTML
        from matplotlib.animation import FuncAnimation
        from matplotlib.backend_bases import FigureCanvasBase

        top = self._params["T"] + 1
        if layers is None:
            layers = np.unique(np.round(np.linspace(0, top, min(max_frames, top + 1))).astype(int))
        if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
            raise ValueError(f"layers must be a non-empty list of integers in 0..{top}, got "
                             f"{_show(layers)}")
        layers = list(layers)
        bad = [l for l in layers if isinstance(l, (bool, np.bool_))
               or not isinstance(l, numbers.Integral) or not 0 <= l <= top]
        if not layers or bad:
            raise ValueError(f"layers must be a non-empty list of integers in 0..{top}"
                             + (f"; got {_show(bad[0])}" if bad else ""))
        copy = type(self)(**self._params)
        # A bare canvas: FuncAnimation's per-frame draw_idle is then free, and savefig renders
        # each frame once with Agg at the figure's own dpi (no text re-layout between dpis).
        FigureCanvasBase(copy.figure)
        copy.figure.set_dpi(dpi)

        def frame(layer):
            copy.set(layer=int(layer))
            return []

        anim = FuncAnimation(copy.figure, frame, frames=[int(l) for l in layers],
                             interval=interval, repeat=False)
        page = anim.to_jshtml(default_mode="once")
        page = page.replace(FONT_AWESOME, "")
        for icon, text in PLAYER_ICONS.items():
            page = page.replace(f'<i class="{icon}"></i>', text)
        return HTML(page)

"""Interactive explorers (ipywidgets) for the book's chapters, testable without a notebook.

Each explorer is created by a factory function and follows one protocol:

- ``ex.widget``: the controls, a status line and an ``ipywidgets.Output`` showing the figure.
  The widgets are built on first access only, so an explorer used for its static figure in
  a book build creates no widget (and the built page embeds no widget state).
- ``ex.figure``: the matplotlib ``Figure`` for the current parameters. It is created once and
  then updated in place (``set_data``, ``set_offsets``...) on every change.
- ``ex.set(**params)``: change parameters (moves the sliders, recomputes, redraws). Invalid
  input is reported in ``ex.status`` (and the status widget) and leaves the explorer as it was.
- ``ex.data``: the arrays currently plotted, by name.
- ``ex.controls``: the ipywidgets controls by parameter name (built with ``ex.widget``).

The explorers, by chapter:

- :func:`filter_explorer` (chapter 2): a sampled path and the nonlinear predictor pi_t.
- :func:`linear_vs_nonlinear_explorer` (chapter 6): the Riccati (linear) MSE against the MMSE.
- :func:`simplex_explorer` (chapter 7): dual-filter layers moving in the probability simplex.
- :func:`fixed_point_explorer` (chapter 8): the dual filter layer by layer against pi_t.
- :func:`attention_explorer` (chapter 9): the "attention" matrix W[t, s] of one layer.

Every explorer draws the model ``random_hmm(n_states, n_tokens, seed=seed, stickiness=...,
emission_concentration=...)`` and the path ``sample(hmm, T, seed=seed)``. Figures use the Agg
renderer and never go through pyplot, so creating an explorer displays nothing by itself.
"""

from __future__ import annotations

import base64
import html
import io
import numbers
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np
from matplotlib import colormaps
from matplotlib.animation import FuncAnimation
from matplotlib.backend_bases import FigureCanvasBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullLocator
from PIL import Image

from . import brute_force
from .control import dual_backward
from .filtering import next_token_probs, predict
from .fixed_point import contributions, dual_filter
from .linear import linear_predictor
from .model import random_hmm, sample

__all__ = [
    "fixed_point_explorer",
    "simplex_explorer",
    "attention_explorer",
    "linear_vs_nonlinear_explorer",
    "filter_explorer",
    "linear_estimates",
    "mc_mmse",
]

DPI = 80                 # 10-inch figures are 800 px wide
ERROR_FLOOR = 1e-16      # errors below this are drawn at this value on log axes
SIMPLEX_VERTICES = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3.0) / 2.0]])


@dataclass(frozen=True)
class Param:
    """One parameter of an explorer and the control that sets it.

    ``kind`` is "int", "float", "log" (a float on a log slider), "bool" or "choice".
    ``low``/``high`` (numbers, or functions of the current parameters for bounds that move,
    like the layer, at most T+1) bound numeric values; ``options`` (a function of the
    parameters returning the allowed values) defines a choice. ``step`` is the slider step
    (in log10 units for "log"). ``widget=False`` makes a parameter settable through ``set``
    and the factory only. ``live`` sliders recompute while dragging; the others when released.
    """

    name: str
    kind: str
    default: Any
    label: str
    low: Any = None
    high: Any = None
    step: float | None = None
    options: Callable[[dict], list] | None = None
    widget: bool = True
    live: bool = False

    def bounds(self, params: dict) -> tuple[Any, Any]:
        low = self.low(params) if callable(self.low) else self.low
        high = self.high(params) if callable(self.high) else self.high
        return low, high

    def check(self, value, params: dict) -> tuple[Any, str | None]:
        """Return (value coerced to the parameter's type, None) or (None, error message)."""
        if self.kind == "bool":
            if isinstance(value, (bool, np.bool_)):
                return bool(value), None
            return None, f"{self.name} must be True or False, got {value!r}"
        if self.kind == "choice":
            options = self.options(params)
            if not isinstance(value, (bool, np.bool_)) and value in options:
                return options[options.index(value)], None
            shown = ", ".join(f"{o:g}" if isinstance(o, float) else str(o) for o in options)
            return None, f"{self.name} must be one of {shown}; got {value!r}"
        if self.kind == "int":
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
                return None, f"{self.name} must be an integer, got {value!r}"
            value = int(value)
        else:
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
                return None, f"{self.name} must be a number, got {value!r}"
            value = float(value)
            if not np.isfinite(value):
                return None, f"{self.name} must be finite, got {value!r}"
        low, high = self.bounds(params)
        if not low <= value <= high:
            return None, f"{self.name} must lie in [{low:g}, {high:g}], got {value:g}"
        return value, None

    def clamp(self, value, params: dict):
        """The nearest allowed value (used for parameters that another one moved)."""
        if self.kind == "choice":
            options = self.options(params)
            return value if value in options else options[-1]
        if self.kind == "bool":
            return value
        low, high = self.bounds(params)
        return min(max(value, low), high)


MODEL_CONTROLS = ("n_states", "T", "stickiness", "emission_concentration", "seed")


def _model_params(*, n_states=4, n_tokens=4, T=40, stickiness=0.8, emission_concentration=0.3,
                  seed=0, widgets=MODEL_CONTROLS, max_states=10, max_T=100) -> list[Param]:
    """The parameters of the model and the sampled path (every explorer has them).

    Keyword arguments set the defaults and the largest n_states and T; ``widgets`` names the
    parameters that get a control (the others are set through ``set`` only).
    """
    specs = [
        Param("n_states", "int", n_states, "states d", 2, max_states),
        Param("n_tokens", "int", n_tokens, "tokens m+1", 2, 10),
        Param("T", "int", T, "length T", 1, max_T),
        Param("stickiness", "float", stickiness, "stickiness", 0.0, 0.99, step=0.01),
        Param("emission_concentration", "log", emission_concentration, "emission conc.",
              0.03, 30.0, step=0.05),
        Param("seed", "int", seed, "seed", 0, 999),
    ]
    return [replace(p, widget=p.name in widgets) for p in specs]


def _model(p: dict):
    """The model and path every explorer shows: (hmm, states (T+1,), tokens (T,))."""
    hmm = random_hmm(p["n_states"], p["n_tokens"], seed=p["seed"], stickiness=p["stickiness"],
                     emission_concentration=p["emission_concentration"])
    states, tokens = sample(hmm, p["T"], seed=p["seed"])
    return hmm, states, tokens


def _layer_param(default=3) -> Param:
    return Param("layer", "int", default, "layer l", 0, lambda p: p["T"] + 1, live=True)


SUPERSCRIPTS = str.maketrans(
    "-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")


def _power_of_ten(value, position=None) -> str:
    """Tick label 10^k in Unicode superscripts (mathtext labels cost most of a redraw)."""
    return "10" + str(int(round(np.log10(value)))).translate(SUPERSCRIPTS)


def _log_axis(ax) -> None:
    """Log y axis with few ticks and no minor ticks, which keeps redraws fast."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(numticks=6))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(FuncFormatter(_power_of_ten))


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
    png = shell.display_formatter.formatters["image/png"]
    try:
        png.lookup_by_type(Figure)
    except KeyError:
        png.for_type(Figure, lambda fig: print_figure(fig, "png"))


def _floor(x):
    return np.maximum(x, ERROR_FLOOR)


class Explorer(ABC):
    """Common machinery: parameters, validation, lazy widgets, status and rendering.

    Subclasses receive their parameters as a list of :class:`Param`, build their axes and
    artists in ``_build`` and update them in ``_update`` (recomputing cached quantities only
    when the parameters they depend on changed), storing the plotted arrays in ``self._data``.

    Rendering for the widget blits: when only ``live_params`` changed (e.g. the layer), the
    figure background is restored from a copy and only ``_live_artists()`` are redrawn.
    """

    figsize = (10.0, 5.0)
    control_order: tuple[str, ...] = ()     # controls listed first in the widget, if any
    live_params: tuple[str, ...] = ()       # parameters that change only the live artists

    def __init__(self, specs: list[Param], **params):
        self._specs = {s.name: s for s in specs}     # in dependency order (T before layer)
        defaults = {s.name: s.default for s in specs}
        self._params = defaults
        self._cache: dict[str, tuple[tuple, Any]] = {}
        self._data: dict[str, np.ndarray] = {}
        self._status = ""
        self._controls: dict[str, Any] | None = None
        self._widget = None
        self._syncing = False
        self._background = None                  # (renderer, saved region, drawn parameters)
        self.figure = Figure(figsize=self.figsize, dpi=DPI)
        FigureCanvasAgg(self.figure)
        _register_figure_display()
        self._build()
        new, error = self._resolve(params)
        error = self._apply(new, fallback=defaults) or error
        self._set_status(error or "")

    # ----- public protocol -------------------------------------------------------------
    @property
    def params(self) -> dict:
        """The current parameters (a copy)."""
        return dict(self._params)

    @property
    def data(self) -> dict:
        """The arrays currently plotted, by name (copies)."""
        return {k: np.array(v, copy=True) for k, v in self._data.items()}

    @property
    def status(self) -> str:
        """The last error message, or "" when the last change was valid."""
        return self._status

    def set(self, **params) -> None:
        """Set parameters (moving the sliders), recompute and redraw.

        Values are checked against each parameter's range; a parameter bounded by another
        (the layer by T, a position by T, a token by n_tokens) follows it when it is not
        given. On invalid input, or if the computation refuses the parameters (e.g. the
        un-normalised iteration overflows), ``status`` explains and nothing changes.
        """
        new, error = self._resolve(params)
        if error is None:
            error = self._apply(new, fallback=self._params)
        self._set_status(error or "")
        self._sync_controls()
        self._render()

    @property
    def controls(self) -> dict:
        """The ipywidgets controls by parameter name (built on first access)."""
        self._build_widget()
        return self._controls

    @property
    def widget(self):
        """An ipywidgets VBox: the controls, a status line and an Output with the figure."""
        self._build_widget()
        return self._widget

    # ----- parameters ----------------------------------------------------------------
    def _apply(self, new: dict, fallback: dict) -> str | None:
        """Recompute for ``new``; if the package refuses it (ValueError), restore ``fallback``
        and return the message, else return None."""
        self._params = new
        try:
            self._update()
        except ValueError as exc:
            self._params = fallback
            self._update()
            return str(exc)
        return None

    def _resolve(self, given: dict) -> tuple[dict, str | None]:
        unknown = sorted(set(given) - set(self._specs))
        if unknown:
            return self._params, f"unknown parameter(s) {', '.join(unknown)}; known: " + ", ".join(
                self._specs)
        new = {**self._params, **given}
        for name, spec in self._specs.items():     # specs are ordered: bounds come first
            if name in given:
                value, error = spec.check(given[name], new)
                if error:
                    return self._params, error
            else:
                value = spec.clamp(new[name], new)
            new[name] = value
        return new, self._check_combination(new)

    def _check_combination(self, params: dict) -> str | None:
        """An error message for an invalid combination of valid values (subclasses)."""
        return None

    def _cached(self, name: str, keys: tuple, compute: Callable[[], Any]):
        """compute() once per value of the parameters ``keys``."""
        key = tuple(self._params[k] for k in keys)
        if name not in self._cache or self._cache[name][0] != key:
            self._cache[name] = (key, compute())
        return self._cache[name][1]

    # ----- widgets ---------------------------------------------------------------------
    def _build_widget(self) -> None:
        if self._widget is not None:
            return
        import ipywidgets as W

        style = {"description_width": "110px"}
        layout = W.Layout(width="370px")
        controls = {}
        names = [n for n in self.control_order if n in self._specs]
        names += [n for n in self._specs if n not in names]
        for name in names:
            spec = self._specs[name]
            if not spec.widget:
                continue
            common = dict(description=spec.label, style=style, layout=layout)
            if spec.kind == "bool":
                w = W.Checkbox(value=self._params[name], indent=False, **common)
            elif spec.kind == "choice":
                w = W.Dropdown(options=self._choice_options(spec), value=self._params[name],
                               **common)
            else:
                low, high = spec.bounds(self._params)
                if spec.kind == "int":
                    w = W.IntSlider(min=low, max=high, value=self._params[name], **common)
                elif spec.kind == "float":
                    w = W.FloatSlider(min=low, max=high, step=spec.step, value=self._params[name],
                                      **common)
                else:
                    w = W.FloatLogSlider(min=np.log10(low), max=np.log10(high), step=spec.step,
                                         value=self._params[name], readout_format=".3g", **common)
                w.continuous_update = spec.live
            w.observe(self._on_control, names="value")
            controls[name] = w
        self._controls = controls
        self._status_widget = W.HTML()
        self._output = W.Output()
        boxes = list(controls.values())
        half = (len(boxes) + 1) // 2
        self._widget = W.VBox([W.HBox([W.VBox(boxes[:half]), W.VBox(boxes[half:])]),
                               self._status_widget, self._output])
        self._set_status(self._status)
        self._render()

    def _choice_options(self, spec: Param) -> list:
        return [(f"{o:g}" if isinstance(o, float) else str(o), o)
                for o in spec.options(self._params)]

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
                spec, value = self._specs[name], self._params[name]
                if spec.kind == "choice":
                    options = self._choice_options(spec)
                    if list(w.options) != options:
                        w.options = options
                elif spec.kind in ("int", "float"):
                    low, high = spec.bounds(self._params)
                    if low > w.max:
                        w.max, w.min = high, low
                    else:
                        w.min, w.max = low, high
                w.value = value
        finally:
            self._syncing = False

    def _set_status(self, message: str) -> None:
        self._status = message
        if self._widget is not None:
            self._status_widget.value = (
                f'<span style="color:#b00020">&#9888; {html.escape(message)}</span>'
                if message else "")

    def _live_artists(self) -> list:
        """The artists that a change of ``live_params`` alone modifies (subclasses)."""
        return []

    def _render(self) -> None:
        """Draw the figure and show it in the Output widget (only once the widget exists)."""
        if self._widget is None:
            return
        canvas = self.figure.canvas
        renderer = canvas.get_renderer()
        live = self._live_artists()
        redraw_all = True
        if self._background is not None:
            drawn_with, region, drawn = self._background
            changed = {k for k, v in self._params.items() if drawn[k] != v}
            redraw_all = drawn_with is not renderer or not changed <= set(self.live_params)
        if redraw_all:
            for artist in live:
                artist.set_animated(True)
            canvas.draw()
            region = canvas.copy_from_bbox(self.figure.bbox)
            for artist in live:
                artist.set_animated(False)
        else:
            canvas.restore_region(region)
        for artist in live:
            self.figure.draw_artist(artist)
        self._background = (renderer, region, dict(self._params))
        buffer = io.BytesIO()
        Image.fromarray(np.asarray(canvas.buffer_rgba())).save(buffer, "png", compress_level=1)
        png = base64.b64encode(buffer.getvalue()).decode("ascii")
        self._output.outputs = ({"output_type": "display_data", "metadata": {},
                                 "data": {"image/png": png, "text/plain": repr(self.figure)}},)

    # ----- subclass hooks ------------------------------------------------------------
    @abstractmethod
    def _build(self) -> None:
        """Create the axes and the artists (once)."""

    @abstractmethod
    def _update(self) -> None:
        """Recompute what the parameters changed and update the artists and ``_data``."""


FONT_AWESOME = ('<link rel="stylesheet"\nhref="https://maxcdn.bootstrapcdn.com/'
                'font-awesome/4.4.0/css/font-awesome.min.css">')
PLAYER_ICONS = {"fa fa-minus": "&minus;", "fa fa-fast-backward": "|&#9665;",
                "fa fa-step-backward": "&#9665;", "fa fa-play fa-flip-horizontal": "&#9664;",
                "fa fa-pause": "||", "fa fa-play": "&#9654;", "fa fa-step-forward": "&#9655;",
                "fa fa-fast-forward": "&#9655;|", "fa fa-plus": "+"}


class _LayerAnimation:
    """``animation()`` for explorers with a ``layer`` parameter (mixin)."""

    def animation(self, layers=None, *, interval: int = 500, max_frames: int = 24,
                  dpi: int = 72):
        """An HTML animation over layers that plays without a kernel.

        Parameters
        ----------
        layers : iterable of int in 0..T+1, optional
            The layers to show; by default at most ``max_frames`` layers spread evenly over
            0..T+1 (always including 0 and T+1).
        interval : milliseconds between frames.
        dpi : resolution of the frames (72 keeps the page small: ~30-60 kB a frame).

        Returns an ``IPython.display.HTML`` with matplotlib's ``to_jshtml`` player; its
        button icons (Font Awesome from a CDN) are replaced by plain characters, so the page
        needs no network. The frames are drawn on a copy of the explorer, so this explorer's
        figure is untouched. Raises ValueError for a layer outside 0..T+1.
        """
        from IPython.display import HTML

        top = self._params["T"] + 1
        if layers is None:
            layers = np.unique(np.round(np.linspace(0, top, min(max_frames, top + 1))).astype(int))
        layers = [int(l) for l in layers]
        if not layers or min(layers) < 0 or max(layers) > top:
            raise ValueError(f"layers must be a non-empty list of integers in 0..{top}")
        copy = type(self)(list(self._specs.values()), **self._params)
        # A bare canvas: FuncAnimation's per-frame draw_idle is then free, and savefig renders
        # each frame once with Agg at the figure's own dpi (no text re-layout between dpis).
        FigureCanvasBase(copy.figure)
        copy.figure.set_dpi(dpi)

        def frame(layer):
            copy.set(layer=layer)
            return []

        anim = FuncAnimation(copy.figure, frame, frames=layers, interval=interval, repeat=False)
        page = anim.to_jshtml(default_mode="once")
        page = page.replace(FONT_AWESOME, "")
        for icon, text in PLAYER_ICONS.items():
            page = page.replace(f'<i class="{icon}"></i>', text)
        return HTML(page)


# ======================================================================================
# Chapter 8: the dual filter layer by layer
# ======================================================================================
class FixedPointExplorer(_LayerAnimation, Explorer):
    """The dual filter rho^(l) = N^l(prior) against the nonlinear predictor pi (chapter 8).

    Panels: the heat map of rho_t^(l) over positions t and states (layer l of the iteration
    rho^(l+1) = (1 - a) rho^(l) + a N(rho^(l)) of the fixed-point equation (FP) of chapter 7,
    from the prior rho_t^(0) = mu A^t); the heat map of pi_t (forward algorithm, chapter 2);
    the L1 error ||rho_t^(l) - pi_t||_1 per position t; and the worst error
    max_t ||rho_t^(l) - pi_t||_1 against the layer on a log axis, the current layer marked.
    Errors below 1e-16 are drawn at 1e-16. The iterates are signed measures until they
    converge: weights below 0 or above 1 are drawn in the colour bar's end colours (red and
    orange).
    """

    figsize = (10.0, 5.6)
    live_params = ("layer",)

    def _live_artists(self) -> list:
        return [self.im_rho, self.ax_rho.title, self.line_pos, self.mark_layer]

    def _build(self) -> None:
        fig = self.figure
        grid = fig.add_gridspec(2, 3, width_ratios=[1, 1, 0.04], height_ratios=[1, 0.9],
                                left=0.07, right=0.94, top=0.93, bottom=0.09, wspace=0.22,
                                hspace=0.45)
        self.ax_rho = fig.add_subplot(grid[0, 0])
        self.ax_pi = fig.add_subplot(grid[0, 1], sharey=self.ax_rho)
        self.ax_pos = fig.add_subplot(grid[1, 0])
        self.ax_layer = fig.add_subplot(grid[1, 1])
        cmap = colormaps["viridis"].with_extremes(under="#d62728", over="#ff7f0e")
        empty = np.zeros((1, 1))
        kw = dict(aspect="auto", origin="lower", cmap=cmap, vmin=0.0, vmax=1.0,
                  interpolation="nearest")
        self.im_rho = self.ax_rho.imshow(empty, **kw)
        self.im_pi = self.ax_pi.imshow(empty, **kw)
        fig.colorbar(self.im_rho, cax=fig.add_subplot(grid[0, 2]), extend="both",
                     label="weight on the state")
        self.ax_rho.set(xlabel="position $t$", ylabel="hidden state")
        self.ax_pi.set(xlabel="position $t$",
                       title=r"nonlinear predictor $\pi_t$ (forward algorithm)")
        self.ax_rho.yaxis.set_major_locator(MaxNLocator(integer=True))
        self.ax_pi.tick_params(labelleft=False)
        (self.line_pos,) = self.ax_pos.plot([], [], ".-", color="C0", markersize=3)
        self.ax_pos.set(xlabel="position $t$", ylabel=r"$\|\rho_t^{(l)} - \pi_t\|_1$",
                        title="error per position")
        (self.line_layer,) = self.ax_layer.plot([], [], ".-", color="C1", markersize=3,
                                                label=r"$\max_t \|\rho_t^{(l)} - \pi_t\|_1$")
        (self.mark_layer,) = self.ax_layer.plot([], [], "o", color="C3", markersize=8,
                                                label="current layer")
        self.ax_layer.set(xlabel="layer $l$", ylabel="worst L1 error", title="error against layer")
        self.ax_layer.legend(loc="lower left", fontsize=8)
        for ax in (self.ax_pos, self.ax_layer):
            _log_axis(ax)
            ax.grid(alpha=0.3)

    def _update(self) -> None:
        p = self._params
        keys = ("n_states", "n_tokens", "T", "stickiness", "emission_concentration", "seed")
        hmm, states, tokens = self._cached("model", keys, lambda: _model(p))
        pi = self._cached("pi", keys, lambda: predict(hmm, tokens))
        rhos = self._cached("layers", keys + ("normalize", "relax"), lambda: dual_filter(
            hmm, tokens, p["T"] + 1, normalize=p["normalize"], relax=p["relax"], return_all=True))
        errors = np.abs(rhos - pi[None]).sum(axis=2)             # (T+2, T+1)
        l, T, d = p["layer"], p["T"], p["n_states"]
        self._data = {"rho": rhos[l], "pi": pi, "tokens": tokens,
                      "error_per_position": errors[l], "layers": np.arange(T + 2),
                      "error_per_layer": errors.max(axis=1)}
        extent = (-0.5, T + 0.5, -0.5, d - 0.5)
        for im, values in ((self.im_rho, rhos[l]), (self.im_pi, pi)):
            im.set_data(values.T)
            im.set_extent(extent)
        self.ax_rho.set_title(rf"dual filter $\rho_t^{{({l})}}$, layer {l} of {T + 1}"
                              + ("" if p["normalize"] else " (no normalisation)"))
        self.line_pos.set_data(np.arange(T + 1), _floor(errors[l]))
        self.ax_pos.set_xlim(-0.5, T + 0.5)
        self.line_layer.set_data(np.arange(T + 2), _floor(self._data["error_per_layer"]))
        self.mark_layer.set_data([l], [_floor(self._data["error_per_layer"][l])])
        self.ax_layer.set_xlim(-0.5, T + 1.5)
        top = max(10.0, 3.0 * errors.max())      # the raw iteration's transient can reach 1e27
        for ax in (self.ax_pos, self.ax_layer):
            ax.set_ylim(ERROR_FLOOR / 3, top)


def fixed_point_explorer(**params) -> FixedPointExplorer:
    """Explorer of the dual filter against the nonlinear predictor (chapter 8).

    Parameters (all optional; each is a control of the widget)
    -----------------------------------------------------------
    n_states : int in 2..10 (default 4), hidden states d.
    T : int in 1..100 (default 40), number of tokens.
    stickiness : float in [0, 0.99] (default 0.8), weight of the identity in A (slow mixing).
    emission_concentration : float in [0.03, 30] (default 0.3); small = informative tokens.
    seed : int in 0..999 (default 0), for the model and the sampled path.
    layer : int in 0..T+1 (default 3), the layer l shown.
    normalize : bool (default True), project each Bayes input onto the simplex.
    relax : float in [0.05, 1] (default 1), the relaxation a (residual connection).
    n_tokens : int in 2..10 (default 4; no control), the vocabulary size.

    Moving the layer slider only redraws: all layers are computed once per model with
    ``dual_filter(..., return_all=True)``. See :class:`FixedPointExplorer` for the panels.
    """
    specs = _model_params() + [
        _layer_param(),
        Param("normalize", "bool", True, "normalise"),
        Param("relax", "float", 1.0, "relax a", 0.05, 1.0, step=0.05),
    ]
    return FixedPointExplorer(specs, **params)


# ======================================================================================
# Chapter 7: the iterates in the probability simplex
# ======================================================================================
class SimplexExplorer(_LayerAnimation, Explorer):
    """Dual-filter iterates rho_t^(l) of a 3-state model in the triangle P(S) (chapter 7).

    Left: each rho_t^(l) (filled dot, coloured by position t) in barycentric coordinates
    (vertex k = the point mass on state k), a grey segment to its target pi_t (open circle),
    the fixed point of (FP). Points may leave the triangle (negative weights) since N does not
    preserve positivity. Right: the distance ||rho_t^(l) - pi_t||_1 per position; positions
    t <= l are exact (causality), drawn at 1e-16.
    """

    figsize = (10.0, 4.8)
    control_order = ("layer", "seed", "T", "stickiness", "emission_concentration")
    live_params = ("layer",)

    def _live_artists(self) -> list:
        return [self.segments, self.points, self.ax_tri.title, self.line_err]

    def _check_combination(self, params):
        if params["n_states"] != 3:
            return (f"the simplex view needs exactly 3 hidden states (a triangle); got "
                    f"n_states={params['n_states']}")
        return None

    def _build(self) -> None:
        fig = self.figure
        ax = self.ax_tri = fig.add_axes((0.0, 0.04, 0.5, 0.86))
        corners = np.vstack([SIMPLEX_VERTICES, SIMPLEX_VERTICES[:1]])
        ax.plot(corners[:, 0], corners[:, 1], color="k", linewidth=1)
        for k, (x, y) in enumerate(SIMPLEX_VERTICES):
            ax.annotate(f"state {k}", (x, y), xytext=(0, -14 if y == 0 else 6),
                        textcoords="offset points", ha="center", fontsize=9)
        ax.set(xlim=(-0.15, 1.15), ylim=(-0.12, 1.0), aspect="equal")
        ax.set_axis_off()
        self.segments = LineCollection([], colors="0.6", linewidths=0.8)
        ax.add_collection(self.segments)
        empty = np.zeros((0, 2))
        self.targets = ax.scatter(empty[:, 0], empty[:, 1], s=60, facecolors="none",
                                  edgecolors="k", linewidths=0.8, label=r"target $\pi_t$")
        self.points = ax.scatter(empty[:, 0], empty[:, 1], c=np.zeros(0), s=22, cmap="plasma")
        fig.colorbar(self.points, cax=fig.add_axes((0.5, 0.14, 0.012, 0.7)), label="position $t$")
        iterate = Line2D([], [], marker="o", linestyle="", color=colormaps["plasma"](0.6),
                         label=r"iterate $\rho_t^{(l)}$")
        ax.legend(handles=[iterate, self.targets], loc="upper left", fontsize=8)
        self.ax_err = fig.add_axes((0.66, 0.13, 0.32, 0.75))
        self.ax_err.xaxis.set_major_locator(MaxNLocator(integer=True))
        (self.line_err,) = self.ax_err.plot([], [], ".-", markersize=3)
        self.ax_err.set(xlabel="position $t$", ylabel=r"$\|\rho_t^{(l)} - \pi_t\|_1$",
                        title="distance to the target")
        _log_axis(self.ax_err)
        self.ax_err.set_ylim(ERROR_FLOOR / 3, 10.0)
        self.ax_err.grid(alpha=0.3)

    def _update(self) -> None:
        p = self._params
        keys = ("n_states", "n_tokens", "T", "stickiness", "emission_concentration", "seed")
        hmm, states, tokens = self._cached("model", keys, lambda: _model(p))
        pi = self._cached("pi", keys, lambda: predict(hmm, tokens))
        rhos = self._cached("layers", keys, lambda: dual_filter(hmm, tokens, p["T"] + 1,
                                                                return_all=True))
        l, T = p["layer"], p["T"]
        rho = rhos[l]
        rho_xy, pi_xy = rho @ SIMPLEX_VERTICES, pi @ SIMPLEX_VERTICES
        error = np.abs(rho - pi).sum(axis=1)
        self._data = {"rho": rho, "pi": pi, "rho_xy": rho_xy, "pi_xy": pi_xy,
                      "error_per_position": error}
        self.points.set_offsets(rho_xy)
        self.points.set_array(np.arange(T + 1, dtype=float))
        self.points.set_clim(0, T)
        self.targets.set_offsets(pi_xy)
        self.segments.set_segments(np.stack([rho_xy, pi_xy], axis=1))
        self.ax_tri.set_title(rf"layer {l} of {T + 1}: $\rho_t^{{({l})}}$ moving to $\pi_t$")
        self.line_err.set_data(np.arange(T + 1), _floor(error))
        self.ax_err.set_xlim(-0.5, T + 0.5)


def simplex_explorer(**params) -> SimplexExplorer:
    """Explorer of the dual-filter iterates in the triangle of a 3-state model (chapter 7).

    Parameters (all optional)
    -------------------------
    layer : int in 0..T+1 (default 3), the layer l shown.
    seed : int in 0..999 (default 0), for the model and the sampled path.
    T : int in 1..60 (default 20), number of tokens.
    stickiness : float in [0, 0.99] (default 0.8), weight of the identity in A.
    emission_concentration : float in [0.03, 30] (default 0.3): the informativeness of the
        tokens (small = informative, each state emits few tokens; large = uninformative).
    n_tokens : int in 2..10 (default 4; no control).
    n_states : must be 3 (no control; any other value is reported in ``status``).

    The iteration is the normalised dual filter from the prior, all layers computed once.
    """
    specs = _model_params(n_states=3, T=20, max_T=60, widgets=(
        "T", "stickiness", "emission_concentration", "seed")) + [_layer_param()]
    return SimplexExplorer(specs, **params)


# ======================================================================================
# Chapter 9: the attention matrix of one layer
# ======================================================================================
class AttentionExplorer(Explorer):
    """The "attention" of one dual-filter layer for the query f = C_z (chapter 9).

    For the input rho = rho^(l) (layer l of the normalised dual filter from the prior) and
    f = C_z (so rho_t(f) is a next-token probability of token z), ``contributions`` gives
    W[t, s] = (rho_s^{z_s} - rho_s) A^{t-s} f, s < t, and N(rho)_t(f) = mu A^t f + sum_s W[t, s]
    (chapter 7, equation (FP)). Left: the bars W[t, s] over the earlier positions s for the
    chosen position t. Right: the whole causal matrix W (diverging colours, zero = white),
    the chosen row outlined.
    """

    figsize = (10.0, 4.8)
    live_params = ("position",)

    def _live_artists(self) -> list:
        return [self.bars, self.ax_bar.title, self.row]

    def _build(self) -> None:
        fig = self.figure
        grid = fig.add_gridspec(1, 3, width_ratios=[1.15, 1.0, 0.04], left=0.08, right=0.93,
                                top=0.86, bottom=0.12, wspace=0.3)
        self.ax_bar = fig.add_subplot(grid[0, 0])
        self.bars = self.ax_bar.stairs([0.0], [0.0, 1.0], fill=True, color="C0", baseline=0.0)
        self.ax_bar.axhline(0.0, color="k", linewidth=0.6)
        self.ax_bar.set(xlabel="earlier position $s$", ylabel=r"$W[t, s]$")
        self.ax_bar.grid(alpha=0.3)
        self.ax_mat = fig.add_subplot(grid[0, 1])
        self.im = self.ax_mat.imshow(np.zeros((1, 1)), cmap="RdBu_r", interpolation="nearest",
                                     origin="upper")
        self.row = Rectangle((0, 0), 1, 1, fill=False, edgecolor="k", linewidth=1.5)
        self.ax_mat.add_patch(self.row)
        self.ax_mat.set(xlabel="earlier position $s$", ylabel="position $t$")
        fig.colorbar(self.im, cax=fig.add_subplot(grid[0, 2]), label=r"$W[t, s]$")

    def _update(self) -> None:
        p = self._params
        keys = ("n_states", "n_tokens", "T", "stickiness", "emission_concentration", "seed")
        hmm, states, tokens = self._cached("model", keys, lambda: _model(p))
        pi = self._cached("pi", keys, lambda: predict(hmm, tokens))
        rhos = self._cached("layers", keys, lambda: dual_filter(hmm, tokens, p["T"] + 1,
                                                                return_all=True))
        l, t, z, T = p["layer"], p["position"], p["token"], p["T"]
        f = hmm.C[:, z]
        W = self._cached("W", keys + ("layer", "token"),
                         lambda: contributions(hmm, tokens, rhos[l], f))
        prior_term = float(hmm.prior_marginals(t)[t] @ f)
        estimate = prior_term + W[t, :t].sum()
        self._data = {"W": W, "row": W[t, :t], "rho": rhos[l],
                      "estimate": np.array(estimate), "truth": np.array(pi[t] @ f),
                      "prior_term": np.array(prior_term)}
        self.bars.set_data(values=W[t, :t], edges=np.arange(t + 1) - 0.5)
        vmax = max(np.abs(W).max(), 1e-12)     # one scale for every row: moving t only redraws
        self.ax_bar.set(xlim=(-0.5, T - 0.5), ylim=(-1.1 * vmax, 1.1 * vmax))
        self.ax_bar.set_title(
            f"position t = {t}, query $f = C_{{{z}}}$, input layer {l}\n"
            rf"$\mu A^t f$ = {prior_term:.3f}, + sum of bars = {estimate:.4f} (layer {l + 1}),"
            rf" $\pi_t(f)$ = {float(pi[t] @ f):.4f}", fontsize=9)
        self.im.set_data(W)
        self.im.set_clim(-vmax, vmax)
        self.im.set_extent((-0.5, T + 0.5, T + 0.5, -0.5))
        self.row.set_bounds(-0.5, t - 0.5, T + 1, 1)
        self.ax_mat.set_title(f"attention matrix of layer {l + 1}\n(row t = {t} outlined)",
                              fontsize=9)


def attention_explorer(**params) -> AttentionExplorer:
    """Explorer of the attention matrix W[t, s] of one dual-filter layer (chapter 9).

    Parameters (all optional; each is a control of the widget)
    -----------------------------------------------------------
    position : int in 1..T (default T), the position t whose row W[t, :t] is drawn.
    token : int in 0..n_tokens-1 (default 0), the query f = C_z, P(next token = z).
    layer : int in 0..T+1 (default 1): the input rho^(l); W is the attention of layer l+1.
    n_states, n_tokens, T (default 30), stickiness, emission_concentration, seed: the model
        and path, as in :func:`fixed_point_explorer` (n_tokens has a control here).
    """
    specs = _model_params(T=30, widgets=("n_states", "n_tokens", "T", "stickiness",
                                         "emission_concentration", "seed")) + [
        Param("position", "int", 30, "position t", 1, lambda p: p["T"], live=True),
        Param("token", "choice", 0, "query token z", options=lambda p: list(range(p["n_tokens"]))),
        _layer_param(default=1),
    ]
    params.setdefault("position", params.get("T", 30))
    return AttentionExplorer(specs, **params)


# ======================================================================================
# Chapter 6: linear (Riccati) against nonlinear (MMSE)
# ======================================================================================
CONCENTRATIONS = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0)
EXACT_SEQUENCES = 20_000  # up to this many token sequences the MMSE is computed exactly


def linear_estimates(lp, tokens) -> np.ndarray:
    """Row t: the best additive estimate of the indicator e_{X_t} from Z_0..Z_{t-1}, (T+1, d).

    With the gains K_t of the Riccati recursion (``lp.gains``; they do not depend on the
    horizon) the estimate m_t f of f(X_t) obeys m_0 = mu,
    m_{t+1} = m_t A + (e_{z_t} - m_t C) K_t, the Kalman filter form of chapter 5; m_t f equals
    ``linear_predictor(hmm, t).estimate(tokens[:t], f)``.
    """
    hmm = lp.hmm
    m = np.empty((len(tokens) + 1, hmm.n_states))
    m[0] = hmm.mu
    for t, z in enumerate(tokens):
        m[t + 1] = m[t] @ hmm.A + (lp.gains[t][z] - m[t] @ hmm.C @ lp.gains[t])
    return m


class LinearVsNonlinearExplorer(Explorer):
    """The best additive (Riccati) predictor against the nonlinear one (chapter 6).

    Left: against the emission concentration (the informativeness of the tokens, small =
    informative), for f = 1{X = k}: the MSE f^T Sigma_T f of the best additive predictor
    (chapter 5), the MMSE E[Var_{pi_T}(f)] of the nonlinear predictor (exact by enumeration when
    n_tokens^T <= 20000, otherwise estimated by :func:`mc_mmse` from ``mc_paths`` sampled
    paths), and the prior variance Var_{p_T}(f) (no tokens). Right: on one
    sampled path, f(X_t), the nonlinear estimate pi_t(f) and the linear one m_t f
    (:func:`linear_estimates`), t = 0..T, for the current concentration.
    """

    figsize = (10.0, 4.4)

    def _build(self) -> None:
        fig = self.figure
        self.ax_mse, self.ax_path = fig.subplots(1, 2, gridspec_kw=dict(
            left=0.08, right=0.98, top=0.9, bottom=0.13, wspace=0.25))
        ax = self.ax_mse
        (self.line_prior,) = ax.plot([], [], ":", color="0.4",
                                     label=r"prior $\mathrm{Var}_{p_T}(f)$")
        (self.line_lin,) = ax.plot([], [], "s-", color="C1", label=r"linear $f^\top\Sigma_T f$")
        (self.line_mmse,) = ax.plot([], [], "o-", color="C0", label="MMSE")
        self.mark = ax.axvline(1.0, color="C3", linewidth=1, label="current model")
        ax.set_xscale("log")
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set(xlabel="emission concentration (small = informative)",
               ylabel="mean-square error")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
        ax = self.ax_path
        (self.line_truth,) = ax.plot([], [], "k.", markersize=5, label="truth $f(X_t)$")
        (self.line_pi,) = ax.plot([], [], "-", color="C0", label=r"nonlinear $\pi_t(f)$")
        (self.line_m,) = ax.plot([], [], "--", color="C1", label=r"linear $m_t f$")
        ax.axhline(0, color="0.8", linewidth=0.6)
        ax.set(xlabel="position $t$", ylabel="estimate of $f(X_t)$")
        ax.legend(fontsize=8, loc="upper right", ncol=3)

    def _update(self) -> None:
        p = self._params
        f = np.eye(p["n_states"])[p["target"]]
        grid = np.array(CONCENTRATIONS)
        keys = ("n_states", "n_tokens", "T", "stickiness", "seed", "mc_paths")

        def model(c):
            return random_hmm(p["n_states"], p["n_tokens"], seed=p["seed"],
                              stickiness=p["stickiness"], emission_concentration=c)

        lps = self._cached("riccati", keys, lambda: [linear_predictor(model(c), p["T"])
                                                      for c in grid])
        curves = self._cached("curves", keys + ("target",), lambda: self._curves(lps, f))
        i = CONCENTRATIONS.index(p["emission_concentration"])
        lp = lps[i]
        states, tokens = sample(lp.hmm, p["T"], seed=p["seed"])
        pi_f = predict(lp.hmm, tokens) @ f
        m_f = linear_estimates(lp, tokens) @ f
        t = np.arange(p["T"] + 1)
        self._data = {"concentrations": grid, **curves, "truth": f[states], "nonlinear": pi_f,
                      "linear": m_f}
        self.line_prior.set_data(grid, curves["prior_var"])
        self.line_lin.set_data(grid, curves["linear_mse"])
        self.line_mmse.set_data(grid, curves["mmse"])
        exact = p["n_tokens"] ** p["T"] <= EXACT_SEQUENCES
        label = "MMSE (exact)" if exact else f"MMSE (Monte Carlo, {p['mc_paths']} paths)"
        if label != self.line_mmse.get_label():
            self.line_mmse.set_label(label)
            self.ax_mse.legend(fontsize=8, loc="lower right")
        self.mark.set_xdata([grid[i]])
        top = max(curves["prior_var"].max(), curves["linear_mse"].max())
        self.ax_mse.set(xlim=(grid[0] / 1.5, grid[-1] * 1.5), ylim=(0, 1.08 * top + 1e-12))
        self.ax_mse.set_title(f"predicting $f = 1\\{{X_T = {p['target']}\\}}$ at $T$ = {p['T']}")
        for line, y in ((self.line_truth, f[states]), (self.line_pi, pi_f), (self.line_m, m_f)):
            line.set_data(t, y)
        low, high = min(0.0, m_f.min()), max(1.0, m_f.max())
        self.ax_path.set(xlim=(-0.5, p["T"] + 0.5), ylim=(low - 0.08, high + 0.2))
        self.ax_path.set_title(
            f"one path, concentration {grid[i]:g}\nmean squared error over t: linear "
            f"{np.mean((m_f - f[states]) ** 2):.3f}, "
            f"nonlinear {np.mean((pi_f - f[states]) ** 2):.3f}",
            fontsize=9)

    def _curves(self, lps, f) -> dict:
        p = self._params
        T = p["T"]
        linear = np.array([lp.mse(f) for lp in lps])
        p_T = [lp.hmm.prior_marginals(T)[T] for lp in lps]
        prior = np.array([q @ f**2 - (q @ f) ** 2 for q in p_T])
        if p["n_tokens"] ** T <= EXACT_SEQUENCES:
            mmse = np.array([brute_force.mmse(lp.hmm, f, T) for lp in lps])
        else:
            mmse = np.array([mc_mmse(lp, f, p["seed"], p["mc_paths"]) for lp in lps])
        return {"linear_mse": linear, "mmse": mmse, "prior_var": prior}


def mc_mmse(lp, f, seed: int, paths: int) -> float:
    """Monte Carlo MMSE with the linear predictor ``lp`` as a control variate.

    Since the best additive estimate S_lin(Z) is itself a function of the tokens, Pythagoras
    gives MMSE = E|f(X_T) - pi_T(f)|^2 = f^T Sigma_T f - E|pi_T(f) - S_lin(Z)|^2 (chapter 6).
    The first term is exact (Riccati); the second is averaged over ``paths`` paths sampled
    with seeds (seed, k). The estimate is unbiased, never exceeds the linear MSE, and is
    accurate exactly where the two predictors are close.
    """
    hmm, T = lp.hmm, lp.T
    u = lp.controls(f)
    offset = hmm.mu @ dual_backward(hmm, f, u)[0]        # S_lin = mu(y_0) - sum_t u_t(z_t)
    gap = 0.0
    for k in range(paths):
        _, tokens = sample(hmm, T, seed=(seed, k))
        s_lin = offset - u[np.arange(T), tokens].sum()
        gap += (predict(hmm, tokens)[T] @ f - s_lin) ** 2
    return lp.mse(f) - gap / paths


def linear_vs_nonlinear_explorer(**params) -> LinearVsNonlinearExplorer:
    """Explorer of the gap between the linear and the nonlinear predictor (chapter 6).

    Parameters (all optional)
    -------------------------
    emission_concentration : one of 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20 (default 0.2): the
        model drawn on the path panel and marked on the curve.
    target : int in 0..n_states-1 (default 0), the state k of the query f = 1{X = k}.
    n_states (default 3), n_tokens (default 3), T in 1..100 (default 8), stickiness
        (default 0.8), seed: the model and path, as in :func:`fixed_point_explorer`.
    mc_paths : int in 8..2000 (default 64; no control), Monte Carlo paths per grid point
        when the MMSE is not computed exactly.

    The Riccati solutions and the curves are cached per model: moving the concentration
    only samples a path and redraws.
    """
    specs = _model_params(n_states=3, n_tokens=3, T=8, widgets=(
        "n_states", "n_tokens", "T", "stickiness", "seed"))
    specs = [s for s in specs if s.name != "emission_concentration"] + [
        Param("emission_concentration", "choice", 0.2, "emission conc.",
              options=lambda p: list(CONCENTRATIONS)),
        Param("target", "choice", 0, "query state k",
              options=lambda p: list(range(p["n_states"]))),
        Param("mc_paths", "int", 64, "Monte Carlo paths", 8, 2000, widget=False),
    ]
    return LinearVsNonlinearExplorer(specs, **params)


# ======================================================================================
# Chapter 2: the HMM and its nonlinear predictor
# ======================================================================================
class FilterExplorer(Explorer):
    """A sampled path of a random HMM and its nonlinear predictor (chapter 2).

    Top: the tokens z_t. Middle: the heat map of pi_t = P(X_t | Z_0..Z_{t-1}) (forward
    algorithm) with the true hidden state X_t overlaid (white dots). Bottom: the probability
    pi_t(C_{z_t}) = P(Z_t = z_t | Z_0..Z_{t-1}) the predictor gave the token that then
    occurred, against the prior p_t(C_{z_t}) = P(Z_t = z_t) that ignores the past.
    """

    figsize = (10.0, 6.0)

    def _build(self) -> None:
        fig = self.figure
        grid = fig.add_gridspec(3, 2, width_ratios=[1, 0.025], height_ratios=[0.7, 1.2, 0.9],
                                left=0.08, right=0.92, top=0.94, bottom=0.08, hspace=0.35,
                                wspace=0.03)
        self.ax_tok = fig.add_subplot(grid[0, 0])
        self.ax_pi = fig.add_subplot(grid[1, 0], sharex=self.ax_tok)
        self.ax_prob = fig.add_subplot(grid[2, 0], sharex=self.ax_tok)
        (self.line_tok,) = self.ax_tok.plot([], [], "o", color="C2", markersize=4)
        self.ax_tok.set(ylabel="token $z_t$", title="observed tokens")
        self.ax_tok.yaxis.set_major_locator(MaxNLocator(integer=True))
        self.im = self.ax_pi.imshow(np.zeros((1, 1)), aspect="auto", origin="lower",
                                    cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
        (self.line_state,) = self.ax_pi.plot([], [], "w.", markersize=5,
                                             label="true hidden state $X_t$")
        self.ax_pi.set(ylabel="hidden state",
                       title=r"nonlinear predictor $\pi_t = P(X_t \mid Z_0..Z_{t-1})$")
        self.ax_pi.yaxis.set_major_locator(MaxNLocator(integer=True))
        self.ax_pi.legend(loc="upper right", fontsize=8, facecolor="0.3", labelcolor="w")
        fig.colorbar(self.im, cax=fig.add_subplot(grid[1, 1]), label="probability")
        (self.line_prob,) = self.ax_prob.plot([], [], ".-", color="C0", markersize=4,
                                              label=r"predictor $\pi_t(C_{z_t})$")
        (self.line_prior,) = self.ax_prob.plot([], [], ":", color="0.4",
                                               label=r"prior $p_t(C_{z_t})$")
        self.ax_prob.set(xlabel="position $t$", ylabel="probability", ylim=(0, 1.05))
        self.ax_prob.legend(loc="lower right", fontsize=8, ncol=2)
        self.ax_prob.grid(alpha=0.3)
        self.ax_tok.tick_params(labelbottom=False)
        self.ax_pi.tick_params(labelbottom=False)

    def _update(self) -> None:
        p = self._params
        hmm, states, tokens = _model(p)
        probs = next_token_probs(hmm, tokens)
        pi = predict(hmm, tokens)
        T, d = p["T"], p["n_states"]
        t = np.arange(T)
        observed = probs[t, tokens]
        prior = (hmm.prior_marginals(T) @ hmm.C)[t, tokens]
        self._data = {"states": states, "tokens": tokens, "pi": pi,
                      "observed_token_prob": observed, "prior_token_prob": prior}
        self.line_tok.set_data(t, tokens)
        self.ax_tok.set_ylim(-0.5, p["n_tokens"] - 0.5)
        self.im.set_data(pi.T)
        self.im.set_extent((-0.5, T + 0.5, -0.5, d - 0.5))
        self.line_state.set_data(np.arange(T + 1), states)
        self.ax_pi.set_ylim(-0.5, d - 0.5)
        self.line_prob.set_data(t, observed)
        self.line_prior.set_data(t, prior)
        self.ax_prob.set_xlim(-0.5, T + 0.5)
        self.ax_prob.set_title(
            f"probability given to the token that occurred; log-likelihood "
            f"{np.log(observed).sum():.2f} (prior alone: {np.log(prior).sum():.2f})", fontsize=10)


def filter_explorer(**params) -> FilterExplorer:
    """Explorer of a random HMM, a sampled path and the nonlinear predictor (chapter 2).

    Parameters (all optional; each is a control of the widget)
    -----------------------------------------------------------
    n_states : int in 2..10 (default 4).  T : int in 1..100 (default 60).
    stickiness : float in [0, 0.99] (default 0.8).  seed : int in 0..999 (default 0).
    emission_concentration : float in [0.03, 30] (default 0.3; small = informative).
    n_tokens : int in 2..10 (default 6; no control).
    """
    specs = _model_params(n_tokens=6, T=60)
    return FilterExplorer(specs, **params)

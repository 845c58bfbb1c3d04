"""Figure styles of the book: one function a figure type, for static figures and explorers.

This module is the presentation wing's drawing layer (it needs matplotlib, the ``[book]``
extra; ``import dualfilter`` does not import it). A chapter computes with the package and
hands the arrays to a ``plot_*`` function here; an explorer (:mod:`dualfilter.explore`)
creates its panels with the same functions and then updates the artists they return, so a
static figure and the live explorer of the same quantity look the same.

Conventions
-----------
- Every ``plot_*`` function draws on a matplotlib ``Axes`` passed in and returns the artists it
  created: the image for a heat map (so that ``fig.colorbar(im)`` works), otherwise a dict
  mapping a curve's label (or role) to its artist. ``plot_scaling`` returns the fitted
  exponent it writes in the legend.
- ``set_*`` functions update artists created by a ``plot_*`` function in place (explorers call
  them on every change; they apply the same floor, extent and colour scale as the creator).
- One style: the constants below (error floor, colour maps, colours of the recurring
  quantities, font sizes) are used by every function; nothing else in the package chooses a
  colour or a floor.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "DPI", "ERROR_FLOOR", "COLORS", "LEGEND_FONTSIZE", "TITLE_FONTSIZE", "SIMPLEX_CMAP",
    "NICE_STEPS", "style", "SEQUENTIAL_CMAP", "DIVERGING_CMAP", "SIMPLEX_VERTICES",
    "new_figure", "floor", "log_error_axis", "set_title", "nice_ceiling", "simplex_xy",
    "plot_mc_convergence", "plot_martingale_paths", "plot_runtimes", "plot_mse_sweep",
    "plot_estimates_vs_truth", "plot_attention_matrix", "plot_lag_decay",
    "plot_measure_heatmap", "plot_states", "plot_layer_errors", "plot_position_errors",
    "plot_cross_entropy_layers", "plot_scaling", "plot_next_token_probs",
    "plot_tokens", "plot_token_probability", "plot_predictor_mse", "plot_simplex",
    "plot_attention_row", "plot_row_outline",
    "set_measure_heatmap", "set_errors", "set_simplex", "set_attention_row",
    "set_attention_matrix",
]

# ----- the one style ---------------------------------------------------------------------
DPI = 80                  # explorer figures: 10 inches = 800 px
ERROR_FLOOR = 1e-16       # errors (exact zeros included) below this are drawn at this value
LEGEND_FONTSIZE = 8
TITLE_FONTSIZE = 11
SEQUENTIAL_CMAP = "viridis"   # probabilities in [0, 1]
DIVERGING_CMAP = "RdBu_r"     # signed quantities, zero = white
SIMPLEX_CMAP = "plasma"       # positions t of the iterates in the simplex
UNDER_COLOR, OVER_COLOR = "#d62728", "#ff7f0e"   # signed measures below 0 / above 1
COLORS = {
    "nonlinear": "C0",    # the nonlinear predictor pi_t (forward algorithm)
    "linear": "C1",       # the best additive (Riccati) predictor
    "tokens": "C2",
    "current": "C3",      # the current setting of an explorer (layer, model)
    "truth": "k",
    "prior": "0.4",       # the prior p_t = mu A^t
    "reference": "0.6",
}
SIMPLEX_VERTICES = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3.0) / 2.0]])
_SUPERSCRIPTS = str.maketrans(
    "-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")


def style() -> dict:
    """The one style as plain JSON, for the JavaScript twins of the explorers: the error
    floor, the nice steps of moving scales, colour maps, the colours of the recurring
    quantities (as hex) and font sizes."""
    from matplotlib.colors import to_hex

    return {"dpi": DPI, "error_floor": ERROR_FLOOR, "nice_steps": list(NICE_STEPS),
            "sequential_cmap": SEQUENTIAL_CMAP, "diverging_cmap": DIVERGING_CMAP,
            "simplex_cmap": SIMPLEX_CMAP, "under_color": UNDER_COLOR, "over_color": OVER_COLOR,
            "colors": {role: to_hex(color) for role, color in COLORS.items()},
            "legend_fontsize": LEGEND_FONTSIZE, "title_fontsize": TITLE_FONTSIZE}


def new_figure(figsize, dpi: int = DPI):
    """A matplotlib ``Figure`` on an Agg canvas, created without pyplot (displays nothing)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def floor(errors, value: float = ERROR_FLOOR) -> np.ndarray:
    """``errors`` with every entry below ``value`` (exact zeros included) raised to it."""
    return np.maximum(np.asarray(errors, dtype=float), value)


def _power_of_ten(value, position=None) -> str:
    """Tick label 10^k in Unicode superscripts (mathtext tick labels cost most of a redraw)."""
    return "10" + str(int(round(np.log10(value)))).translate(_SUPERSCRIPTS)


def log_error_axis(ax, *, floor: float | None = None, top: float | None = None) -> None:
    """The style of every error axis: log scale with a light grid.

    With ``floor`` (explorers, whose limits must not follow the data) the axis spans
    [floor / 3, top], so that values drawn at the floor sit on a visible line, with at most
    ~6 labelled decades, no minor ticks and Unicode labels (mathtext tick labels cost most
    of a redraw). Without it (static figures) the limits and ticks follow the data, with
    matplotlib's log ticks, which also label a range narrower than a decade.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if floor is not None:
        ax.yaxis.set_major_locator(LogLocator(numticks=6))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.yaxis.set_major_formatter(FuncFormatter(_power_of_ten))
        ax.set_ylim(floor / 3, top)


def set_title(ax, text: str, *, fontsize: float = TITLE_FONTSIZE, loc: str = "center"):
    """Set an axes title (``loc`` "center", "left" or "right") at a fixed height: no
    automatic placement, which costs a tick layout per redraw. Returns the ``Text``.

    A title that changes with every redraw is best plain (Unicode) text: a title with
    ``$...$`` is parsed by mathtext whenever its string changes.
    """
    return ax.set_title(text, fontsize=fontsize, y=1.0, pad=6.0, loc=loc)


NICE_STEPS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


def nice_ceiling(x: float) -> float:
    """The smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a power of ten that is >= x
    (x > 0; else 1): axis limits and colour scales that do not move with every small change
    of the data, at most 25% above it."""
    if not (x > 0 and np.isfinite(x)):
        return 1.0
    power = 10.0 ** np.floor(np.log10(x))
    for step in NICE_STEPS:
        if step * power >= x * (1 - 1e-12):
            return float(step * power)
    return float(10.0 * power)


def _above_axis(ax, image):
    """Draw a heat map above its axis (tick marks), so that a redraw of the image alone over
    a saved background (an explorer's blit) gives the same pixels as a full redraw."""
    ax.set_axisbelow(True)
    image.set_zorder(0.6)
    return image


def _title(ax, title):
    if title:
        ax.set_title(title, fontsize=TITLE_FONTSIZE)


# --- Chapters 4-6 (dual control, linear predictor, nonlinear predictor) -----------------


def plot_mc_convergence(ax, n_samples, mean, se, exact, *, ylabel="mean-square error",
                        exact_label="cost identity (exact)", title=None):
    """Running Monte Carlo mean with a 95% band against an exact value (chapter 4).

    ``n_samples`` (k,) sample counts, ``mean`` and ``se`` (k,) the running mean and its standard
    error at those counts, ``exact`` a float drawn as a horizontal line. x axis is logarithmic.
    Returns {"band", "estimate", "exact"}.
    """
    n_samples, mean, se = (np.asarray(a, dtype=float) for a in (n_samples, mean, se))
    band = ax.fill_between(n_samples, mean - 1.96 * se, mean + 1.96 * se, color="C0",
                           alpha=0.25, label="95% confidence band")
    (line,) = ax.plot(n_samples, mean, color="C0", lw=1.5, label="Monte Carlo estimate")
    exact_line = ax.axhline(exact, color=COLORS["truth"], ls="--", lw=1.2, label=exact_label)
    ax.set_xscale("log")
    ax.set(xlabel="number of sampled sequences $N$", ylabel=ylabel)
    _title(ax, title)
    ax.legend(fontsize=LEGEND_FONTSIZE)
    return {"band": band, "estimate": line, "exact": exact_line}


def plot_martingale_paths(ax, paths, mean_value, *, n_show=40, title=None):
    """Sample paths of a martingale M_t (rows of ``paths``, shape (N, T+1)) (chapter 4).

    Draws ``n_show`` paths in grey, the Monte Carlo mean over all N paths, and the constant
    ``mean_value`` (the exact E[M_t]) as a dashed line. Returns {"paths", "mean", "exact"}.
    """
    paths = np.asarray(paths, dtype=float)
    t = np.arange(paths.shape[1])
    lines = ax.plot(t, paths[:n_show].T, color=COLORS["reference"], lw=0.7, alpha=0.6)
    ax.plot([], [], color=COLORS["reference"], lw=0.7,
            label=f"{min(n_show, len(paths))} sample paths")
    (mean,) = ax.plot(t, paths.mean(axis=0), "o-", color="C1", ms=4,
                      label=f"Monte Carlo mean of {len(paths)} paths")
    exact = ax.axhline(mean_value, color=COLORS["truth"], ls="--", lw=1.2,
                       label=r"$\mu(y_0)$ (exact mean)")
    ax.set(xlabel="time $t$", ylabel="$M_t$")
    _title(ax, title)
    ax.legend(fontsize=LEGEND_FONTSIZE, loc="upper left")
    return {"paths": lines, "mean": mean, "exact": exact}


def plot_runtimes(ax, runtimes, *, slopes=None, title=None):
    """Log-log runtime against horizon T for several methods (chapter 5).

    ``runtimes`` maps a method name to a pair (T values (k,), seconds (k,)). ``slopes`` maps a
    method name to an exponent k: a dotted reference line proportional to T^k, in the method's
    colour and named in the legend, is drawn through that method's last point. Returns
    {name: line}.
    """
    markers = "osd^v"
    names = list(runtimes)
    lines = {}
    for i, (name, (Ts, secs)) in enumerate(runtimes.items()):
        (lines[name],) = ax.loglog(Ts, secs, marker=markers[i % len(markers)], lw=1.5,
                                   color=f"C{i}", label=name)
    for name, k in (slopes or {}).items():
        Ts, secs = (np.asarray(a, dtype=float) for a in runtimes[name])
        grid = np.geomspace(Ts[len(Ts) // 2], Ts[-1], 20)
        ax.loglog(grid, secs[-1] * (grid / Ts[-1]) ** k, ":", color=f"C{names.index(name)}",
                  lw=1.5, alpha=0.8, label=f"$\\propto T^{{{k}}}$ (reference)")
    ax.set(xlabel="horizon $T$ (number of tokens)", ylabel="wall-clock time (s)")
    _title(ax, title)
    ax.legend(fontsize=LEGEND_FONTSIZE)
    return lines


def plot_mse_sweep(ax, x, curves, *, xlabel, ylabel="MSE / prior variance", title=None,
                   xscale="linear"):
    """Mean-square errors against a model parameter, averaged over seeds (chapter 6).

    ``curves`` maps a label to an array (n_seeds, len(x)); each curve is drawn as its mean over
    seeds with a band from the smallest to the largest seed. Returns {label: line}.
    """
    x = np.asarray(x, dtype=float)
    lines = {}
    for i, (name, vals) in enumerate(curves.items()):
        vals = np.asarray(vals, dtype=float)
        (lines[name],) = ax.plot(x, vals.mean(axis=0), marker="o", ms=3, lw=1.5, color=f"C{i}",
                                 label=f"{name} (mean of {vals.shape[0]} models)")
        ax.fill_between(x, vals.min(axis=0), vals.max(axis=0), color=f"C{i}", alpha=0.15)
    ax.set_xscale(xscale)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    _title(ax, title)
    ax.legend(fontsize=LEGEND_FONTSIZE)
    return lines


def plot_estimates_vs_truth(ax, truth, estimates, *, ylabel, title=None, legend="below"):
    """Estimates of f(X_t) along one sampled path against the truth (chapters 6 and its
    explorer).

    ``truth`` (T+1,) the values f(X_t); ``estimates`` maps a label to an array (T+1,) of the
    estimate of f(X_t) from Z_0..Z_{t-1}. The first estimate is drawn in the nonlinear
    predictor's colour, the second in the linear one's. ``legend`` is "below" (under the
    axes) or "inside" (upper right, for a panel of an explorer). Returns {"truth": line,
    label: line, ...}.
    """
    t = np.arange(len(truth))
    lines = {}
    (lines["truth"],) = ax.plot(t, truth, ".", color=COLORS["truth"], ms=7,
                                label="truth $f(X_t)$")
    styles = ["-", "--", "-."]
    colors = [COLORS["nonlinear"], COLORS["linear"], "C2"]
    for i, (name, est) in enumerate(estimates.items()):
        (lines[name],) = ax.step(t, est, where="mid", ls=styles[i % 3], color=colors[i % 3],
                                 lw=1.5, label=name)
    ax.set(xlabel="time $t$", ylabel=ylabel)
    _title(ax, title)
    if legend == "below":
        ax.legend(fontsize=LEGEND_FONTSIZE, ncol=3, loc="upper center",
                  bbox_to_anchor=(0.5, -0.18))
    else:
        ax.legend(fontsize=LEGEND_FONTSIZE, ncol=3, loc="upper right")
    return lines


def plot_predictor_mse(ax, concentrations, curves, *, current=None):
    """MSE of the linear and the nonlinear predictor against the emission concentration
    (chapter 6 explorer).

    ``concentrations`` (k,) on a log x axis; ``curves`` maps "prior_var", "linear_mse" and
    "mmse" to arrays (k,) (missing ones are left empty); ``current`` a concentration marked
    by a vertical line. Returns {"prior_var", "linear_mse", "mmse", "current"}; the MMSE
    line's label can be changed (``set_label``) to say how it was computed.
    """
    from matplotlib.ticker import NullLocator

    x = np.asarray(concentrations, dtype=float)
    empty = np.full(x.shape, np.nan)
    lines = {}
    (lines["prior_var"],) = ax.plot(x, curves.get("prior_var", empty), ":",
                                    color=COLORS["prior"], label=r"prior $\mathrm{Var}_{p_T}(f)$")
    (lines["linear_mse"],) = ax.plot(x, curves.get("linear_mse", empty), "s-",
                                     color=COLORS["linear"], label=r"linear $f^\top\Sigma_T f$")
    (lines["mmse"],) = ax.plot(x, curves.get("mmse", empty), "o-", color=COLORS["nonlinear"],
                               label="MMSE")
    lines["current"] = ax.axvline(x[0] if current is None else current,
                                  color=COLORS["current"], lw=1, label="current model")
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set(xlabel="emission concentration (small = informative)",
           ylabel="mean-square error", xlim=(x[0] / 1.5, x[-1] * 1.5))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=LEGEND_FONTSIZE, loc="lower right")
    return lines


# --- Chapter 2 (the HMM and its nonlinear predictor) ---------------------------------------


def plot_tokens(ax, tokens, *, title="observed tokens"):
    """The tokens z_t (T,) against the position t, as markers (chapter 2 explorer).

    Returns the ``Line2D`` (update it with ``set_data``).
    """
    from matplotlib.ticker import MaxNLocator

    tokens = np.asarray(tokens)
    (line,) = ax.plot(np.arange(len(tokens)), tokens, "o", color=COLORS["tokens"], ms=4)
    ax.set(ylabel="token $z_t$")
    set_title(ax, title)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    return line


def plot_token_probability(ax, observed, prior):
    """The probability the predictor gave the token that occurred, against the prior's
    (chapter 2 explorer).

    ``observed`` (T,) pi_t(C_{z_t}) and ``prior`` (T,) p_t(C_{z_t}). Returns
    {"predictor": line, "prior": line}.
    """
    t = np.arange(len(observed))
    lines = {}
    (lines["predictor"],) = ax.plot(t, observed, ".-", color=COLORS["nonlinear"], ms=4,
                                    label=r"predictor $\pi_t(C_{z_t})$")
    (lines["prior"],) = ax.plot(t, prior, ":", color=COLORS["prior"],
                                label=r"prior $p_t(C_{z_t})$")
    ax.set(xlabel="position $t$", ylabel="probability", ylim=(0, 1.05))
    ax.legend(loc="lower right", fontsize=LEGEND_FONTSIZE, ncol=2)
    ax.grid(alpha=0.3)
    return lines


# --- Chapter 10 (the dual filter and the decoder-only transformer) -------------------------


def plot_attention_matrix(ax, W, *, vmax=None, title=None, cmap=DIVERGING_CMAP):
    """Heat map of a causal "attention" matrix W (T+1, T+1) of contributions (chapter 10).

    Row t is the query position, column s the key position; W[t, s] is the signed contribution
    of position s to the output at t (zero for s >= t). The colour scale is symmetric about 0,
    ``vmax`` defaults to max |W|. Returns the image (for a colour bar).
    """
    W = np.asarray(W, dtype=float)
    vmax = float(np.abs(W).max()) if vmax is None else float(vmax)
    im = _above_axis(ax, ax.imshow(W, cmap=cmap, vmin=-vmax, vmax=vmax, origin="upper",
                                   interpolation="nearest"))
    ax.set(xlabel="key position $s$ (earlier token)", ylabel="query position $t$")
    _title(ax, title)
    return im


def set_attention_matrix(im, W, vmax: float) -> None:
    """Show ``W`` (T+1, T+1) in an image made by :func:`plot_attention_matrix`, colour scale
    [-vmax, vmax]."""
    T = W.shape[0] - 1
    im.set_data(W)
    im.set_clim(-vmax, vmax)
    im.set_extent((-0.5, T + 0.5, T + 0.5, -0.5))


def plot_row_outline(ax):
    """An outline marking one row of a matrix image; returns the ``Rectangle`` (move it with
    ``set_bounds(-0.5, t - 0.5, T + 1, 1)``)."""
    from matplotlib.patches import Rectangle

    return ax.add_patch(Rectangle((0, 0), 1, 1, fill=False, edgecolor=COLORS["truth"],
                                  linewidth=1.5))


def plot_attention_row(ax):
    """Bars W[t, s] over the earlier positions s of one query position t (chapter 10
    explorer). Returns the ``StepPatch``; fill it with :func:`set_attention_row`."""
    bars = ax.stairs([0.0], [0.0, 1.0], fill=True, color=COLORS["nonlinear"], baseline=0.0)
    ax.axhline(0.0, color=COLORS["truth"], linewidth=0.6)
    ax.set(xlabel="earlier position $s$", ylabel=r"$W[t, s]$")
    ax.grid(alpha=0.3)
    ax.set_axisbelow(True)
    return bars


def set_attention_row(bars, row) -> None:
    """Show the row W[t, :t] (t,) as bars centred on s = 0..t-1."""
    bars.set_data(values=np.asarray(row, dtype=float), edges=np.arange(len(row) + 1) - 0.5)


def plot_lag_decay(ax, lags, curves, envelopes=None, *, ylabel, title=None):
    """Magnitude of contributions against the lag k = t - s on a log axis (chapter 10).

    ``lags`` (K,); ``curves`` maps a label to an array (K,) of measured magnitudes, drawn as
    markers and lines; ``envelopes`` maps a label to an array (K,) of bounds, drawn dashed.
    Returns {label: line} for curves and envelopes.
    """
    lags = np.asarray(lags, dtype=float)
    markers = "os^d"
    lines = {}
    for i, (name, vals) in enumerate(curves.items()):
        (lines[name],) = ax.semilogy(lags, vals, marker=markers[i % len(markers)], ms=3, lw=1.2,
                                     color=f"C{i}", label=name)
    for i, (name, vals) in enumerate((envelopes or {}).items()):
        (lines[name],) = ax.semilogy(lags, vals, ls=["--", ":", "-."][i % 3],
                                     color=["k", "0.45", "C3"][i % 3], lw=1.4, label=name)
    ax.set(xlabel="lag $k = t - s$ (positions)", ylabel=ylabel)
    _title(ax, title)
    ax.legend(fontsize=LEGEND_FONTSIZE)
    return lines


# --- Chapters 7-8 (the fixed-point equation and the dual filter) -------------------------


def _measure_cmap(cmap, signed: bool):
    from matplotlib import colormaps

    if not signed:
        return cmap
    return colormaps[cmap].with_extremes(under=UNDER_COLOR, over=OVER_COLOR)


def plot_measure_heatmap(ax, measures, states=None, *, title=None, cmap=SEQUENTIAL_CMAP,
                         signed=False):
    """Heat map of a sequence of probability measures, e.g. pi_t (chapters 2, 7, 8).

    ``measures`` (T+1, d): row t is a measure on the d hidden states, drawn as column t with
    the states on the vertical axis and a colour scale fixed to [0, 1]. ``states`` (T+1,)
    optional true hidden states X_t, overlaid as white dots (:func:`plot_states`).
    ``signed=True`` draws weights below 0 and above 1 (signed iterates of the dual filter)
    in two end colours (red, orange); use ``extend="both"`` on its colour bar. Returns the
    image (for a colour bar); :func:`set_measure_heatmap` shows new measures in it.
    """
    from matplotlib.ticker import MaxNLocator

    measures = np.asarray(measures, dtype=float)
    im = _above_axis(ax, ax.imshow(measures.T, aspect="auto", origin="lower",
                                   cmap=_measure_cmap(cmap, signed), vmin=0, vmax=1,
                                   interpolation="nearest"))
    set_measure_heatmap(im, measures)
    if states is not None:
        plot_states(ax, states)
    ax.set(xlabel="position $t$", ylabel="hidden state")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    _title(ax, title)
    return im


def set_measure_heatmap(im, measures) -> None:
    """Show ``measures`` (T+1, d) in an image made by :func:`plot_measure_heatmap` (cells
    centred on t = 0..T and the states 0..d-1)."""
    T, d = measures.shape[0] - 1, measures.shape[1]
    im.set_data(np.asarray(measures).T)
    im.set_extent((-0.5, T + 0.5, -0.5, d - 0.5))


def plot_states(ax, states):
    """The true hidden states X_t (T+1,) as white dots over a measure heat map, with a
    legend entry. Returns the ``Line2D``."""
    states = np.asarray(states)
    (line,) = ax.plot(np.arange(len(states)), states, "w.", ms=4,
                      label="true hidden state $X_t$")
    ax.legend(loc="upper right", fontsize=LEGEND_FONTSIZE, facecolor="0.3", labelcolor="w")
    return line


def plot_layer_errors(ax, errors, *, floor=ERROR_FLOOR,
                      ylabel=r"$\max_t \|\rho^{(\ell)}_t - \pi_t\|_1$", title=None, styles=None,
                      marker=None, legend_loc="best", fixed=False):
    """Error of the dual filter against the layer index on a log axis (chapters 8, 12 and
    the chapter 8 explorer).

    ``errors`` maps a label to an array (L+1,) whose entry l is the error after l layers
    (entry 0: the initialisation). Values below ``floor`` (exact zeros) are drawn at ``floor``.
    ``styles`` optionally maps a label to keyword arguments of ``ax.plot`` (e.g. ls, color).
    ``fixed=True`` (explorers) fixes the axis to [floor / 3, 10] (see :func:`log_error_axis`).
    Returns {label: line}; :func:`set_errors` updates a line.
    """
    lines = {}
    for i, (name, err) in enumerate(errors.items()):
        kwargs = {"color": f"C{i}", "lw": 1.5, "marker": marker, "ms": 3,
                  **(styles or {}).get(name, {})}
        (lines[name],) = ax.plot(np.arange(len(err)), _floor(err, floor), label=name, **kwargs)
    log_error_axis(ax, floor=floor if fixed else None, top=10.0)
    ax.set(xlabel=r"layer $\ell$", ylabel=ylabel)
    _title(ax, title)
    ax.legend(fontsize=LEGEND_FONTSIZE, loc=legend_loc)
    return lines


def plot_position_errors(ax, errors, *, floor=ERROR_FLOOR,
                         ylabel=r"$\|\rho_t^{(\ell)} - \pi_t\|_1$", title=None):
    """L1 distance ||rho_t - pi_t||_1 per position t (T+1,) on the error axis (chapters 7-8
    explorers). Returns the ``Line2D``; :func:`set_errors` updates it."""
    from matplotlib.ticker import MaxNLocator

    (line,) = ax.plot(np.arange(len(errors)), _floor(errors, floor), ".-",
                      color=COLORS["nonlinear"], ms=3)
    log_error_axis(ax, floor=floor, top=10.0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="position $t$", ylabel=ylabel)
    if title:
        set_title(ax, title)
    return line


def set_errors(line, errors, x=None, *, floor=ERROR_FLOOR) -> None:
    """Show ``errors`` (n,) in a line of :func:`plot_layer_errors` or
    :func:`plot_position_errors` (at x = 0..n-1 unless ``x`` is given), floored."""
    errors = np.atleast_1d(np.asarray(errors, dtype=float))
    line.set_data(np.arange(len(errors)) if x is None else x, _floor(errors, floor))


def _floor(errors, value):
    return np.maximum(np.asarray(errors, dtype=float), value)


def simplex_xy(measures) -> np.ndarray:
    """Barycentric coordinates in the plane of measures on 3 states, shape (..., 2): vertex
    k of the triangle is the point mass on state k (:data:`SIMPLEX_VERTICES`)."""
    return np.asarray(measures, dtype=float) @ SIMPLEX_VERTICES


def plot_simplex(ax, *, labels=("state 0", "state 1", "state 2")):
    """The triangle of probability measures on 3 states, ready for iterates and their targets
    (chapter 7 explorer).

    The labels are plain text: an explorer redraws them with every layer, and mathtext
    costs most of that redraw. Returns {"points": PathCollection of the iterates (coloured
    by position t, colormap ``SIMPLEX_CMAP``), "targets": open circles of the targets, "segments": grey segments from each
    iterate to its target}; :func:`set_simplex` fills them.
    """
    from matplotlib import colormaps
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    corners = np.vstack([SIMPLEX_VERTICES, SIMPLEX_VERTICES[:1]])
    ax.plot(corners[:, 0], corners[:, 1], color=COLORS["truth"], linewidth=1)
    for label, (x, y) in zip(labels, SIMPLEX_VERTICES):
        ax.annotate(label, (x, y), xytext=(0, -14 if y == 0 else 6),
                    textcoords="offset points", ha="center", fontsize=9)
    ax.set(xlim=(-0.15, 1.15), ylim=(-0.12, 1.0), aspect="equal")
    ax.set_axis_off()
    # the iterates are drawn above the labels and the legend (z-order 5), so that a change of
    # layer redraws them alone
    segments = LineCollection([], colors=COLORS["reference"], linewidths=0.8, zorder=5.1)
    ax.add_collection(segments)
    empty = np.zeros((0, 2))
    targets = ax.scatter(empty[:, 0], empty[:, 1], s=60, facecolors="none",
                         edgecolors=COLORS["truth"], linewidths=0.8, label="target πₜ",
                         zorder=5.2)
    points = ax.scatter(empty[:, 0], empty[:, 1], c=np.zeros(0), s=22, cmap=SIMPLEX_CMAP,
                        zorder=5.3)
    iterate = Line2D([], [], marker="o", linestyle="", color=colormaps[SIMPLEX_CMAP](0.6),
                     label="iterate at layer ℓ")
    ax.legend(handles=[iterate, targets], loc="upper left", fontsize=LEGEND_FONTSIZE)
    return {"points": points, "targets": targets, "segments": segments}


def set_simplex(artists, rho, pi) -> tuple[np.ndarray, np.ndarray]:
    """Show iterates ``rho`` and targets ``pi`` (T+1, 3) in the artists of
    :func:`plot_simplex`; returns their plane coordinates (rho_xy, pi_xy), each (T+1, 2)."""
    rho_xy, pi_xy = simplex_xy(rho), simplex_xy(pi)
    T = len(rho) - 1
    artists["points"].set_offsets(rho_xy)
    artists["points"].set_array(np.arange(T + 1, dtype=float))
    artists["points"].set_clim(0, max(T, 1))
    artists["targets"].set_offsets(pi_xy)
    artists["segments"].set_segments(np.stack([rho_xy, pi_xy], axis=1))
    return rho_xy, pi_xy


def plot_depth_study(axes, result, *, title=None, keys=("depth", "depth_relaxed")):
    """Depth against sequence length from a depth study (chapter 9, benchmarks/depth_study.py).

    ``axes`` (2, n_concentrations): row 0 draws ``result["records"][i][keys[0]]`` (no
    relaxation, cap T + 1), row 1 ``keys[1]`` (relaxed, cap ``relaxed_cap`` * T); column j the
    concentration ``result["params"]["concentration"][j]``. Each run is a dot (offset slightly
    along T by stickiness), each stickiness a colour with a line through the medians of the
    uncensored runs, and a censored run (value None) an open triangle at its cap; the legend
    of the relaxed row counts them. Dotted: L = T; dashed: the relaxed cap. Log-log axes.
    ``title`` (optional) starts the figure's title, which then explains these marks.
    """
    params, records = result["params"], result["records"]
    horizons = np.array(params["horizons"])
    for row, (key, cap) in enumerate(((keys[0], 1), (keys[1], params["relaxed_cap"]))):
        for j, c in enumerate(params["concentration"]):
            ax = axes[row, j]
            for i, s in enumerate(params["stickiness"]):
                sel = [r for r in records if r["stickiness"] == s and r["concentration"] == c]
                T = np.array([r["T"] for r in sel], dtype=float)
                y = np.array([np.nan if r[key] is None else r[key] for r in sel], dtype=float)
                x = T * (1 + 0.03 * (i - len(params["stickiness"]) / 2))
                cen = np.isnan(y)
                ax.plot(x[~cen], y[~cen], ".", color=f"C{i}", ms=4, alpha=0.6)
                ax.plot(x[cen], cap * T[cen], "^", mfc="none", color=f"C{i}", ms=6)
                med = [np.median(y[(T == t) & ~cen]) if np.any((T == t) & ~cen) else np.nan
                       for t in horizons]
                label = f"$s = {s}$" + (f", {int(cen.sum())} censored" if row else "")
                ax.plot(horizons, med, "-", color=f"C{i}", label=label)
            ax.plot(horizons, horizons, "k:", lw=1)
            if row:
                ax.plot(horizons, cap * horizons, "k--", lw=0.8)
            ax.set(xscale="log", yscale="log",
                   title=f"concentration {c}" + (", relaxed" if row else ""))
            ax.set_xticks(horizons, [str(t) for t in horizons])
            ax.xaxis.set_minor_formatter("")
            ax.legend(fontsize=7, loc="upper left")
        axes[row, 0].set_ylabel(r"layers $L_\varepsilon$"
                                + (r", $a = 1 - |\lambda_2|^2$" if row else ", $a = 1$"))
    for ax in axes[-1]:
        ax.set_xlabel("sequence length $T$")
    if title:
        fig = axes[0, 0].figure
        fig.suptitle(f"{title}: dots are runs, lines medians; dotted $L = T$, dashed the cap "
                     r"$2T$, $\triangle$ censored at the cap", fontsize=10)
        fig.tight_layout()
    return axes


# --- Chapter 12 and the performance appendix --------------------------------------------


def plot_cross_entropy_layers(ax, cross_entropy, references, *, title=None):
    """Next-token cross-entropy (nats/token) against the layer index (chapter 12).

    ``cross_entropy`` (L+1,): entry l is the cross-entropy of the predictor after l layers.
    ``references`` maps a label to a value drawn as a horizontal line (e.g. the exact
    predictor's cross-entropy and the unigram baseline). Returns {label: line}, the dual
    filter's curve under "dual filter".
    """
    ce = np.asarray(cross_entropy, dtype=float)
    lines = {}
    (lines["dual filter"],) = ax.plot(np.arange(len(ce)), ce, "o-", color="C0", lw=1.5, ms=4,
                                      label="dual filter, $\\ell$ layers")
    for i, (name, value) in enumerate(references.items()):
        lines[name] = ax.axhline(value, color=f"C{i + 1}", ls="--", lw=1.2,
                                 label=f"{name} ({value:.3f})")
    ax.set(xlabel=r"layer $\ell$", ylabel="cross-entropy (nats / token)")
    _title(ax, title)
    ax.legend(fontsize=LEGEND_FONTSIZE)
    return lines


def plot_scaling(ax, sizes, seconds, *, symbol, xlabel, label, color="C0"):
    """Log-log time against a problem size with the fitted power law (performance appendix).

    ``sizes`` (k,), ``seconds`` (k,). The least-squares slope of log(seconds) on log(sizes) is
    drawn as a dotted line and written in the legend as ``symbol``^slope (``symbol`` a TeX
    name such as "T" or "d"). Returns the fitted exponent (the artists are ``ax.lines``).
    """
    x, y = np.asarray(sizes, dtype=float), np.asarray(seconds, dtype=float)
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    ax.loglog(x, y, "o-", color=color, lw=1.5, label=label)
    ax.loglog(x, np.exp(intercept) * x**slope, ":", color=color, lw=1.2,
              label=f"fit $\\propto {symbol}^{{{slope:.2f}}}$")
    ax.set_xticks(x, [f"{v:g}" for v in x])
    ax.xaxis.set_minor_formatter("")
    ax.set(xlabel=xlabel, ylabel="wall-clock time of one layer (s)")
    ax.legend(fontsize=LEGEND_FONTSIZE)
    return float(slope)


# --- Chapter 1 (next-token prediction) ---------------------------------------------------


def plot_next_token_probs(ax, probs, tokens, *, title=None, cmap="magma"):
    """Heat map of next-token probabilities along a sequence, with the tokens that occurred (chapter 1).

    ``probs`` (T+1, n_tokens): row t is P(Z_t = . | Z_0..Z_{t-1}), drawn as column t with the
    vocabulary on the vertical axis and a colour scale fixed to [0, 1]. ``tokens`` (T,): the
    tokens Z_0..Z_{T-1} that occurred, overlaid as cyan dots at (t, Z_t). Returns the image
    (for a colour bar).
    """
    probs = np.asarray(probs, dtype=float)
    tokens = np.asarray(tokens)
    im = ax.imshow(probs.T, aspect="auto", origin="lower", cmap=cmap, vmin=0, vmax=1,
                   interpolation="nearest")
    ax.plot(np.arange(len(tokens)), tokens, "o", color="cyan", ms=3.5,
            label="token $Z_t$ that occurred")
    ax.set(xlabel="position $t$", ylabel="token $z$")
    ax.set_yticks(np.arange(probs.shape[1]))
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=LEGEND_FONTSIZE,
              frameon=False, borderaxespad=0.1)
    if title:
        ax.set_title(title, loc="left", fontsize=TITLE_FONTSIZE)
    return im

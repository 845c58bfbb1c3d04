"""Plotting helpers for the book's figures, one function a figure type (see each docstring).

Each helper draws on a matplotlib ``Axes`` passed in and returns it, so a chapter shows the
computation that is the idea and delegates the styling here.
"""

from __future__ import annotations

import numpy as np


# --- Chapters 4-6 (dual control, linear predictor, nonlinear predictor) -----------------


def plot_mc_convergence(ax, n_samples, mean, se, exact, *, ylabel="mean-square error",
                        exact_label="cost identity (exact)", title=None):
    """Running Monte Carlo mean with a 95% band against an exact value (chapter 4).

    ``n_samples`` (k,) sample counts, ``mean`` and ``se`` (k,) the running mean and its standard
    error at those counts, ``exact`` a float drawn as a horizontal line. x axis is logarithmic.
    """
    n_samples, mean, se = (np.asarray(a, dtype=float) for a in (n_samples, mean, se))
    ax.fill_between(n_samples, mean - 1.96 * se, mean + 1.96 * se, color="C0", alpha=0.25,
                    label="95% confidence band")
    ax.plot(n_samples, mean, color="C0", lw=1.5, label="Monte Carlo estimate")
    ax.axhline(exact, color="k", ls="--", lw=1.2, label=exact_label)
    ax.set_xscale("log")
    ax.set(xlabel="number of sampled sequences $N$", ylabel=ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


def plot_martingale_paths(ax, paths, mean_value, *, n_show=40, title=None):
    """Sample paths of a martingale M_t (rows of ``paths``, shape (N, T+1)) (chapter 4).

    Draws ``n_show`` paths in grey, the Monte Carlo mean over all N paths, and the constant
    ``mean_value`` (the exact E[M_t]) as a dashed line.
    """
    paths = np.asarray(paths, dtype=float)
    t = np.arange(paths.shape[1])
    ax.plot(t, paths[:n_show].T, color="0.6", lw=0.7, alpha=0.6)
    ax.plot([], [], color="0.6", lw=0.7, label=f"{min(n_show, len(paths))} sample paths")
    ax.plot(t, paths.mean(axis=0), "o-", color="C1", ms=4,
            label=f"Monte Carlo mean of {len(paths)} paths")
    ax.axhline(mean_value, color="k", ls="--", lw=1.2, label=r"$\mu(y_0)$ (exact mean)")
    ax.set(xlabel="time $t$", ylabel="$M_t$")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left")
    return ax


def plot_runtimes(ax, runtimes, *, slopes=None, title=None):
    """Log-log runtime against horizon T for several methods (chapter 5).

    ``runtimes`` maps a method name to a pair (T values (k,), seconds (k,)). ``slopes`` maps a
    method name to an exponent k: a dotted reference line proportional to T^k is drawn through
    that method's last point.
    """
    markers = "osd^v"
    for i, (name, (Ts, secs)) in enumerate(runtimes.items()):
        ax.loglog(Ts, secs, marker=markers[i % len(markers)], lw=1.5, color=f"C{i}", label=name)
    for name, k in (slopes or {}).items():
        Ts, secs = (np.asarray(a, dtype=float) for a in runtimes[name])
        grid = np.geomspace(Ts[len(Ts) // 2], Ts[-1], 20)
        ax.loglog(grid, secs[-1] * (grid / Ts[-1]) ** k, ":", color="0.3", lw=1.2)
        ax.annotate(f"$\\propto T^{{{k}}}$", (grid[0], secs[-1] * (grid[0] / Ts[-1]) ** k),
                    fontsize=9, color="0.3", xytext=(-28, 4), textcoords="offset points")
    ax.set(xlabel="horizon $T$ (number of tokens)", ylabel="wall-clock time (s)")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


def plot_mse_sweep(ax, x, curves, *, xlabel, ylabel="MSE / prior variance", title=None,
                   xscale="linear"):
    """Mean-square errors against a model parameter, averaged over seeds (chapter 6).

    ``curves`` maps a label to an array (n_seeds, len(x)); each curve is drawn as its mean over
    seeds with a band from the smallest to the largest seed.
    """
    x = np.asarray(x, dtype=float)
    for i, (name, vals) in enumerate(curves.items()):
        vals = np.asarray(vals, dtype=float)
        ax.plot(x, vals.mean(axis=0), marker="o", ms=3, lw=1.5, color=f"C{i}",
                label=f"{name} (mean of {vals.shape[0]} models)")
        ax.fill_between(x, vals.min(axis=0), vals.max(axis=0), color=f"C{i}", alpha=0.15)
    ax.set_xscale(xscale)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


def plot_estimates_vs_truth(ax, truth, estimates, *, ylabel, title=None):
    """Estimates of f(X_t) along one sampled path against the truth (chapter 6).

    ``truth`` (T+1,) the values f(X_t); ``estimates`` maps a label to an array (T+1,) of the
    estimate of f(X_t) from Z_0..Z_{t-1}.
    """
    t = np.arange(len(truth))
    ax.plot(t, truth, "k.", ms=7, label="truth $f(X_t)$")
    styles = ["-", "--", "-."]
    for i, (name, est) in enumerate(estimates.items()):
        ax.step(t, est, where="mid", ls=styles[i % len(styles)], color=f"C{i}", lw=1.5,
                label=name)
    ax.set(xlabel="time $t$", ylabel=ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.18))
    return ax


# --- Chapter 9 (the dual filter and the decoder-only transformer) -----------------------


def plot_attention_matrix(ax, W, *, vmax=None, title=None, cmap="RdBu_r"):
    """Heat map of a causal "attention" matrix W (T+1, T+1) of contributions (chapter 9).

    Row t is the query position, column s the key position; W[t, s] is the signed contribution
    of position s to the output at t (zero for s >= t). The colour scale is symmetric about 0,
    ``vmax`` defaults to max |W|. Returns the image (for a colour bar).
    """
    W = np.asarray(W, dtype=float)
    vmax = float(np.abs(W).max()) if vmax is None else float(vmax)
    im = ax.imshow(W, cmap=cmap, vmin=-vmax, vmax=vmax, origin="upper",
                   interpolation="nearest")
    ax.set(xlabel="key position $s$ (earlier token)", ylabel="query position $t$")
    if title:
        ax.set_title(title)
    return im


def plot_lag_decay(ax, lags, curves, envelopes=None, *, ylabel, title=None):
    """Magnitude of contributions against the lag k = t - s on a log axis (chapter 9).

    ``lags`` (K,); ``curves`` maps a label to an array (K,) of measured magnitudes, drawn as
    markers and lines; ``envelopes`` maps a label to an array (K,) of bounds, drawn dashed.
    """
    lags = np.asarray(lags, dtype=float)
    markers = "os^d"
    for i, (name, vals) in enumerate(curves.items()):
        ax.semilogy(lags, vals, marker=markers[i % len(markers)], ms=3, lw=1.2,
                    color=f"C{i}", label=name)
    for i, (name, vals) in enumerate((envelopes or {}).items()):
        ax.semilogy(lags, vals, ls=["--", ":", "-."][i % 3], color=["k", "0.45", "C3"][i % 3],
                    lw=1.4, label=name)
    ax.set(xlabel="lag $k = t - s$ (positions)", ylabel=ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


# --- Chapters 7-8 (the fixed-point equation and the dual filter) -------------------------


def plot_measure_heatmap(ax, measures, states=None, *, title=None, cmap="viridis"):
    """Heat map of a sequence of probability measures, e.g. pi_t (chapters 7-8).

    ``measures`` (T+1, d): row t is a measure on the d hidden states, drawn as column t with
    the states on the vertical axis and a colour scale fixed to [0, 1]. ``states`` (T+1,)
    optional true hidden states X_t, overlaid as white dots. Returns the image (for a
    colour bar).
    """
    measures = np.asarray(measures, dtype=float)
    im = ax.imshow(measures.T, aspect="auto", origin="lower", cmap=cmap, vmin=0, vmax=1,
                   interpolation="nearest")
    if states is not None:
        ax.plot(np.asarray(states), "w.", ms=4, label="true hidden state $X_t$")
        ax.legend(loc="upper right", fontsize=8)
    ax.set(xlabel="position $t$", ylabel="hidden state")
    if title:
        ax.set_title(title)
    return im


def plot_layer_errors(ax, errors, *, floor=1e-17, ylabel=r"$\max_t \|\rho^{(\ell)}_t - \pi_t\|_1$",
                      title=None, styles=None):
    """Error of the dual filter against the layer index on a log axis (chapter 8).

    ``errors`` maps a label to an array (L+1,) whose entry l is the error after l layers
    (entry 0: the initialisation). Values below ``floor`` (exact zeros) are drawn at ``floor``.
    ``styles`` optionally maps a label to keyword arguments of ``ax.plot`` (e.g. ls, color).
    """
    for i, (name, err) in enumerate(errors.items()):
        err = np.maximum(np.asarray(err, dtype=float), floor)
        kwargs = {"color": f"C{i}", "lw": 1.5, **(styles or {}).get(name, {})}
        ax.semilogy(np.arange(len(err)), err, label=name, **kwargs)
    ax.set(xlabel=r"layer $\ell$", ylabel=ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


def plot_grid_heatmap(ax, values, xticklabels, yticklabels, *, xlabel, ylabel, title=None,
                      fmt="{:.0f}", cmap="magma_r", vmin=None, vmax=None):
    """Annotated heat map of a two-parameter experiment (chapter 8).

    ``values`` (ny, nx): cell [i, j] is drawn at row i (label ``yticklabels[i]``, bottom to
    top) and column j (label ``xticklabels[j]``) and annotated with ``fmt.format(value)``.
    Returns the image (for a colour bar).
    """
    values = np.asarray(values, dtype=float)
    im = ax.imshow(values, origin="lower", aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax)
    lo, hi = np.nanmin(values), np.nanmax(values)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            dark = (v - lo) > 0.55 * (hi - lo) if hi > lo else False
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=8,
                    color="white" if dark else "black")
    ax.set_xticks(range(values.shape[1]), [str(x) for x in xticklabels])
    ax.set_yticks(range(values.shape[0]), [str(y) for y in yticklabels])
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if title:
        ax.set_title(title)
    return im


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


# --- Chapter 10 and the performance appendix --------------------------------------------


def plot_cross_entropy_layers(ax, cross_entropy, references, *, title=None):
    """Next-token cross-entropy (nats/token) against the layer index (chapter 10).

    ``cross_entropy`` (L+1,): entry l is the cross-entropy of the predictor after l layers.
    ``references`` maps a label to a value drawn as a horizontal line (e.g. the exact
    predictor's cross-entropy and the unigram baseline).
    """
    ce = np.asarray(cross_entropy, dtype=float)
    ax.plot(np.arange(len(ce)), ce, "o-", color="C0", lw=1.5, ms=4, label="dual filter, $\\ell$ layers")
    for i, (name, value) in enumerate(references.items()):
        ax.axhline(value, color=f"C{i + 1}", ls="--", lw=1.2, label=f"{name} ({value:.3f})")
    ax.set(xlabel=r"layer $\ell$", ylabel="cross-entropy (nats / token)")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


def plot_scaling(ax, sizes, seconds, *, symbol, xlabel, label, color="C0"):
    """Log-log time against a problem size with the fitted power law (performance appendix).

    ``sizes`` (k,), ``seconds`` (k,). The least-squares slope of log(seconds) on log(sizes) is
    drawn as a dotted line and written in the legend as ``symbol``^slope (``symbol`` a TeX
    name such as "T" or "d"). Returns the fitted exponent.
    """
    x, y = np.asarray(sizes, dtype=float), np.asarray(seconds, dtype=float)
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    ax.loglog(x, y, "o-", color=color, lw=1.5, label=label)
    ax.loglog(x, np.exp(intercept) * x**slope, ":", color=color, lw=1.2,
              label=f"fit $\\propto {symbol}^{{{slope:.2f}}}$")
    ax.set_xticks(x, [f"{v:g}" for v in x])
    ax.xaxis.set_minor_formatter("")
    ax.set(xlabel=xlabel, ylabel="wall-clock time of one layer (s)")
    ax.legend(fontsize=8)
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
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False,
              borderaxespad=0.1)
    if title:
        ax.set_title(title, loc="left", fontsize=10)
    return im

"""Latency of the interactive explorers (dualfilter.explore): recompute + redraw per change.

For each explorer, at its default sizes and at the largest teaching sizes (n_states 10,
T 100), this times ``ex.set(...)`` followed by ``ex.figure.canvas.draw()`` (Agg backend):

- "slider" changes: the parameter that only redraws (layer, position, concentration...),
- "model" changes: a new seed, which recomputes everything the explorer caches.

It also times a change made through a widget's ``.value`` once the widget exists, which
includes the PNG sent to the Output widget. The target is < 150 ms per change.
Run: ``python benchmarks/explore_latency.py`` (median and max over the repetitions, ms).
"""

import time

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from dualfilter import explore  # noqa: E402

REPEATS = 8

CASES = [
    # (explorer, factory parameters, slider parameter and its values)
    ("filter", dict(), None),
    ("filter", dict(n_states=10, T=100), None),
    ("linear_vs_nonlinear", dict(), ("emission_concentration", explore.CONCENTRATIONS)),
    ("linear_vs_nonlinear", dict(n_states=10, n_tokens=10, T=100),
     ("emission_concentration", explore.CONCENTRATIONS)),
    ("simplex", dict(), ("layer", range(22))),
    ("simplex", dict(T=60), ("layer", range(62))),
    ("fixed_point", dict(), ("layer", range(42))),
    ("fixed_point", dict(n_states=10, T=100), ("layer", range(102))),
    ("attention", dict(), ("position", range(1, 31))),
    ("attention", dict(n_states=10, T=100), ("position", range(1, 101))),
]


def timed(ex, **params) -> float:
    start = time.perf_counter()
    ex.set(**params)
    ex.figure.canvas.draw()
    elapsed = time.perf_counter() - start
    assert ex.status == "", ex.status
    return 1e3 * elapsed


def widget_timed(ex, name, value) -> float:
    start = time.perf_counter()
    ex.controls[name].value = value
    elapsed = time.perf_counter() - start
    assert ex.status == "", ex.status
    return 1e3 * elapsed


def summary(times) -> str:
    return f"{np.median(times):6.1f} / {np.max(times):6.1f}"


def reference_draw_ms() -> float:
    """A plain 2x2 matplotlib figure (a heat map, three lines): how loaded the machine is."""
    from matplotlib.figure import Figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = Figure(figsize=(10, 5.5), dpi=80)
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2)
    axes[0, 0].imshow(np.random.default_rng(0).random((10, 101)), aspect="auto")
    for ax in axes.flat[1:]:
        ax.plot(np.arange(101), np.sin(np.arange(101) / 9.0))
    fig.canvas.draw()
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fig.canvas.draw()
        times.append(1e3 * (time.perf_counter() - start))
    return float(np.median(times))


def main() -> None:
    print(f"reference: a plain 2x2 figure redraws in {reference_draw_ms():.1f} ms here")
    print(f"{'explorer':20s} {'sizes':34s} "
          f"{'slider ms':>15s} {'model ms':>15s} {'widget ms':>15s}")
    print(f"{'':20s} {'':34s}" + f" {'(median / max)':>15s}" * 3)
    for name, params, slider in CASES:
        ex = getattr(explore, f"{name}_explorer")(**params)
        ex.figure.canvas.draw()
        sizes = ", ".join(f"{k}={v}" for k, v in ex.params.items()
                          if k in ("n_states", "n_tokens", "T"))
        model = [timed(ex, seed=s) for s in range(1, REPEATS + 1)]
        if slider is None:
            moves, shown = "-", ("seed", range(20, 20 + REPEATS))
        else:
            key, values = slider
            values = list(values)
            picks = [values[i] for i in np.linspace(0, len(values) - 1, REPEATS).astype(int)]
            moves = summary([timed(ex, **{key: v}) for v in picks])
            shown = (key, picks[::-1])
        ex.widget  # builds the controls and the Output; changes now also encode a PNG
        via_widget = [widget_timed(ex, shown[0], v) for v in shown[1]]
        print(f"{name:20s} {sizes:34s} {moves:>15s} {summary(model):>15s} "
              f"{summary(via_widget):>15s}")


if __name__ == "__main__":
    main()

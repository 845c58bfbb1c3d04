"""Latency of the interactive explorers (dualfilter.explore) per change of a control.

Each change is made as the notebook front end makes it: by setting a control's ``.value``
once the widget exists. The time runs from the assignment to the new PNG being handed to
the widget, so it covers the check of the value, the recomputation, the redraw (a blit of
the changed artists when the axes' limits and labels did not move, else a full redraw) and
the PNG encoding; it excludes the transfer to the browser. For each explorer, at its
defaults and at the largest settings of its controls (n_states 10, n_tokens 10, T at its
maximum), every control is moved REPEATS times:

- live sliders (layer, position): the changes made while dragging;
- model changes (stickiness, T, emission concentration, seed, normalize, relax, ...): the
  changes that recompute the model, its path and everything cached on them.

The book's budget is 150 ms per change through the JupyterLab UI, which adds the transfer
and the browser's decoding to what is measured here.

``--baseline REV`` also times the explorers of the git revision REV (the single module
``src/dualfilter/explore.py`` before the explorers became a package), interleaved with the
current ones in the same run, so the two are measured under the same load:

    python benchmarks/explore_latency.py                   # current explorers
    python benchmarks/explore_latency.py --baseline c84d809 --json out.json
    python benchmarks/explore_latency.py --only fixed_point_explorer,simplex_explorer

Prints median and max (ms) per explorer, size and kind of change; ``--json`` writes them.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from dualfilter import explore  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 8
LARGEST = {
    "filter_explorer": dict(n_states=10, n_tokens=10, T=100),
    "linear_vs_nonlinear_explorer": dict(n_states=10, n_tokens=10, T=100),
    "simplex_explorer": dict(n_tokens=10, T=60),
    "fixed_point_explorer": dict(n_states=10, n_tokens=10, T=100),
    "attention_explorer": dict(n_states=10, n_tokens=10, T=100),
}


def load_baseline(rev: str):
    """The explorer module of git revision ``rev`` (explore.py), importable on its own."""
    source = subprocess.run(["git", "show", f"{rev}:src/dualfilter/explore.py"], cwd=ROOT,
                            check=True, capture_output=True, text=True).stdout
    source = re.sub(r"^from \. import", "from dualfilter import", source, flags=re.M)
    source = re.sub(r"^from \.(\w+) import", r"from dualfilter.\1 import", source, flags=re.M)
    path = Path(tempfile.mkdtemp()) / "baseline_explore.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("baseline_explore", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module                 # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def moves(ex, name: str, value) -> list:
    """REPEATS values for the control ``name`` that differ from each other and from now."""
    w = ex.controls[name]
    if hasattr(w, "options") and not hasattr(w, "min"):
        values = [v for _, v in w.options] if isinstance(w.options[0], tuple) else list(w.options)
        picks = [values[i % len(values)] for i in range(1, REPEATS + 1)]
    elif isinstance(value, bool):
        picks = [not value if i % 2 == 0 else value for i in range(REPEATS)]
    elif name in ("T", "n_states", "n_tokens"):       # the largest sizes, each a new one
        picks = [w.max - 1 - i // 2 if i % 2 == 0 else w.max for i in range(REPEATS)]
    else:
        low, high = (10 ** w.min, 10 ** w.max) if "Log" in type(w).__name__ else (w.min, w.max)
        grid = (np.geomspace(low, high, REPEATS + 2) if "Log" in type(w).__name__
                else np.linspace(low, high, REPEATS + 2))[1:-1]
        picks = list(grid[[0, 7, 2, 5, 4, 3, 6, 1][:REPEATS]])
        if isinstance(value, int):
            picks = sorted({int(round(v)) for v in picks} - {value}, key=lambda v: (v * 7) % 11)
            picks = (picks * REPEATS)[:REPEATS]
    return picks


def time_control(ex, name: str, picks) -> list[float]:
    out = []
    for v in picks:
        start = time.perf_counter()
        ex.controls[name].value = v
        out.append(1e3 * (time.perf_counter() - start))
        if ex.status:
            raise RuntimeError(f"{name}={v!r}: {ex.status}")
    return out


def reference_draw_ms() -> float:
    """A plain 2x2 matplotlib figure (a heat map, three lines): how loaded the machine is."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

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


def live_controls(ex) -> set:
    specs = getattr(ex, "PARAMS", None)
    if specs is not None:
        return {p.name for p in specs if p.live}
    return set(getattr(ex, "live_params", ()))         # the baseline's declaration


def measure(modules: dict, name: str, params: dict) -> dict[str, dict[str, list[float]]]:
    """{module: {"live: <control>" or "model: <control>": times (ms)}} for every control of
    the explorer ``name``; the modules take turns at each change (same load for both)."""
    explorers = {m: getattr(module, name)(**params) for m, module in modules.items()}
    for ex in explorers.values():
        ex.widget
    first = next(iter(explorers.values()))
    out = {m: {} for m in modules}
    for control in first.controls:
        if name == "simplex_explorer" and control == "n_states":
            continue
        picks = moves(first, control, first.params[control])
        for m, ex in explorers.items():
            live = live_controls(explorers["current"] if "current" in explorers else ex)
            key = ("live: " if control in live else "model: ") + control
            out[m][key] = []
        for v in picks:
            for m, ex in explorers.items():
                out[m][key].extend(time_control(ex, control, [v]))
    return out


def summary(times) -> str:
    return f"{np.median(times):6.1f} / {np.max(times):6.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", help="git revision whose explore.py to time alongside")
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--only", help="comma-separated factory names (default: all)")
    args = parser.parse_args()
    modules = {"current": explore}
    if args.baseline:
        modules = {"baseline": load_baseline(args.baseline), **modules}
    reference = reference_draw_ms()
    print(f"reference: a plain 2x2 figure redraws in {reference:.1f} ms here")
    print(f"{'explorer':30s} {'sizes':10s} {'change':32s}"
          + "".join(f" {m + ' ms':>16s}" for m in modules))
    print(f"{'':30s} {'':10s} {'':32s}" + f" {'(median / max)':>16s}" * len(modules))
    results = {"reference_ms": reference, "explorers": {},
               "load_average_1min_at_start": os.getloadavg()[0]}
    only = args.only.split(",") if args.only else list(LARGEST)
    for name, largest in LARGEST.items():
        if name not in only:
            continue
        for label, params in (("default", {}), ("largest", largest)):
            timed = measure(modules, name, params)
            rows = sorted(set().union(*timed.values()))
            for group in ("live", "model"):
                keys = [k for k in rows if k.startswith(group)]
                if not keys:
                    continue
                for key in keys:
                    cells = "".join(f" {summary(timed[m][key]) if key in timed[m] else '-':>16s}"
                                    for m in modules)
                    print(f"{name:30s} {label:10s} {key:32s}{cells}")
                pooled = {m: [x for k in keys if k in timed[m] for x in timed[m][k]]
                          for m in modules}
                cells = "".join(f" {summary(pooled[m]):>16s}" for m in modules)
                print(f"{name:30s} {label:10s} {'all ' + group + ' changes':32s}{cells}")
                for m in modules:
                    results["explorers"].setdefault(name, {}).setdefault(label, {}).setdefault(
                        m, {})[group] = {"median_ms": float(np.median(pooled[m])),
                                         "max_ms": float(np.max(pooled[m])),
                                         "per_control": {k: float(np.median(timed[m][k]))
                                                         for k in keys if k in timed[m]}}
    results["load_average_1min_at_end"] = os.getloadavg()[0]
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

"""Latency of the live explorers on the web pages (issue 10): set() to the end of the redraw.

Builds a page holding the live twin of every explorer (``ex.twin()``, the HTML the chapters
show) with the files the book serves (dualfilter.explore.sphinxext: engine.js, twins.js, the
explorer modules and plotly.min.js from the plotly wheel), serves it on 127.0.0.1 and drives
it in headless Chromium. For each explorer it first moves every control to its largest
setting (n_states, n_tokens and T at their maxima, stickiness at its maximum, concentration
at its minimum, the layer at T + 1), then changes one control at a time as a reader would
(every control in turn, several steps each: sizes and T one step down and back up,
stickiness and concentration a few slider steps, seeds, the layer and position over their
range, the switches; for the real-text explorer: the longest text, deleting and retyping its
last characters, both model sizes, the layers over their range), and times each change in the page with ``performance.now()`` from the
call of ``set`` until its promise resolves, which is after ``Plotly.react`` finished
updating the figure (twins.js). The budget: median <= 50 ms and 95th percentile <= 100 ms per
change, for every explorer.

Run: ``python benchmarks/live_latency.py [--rounds 3] [--only NAME ...] [--at-cell] [--out benchmarks/results/live_latency.json]``
(``--at-cell``: the changes around the chapter cell's parameters, the default size, instead of
the largest settings)
(needs Debian's chromium and chromium-driver). Prints a table; the JSON has every timing.
Timings depend on the machine and its load: the JSON records the load average.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import http.server
import json
import os
import platform
import shutil
import tempfile
import threading
from pathlib import Path

import numpy as np

from dualfilter import explore
from dualfilter.explore import sphinxext

ROOT = Path(__file__).resolve().parents[1]
BUDGET = {"median_ms": 50.0, "p95_ms": 100.0}

# The cells of the book (the chapters' parameters), and the largest settings
CELLS = {
    "filter_explorer": dict(n_states=4, n_tokens=6, T=60, stickiness=0.8, emission_concentration=0.3, seed=0),
    "linear_vs_nonlinear_explorer": dict(n_states=3, n_tokens=3, T=8, stickiness=0.8, seed=0, target=2,
                                         emission_concentration=0.5),
    "simplex_explorer": dict(T=20, stickiness=0.8, emission_concentration=0.3, seed=0, layer=3),
    "fixed_point_explorer": dict(n_states=4, T=40, stickiness=0.8, emission_concentration=0.3, seed=0, layer=3),
    "attention_explorer": dict(n_states=4, n_tokens=4, T=30, stickiness=0.8, emission_concentration=0.3,
                               seed=0, position=30, token=0, layer=1),
    "depth_explorer": dict(n_states=8, n_tokens=8, T=100, stickiness=0.8, emission_concentration=1.0,
                           transition_concentration=1.0, seed=0, memory=5, relax_rule=True, relax=0.5,
                           eps=1e-6),
    "real_text_explorer": dict(text=explore.real_text.DEFAULT_TEXT, n_states=64, layers=4, relax=1.0),
}
# the longest text the real-text explorer takes (a reader typing: one character at a time)
LONG_TEXT = ("the value of the expression list is returned to the caller, and the function "
             "call ends here, even inside a loop or a try statement")[: explore.real_text.MAX_CHARS]


def largest(spec: list[dict]) -> dict:
    out = {}
    for p in spec:
        if (p["name"] in ("n_states", "n_tokens", "T") and p["control"] and p["kind"] == "int"
                and p["low"] != p["high"]):
            out[p["name"]] = p["high"]
        elif p["name"] == "stickiness":
            out[p["name"]] = p["high"]
        elif p["name"] == "emission_concentration":
            out[p["name"]] = p["low"] if p["kind"] == "log" else p["options"][0]
        elif p["kind"] == "text":
            out[p["name"]] = LONG_TEXT
        elif p["name"] == "n_states" and p["kind"] == "choice":
            out[p["name"]] = max(p["options"])
        elif p["name"] == "layers":
            out[p["name"]] = p["high"]
    return out


def changes(name: str, spec: list[dict], top: dict, rounds: int, at_cell: bool = False) -> list[dict]:
    """The changes timed, from the largest settings (or, ``at_cell``, from the cell's
    parameters ``top``): one control at a time."""
    T = top.get("T", 100)
    steps = []
    for _ in range(rounds):
        for p in spec:
            if not p["control"]:
                continue
            n = p["name"]
            if p["kind"] == "text":           # typing: delete the last character, retype it
                steps += [{n: LONG_TEXT[:-1]}, {n: LONG_TEXT}, {n: LONG_TEXT[:-2]}, {n: LONG_TEXT}]
            elif n == "n_states" and p["kind"] == "choice":
                steps += [{n: o} for o in p["options"]]
            elif n == "layers":
                steps += [{n: v} for v in (0, 1, p["high"] // 4, p["high"] // 2, p["high"])]
            elif n in ("n_states", "n_tokens", "T"):
                if p["low"] == p["high"]:
                    continue
                value = top[n] if at_cell else p["high"]
                steps += [{n: value - 1}, {n: value}]
            elif n == "stickiness":
                s = top[n] if at_cell else 0.99
                steps += [{n: round(s - 0.01, 2)}, {n: round(s - 0.02, 2)}, {n: s}]
            elif n in ("emission_concentration", "transition_concentration"):
                if p["kind"] == "choice":
                    steps += [{n: c} for c in p["options"][1:4]] + [{n: p["options"][0]}]
                else:
                    base = np.log10(top[n]) if at_cell else np.log10(p["low"])
                    steps += [{n: float(f"{10 ** (base + k * p['step']):.12g}")} for k in (1, 2)]
                    steps += [{n: top[n] if at_cell else p["low"]}]
            elif n == "memory":
                steps += [{n: 3}, {n: 4}, {n: top.get(n, 5)}]
            elif n == "relax_rule":
                steps += [{n: False}, {n: True}]
            elif n == "eps":
                steps += [{n: 1e-9}, {n: 1e-3}, {n: top.get(n, 1e-6)}]
            elif n == "seed":
                steps += [{n: 1}, {n: 2}, {n: 0}]
            elif n in ("layer", "position"):
                low, high = (0, T + 1) if n == "layer" else (1, T)
                steps += [{n: v} for v in (low, high // 4, high // 2, 3 * high // 4, high)]
            elif n == "token" or n == "target":
                steps += [{n: 1}, {n: 0}]
            elif n == "normalize":
                steps += [{n: False}, {n: True}]
            elif n == "relax":
                steps += [{n: 0.5}, {n: 0.05}, {n: 1.0}]
    return steps


def build_site(directory: Path) -> None:
    static = directory / "_static" / "dualfilter"
    shutil.copytree(sphinxext.web_files(), static, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(sphinxext.plotly_js(), static / "plotly.min.js")
    (directory / "book").mkdir()
    for name, cell in CELLS.items():
        ex = getattr(explore, name)(**cell)
        assert ex.status == "", ex.status
        (directory / "book" / f"{name}.html").write_text(
            "<!doctype html><html><head><meta charset='utf-8'><link rel='icon' href='data:,'>"
            "<script type='module' src='../_static/dualfilter/twins.js'></script></head>"
            "<body style='max-width:900px;margin:auto'>" + ex.twin().html() + "</body></html>",
            encoding="utf-8")


RUN = """
const done = arguments[arguments.length - 1];
const [name, top, steps] = [arguments[0], arguments[1], arguments[2]];
(async () => {
  while (!window.dualfilterTwinsStarted) await new Promise((r) => setTimeout(r, 20));
  const ex = window.dualfilterExplorers.find((e) => e.name === name);
  await ex.draw();
  await ex.set(top);
  const warm = "seed" in ex.state().params
    ? [{seed: 10}, {seed: 11}, {seed: 12}, {seed: 0}]
    : [{text: top.text.slice(0, -3)}, {text: top.text.slice(0, -4)}, {text: top.text}];
  for (const step of warm) await ex.set(step);       // warm-up (JIT)
  const out = [];
  for (const step of steps) {
    const t0 = performance.now();
    await ex.set(step);
    const ms = performance.now() - t0;
    await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));   // let it paint
    const last = ex.timings[ex.timings.length - 1];
    out.push({step, ms, compute_ms: last.compute, draw_ms: last.draw});
  }
  return out;
})().then(done, (e) => done("error: " + e.message));
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="passes over the controls")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "live_latency.json"))
    parser.add_argument("--only", nargs="*", default=list(CELLS), choices=list(CELLS),
                        help="the explorers to time (default: all)")
    parser.add_argument("--at-cell", action="store_true",
                        help="time the changes around the chapter cell's parameters (the default "
                             "size) instead of the largest settings")
    args = parser.parse_args()

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    site = Path(tempfile.mkdtemp(prefix="dualfilter-live-bench-"))
    profile = tempfile.mkdtemp(prefix="dualfilter-live-bench-profile-")
    build_site(site)
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 f"--user-data-dir={profile}", "--window-size=1280,1000",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    driver.set_script_timeout(900)
    results = {}
    try:
        for name in args.only:
            spec = explore.parameter_spec(name)
            if args.at_cell:
                top = dict(CELLS[name])
            else:
                top = largest(spec)
                top.update({p["name"]: (top.get("T", 100) + 1) for p in spec if p["name"] == "layer"})
            steps = changes(name, spec, top, args.rounds, at_cell=args.at_cell)
            driver.get(f"http://127.0.0.1:{server.server_address[1]}/book/{name}.html")
            out = driver.execute_async_script(RUN, name, top, steps)
            if isinstance(out, str):
                raise RuntimeError(f"{name}: {out}")
            ms = np.array([o["ms"] for o in out])
            per_control = {}
            for o in out:
                per_control.setdefault(next(iter(o["step"])), []).append(o["ms"])
            results[name] = {
                "largest_settings": top, "changes": len(ms),
                "median_ms": float(np.median(ms)), "p95_ms": float(np.percentile(ms, 95)),
                "max_ms": float(ms.max()),
                "per_control_median_ms": {k: float(np.median(v)) for k, v in per_control.items()},
                "within_budget": bool(np.median(ms) <= BUDGET["median_ms"]
                                      and np.percentile(ms, 95) <= BUDGET["p95_ms"]),
                "timings": out,
            }
            r = results[name]
            print(f"{name:32s} {r['changes']:4d} changes  median {r['median_ms']:6.1f} ms  "
                  f"p95 {r['p95_ms']:6.1f} ms  max {r['max_ms']:6.1f} ms  "
                  f"{'ok' if r['within_budget'] else 'OVER BUDGET'}")
            slow = sorted(r["per_control_median_ms"].items(), key=lambda kv: -kv[1])[:4]
            print("    slowest controls (median ms):", ", ".join(f"{k} {v:.1f}" for k, v in slow))
            print(f"    median compute {np.median([o['compute_ms'] for o in out]):.1f} ms, "
                  f"median draw {np.median([o['draw_ms'] for o in out]):.1f} ms")
        version = driver.capabilities.get("browserVersion")
    finally:
        driver.quit()
        server.shutdown()
        shutil.rmtree(site, ignore_errors=True)
        shutil.rmtree(profile, ignore_errors=True)
    record = {
        "what": "live explorers: set() to the end of Plotly.react, at the "
                + ("chapter cells' parameters" if args.at_cell else "largest settings"),
        "budget": BUDGET, "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "load_average": os.getloadavg(), "chromium": version},
        "command": "python benchmarks/live_latency.py"
                   + (" --at-cell" if args.at_cell else "")
                   + ("" if args.only == list(CELLS) else " --only " + " ".join(args.only)),
        "explorers": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=1))
    print("wrote", args.out)


if __name__ == "__main__":
    main()

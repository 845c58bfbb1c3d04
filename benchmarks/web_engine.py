"""Time of the JavaScript engine (src/dualfilter/explore/web/engine.js) in headless Chromium.

For each live explorer, the heaviest engine work of a change at the explorer's largest
settings: a model change (new seed), which recomputes everything the explorer shows
(benchmarks/web_engine_bench.js mirrors each explorer's data). Drawing is not included: the
live explorers' budget (issue 10) is median <= 50 ms and p95 <= 100 ms per change including
drawing, so the engine's share should stay well below it.

Run: ``python benchmarks/web_engine.py [--repeats 30] [--out benchmarks/results/web_engine.json]``
(needs Debian's chromium and chromium-driver). Prints median, p95 and max in ms.
"""

from __future__ import annotations

import argparse
import datetime
import http.server
import json
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "src" / "dualfilter" / "explore" / "web" / "engine.js"
BENCH = Path(__file__).with_name("web_engine_bench.js")
PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">
</head><body><script type="module">
import * as bench from "./bench.js"; window.bench = bench; window.ready = true;
</script></body></html>"""

MODEL = dict(n_states=10, n_tokens=10, T=100, stickiness=0.99, emission_concentration=0.03,
             seed=0)
CASES = [
    # (label, explorer, parameters): the largest settings of every control
    ("filter: model change, d=10, n=10, T=100", "filterExplorer", MODEL),
    ("fixed point: model change, d=10, T=100, normalised", "fixedPointExplorer",
     {**MODEL, "n_tokens": 4, "layer": 101, "normalize": True, "relax": 1.0}),
    ("fixed point: model change, d=10, T=100, raw, relax 0.05", "fixedPointExplorer",
     {**MODEL, "n_tokens": 4, "layer": 101, "normalize": False, "relax": 0.05}),
    ("simplex: model change, d=3, T=60", "simplexExplorer",
     {**MODEL, "n_states": 3, "n_tokens": 4, "T": 60, "layer": 30}),
    ("attention: model change, d=10, n=10, T=100", "attentionExplorer",
     {**MODEL, "layer": 101, "token": 0}),
    ("linear vs nonlinear: model change, d=10, n=10, T=100, 64 MC paths",
     "linearVsNonlinearExplorer",
     {**MODEL, "emission_concentration": 0.05, "target": 0, "mc_paths": 64}),
    ("linear vs nonlinear: model change, d=3, n=3, T=9 (exact MMSE, 19683 sequences)",
     "linearVsNonlinearExplorer",
     {**MODEL, "n_states": 3, "n_tokens": 3, "T": 9, "emission_concentration": 0.05,
      "target": 0, "mc_paths": 64}),
    ("linear vs nonlinear: d=10, n=10, T=100, 2000 MC paths (set() only)",
     "linearVsNonlinearExplorer",
     {**MODEL, "emission_concentration": 0.05, "target": 0, "mc_paths": 2000}),
    ("depth (prospective): d=16, n=10, T=400, 401 layers, relax 1", "depthExplorer",
     {**MODEL, "n_states": 16, "T": 400, "stickiness": 0.95, "emission_concentration": 0.1,
      "relax": 1.0}),
    ("depth (prospective): d=16, n=10, T=400, 401 layers, relax 0.5", "depthExplorer",
     {**MODEL, "n_states": 16, "T": 400, "stickiness": 0.95, "emission_concentration": 0.1,
      "relax": 0.5}),
]


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        files = {"/engine.js": ENGINE, "/bench.js": BENCH}
        path = self.path.split("?")[0]
        if path in files:
            body, kind = files[path].read_bytes(), "text/javascript"
        elif path in ("/", "/index.html"):
            body, kind = PAGE, "text/html"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


def run(repeats: int = 30) -> dict:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    profile = tempfile.mkdtemp(prefix="dualfilter-bench-")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--no-first-run", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options,
                              service=Service(executable_path=shutil.which("chromedriver")))
    driver.set_script_timeout(600)
    results = []
    try:
        driver.get(f"http://127.0.0.1:{server.server_address[1]}/")
        driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            (function poll() { if (window.ready) done(); else setTimeout(poll, 20); })();""")
        version = driver.capabilities.get("browserVersion", "?")
        for label, name, params in CASES:
            driver.execute_script("window.bench.time(arguments[0], arguments[1], 3);", name, params)
            times = driver.execute_script(
                "return window.bench.time(arguments[0], arguments[1], arguments[2]);",
                name, params, repeats)
            t = np.array(times)
            row = dict(label=label, explorer=name, params=params, repeats=repeats,
                       median_ms=float(np.median(t)), p95_ms=float(np.percentile(t, 95)),
                       max_ms=float(t.max()))
            results.append(row)
            print(f"{label:80s} median {row['median_ms']:7.1f}  p95 {row['p95_ms']:7.1f}  "
                  f"max {row['max_ms']:7.1f} ms", flush=True)
    finally:
        driver.quit()
        server.shutdown()
        server.server_close()
        shutil.rmtree(profile, ignore_errors=True)
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    return dict(date=datetime.datetime.now().isoformat(timespec="seconds"), commit=commit,
                browser=f"Chromium {version} (headless)", machine=platform.machine(),
                cpus=os.cpu_count(), load_average=os.getloadavg(),
                note="engine time only (no drawing); a model change (new seed) per repetition",
                results=results)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "web_engine.json")
    args = parser.parse_args()
    data = run(args.repeats)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

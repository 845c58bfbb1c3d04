"""The JavaScript engine of the live explorers (src/dualfilter/explore/web/engine.js) in Chromium.

The engine is loaded as an ES module by a tiny page served on 127.0.0.1 together with the
test driver tests/book/web_engine_runner.js, in headless Chromium (selenium). For many models,
including the extremes of the explorers' controls (stickiness 0.99, emission concentration
0.03, d = 10, n_tokens = 10, T = 100, raw mode, relax < 1, and the depth chapter's d = 16,
T = 400), the driver calls every engine function and exports the model, the path and the
outputs as JSON; tests/book/web_engine_compare.py recomputes each with the Python package on
that model and those tokens and requires agreement to 1e-9 (relative to the largest
magnitude where values are huge).

One comparison needs care: with relax < 1 (and in raw mode) the dual filter amplifies rounding
differences over the layers (a relative perturbation of 1e-16 of the start moves the
package's own layers by up to ~1e-8 on sticky informative models; raw, by 1e-3 of their
size). There, every layer is checked as one application of the package's map to the engine's
previous layer (to 1e-9), and the whole history against ``df.dual_filter`` to 1e-9 or to 100
times the package's own sensitivity to such a perturbation, whichever is larger.

Also: determinism (same seed, same model), the moments of the Dirichlet and log-Gamma
samplers (fixed seeds, 5 standard errors), the Jacobi pseudo-inverse against numpy, and
that bad arguments throw errors naming them.

Chromium (Debian ``chromium`` and ``chromium-driver``) is required in CI (``CI=true``): there a
missing browser fails the tests; elsewhere they skip.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from pathlib import Path

import numpy as np
import pytest
from scipy import special

import dualfilter as df
from chromium import headless_chromium
from web_engine_compare import compare_case, compare_depth, compare_rule, mismatch, model_of

browser = pytest.mark.book   # every test here is under tests/book (marker book) anyway

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "src" / "dualfilter" / "explore" / "web" / "engine.js"
RUNNER = Path(__file__).with_name("web_engine_runner.js")
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>engine test</title><link rel="icon" href="data:,"></head><body>
<script>window.addEventListener("error", (e) => { window.loadError = String(e.message); });</script>
<script type="module">
import * as runner from "./runner.js";
window.runner = runner;
window.engineReady = true;
</script></body></html>
"""
FILES = {"/": ("text/html", PAGE.encode()), "/index.html": ("text/html", PAGE.encode())}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/engine.js":
            body, kind = ENGINE.read_bytes(), "text/javascript"
        elif path == "/runner.js":
            body, kind = RUNNER.read_bytes(), "text/javascript"
        elif path in FILES:
            kind, body = FILES[path]
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


@pytest.fixture(scope="module")
def page():
    """Headless Chromium on the engine's test page; yields a function calling runner.<name>."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with contextlib.ExitStack() as stack:
        stack.callback(server.server_close)
        stack.callback(server.shutdown)
        driver = stack.enter_context(headless_chromium("the engine tests", page_timeout=300,
                                                       script_timeout=300))
        driver.get(f"http://127.0.0.1:{server.server_address[1]}/")
        ready = driver.execute_async_script("""
            const done = arguments[arguments.length - 1], start = Date.now();
            (function poll() {
              if (window.engineReady) done("ok");
              else if (window.loadError || Date.now() - start > 20000)
                done("engine did not load: " + window.loadError);
              else setTimeout(poll, 50);
            })();""")
        if ready != "ok":
            logs = driver.get_log("browser")
            pytest.fail(f"{ready}; console: {logs}")

        def call(name, *args):
            text = driver.execute_script(
                "return JSON.stringify(window.runner[arguments[0]](...arguments[1]));", name,
                list(args))
            return json.loads(text)

        call.driver = driver
        yield call
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not severe, f"console errors: {severe}"


# --------------------------------------------------------------------------- models

def _cases() -> list[dict]:
    """The extremes of the explorers' controls, then random draws over their ranges."""
    cases = [
        # every explorer's extreme: sticky, informative, largest d, n and T
        dict(d=10, n=10, T=100, stickiness=0.99, emission=0.03, seed=1, mcPaths=16),
        dict(d=10, n=10, T=100, stickiness=0.99, emission=0.03, seed=7),
        dict(d=10, n=10, T=100, stickiness=0.0, emission=30.0, seed=2),
        dict(d=10, n=2, T=100, stickiness=0.99, emission=30.0, seed=3),
        dict(d=2, n=10, T=100, stickiness=0.99, emission=0.03, seed=4),
        dict(d=2, n=2, T=1, stickiness=0.0, emission=0.03, seed=0, exact=True, mcPaths=8),
        dict(d=3, n=2, T=0, stickiness=0.5, emission=1.0, seed=3, exact=True, mcPaths=4),
        # the simplex explorer: 3 states, T up to 60
        dict(d=3, n=4, T=60, stickiness=0.99, emission=0.03, seed=11),
        dict(d=3, n=4, T=20, stickiness=0.8, emission=0.3, seed=0),
        # the linear-vs-nonlinear explorer: exact MMSE (n^T <= 20000) and Monte Carlo
        dict(d=3, n=3, T=8, stickiness=0.8, emission=0.2, seed=0, exact=True, mcPaths=64),
        dict(d=4, n=2, T=14, stickiness=0.9, emission=0.05, seed=5, exact=True, mcPaths=32),
        dict(d=10, n=10, T=100, stickiness=0.8, emission=0.05, seed=9, mcPaths=64),
        # the depth chapter's sizes (a subset of layers exported)
        dict(d=16, n=10, T=400, stickiness=0.95, emission=0.1, seed=0, relaxes=[1],
             layers=[0, 1, 2, 3, 200, 201, 399, 400, 401]),
    ]
    rng = np.random.default_rng(20240611)
    for k in range(24):
        T = int(rng.integers(1, 101))
        cases.append(dict(
            d=int(rng.integers(2, 11)), n=int(rng.integers(2, 11)), T=T,
            stickiness=float(np.round(rng.uniform(0, 0.99), 2)),
            emission=float(10 ** rng.uniform(np.log10(0.03), np.log10(30))),
            seed=int(rng.integers(0, 1000)), mcPaths=8 if k % 4 == 0 else 0))
    for case in cases:        # big histories: export a few layers (the rest is checked in JS)
        if "layers" not in case and case["T"] >= 30:
            T = case["T"]
            case["layers"] = sorted({0, 1, 2, 3, T // 2, T // 2 + 1, T, T + 1})
    return cases


CASES = _cases()


def _id(case):
    return "d{d}-n{n}-T{T}-s{stickiness}-c{emission:.3g}-seed{seed}".format(**case)


@browser
@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_engine_agrees_with_package(page, case):
    out = page("runCase", case)
    problems = compare_case(out)
    assert not problems, "\n".join(problems)
    # every finite run of the explorers' sizes is there: the normalised filter always is
    assert all(e["ok"] for e in out["filters"] if e["normalize"]), out["filters"]
    # T+1 layers of the relax = 1 iteration reproduce the forward algorithm (exactness)
    for entry in out["filters"]:
        if entry["ok"] and entry["relax"] == 1 and entry["layers"][-1] == case["T"] + 1:
            assert mismatch("layer T+1", entry["history"][-1], out["pi"]) is None


DEPTH_CASES = [
    # the depth explorer's defaults, then the extremes of its controls (explore/depth.py)
    dict(d=8, n=8, T=100, stickiness=0.8, emission=1.0, transition=1.0, seed=0, memory=5,
         relax=None, eps=1e-6),
    dict(d=16, n=10, T=400, stickiness=0.95, emission=0.1, transition=1.0, seed=0, memory=5,
         relax=None, eps=1e-6),
    dict(d=16, n=10, T=200, stickiness=0.99, emission=0.03, transition=0.03, seed=1, memory=10,
         relax=None, eps=1e-12),
    dict(d=2, n=2, T=20, stickiness=0.0, emission=30.0, transition=30.0, seed=2, memory=1,
         relax=0.05, eps=1e-2),
    dict(d=5, n=3, T=100, stickiness=0.95, emission=0.1, transition=0.3, seed=3, memory=3,
         relax=1.0, eps=1e-9),
    dict(d=3, n=4, T=60, stickiness=0.5, emission=0.3, transition=3.0, seed=4, memory=2,
         relax=0.5, eps=1e-6),
]


@browser
@pytest.mark.parametrize("case", DEPTH_CASES, ids=[
    "depth-d{d}-T{T}-s{stickiness}-c{emission}-tc{transition}-m{memory}-a{relax}".format(**c)
    for c in DEPTH_CASES])
def test_depth_solvers_scan_and_rule_agree_with_package(page, case):
    """solverErrors (Jacobi, damped, Anderson), dampedRelaxation and scanLevels against
    solve_fixed_point, damped_relaxation and parallel_scan(return_levels=True)."""
    from dualfilter.solvers import damped_relaxation

    out = page("depthCase", case)
    problems = compare_depth(out)
    hmm, tokens = model_of(out), np.array(out["tokens"])
    a, q = damped_relaxation(hmm)
    problems += compare_rule(hmm, out["rule"]["relax"])
    problem = mismatch("rule q", [out["rule"]["q"]], [q], tol=1e-12)
    if problem:
        problems.append(problem)
    _, levels = df.parallel_scan(hmm, tokens, return_levels=True)
    problem = mismatch("scan levels", out["levels"], levels, tol=1e-12)
    if problem:
        problems.append(problem)
    assert not problems, "\n".join(problems)


@browser
def test_sampler_agrees_with_forward_in_distribution(page):
    """Tokens sampled by the engine have the law the forward algorithm gives them.

    For a 2-state, 2-token model and T = 3, the 8 sequences' empirical frequencies over
    20000 paths (the Monte Carlo paths of mcMmse, seeds [seed, k]) match
    exp(log_likelihood) within 5 standard errors.
    """
    out = page("runCase", dict(d=2, n=2, T=3, stickiness=0.5, emission=0.5, seed=3,
                               mcPaths=20000, relaxes=[1]))
    hmm = model_of(out)
    paths = np.array(out["mcPaths"])
    codes = paths @ (2 ** np.arange(3)[::-1])
    freq = np.bincount(codes, minlength=8) / len(paths)
    seqs = [[(c >> 2) & 1, (c >> 1) & 1, c & 1] for c in range(8)]
    prob = np.exp([df.log_likelihood(hmm, np.array(s)) for s in seqs])
    se = np.sqrt(prob * (1 - prob) / len(paths))
    assert np.all(np.abs(freq - prob) <= 5 * se + 1e-12), (freq, prob)


# --------------------------------------------------------------------------- samplers

@browser
@pytest.mark.parametrize("alpha", [0.01, 0.03, 0.3, 1.0, 5.0, 300.0])
def test_dirichlet_and_gamma_moments(page, alpha):
    """Dirichlet(alpha) rows and log-Gamma(alpha) variates have the right moments.

    Fixed seeds make this deterministic; each statistic is required within 5 standard
    errors (estimated from the sample itself), a bound a correct sampler misses with
    probability below 1e-6 per statistic. Dirichlet: E X_i = 1/K, Var X_i =
    (1/K)(1 - 1/K)/(K alpha + 1); log G: E = digamma(alpha), Var = trigamma(alpha). For tiny
    alpha most Gammas lie far below 1e-308: the log-space boost keeps them.
    """
    K, N = 4, 20000
    draws = page("samplerDraws", dict(alpha=alpha, rows=N, cols=K, count=N, seed=[17, 1]))
    x = np.array(draws["dirichlet"])
    assert x.shape == (N, K)
    assert np.all(x >= 0) and np.all(np.abs(x.sum(axis=1) - 1) <= 1e-12)
    assert np.all(x.max(axis=1) > 0)               # no row underflows to all zeros
    mean, var = 1 / K, (1 / K) * (1 - 1 / K) / (K * alpha + 1)

    def within(sample, value, what):
        centred = sample - sample.mean()
        z_mean = (sample.mean() - value[0]) / (sample.std() / np.sqrt(len(sample)))
        m4 = np.mean(centred**4)
        s2 = np.mean(centred**2)
        z_var = (s2 - value[1]) / np.sqrt(max(m4 - s2**2, 1e-300) / len(sample))
        assert abs(z_mean) < 5 and abs(z_var) < 5, (what, alpha, z_mean, z_var)

    for i in range(K):
        within(x[:, i], (mean, var), f"Dirichlet component {i}")
    logg = np.array(draws["logGamma"])
    assert np.all(np.isfinite(logg))
    within(logg, (special.digamma(alpha), special.polygamma(1, alpha)), "log Gamma")


@browser
def test_determinism(page):
    """Same seed, same model and path (bitwise); another seed, another model."""
    out = page("determinism", dict(d=5, n=4, stickiness=0.3, emission=0.1, seed=42))
    assert out["a"] == out["b"] and out["pathA"] == out["pathB"]
    assert out["a"]["A"] != out["c"]["A"] and out["a"]["C"] != out["c"]["C"]
    assert out["uniformsA"] == out["uniformsB"]          # seed n and [n] are the same seed
    assert out["uniformsA"] != out["uniformsC"]
    u = np.array(out["uniformsA"])
    assert np.all((u >= 0) & (u < 1)) and len(set(u)) == len(u)
    # a second page load gives the same model: nothing depends on the session
    page.driver.refresh()
    page.driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        (function poll() { if (window.engineReady) done(); else setTimeout(poll, 20); })();""")
    again = page("determinism", dict(d=5, n=4, stickiness=0.3, emission=0.1, seed=42))
    assert again["a"] == out["a"]


# --------------------------------------------------------------------------- linear algebra

@browser
def test_pseudo_inverse_against_numpy(page):
    """Jacobi eigenvalues and the pseudo-inverse of symmetric matrices, singular ones too.

    The cutoff is 1e-12 * max(1, max |eigenvalue|); the matrices here have eigenvalues either
    far above it or exactly zero, where numpy's pinv (rcond 1e-12) agrees.
    """
    rng = np.random.default_rng(5)
    mats = []
    for n in (1, 2, 3, 5, 10, 16):
        B = rng.standard_normal((n, n))
        mats.append(B @ B.T)                                  # positive definite
        r = max(1, n // 2)
        G = rng.standard_normal((n, r))
        mats.append(G @ G.T)                                  # rank r
        S = B + B.T
        mats.append(1e-3 * S)                                 # indefinite, small
    mats.append(np.diag([3.0, 0.0, 1e-6]))
    mats.append(np.zeros((3, 3)))
    out = page("linearAlgebra", [m.tolist() for m in mats])
    for M, res in zip(mats, out):
        n = M.shape[0]
        values = np.array(res["values"])
        V = np.array(res["vectors"]).reshape(n, n)
        scale = max(1.0, np.abs(M).max())
        assert mismatch("eigenvalues", np.sort(values), np.linalg.eigvalsh(M), scale=scale) is None
        assert mismatch("V^T V", V.T @ V, np.eye(n)) is None
        assert mismatch("V diag V^T", V @ np.diag(values) @ V.T, M, scale=scale) is None
        want = np.linalg.pinv(M, rcond=1e-12, hermitian=True)
        problem = mismatch("pinv", np.array(res["pinv"]).reshape(n, n), want,
                           tol=1e-9 * np.linalg.cond(M) if np.linalg.matrix_rank(M) == n else 1e-9,
                           scale=max(np.abs(want).max(), 1.0))
        assert problem is None, problem


# --------------------------------------------------------------------------- validation

BAD_CALLS = [
    # (function, arguments, the argument the error must name, a fragment of the message)
    ("randomHmm", [0, 3, {"seed": 0}], "nStates", "nStates must lie in"),
    ("randomHmm", [3.5, 3, {"seed": 0}], "nStates", "must be an integer"),
    ("randomHmm", [3, 3, {}], "seed", "seed is required"),
    ("randomHmm", [3, 3, {"seed": -1}], "seed", "seed must be an integer"),
    ("randomHmm", [3, 3, {"seed": 0, "stickiness": 1.5}], "stickiness", "[0, 1]"),
    ("randomHmm", [3, 3, {"seed": 0, "stickiness": "0.5"}], "stickiness", "finite number"),
    ("randomHmm", [3, 3, {"seed": 0, "emissionConcentration": 0}], "emissionConcentration", "positive"),
    ("randomHmm", [3, 3, {"seed": 0, "colour": 1}], "colour", "unknown option"),
    ("makeHmm", [[[0.5, 0.6], [0.5, 0.5]], [[1, 0], [0, 1]], [0.5, 0.5]], "A", "row 0 of A sums to"),
    ("makeHmm", [[[1.5, -0.5], [0.5, 0.5]], [[1, 0], [0, 1]], [0.5, 0.5]], "A", "negative"),
    ("makeHmm", [[[1, 0], [0, 1]], [[1, 0]], [0.5, 0.5]], "C", "2 rows"),
    ("makeHmm", [[[1, 0], [0, 1]], [[1, 0], [0, 1]], [1]], "mu", "length 2"),
    ("makeHmm", [[[1, 0], [0, 1]], [[1, 0], [0, 1]], [0.5, None]], "mu", "mu[1] must be a finite number"),
    ("sample", ["$hmm", -1, 0], "T", "T must lie in"),
    ("sample", ["$hmm", 5, 0.5], "seed", "seed must be an integer"),
    ("sample", [{"A": 1}, 5, 0], "hmm", "hmm must be an object"),
    ("predict", ["$hmm", [0, 3]], "tokens", "outside the vocabulary 0..2"),
    ("predict", ["$hmm", [0, 1.5]], "tokens", "tokens[1] must be an integer"),
    ("predict", ["$hmm", "012"], "tokens", "tokens must be an array"),
    ("forward", [{"A": [[1, 0], [0, 1]], "C": [[1, 0], [1, 0]], "mu": [0.5, 0.5]}, [1]], "tokens",
     "column 1 of C is zero"),
    ("forward", [{"A": [[1, 0], [0, 1]], "C": [[1, 0], [0, 1]], "mu": [1, 0]}, [1]], "tokens",
     "zero probability under the model given the tokens before it"),
    ("priorMeasures", ["$hmm", 1e12], "T", "T must lie in"),
    ("layerMap", ["$hmm", [0, 1], [[1, 0, 0], [1, 0, 0]]], "rho", "rho must have 3 rows"),
    ("layerMap", ["$hmm", [0], [[1, 0, 0], [1, 0]]], "rho", "row 1 of rho must have length 3"),
    ("layerMap", ["$hmm", [0], [[1, 0, 0], [1, 0, 0]], {"normalize": "false"}], "normalize",
     "true or false"),
    ("dualFilter", ["$hmm", [0, 1], 3, {"relax": 0}], "relax", "relax must lie in (0, 1]"),
    ("dualFilter", ["$hmm", [0, 1], 3, {"relax": True}], "relax", "finite number"),
    ("dualFilter", ["$hmm", [0, 1], -1], "layers", "layers must lie in"),
    ("dualFilter", ["$hmm", [0, 1], 10 ** 7], "layers", "layers must lie in"),
    ("dualFilter", ["$hmm", [0] * 1000, 10 ** 4], "layers", "exceeds"),
    ("dualFilter", ["$hmm", [0, 1], 3, {"init": "uniform"}], "init", 'init must be "prior"'),
    ("dualFilter", ["$hmm", [0, 1], 3, {"normalize": 1}], "normalize", "true or false"),
    ("l1Errors", [[], [[1]]], "history", "non-empty"),
    ("dualFilterErrors", ["$hmm", [0, 1], 3, [[1, 0, 0]]], "target", "3 rows"),
    ("dualFilterErrors", ["$hmm", [0, 1], 3, [[1, 0, 0]] * 3, {"relax": 2}], "relax", "(0, 1]"),
    ("contributions", ["$hmm", [0], [[1, 0, 0], [1, 0, 0]], [1, 0]], "f", "length 3"),
    ("simplexXY", [[[0.5, 0.5]]], "rho", "length 3"),
    ("dualBackward", ["$hmm", [1, 0, 0], None], "T", "pass the horizon T"),
    ("dualBackward", ["$hmm", [1, 0, 0], [[0, 0]]], "u", "length 3"),
    ("optimalControl", ["$hmm", [0, 1], [1, 0]], "f", "length 3"),
    ("controlCost", ["$hmm", [1, 0, 0], None], "u", "u must be an array"),
    ("estimate", ["$hmm", [0, 1], [1, 0, 0], [[0, 0, 0]]], "U", "1 rows but T = 2"),
    ("linearPredictor", ["$hmm", -2], "T", "T must lie in"),
    ("linearMse", [{"T": 1}, [1, 0, 0]], "lp", "result of linearPredictor"),
    ("linearEstimate", ["$lp", [0, 1], [1, 0, 0]], "tokens", "length T = 4"),
    ("linearEstimates", ["$lp", [0, 1, 2, 0, 1]], "tokens", "at most T = 4"),
    ("mmseExact", ["$hmm", [1, 0, 0], 40], "T", "too many to enumerate"),
    ("mcMmse", ["$lp", [1, 0, 0], 0, 0], "paths", "paths must lie in"),
    ("pinvSymmetric", [[[1, 2]]], "M", "square"),
    ("dirichletRows", [-1, 2, 2, 0], "alpha", "positive"),
    ("uniforms", [[], 3], "seed", "non-empty"),
    ("solverErrors", ["$hmm", [0, 1], [[1, 0, 0]] * 3, {"method": "newton"}], "method", "jacobi, damped, anderson"),
    ("solverErrors", ["$hmm", [0, 1], [[1, 0, 0]] * 3, {"method": "jacobi", "relax": 0.5}], "relax",
     '"jacobi" is relax = 1'),
    ("solverErrors", ["$hmm", [0, 1], [[1, 0, 0]] * 3, {"method": "damped", "relax": 0}], "relax", "(0, 1]"),
    ("solverErrors", ["$hmm", [0, 1], [[1, 0, 0]] * 3, {"method": "anderson", "memory": 0}], "memory",
     "memory must lie in"),
    ("solverErrors", ["$hmm", [0, 1], [[1, 0, 0]] * 2], "target", "3 rows"),
    ("solverErrors", ["$hmm", [0, 1], [[1, 0, 0]] * 3, {"tol": 1}], "tol", "unknown option"),
    ("scanLevels", ["$hmm", [0, 7]], "tokens", "outside the vocabulary"),
    ("dampedRelaxation", [{"A": 1}], "hmm", "hmm must be an object"),
]


@browser
@pytest.mark.parametrize("name,args,argument,fragment", BAD_CALLS,
                         ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(BAD_CALLS)])
def test_bad_arguments_throw_errors_naming_them(page, name, args, argument, fragment):
    result = page("expectError", name, args)
    assert not result["ok"], f"{name}{tuple(args)} did not throw"
    assert result["argument"] == argument, result
    assert fragment in result["error"] and result["error"].startswith(name + ":"), result


@browser
def test_raw_overflow_is_an_error_not_a_nan(page):
    """A raw iteration that leaves float64 throws (naming normalize), never returns NaN.

    Sticky informative model, T = 1200: the raw transient grows by ~1e29 per 100 positions;
    the package refuses the same model and tokens too.
    """
    result = page("rawRun", dict(d=10, n=10, T=1200, stickiness=0.99, emission=0.03, seed=0))
    assert not result["ok"], "the raw iteration was expected to overflow"
    assert result["argument"] == "normalize" and "overflowed at layer" in result["error"], result
    hmm = model_of(result)
    with pytest.raises(ValueError, match="overflowed"):
        df.dual_filter(hmm, np.array(result["tokens"]), 1201, normalize=False)


@browser
def test_normalisation_and_bayes_edge_cases(page):
    """P and the Bayes step where the package's plain formulas fail or fall back.

    - P of a subnormal or zero mass: divided by the mass (never multiplied by 1/mass, which
      overflows), or the uniform law when no entry is positive;
    - evidence exactly zero: the package's fallback C_z / sum(C_z), compared with the package;
    - evidence of 1e-300 (terms 1e-300 and 1e-320, the second subnormal): the log-space Bayes
      step gives the posterior (1 - 1e-20, 1e-20) where the plain ratio would be inaccurate;
    - a layer whose inputs have subnormal mass stays finite.
    """
    out = page("edgeCases")
    assert out["projectSubnormal"] == [1.0, 0.0, 0.0]
    assert out["projectTinyMass"] == [0.25, 0.75, 0.0]
    assert out["projectZeroMass"] == [0.25] * 4
    case = out["zeroEvidence"]
    hmm = model_of(case)
    for normalize in (True, False):
        want = df.fixed_point_map(hmm, np.array(case["tokens"]), np.array(case["rho"]),
                                  normalize=normalize)
        assert mismatch("zero evidence", case["map"][str(normalize).lower()], want) is None
        # the fallback posterior C_1 / sum(C_1) = (0, 1): N(rho)_1 = (mu - rho_0) + (0, 1)
        assert case["map"][str(normalize).lower()][1] == [0.0, 1.0]
    post = np.array(out["tinyEvidence"][1])
    assert abs(post[1] - 1e-20) <= 1e-12 * 1e-20 and abs(post[0] - 1) <= 1e-15
    assert mismatch("tiny evidence forward", out["tinyForward"],
                    df.predict(df.HMM(np.eye(2), [[1e-300, 1 - 1e-300], [1e-150, 1 - 1e-150]],
                                      [1, 1e-170]), [0])) is None
    assert np.all(np.isfinite(out["subnormalInput"]))


def test_engine_ships_with_the_package():
    """engine.js is package data of dualfilter (pyproject), next to the explorers."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    data = config["tool"]["setuptools"]["package-data"]["dualfilter.explore"]
    assert "web/*.js" in data and "web/explorers/*.js" in data
    assert ENGINE.exists()

"""The live explorers of the built pages (issue 10): every twin against the package, in Chromium.

The session build (fixture ``built_book``) is served on 127.0.0.1 and opened in headless
Chromium with every other host unresolvable. For every explorer of ``explore.EXPLORERS`` the
page that holds its twin (``ex.twin()``, found in the built HTML) is loaded and the twin is
driven through the contract ``window.dualfilterExplorers`` (names, ``set``, ``state``):

- at least 10 parameter combinations per explorer: the largest model (every size control at
  its maximum, stickiness at its maximum, concentration at its minimum), then every control
  at each end in turn (the layer at 0 and T+1, raw mode, relax at its minimum, ...), then
  random combinations (seeded); after each, ``state()`` is recomputed with the package on the
  exported model and tokens and must agree to 1e-9 (relative to the largest magnitude where
  values are large, as in test_web_engine);
- where the page shows the package's model (``source == "book"``: the cell's n_states,
  n_tokens and seed) the exported model must be ``random_hmm``'s and the path ``sample``'s;
- the dual filter with relax < 1 or in raw mode amplifies rounding differences over the
  layers (see tests/book/web_engine_compare.py), so the layer shown is checked as one
  application of the package's map to the page's previous layer (to 1e-9) and the whole
  history against ``df.dual_filter`` to 1e-9 or 100 times the package's own sensitivity to
  rounding-sized perturbations, whichever is larger; the Riccati quantities with the
  conditioning-aware tolerances of web_engine_compare;
- an invalid ``set`` shows the Python explorer's message on the page, rejects with it and
  leaves the parameters and the figure unchanged;
- every request the page made is to the site itself; the console shows no error;
- a screenshot of the twin after every change (artifacts/screenshots/live/), and at a 400 px
  wide window: the controls fit (no horizontal overflow) and a slider moved by the keyboard
  changes the explorer.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np
import pytest

import dualfilter as df
from dualfilter import brute_force, explore
from dualfilter.explore.linear_vs_nonlinear import CONCENTRATIONS, EXACT_SEQUENCES
from chromium import headless_chromium, serve
from web_engine_compare import TOL, _sensitivity, compare_depth, mc_mmse_on_paths, mismatch, \
    riccati_conditioning

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots" / "live"
COMBINATIONS = 12          # per explorer, at least 10 (the issue)
TEXT = ("If an expression list is present, it is evaluated, else None is substituted. "
        "\"return\" leaves the current function call with the expression list (or None) as "
        "return value. When return passes control out of a try statement with a finally "
        "clause, that finally clause is executed before really leaving the function.")
ALLOWED_CONSOLE_ERRORS = [  # as tests/book/test_browser.py, each explained there
    re.compile(r"Identifier 'THEBE_JS_URL' has already been declared"),
    re.compile(r"Got invalid theme mode: \. Resetting to auto"),
    re.compile(r"/favicon\.ico - Failed to load resource: .* 404"),
]


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def site(built_book):
    with serve(built_book) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with headless_chromium("the live explorer tests", page_timeout=90, script_timeout=120) as driver:
        yield driver


@functools.lru_cache(maxsize=None)
def _pages(built_book: Path) -> dict:
    """{factory name: page} for every twin in the built HTML."""
    found = {}
    for path in sorted(built_book.rglob("*.html")):
        for name in re.findall(r'class="dualfilter-twin" data-explorer="([a-z_]+)"',
                               path.read_text(encoding="utf-8")):
            found.setdefault(name, path.relative_to(built_book).as_posix())
    return found


START = """
const done = arguments[arguments.length - 1], start = Date.now();
(function poll() {
  if (window.dualfilterTwinsStarted) done(window.dualfilterExplorers.map((e) => e.name));
  else if (Date.now() - start > 60000) done("the twins did not start");
  else setTimeout(poll, 50);
})();
"""

CALL = """
const done = arguments[arguments.length - 1];
const [name, what, arg] = [arguments[0], arguments[1], arguments[2]];
const ex = window.dualfilterExplorers.find((e) => e.name === name);
(async () => {
  if (what === "draw") { await ex.draw(); return {ok: true}; }
  if (what === "state") return {ok: true, state: ex.state()};
  if (what === "set") {
    const before = JSON.stringify(ex.element.querySelector(".dft-plot").data);
    try {
      await ex.set(arg);
      return {ok: true, state: ex.state()};
    } catch (e) {
      const after = JSON.stringify(ex.element.querySelector(".dft-plot").data);
      return {ok: false, error: e.message, unchanged: before === after, state: ex.state(),
              shown: ex.element.querySelector(".dft-status").textContent};
    }
  }
})().then(done, (e) => done({ok: false, error: "driver: " + e.message}));
"""

RESOURCES = """
return performance.getEntriesByType("resource").map((e) => e.name)
  .concat([document.location.href]);
"""


def _open(browser, site, page):
    browser.get_log("browser")
    browser.get(f"{site}/{page}")
    names = browser.execute_async_script(START)
    assert isinstance(names, list), names
    return names


def _call(browser, name, what, arg=None):
    return browser.execute_async_script(CALL, name, what, arg)


def _shot(browser, name, tag):
    from selenium.webdriver.common.by import By

    SHOTS.mkdir(parents=True, exist_ok=True)
    element = browser.find_element(By.CSS_SELECTOR, f'div.dualfilter-twin[data-explorer="{name}"]')
    browser.execute_script("arguments[0].scrollIntoView();", element)
    path = SHOTS / f"{name}--{tag}.png"
    element.screenshot(str(path))
    return path


def _check_console_and_requests(browser, site):
    severe = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"
              and not any(p.search(e["message"]) for p in ALLOWED_CONSOLE_ERRORS)]
    assert not severe, "console errors:\n" + "\n".join(severe)
    outside = [u for u in browser.execute_script(RESOURCES)
               if not (u.startswith(site + "/") or u.startswith("data:") or u.startswith("blob:"))]
    assert not outside, f"requests that left the site: {outside}"


# --------------------------------------------------------------------------- combinations

def _resolve(value, params):
    if isinstance(value, dict) and "param" in value:
        return params[value["param"]] + value.get("offset", 0)
    return value


def _ends(p, params):
    """The two ends of a control under the current parameters."""
    if p["kind"] == "bool":
        return [False, True]
    if p["kind"] == "choice":
        options = (list(range(_resolve(p["options"]["range"], params)))
                   if isinstance(p["options"], dict) else p["options"])
        return [options[0], options[-1]]
    if p["kind"] == "text":               # the shortest and the longest text, of real words
        return [TEXT[: p["low"]], TEXT[: p["high"]]]
    return [_resolve(p["low"], params), _resolve(p["high"], params)]


def _random_value(p, params, rng):
    if p["kind"] == "text":               # a random stretch of TEXT, case changed at random
        n = int(rng.integers(p["low"], p["high"] + 1))
        start = int(rng.integers(0, len(TEXT) - n + 1))
        piece = TEXT[start: start + n]
        return piece.upper() if rng.random() < 0.3 else piece
    low, high = _ends(p, params)
    if p["kind"] == "bool":
        return bool(rng.integers(2))
    if p["kind"] == "choice":
        options = (list(range(_resolve(p["options"]["range"], params)))
                   if isinstance(p["options"], dict) else p["options"])
        return options[int(rng.integers(len(options)))]
    if p["kind"] == "int":
        return int(rng.integers(low, high + 1))
    if p["kind"] == "log":
        k = int(rng.integers(0, round((np.log10(high) - np.log10(low)) / p["step"]) + 1))
        return float(f"{10 ** (np.log10(low) + k * p['step']):.12g}")
    steps = round((high - low) / p["step"])
    return round(low + int(rng.integers(0, steps + 1)) * p["step"], 10)


def _largest(spec, params):
    """Every size at its maximum, stickiness at its maximum, concentration at its minimum."""
    big = {}
    for p in spec:
        if not p["control"]:
            continue
        low, high = _ends(p, {**params, **big})
        if p["name"] in ("n_states", "n_tokens", "T", "stickiness"):
            big[p["name"]] = high
        elif p["name"] == "emission_concentration":
            big[p["name"]] = low
    return big


def _moves(name, spec, current, rng):
    """The partial parameter changes for one explorer, in order; ``current`` (a dict the
    caller keeps up to date) gives the bounds that follow other parameters (the layer's T+1)."""
    controls = [p for p in spec if p["control"]]
    yield "largest", _largest(spec, current)
    for p in controls:
        for k, tag in ((0, "low"), (1, "high")):
            yield f"{p['name']}-{tag}", {p["name"]: _ends(p, current)[k]}
    raw = {"normalize": False, "relax": 0.05} if name == "fixed_point_explorer" else {}
    yield "largest-raw", {**_largest(spec, current), **raw}
    for k in range(COMBINATIONS):
        given = {}
        for p in controls:
            if rng.random() < 0.7:
                given[p["name"]] = _random_value(p, {**current, **given}, rng)
        yield f"random{k}", given


# --------------------------------------------------------------------------- recomputing

def _model(state):
    m = state["model"]
    return df.HMM(m["A"], m["C"], m["mu"])


def _close(problems, what, got, want, tol=TOL, scale=None):
    problem = mismatch(what, got, want, tol=tol, scale=scale)
    if problem:
        problems.append(problem)


def _check_book_model(state, problems, concentration=None):
    """Where the page says it shows the package's model, it is random_hmm's, sample's path."""
    p = state["params"]
    if state["source"] != "book":
        return
    c = p["emission_concentration"] if concentration is None else concentration
    hmm = df.random_hmm(p["n_states"], p["n_tokens"], seed=p["seed"], stickiness=p["stickiness"],
                        emission_concentration=c,
                        transition_concentration=p.get("transition_concentration", 1.0))
    page = _model(state)
    for key in ("A", "C", "mu"):
        if not np.array_equal(getattr(page, key), getattr(hmm, key)):
            err = np.abs(getattr(page, key) - getattr(hmm, key)).max()
            if err > 1e-15:
                problems.append(f"book model: {key} differs from random_hmm's by {err:.3g}")
    states, tokens = df.sample(hmm, p["T"], seed=p["seed"])
    if not (np.array_equal(states, state["states"]) and np.array_equal(tokens, state["tokens"])):
        problems.append("book model: the path is not df.sample's")


def _check_layer(state, rho, normalize, relax, problems, history_layers=None):
    """The iterate shown: one step of the package's map from the page's previous layer, and
    against the package's history within its own sensitivity to rounding."""
    hmm, tokens = _model(state), np.array(state["tokens"], dtype=np.int64)
    l = state["params"]["layer"]
    previous = state["extras"].get("rho_previous")
    if previous is not None:
        previous = np.array(previous)
        step = df.fixed_point_map(hmm, tokens, previous, normalize=normalize)
        want = step if relax == 1.0 else relax * step + (1 - relax) * previous
        _close(problems, f"rho (layer {l}) = one layer from the page's layer {l - 1}", rho, want,
               scale=max(np.abs(previous).max(), np.abs(want).max()))
    T = len(tokens)
    hist = df.dual_filter(hmm, tokens, T + 1, normalize=normalize, relax=relax, return_all=True)
    hist = np.concatenate([hist, np.repeat(hist[-1:], T + 2 - len(hist), axis=0)])
    tol = TOL
    if relax != 1.0 or not normalize:
        sensitivity = _sensitivity(hmm, tokens, {"normalize": normalize, "relax": relax}, hist)
        tol = max(TOL, 100 * sensitivity / max(1.0, np.abs(hist).max()))
    _close(problems, f"rho (layer {l}) against df.dual_filter", rho, hist[l], tol=tol,
           scale=np.abs(hist).max())
    return hist, tol


def recompute_filter(state):
    problems = []
    _check_book_model(state, problems)
    hmm, tokens = _model(state), np.array(state["tokens"], dtype=np.int64)
    out, T = state["outputs"], len(tokens)
    t = np.arange(T)
    _close(problems, "pi", out["pi"], df.predict(hmm, tokens))
    _close(problems, "observed_token_prob", out["observed_token_prob"],
           df.next_token_probs(hmm, tokens)[t, tokens])
    _close(problems, "prior_token_prob", out["prior_token_prob"],
           (hmm.prior_marginals(T) @ hmm.C)[t, tokens])
    if out["tokens"] != state["tokens"] or out["states"] != state["states"]:
        problems.append("tokens/states: outputs differ from the exported path")
    return problems


def recompute_linear_vs_nonlinear(state):
    problems = []
    _check_book_model(state, problems)
    p, out, extras = state["params"], state["outputs"], state["extras"]
    T = p["T"]
    f = np.eye(p["n_states"])[p["target"]]
    tokens = np.array(state["tokens"], dtype=np.int64)
    if out["concentrations"] != list(CONCENTRATIONS):
        problems.append("concentrations differ from CONCENTRATIONS")
    exact = p["n_tokens"] ** T <= EXACT_SEQUENCES
    eps = np.finfo(float).eps
    for k, (c, m) in enumerate(zip(CONCENTRATIONS, extras["models"])):
        hmm = df.HMM(m["A"], m["C"], m["mu"])
        if k == CONCENTRATIONS.index(p["emission_concentration"]):
            _close(problems, "the path's model", hmm.A, _model(state).A)
        if state["source"] == "book":
            book = df.random_hmm(p["n_states"], p["n_tokens"], seed=p["seed"],
                                 stickiness=p["stickiness"], emission_concentration=c)
            _close(problems, f"model {c}: A", hmm.A, book.A, tol=1e-15)
            _close(problems, f"model {c}: C", hmm.C, book.C, tol=1e-15)
        lp = df.linear_predictor(hmm, T)
        kappa, good = riccati_conditioning(lp)
        tol_sigma, tol_gain = max(TOL, 100 * eps * kappa), max(TOL, 1e4 * eps * kappa)
        if good == T:
            _close(problems, f"linear_mse[{c}]", out["linear_mse"][k], lp.mse(f), tol=tol_sigma)
        p_T = hmm.prior_marginals(T)[T]
        _close(problems, f"prior_var[{c}]", out["prior_var"][k], p_T @ f**2 - (p_T @ f) ** 2)
        if exact:
            _close(problems, f"mmse[{c}] (exact)", out["mmse"][k], brute_force.mmse(hmm, f, T))
        elif good == T and kappa <= 1e6:
            _close(problems, f"mmse[{c}] (Monte Carlo on the page's paths)", out["mmse"][k],
                   mc_mmse_on_paths(lp, f, extras["mc_paths"][k]), tol=tol_gain)
        if k == CONCENTRATIONS.index(p["emission_concentration"]):
            _close(problems, "pi", out["pi"], df.predict(hmm, tokens))
            _close(problems, "nonlinear", out["nonlinear"], df.predict(hmm, tokens) @ f)
            _close(problems, "truth", out["truth"], f[np.array(state["states"])])
            if kappa <= 1e6:
                m_t = lp.estimates(tokens)
                _close(problems, "linear", np.array(out["linear"])[: good + 1],
                       (m_t @ f)[: good + 1], tol=tol_gain)
    return problems


def recompute_simplex(state):
    problems = []
    _check_book_model(state, problems)
    hmm, tokens = _model(state), np.array(state["tokens"], dtype=np.int64)
    out = state["outputs"]
    pi = df.predict(hmm, tokens)
    rho = np.array(out["rho"])
    _close(problems, "pi", out["pi"], pi)
    _check_layer(state, rho, True, 1.0, problems)
    _close(problems, "rho_xy", out["rho_xy"], rho @ explore._base.plots.SIMPLEX_VERTICES)
    _close(problems, "pi_xy", out["pi_xy"], pi @ explore._base.plots.SIMPLEX_VERTICES)
    _close(problems, "error_per_position", out["error_per_position"], np.abs(rho - pi).sum(axis=1))
    return problems


def recompute_fixed_point(state):
    problems = []
    _check_book_model(state, problems)
    p, out = state["params"], state["outputs"]
    hmm, tokens = _model(state), np.array(state["tokens"], dtype=np.int64)
    pi = df.predict(hmm, tokens)
    rho = np.array(out["rho"])
    _close(problems, "pi", out["pi"], pi)
    hist, tol = _check_layer(state, rho, p["normalize"], p["relax"], problems)
    scale = np.abs(rho).max()
    _close(problems, "error_per_position", out["error_per_position"],
           np.abs(rho - pi).sum(axis=1), scale=scale)
    errors = np.abs(hist - pi[None]).sum(axis=2).max(axis=1)
    _close(problems, "error_per_layer", out["error_per_layer"], errors, tol=tol,
           scale=max(np.abs(hist).max(), errors.max()))
    if out["layers"] != list(range(p["T"] + 2)) or out["tokens"] != state["tokens"]:
        problems.append("layers/tokens differ")
    return problems


def recompute_attention(state):
    problems = []
    _check_book_model(state, problems)
    p, out = state["params"], state["outputs"]
    hmm, tokens = _model(state), np.array(state["tokens"], dtype=np.int64)
    pi = df.predict(hmm, tokens)
    rho = np.array(out["rho"])
    _close(problems, "pi", out["pi"], pi)
    _check_layer(state, rho, True, 1.0, problems)
    t, f = p["position"], hmm.C[:, p["token"]]
    W = df.contributions(hmm, tokens, rho, f)
    _close(problems, "W", out["W"], W)
    _close(problems, "row", out["row"], W[t, :t])
    prior_term = hmm.prior_marginals(t)[t] @ f
    _close(problems, "prior_term", out["prior_term"], prior_term)
    _close(problems, "estimate", out["estimate"], prior_term + W[t, :t].sum())
    _close(problems, "truth", out["truth"], pi[t] @ f)
    return problems


def recompute_depth(state):
    """The four error curves, L_eps and the rule's a (web_engine_compare.compare_depth: the
    solvers' curves within 100 times the package's own sensitivity to rounding, which is
    large for Anderson and for Jacobi on sticky models)."""
    problems = []
    _check_book_model(state, problems)
    problems += compare_depth(state)
    out = state["outputs"]
    if out["tokens"] != state["tokens"]:
        problems.append("tokens differ from the exported path")
    return problems


def recompute_real_text(state):
    from dualfilter import text

    problems = []
    p, out = state["params"], state["outputs"]
    hmm, tokens = _model(state), np.array(state["tokens"], dtype=np.int64)
    stored = explore.real_text.load_model(p["n_states"])
    for key in ("A", "C", "mu"):         # the engine divides rows by their sums: rounding
        err = np.abs(getattr(hmm, key) - getattr(stored, key)).max()
        if err > 1e-15:
            problems.append(f"model: {key} differs from the stored model's by {err:.3g}")
    if not np.array_equal(tokens, text.encode(p["text"])) or out["tokens"] != state["tokens"]:
        problems.append("tokens are not text.encode(text)")
    pi = df.predict(hmm, tokens)
    _close(problems, "pi", out["pi"], pi)
    _close(problems, "exact", out["exact"], df.next_token_probs(hmm, tokens)[-1])
    rho = np.array(out["rho"])
    # the layer shown: one application of the map to the page's previous layer
    previous = state["extras"].get("rho_previous")
    if previous is not None:
        previous = np.array(previous)
        step = df.fixed_point_map(hmm, tokens, previous)
        want = step if p["relax"] == 1.0 else p["relax"] * step + (1 - p["relax"]) * previous
        _close(problems, "rho = one layer from the page's previous layer", rho, want)
    full = df.dual_filter(hmm, tokens, p["layers"], relax=p["relax"])
    _close(problems, "rho against df.dual_filter", rho, full, tol=1e-8)
    q = np.clip(rho[-1], 0, None)
    filtered = q / q.sum() @ hmm.C
    _close(problems, "filtered", out["filtered"], filtered)
    _close(problems, "error_per_position", out["error_per_position"], np.abs(rho - pi).sum(axis=1))
    _close(problems, "total_variation", out["total_variation"],
           0.5 * np.abs(filtered - np.array(out["exact"])).sum())
    return problems


RECOMPUTE = {
    "filter_explorer": recompute_filter,
    "linear_vs_nonlinear_explorer": recompute_linear_vs_nonlinear,
    "simplex_explorer": recompute_simplex,
    "fixed_point_explorer": recompute_fixed_point,
    "attention_explorer": recompute_attention,
    "depth_explorer": recompute_depth,
    "real_text_explorer": recompute_real_text,
}


# --------------------------------------------------------------------------- tests

def test_every_explorer_has_a_twin_in_the_book(built_book):
    pages = _pages(built_book)
    assert set(pages) == set(explore.EXPLORERS) == set(RECOMPUTE), pages
    static = built_book / "_static" / "dualfilter"
    for name in ("twins.js", "engine.js", "plotstyle.js", "plotly.min.js"):
        assert (static / name).is_file(), f"_static/dualfilter/{name} is not served"
    for name in explore.EXPLORERS:
        assert (static / "explorers" / f"{name}.js").is_file()
    for page in set(pages.values()):
        html = (built_book / page).read_text(encoding="utf-8")
        assert re.search(r'<script[^>]+src="[./]*_static/dualfilter/twins\.js[^"]*"[^>]*type="module"'
                         r'|<script[^>]+type="module"[^>]+src="[./]*_static/dualfilter/twins\.js', html), page


@pytest.mark.parametrize("name", list(RECOMPUTE))
def test_twin_agrees_with_the_package(browser, site, built_book, name):
    page = _pages(built_book)[name]
    names = _open(browser, site, page)
    assert name in names, names
    assert _call(browser, name, "draw")["ok"]
    first = _call(browser, name, "state")["state"]
    assert first["name"] == name and first["source"] == "book"
    # the page starts from the cell's parameters, with the package's model
    problems = RECOMPUTE[name](first)
    assert not problems, "initial state:\n" + "\n".join(problems)
    spec = explore.parameter_spec(name)
    rng = np.random.default_rng(sum(map(ord, name)))
    current, done = dict(first["params"]), 0
    for tag, given in _moves(name, spec, current, rng):
        result = _call(browser, name, "set", given)
        if not result["ok"]:
            # only the raw iteration may be refused (overflow), and the package refuses too
            assert result["unchanged"] and "overflow" in result["error"], (tag, given, result)
            continue
        state = result["state"]
        for key, value in given.items():
            assert state["params"][key] == value, (tag, key, state["params"][key], value)
        problems = RECOMPUTE[name](state)
        assert not problems, f"{tag} {given} -> {state['params']}:\n" + "\n".join(problems)
        _shot(browser, name, tag)
        current.clear()
        current.update(state["params"])
        done += 1
    assert done >= 10
    _check_console_and_requests(browser, site)


INVALID = [
    ("fixed_point_explorer", {"T": 1000}),
    ("fixed_point_explorer", {"normalize": "no"}),
    ("fixed_point_explorer", {"relax": 0.0}),
    ("fixed_point_explorer", {"layer": 2.5}),
    ("fixed_point_explorer", {"depth": 3}),
    ("attention_explorer", {"token": 7}),
    ("simplex_explorer", {"n_states": 4}),
    ("linear_vs_nonlinear_explorer", {"emission_concentration": 0.3}),
    ("depth_explorer", {"memory": 0}),
    ("depth_explorer", {"T": 10}),
    ("real_text_explorer", {"text": "print(x); return"}),     # text.encode's message
    ("real_text_explorer", {"text": "naïve"}),
    ("real_text_explorer", {"text": ""}),
    ("real_text_explorer", {"n_states": 256}),
]


@pytest.mark.parametrize("name,given", INVALID, ids=[f"{n}-{list(g)[0]}-{k}" for k, (n, g) in enumerate(INVALID)])
def test_invalid_set_is_refused_with_the_python_message(browser, site, built_book, name, given):
    page = _pages(built_book)[name]
    if browser.current_url != f"{site}/{page}":
        _open(browser, site, page)
    assert _call(browser, name, "draw")["ok"]
    before = _call(browser, name, "state")["state"]
    result = _call(browser, name, "set", given)
    assert not result["ok"], f"{given} was accepted"
    assert result["unchanged"], "the figure changed on an invalid set"
    assert result["state"]["params"] == before["params"]
    ex = getattr(explore, name)(**before["params"])
    ex.set(**given)
    assert result["error"] == ex.status, (result["error"], ex.status)
    assert ex.status in result["shown"]
    _shot(browser, name, f"invalid-{list(given)[0]}")
    # the next valid change clears the message
    again = "seed" if "seed" in before["params"] else next(iter(before["params"]))
    ok = _call(browser, name, "set", {again: before["params"][again]})
    assert ok["ok"] and ok["state"]["status"] == ""


def test_controls_at_400_px(browser, site, built_book):
    """At a 400 px wide window every twin's controls fit (no horizontal overflow), the
    figure is drawn in one column, and a slider moved with the keyboard changes the state."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    pages = _pages(built_book)
    browser.set_window_size(400, 900)
    try:
        for name, page in pages.items():
            _open(browser, site, page)
            assert _call(browser, name, "draw")["ok"]
            root = browser.find_element(By.CSS_SELECTOR, f'div.dualfilter-twin[data-explorer="{name}"]')
            browser.execute_script("arguments[0].scrollIntoView();", root)
            box = browser.execute_script("""
                const root = arguments[0], controls = root.querySelector('.dft-controls');
                const r = controls.getBoundingClientRect();
                const plot = root.querySelector('.dft-plot').getBoundingClientRect();
                const items = Array.from(controls.querySelectorAll('.dft-control')).map((c) => {
                  const b = c.getBoundingClientRect(); return [b.left, b.right, b.width]; });
                return {scroll: controls.scrollWidth, client: controls.clientWidth, right: r.right,
                        plotRight: plot.right, width: window.innerWidth, items};""", root)
            assert box["scroll"] <= box["client"] + 1, (name, box)
            assert box["right"] <= box["width"] + 1 and box["plotRight"] <= box["width"] + 1, (name, box)
            assert all(left >= 0 and right <= box["width"] + 1 and width >= 200
                       for left, right, width in box["items"]), (name, box)
            before = _call(browser, name, "state")["state"]["params"]
            slider = root.find_element(By.CSS_SELECTOR, '.dft-control input[type="range"]')
            browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", slider)
            slider.send_keys(Keys.ARROW_LEFT if slider.get_attribute("value") != slider.get_attribute("min")
                             else Keys.ARROW_RIGHT)
            browser.execute_async_script("""
                const done = arguments[arguments.length - 1];
                const ex = window.dualfilterExplorers.find((e) => e.name === arguments[0]);
                setTimeout(() => ex.draw().then(done, done), 100);""", name)
            after = _call(browser, name, "state")["state"]["params"]
            assert after != before, f"{name}: the slider did not change the explorer"
            SHOTS.mkdir(parents=True, exist_ok=True)
            root.screenshot(str(SHOTS / f"{name}--400px.png"))
            _check_console_and_requests(browser, site)
    finally:
        browser.set_window_size(1280, 1000)

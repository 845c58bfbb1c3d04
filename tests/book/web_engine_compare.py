"""Recompute the JavaScript engine's outputs with the Python package (used by test_web_engine).

``compare_case(out)`` takes the JSON of ``runCase`` (tests/web_engine_runner.js): the model the
engine made, its path and every output, recomputes each output with ``dualfilter`` on that
model and those tokens, and returns a list of discrepancies (empty when everything agrees).
"""

from __future__ import annotations

import math

import numpy as np

import dualfilter as df
from dualfilter import brute_force
from dualfilter.control import dual_backward
from dualfilter.model import _BLOCK, _sample_kernel

TOL = 1e-9
COVERAGE: list[dict] = []   # per compared case: the Riccati conditioning (for the report)


def mismatch(name: str, got, want, tol: float = TOL, scale=None) -> str | None:
    """None if |got - want| <= tol * max(1, scale) entrywise (scale: max |want| by default)."""
    got = np.asarray(got, dtype=float)
    want = np.asarray(want, dtype=float)
    if got.shape != want.shape:
        return f"{name}: shape {got.shape} != {want.shape}"
    if not np.all(np.isfinite(got)):
        return f"{name}: non-finite entries in the engine's output"
    if scale is None:
        scale = float(np.max(np.abs(want))) if want.size else 0.0
    err = float(np.max(np.abs(got - want))) if want.size else 0.0
    bound = tol * max(1.0, scale)
    if err > bound:
        return f"{name}: max |engine - package| = {err:.3g} > {bound:.3g}"
    return None


def model_of(out: dict) -> df.HMM:
    m = out["model"]
    return df.HMM(m["A"], m["C"], m["mu"])


def compare_case(out: dict) -> list[str]:
    problems: list[str | None] = []
    check = problems.append
    hmm = model_of(out)
    spec = out["spec"]
    T = spec["T"]
    d, n = hmm.n_states, hmm.n_tokens
    tokens = np.array(out["tokens"], dtype=np.int64)
    assert (d, n, len(tokens)) == (spec["d"], spec["n"], T)

    # sampling: the package's kernel on the engine's uniforms gives the same path, exactly
    states, toks = _sample_kernel(hmm.A, hmm.C, hmm.mu, np.array(out["uniforms"]), T, _BLOCK)
    if not (np.array_equal(states, out["states"]) and np.array_equal(toks, tokens)):
        check("sample: path differs from df.sample's kernel on the same uniforms")

    # forward algorithm
    pi = df.predict(hmm, tokens)
    check(mismatch("forward.pi", out["pi"], pi))
    check(mismatch("predict", out["predict"], pi))
    ll = df.log_likelihood(hmm, tokens)
    check(mismatch("forward.logLikelihood", out["logLikelihood"], ll, scale=abs(ll)))
    check(mismatch("logLikelihood", out["logLikelihood2"], ll, scale=abs(ll)))
    probs = df.next_token_probs(hmm, tokens)
    check(mismatch("nextTokenProbs", out["nextTokenProbs"], probs))
    check(mismatch("forward.evidence", out["evidence"], probs[np.arange(T), tokens]))
    check(mismatch("priorMeasures", out["prior"], df.prior_measures(hmm, T)))

    # dual filter, layer map, attention matrix
    for entry in out["filters"]:
        tag = f"normalize={entry['normalize']}, relax={entry['relax']}"
        try:
            hist = df.dual_filter(hmm, tokens, T + 1, normalize=entry["normalize"],
                                  relax=entry["relax"], return_all=True)
        except ValueError:
            hist = None
        if not entry["ok"]:
            if hist is not None and np.all(np.isfinite(hist)) and np.abs(hist).max() < 1e300:
                check(f"dualFilter({tag}) refused ({entry['error']}) where the package is finite")
            continue
        layers = entry["layers"]
        got = np.array(entry["history"])
        if not entry["errorsOnlySame"]:
            check(f"dualFilterErrors({tag}) differs from l1Errors(dualFilter(...))")
        # (a) each exported layer l+1 is one step of the package's map from the engine's layer l
        for k in range(len(layers) - 1):
            if layers[k + 1] != layers[k] + 1:
                continue
            rho = got[k]
            step = df.fixed_point_map(hmm, tokens, rho, normalize=entry["normalize"])
            a = entry["relax"]
            want = step if a == 1.0 else a * step + (1 - a) * rho
            scale = max(np.abs(rho).max(), np.abs(want).max())
            check(mismatch(f"dualFilter({tag}) layer {layers[k + 1]} = N(layer {layers[k]})",
                           got[k + 1], want, scale=scale))
        # (b) the whole history against the package's dual_filter where it is finite, to 1e-9
        # or to 100 times the package's own change under a 1e-15 relative perturbation of the
        # start, whichever is larger (relax < 1 and raw runs amplify rounding over layers)
        if hist is not None:
            want = hist[layers]
            sensitivity = _sensitivity(hmm, tokens, entry, hist)
            scale = np.abs(want).max()
            tol = max(TOL, 100 * sensitivity / max(1.0, scale))
            check(mismatch(f"dualFilter({tag}) history", got, want, tol=tol))
            err = np.abs(hist - pi[None]).sum(axis=2)
            check(mismatch(f"l1Errors.perLayer({tag})", entry["perLayer"], err.max(axis=1),
                           tol=tol, scale=max(scale, err.max())))
        # the error functions on the engine's own layers
        check(mismatch(f"l1Errors.perPosition({tag})", entry["perPosition"],
                       np.abs(got - pi[None]).sum(axis=2), scale=np.abs(got).max()))
        l = entry["mapInput"]
        rho = got[layers.index(l)]
        want = df.fixed_point_map(hmm, tokens, rho, normalize=entry["normalize"])
        check(mismatch(f"layerMap({tag})", entry["map"], want,
                       scale=max(np.abs(want).max(), np.abs(rho).max())))
        f = hmm.C[:, entry["query"]]
        W = df.contributions(hmm, tokens, rho, f, normalize=entry["normalize"])
        check(mismatch(f"contributions({tag})", entry["W"], W,
                       scale=max(np.abs(W).max(), np.abs(rho).max())))
        if "xy" in entry:
            vertices = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3.0) / 2.0]])
            check(mismatch(f"simplexXY({tag})", entry["xy"], rho @ vertices))

    # controls
    f = np.array(out["f"])
    fs = np.array(out["fSigned"])
    u = np.array(out["u"]).reshape(T, n)
    check(mismatch("dualBackward", out["dualBackward"], dual_backward(hmm, fs, u)))
    check(mismatch("dualBackward(u=null)", out["dualBackwardZero"], dual_backward(hmm, fs, T=T)))
    cost = df.control_cost(hmm, fs, u)
    check(mismatch("controlCost", out["controlCost"], cost, scale=abs(cost)))
    U = df.optimal_control(hmm, tokens, f)
    check(mismatch("optimalControl", np.array(out["optimalControl"]).reshape(T, n), U))
    Us = df.optimal_control(hmm, tokens, fs)
    check(mismatch("optimalControl(signed f)", np.array(out["optimalControlSigned"]).reshape(T, n), Us))
    check(mismatch("estimate", out["estimate"], df.estimate(hmm, tokens, f, U)))

    # the linear predictor (Riccati), with tolerances set by the conditioning of the
    # pseudo-inverse (see riccati_conditioning): Sigma and the MSE to 1e-9 or 100 eps kappa;
    # the gains and what uses them (controls, estimates) to 1e-9 or 1e4 eps kappa, and only
    # while kappa <= 1e6: beyond, a gain is not determined to better than O(1) by any float64
    # implementation (an error eps kappa in K_t moves Sigma_{t+1}, which moves K_{t+1} by
    # kappa times that), so the comparison would test rounding, not the engine.
    lp = df.linear_predictor(hmm, T)
    kappa, good = riccati_conditioning(lp)
    eps = np.finfo(float).eps
    tol_sigma = max(TOL, 100 * eps * kappa)
    tol_gain = max(TOL, 1e4 * eps * kappa)
    check(mismatch("linearPredictor.Sigma", np.array(out["Sigma"])[: good + 1],
                   lp.Sigma[: good + 1], tol=tol_sigma))
    if good == T:
        check(mismatch("linearMse", out["linearMse"], lp.mse(f), tol=tol_sigma))
    if kappa <= 1e6:
        check(mismatch("linearPredictor.gains", np.array(out["gains"]).reshape(T, n, d)[:good],
                       lp.gains[:good], tol=tol_gain))
        m = lp.estimates(tokens)
        check(mismatch("linearEstimates", np.array(out["linearEstimates"])[: good + 1],
                       m[: good + 1], tol=tol_gain))
        if good == T:       # every step comparable: the quantities that use all of them
            check(mismatch("linearControls", np.array(out["linearControls"]).reshape(T, n),
                           lp.controls(f), tol=tol_gain))
            check(mismatch("linearEstimate", out["linearEstimate"], lp.estimate(tokens, f),
                           tol=tol_gain))
            if "mcMmse" in out:
                check(mismatch("mcMmse", out["mcMmse"], mc_mmse_on_paths(lp, f, out["mcPaths"]),
                               tol=tol_gain))
    COVERAGE.append(dict(kappa=kappa, good=good, T=T))
    p_T = df.prior_measures(hmm, T)[T]
    check(mismatch("priorVariance", out["priorVariance"], p_T @ f**2 - (p_T @ f) ** 2))
    if "mmseExact" in out:
        check(mismatch("mmseExact", out["mmseExact"], brute_force.mmse(hmm, f, T)))
    return [p for p in problems if p]


def _sensitivity(hmm, tokens, entry, hist) -> float:
    """How far the package's own history moves under rounding-sized noise: max |change|.

    The package's layers are recomputed one at a time, each input multiplied entrywise by
    1 + 2^-52 u (u uniform in [-1, 1]), which mimics the rounding differences of another
    implementation at every layer; relax < 1 and raw runs amplify them.
    """
    T = len(tokens)
    noise = np.random.default_rng(0)
    rho = hist[0]
    worst = 0.0
    for layer in range(1, T + 2):
        jitter = 1 + 2.0**-52 * noise.uniform(-1, 1, rho.shape)
        try:
            rho = df.dual_filter(hmm, tokens, 1, init=rho * jitter, normalize=entry["normalize"],
                                 relax=entry["relax"])
        except ValueError:
            return np.inf
        worst = max(worst, float(np.abs(rho - hist[layer]).max()))
    return worst


PINV_CUTOFF = 1e-12   # both the package and the engine drop |lambda| <= 1e-12 max(1, max |lambda|)


def riccati_conditioning(lp) -> tuple[float, int]:
    """(kappa, good): the conditioning of the Riccati pseudo-inverses of ``lp`` (package).

    At step t the matrix M_t = C^T Sigma_t C + R_t is pseudo-inverted. Two correct
    implementations (LAPACK's eigh, the engine's Jacobi) find its eigenvalues to about
    eps max|lambda| in absolute terms, so their pseudo-inverses differ by about
    eps kappa_t relatively, kappa_t = max(1, max|lambda|) / (smallest kept |lambda|); kappa
    is the largest kappa_t over the steps compared. ``good`` is the number of leading steps
    where both implementations must drop the same eigenvalues: the first step with an
    eigenvalue within 100 eps max(1, max|lambda|) of the cutoff ends it.
    """
    hmm, T = lp.hmm, lp.T
    C = hmm.C
    p = hmm.prior_marginals(T)
    eps = np.finfo(float).eps
    kappa = 1.0
    for t in range(T):
        S = lp.Sigma[t]
        R = np.diag(p[t] @ C) - C.T @ (p[t][:, None] * C)
        w = np.abs(np.linalg.eigvalsh(C.T @ S @ C + R))
        top = max(1.0, w.max())
        cut = PINV_CUTOFF * top
        if np.any(np.abs(w - cut) <= 100 * eps * top):
            return kappa, t
        kept = w[w > cut]
        if kept.size:
            kappa = max(kappa, top / kept.min())
    return kappa, T


def mc_mmse_on_paths(lp, f, paths) -> float:
    """``explore.mc_mmse``'s estimator on the given token paths (the engine samples its own)."""
    hmm, T = lp.hmm, lp.T
    u = lp.controls(f)
    offset = hmm.mu @ dual_backward(hmm, f, u)[0]
    gap = 0.0
    for tokens in paths:
        tokens = np.array(tokens, dtype=np.int64)
        s_lin = offset - u[np.arange(T), tokens].sum()
        gap += (df.predict(hmm, tokens)[T] @ f - s_lin) ** 2
    return lp.mse(f) - gap / len(paths)


# --------------------------------------------------------------------------- chapter 11

def _solver_curve(hmm, tokens, pi, method, cap, init=None, **kw):
    """The package's error curve of a solver (explore.depth.solver_errors, optionally from a
    given start)."""
    from dualfilter.explore import depth

    if init is None:
        return depth.solver_errors(hmm, tokens, pi, method, cap, **kw)
    errors = []

    def record(layer, x):
        errors.append(float(np.abs(x - pi).sum(axis=1).max()))
        return errors[-1] < depth.STOP

    df.solve_fixed_point(hmm, tokens, method=method, tol=0.0, max_layers=cap, callback=record,
                         init=init, **kw)
    return np.array(errors)


def _curve_sensitivity(hmm, tokens, pi, method, cap, want, **kw) -> float:
    """How far the package's own error curve moves when its start is perturbed by rounding
    (each entry times 1 + 2^-52 u, u uniform in [-1, 1], two draws): max |change| over the
    common layers. Jacobi on sticky models and Anderson amplify such perturbations (Anderson
    can wander by O(1)); then two correct implementations differ by as much."""
    worst = 0.0
    prior = hmm.prior_marginals(len(tokens))
    for seed in (0, 1):
        jitter = 1 + 2.0**-52 * np.random.default_rng(seed).uniform(-1, 1, prior.shape)
        other = _solver_curve(hmm, tokens, pi, method, cap, init=prior * jitter, **kw)
        n = min(len(other), len(want))
        worst = max(worst, float(np.abs(other[:n] - want[:n]).max(initial=0.0)))
    return worst


def _compare_curve(problems, name, got, want, tol):
    """The page's curve against the package's: equal lengths, or the longer one's extra
    layers all below the tolerance (the two stopped at different layers of the rounding
    plateau near explore.depth.STOP)."""
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    n = min(len(got), len(want))
    if len(got) != len(want):
        tail = (got if len(got) > n else want)[n - 1:]
        if tail.max() > max(tol, 1e-9):
            problems.append(f"{name}: {len(got)} layers on the page, {len(want)} in the package, "
                            f"and the extra layers reach {tail.max():.3g}")
    problem = mismatch(name, got[:n], want[:n], tol=tol)
    if problem:
        problems.append(problem)


def compare_rule(hmm, a_page) -> list[str]:
    """The page's damping a against ``damped_relaxation``: the rule minimises the convex
    q(a) = max_z |1 - a + a z| over the symbol's eigenvalues z; where the minimum is smooth
    (not a kink) its minimiser is fixed by rounding only to about sqrt(eps), so the test
    asks for |a_page - a| <= 1e-6 and for q(a_page) to equal the package's minimum q(a) to
    1e-12 (the page's a is as good a minimiser)."""
    from dualfilter.solvers import damped_relaxation, symbol_spectrum

    a, q = damped_relaxation(hmm)
    problems = []
    if abs(a_page - a) > 1e-6:
        problems.append(f"rule: a = {a_page} on the page, {a} in the package")
    if np.isfinite(q) and q < 1:
        z = symbol_spectrum(hmm).ravel()
        q_page = float(np.abs(1 - a_page + a_page * z).max())
        if q_page - q > 1e-12:
            problems.append(f"rule: q(a_page) = {q_page} exceeds the package's minimum {q}")
    return problems


def compare_depth(state: dict) -> list[str]:
    """Recompute the outputs of the depth explorer (page or engine runner) with the package.

    ``state``: {model, tokens, params (T, memory, relax_rule, relax, eps), outputs (pi,
    errors_jacobi, errors_damped, errors_anderson, errors_scan, depth, budget, relax)}.
    """
    from dualfilter.explore import depth

    problems: list[str] = []
    hmm = model_of(state)
    tokens = np.array(state["tokens"], dtype=np.int64)
    p, out = state["params"], state["outputs"]
    T = len(tokens)
    pi = df.predict(hmm, tokens)
    problem = mismatch("pi", out["pi"], pi)
    if problem:
        problems.append(problem)
    if p["relax_rule"]:
        problems += compare_rule(hmm, out["relax"])
    elif out["relax"] != p["relax"]:
        problems.append(f"relax {out['relax']} is not the chosen {p['relax']}")
    a = out["relax"]                     # the curves of the page's a
    cap = depth.CAP_FACTOR * (T + 1)
    runs = {"jacobi": (T + 1, {}), "damped": (cap, {"relax": a}),
            "anderson": (cap, {"memory": p["memory"]})}
    for method, (limit, kw) in runs.items():
        want = _solver_curve(hmm, tokens, pi, method, limit, **kw)
        sensitivity = _curve_sensitivity(hmm, tokens, pi, method, limit, want, **kw)
        tol = max(TOL, 100 * sensitivity)
        _compare_curve(problems, f"errors_{method} (tolerance {tol:.3g})",
                       out[f"errors_{method}"], want, tol)
    _, levels = df.parallel_scan(hmm, tokens, return_levels=True)
    scan = np.abs(levels - pi).sum(axis=2).max(axis=1)
    problem = mismatch("errors_scan", out["errors_scan"], scan)
    if problem:
        problems.append(problem)
    budget = [T + 1, cap, cap, math.ceil(math.log2(T + 1))]
    if list(out["budget"]) != budget:
        problems.append(f"budget {out['budget']} != {budget}")
    # L_eps: the page's own curve's first layer below eps (its curve agrees with the package's
    # within the tolerance above, so the two depths can differ only where a curve is within
    # that tolerance of eps)
    for k, method in enumerate(depth.METHODS):
        page = np.asarray(out[f"errors_{method}"], dtype=float)
        L = out["depth"][k]
        mine = depth.first_below(page, p["eps"])
        if L != mine:
            problems.append(f"depth[{method}] = {L} but the page's curve first drops below eps at {mine}")
    return problems

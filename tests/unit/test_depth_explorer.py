"""The chapter 11 explorer (explore.depth_explorer): its curves are the package's solvers."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import dualfilter as df  # noqa: E402
from dualfilter import explore  # noqa: E402
from dualfilter.explore import depth as depth_module  # noqa: E402
from dualfilter.solvers import damped_relaxation  # noqa: E402

SMALL = dict(n_states=4, n_tokens=3, T=40, stickiness=0.9, emission_concentration=0.3,
             transition_concentration=0.5, seed=3)


def model_of(p):
    hmm = df.random_hmm(p["n_states"], p["n_tokens"], seed=p["seed"], stickiness=p["stickiness"],
                        transition_concentration=p["transition_concentration"],
                        emission_concentration=p["emission_concentration"])
    return hmm, df.sample(hmm, p["T"], seed=p["seed"])[1]


def errors_by_hand(hmm, tokens, pi, method, layers, **kw):
    """The error of every iterate, from solve_fixed_point run for 0, 1, ..., layers layers."""
    out = []
    for L in range(layers + 1):
        x = df.solve_fixed_point(hmm, tokens, method=method, tol=0.0, max_layers=L, **kw).measures
        out.append(np.abs(x - pi).sum(axis=1).max())
        if out[-1] < depth_module.STOP:
            break
    return np.array(out)


@pytest.fixture(scope="module")
def small():
    return explore.depth_explorer(**SMALL)


def test_depth_explorer_is_registered_with_its_spec():
    assert explore.EXPLORERS["depth_explorer"] is depth_module.DepthExplorer
    spec = {p["name"]: p for p in explore.parameter_spec("depth_explorer")}
    assert (spec["n_states"]["low"], spec["n_states"]["high"]) == (2, 16)
    assert (spec["T"]["low"], spec["T"]["high"]) == (20, 800)
    assert (spec["memory"]["low"], spec["memory"]["high"]) == (1, 10)
    for name in ("emission_concentration", "transition_concentration", "eps"):
        assert spec[name]["kind"] == "log"
    assert spec["relax_rule"]["kind"] == "bool" and spec["relax"]["kind"] == "float"
    assert spec["eps"]["live"] and not spec["T"]["live"]


def test_depth_explorer_model_and_predictor_are_the_package_s(small):
    hmm, tokens = model_of(small.params)
    np.testing.assert_array_equal(small.data["tokens"], tokens)
    np.testing.assert_allclose(small.data["pi"], df.predict(hmm, tokens), atol=1e-14, rtol=0)


def test_depth_explorer_curves_are_the_solvers_errors(small):
    p, data = small.params, small.data
    hmm, tokens = model_of(p)
    pi = df.predict(hmm, tokens)
    T = p["T"]
    a, _ = damped_relaxation(hmm)
    assert data["relax"] == a and 0 < a <= 1
    want = {
        "jacobi": errors_by_hand(hmm, tokens, pi, "jacobi", T + 1),
        "damped": errors_by_hand(hmm, tokens, pi, "damped", 2 * (T + 1), relax=a),
        "anderson": errors_by_hand(hmm, tokens, pi, "anderson", 2 * (T + 1), memory=p["memory"]),
    }
    for method, curve in want.items():
        np.testing.assert_allclose(data[f"errors_{method}"], curve, rtol=0, atol=1e-12,
                                   err_msg=method)
    _, levels = df.parallel_scan(hmm, tokens, return_levels=True)
    scan = np.abs(levels - pi).sum(axis=2).max(axis=1)
    np.testing.assert_allclose(data["errors_scan"], scan, rtol=0, atol=1e-14)
    assert len(scan) == math.ceil(math.log2(T + 1)) + 1 and scan[-1] < 1e-10
    # Jacobi (the dual filter) is exact after T + 1 layers: df.dual_filter agrees
    hist = df.dual_filter(hmm, tokens, T + 1, return_all=True)
    jac = np.abs(hist - pi).sum(axis=2).max(axis=1)[: len(data["errors_jacobi"])]
    np.testing.assert_allclose(data["errors_jacobi"], jac, rtol=0, atol=1e-12)
    assert data["errors_jacobi"][-1] < depth_module.STOP


def test_depth_explorer_depths_budgets_and_censoring():
    ex = explore.depth_explorer(**SMALL)
    data = ex.data
    T = SMALL["T"]
    np.testing.assert_array_equal(data["budget"], [T + 1, 2 * (T + 1), 2 * (T + 1),
                                                   math.ceil(math.log2(T + 1))])
    for k, m in enumerate(depth_module.METHODS):
        e = data[f"errors_{m}"]
        L = data["depth"][k]
        hit = np.flatnonzero(e < ex.params["eps"])
        if hit.size:
            assert L == hit[0] and e[int(L)] < ex.params["eps"] <= e[int(L) - 1]
        else:
            assert np.isnan(L)
    # a relaxation far too small cannot reach 1e-12 in 2 (T + 1) layers: censored, and the
    # legend says so instead of a depth
    ex.set(relax_rule=False, relax=0.05, eps=1e-12)
    assert ex.status == ""
    assert ex.data["relax"] == 0.05 and np.isnan(ex.data["depth"][1])
    label = ex.labels(ex.data, ex.params)[1]
    assert f"> {2 * (T + 1)} layers (censored)" in label and "a = 0.05" in label
    hmm, tokens = model_of(ex.params)
    pi = df.predict(hmm, tokens)
    curve = depth_module.solver_errors(hmm, tokens, pi, "damped", 2 * (T + 1), relax=0.05)
    np.testing.assert_array_equal(ex.data["errors_damped"], curve)
    assert len(curve) == 2 * (T + 1) + 1 and curve.min() >= 1e-12
    # the memory changes Anderson's curve only
    before = ex.data
    ex.set(memory=1)
    after = ex.data
    for m in ("jacobi", "damped", "scan"):
        np.testing.assert_array_equal(before[f"errors_{m}"], after[f"errors_{m}"])
    want = depth_module.solver_errors(hmm, tokens, pi, "anderson", 2 * (T + 1), memory=1)
    np.testing.assert_array_equal(after["errors_anderson"], want)


def test_depth_explorer_eps_moves_only_the_line_and_the_depths(small):
    ex = explore.depth_explorer(**SMALL)
    curves = ex.data
    ex.set(eps=1e-3)
    assert ex.status == ""
    for m in depth_module.METHODS:
        np.testing.assert_array_equal(ex.data[f"errors_{m}"], curves[f"errors_{m}"])
    assert np.all(np.nan_to_num(ex.data["depth"], nan=1e9) <= np.nan_to_num(curves["depth"], nan=1e9))
    assert list(ex.eps_line.get_ydata()) == [1e-3, 1e-3]


@pytest.mark.parametrize("params, words", [
    (dict(T=10), "T must lie in [20, 800], got 10: the explorer's range"),
    (dict(n_states=17), "n_states must lie in [2, 16], got 17"),
    (dict(memory=0), "memory must lie in [1, 10], got 0"),
    (dict(memory=2.5), "memory must be an integer, got 2.5"),
    (dict(relax=0.0), "relax must lie in [0.05, 1], got 0"),
    (dict(relax_rule="yes"), "relax_rule must be True or False, got 'yes'"),
    (dict(eps=1.0), "eps must lie in [1e-12, 0.01], got 1"),
    (dict(transition_concentration=0.0), "transition_concentration must lie in [0.03, 30], got 0"),
])
def test_depth_explorer_bad_parameters_are_named(small, params, words):
    before = small.params
    small.set(**params)
    assert small.status == words and small.params == before
    # the factory shows the defaults with the same message
    ex = explore.depth_explorer(**params)
    assert ex.status == words and ex.params["T"] == 100
    # the same check as a ValueError, through the declaration
    name, value = next(iter(params.items()))
    spec = {p.name: p for p in depth_module.DepthExplorer.PARAMS}[name]
    _, message = spec.check(value, {**before})
    assert message == words


def test_depth_explorer_helpers_raise_value_errors_naming_the_argument():
    hmm, tokens = model_of({**SMALL, "T": 20})
    pi = df.predict(hmm, tokens)
    with pytest.raises(ValueError, match="relax"):
        depth_module.solver_errors(hmm, tokens, pi, "damped", 5, relax=0.0)
    with pytest.raises(ValueError, match="method"):
        depth_module.solver_errors(hmm, tokens, pi, "gauss-seidel", 5)
    with pytest.raises(ValueError, match="memory"):
        depth_module.solver_errors(hmm, tokens, pi, "anderson", 5, memory=0)
    assert depth_module.first_below([1.0, 0.1, 1e-7], 1e-6) == 2
    assert depth_module.first_below([1.0, 0.1], 1e-6) is None

"""The depth study of chapter 9: the depth measurement and the provenance of the stored results."""

import json
from pathlib import Path

import numpy as np
import pytest

import dualfilter as df

from dualfilter import depth as study

ROOT = Path(__file__).resolve().parents[2]


def depth_by_history(hmm, tokens, eps, relax, cap, normalize=True):
    """Oracle: the first layer of dual_filter's full history within eps of pi, else None."""
    pi = df.predict(hmm, tokens)
    hist = df.dual_filter(hmm, tokens, cap, relax=relax, normalize=normalize, return_all=True)
    errors = np.abs(hist - pi).sum(axis=2).max(axis=1)
    hits = np.flatnonzero(errors[1:] < eps)
    return int(hits[0]) + 1 if len(hits) else None


@pytest.mark.parametrize("stickiness,concentration,relax,normalize", [
    (0.0, 0.3, 1.0, True), (0.9, 0.3, 1.0, True), (0.5, 1.0, 0.6, True), (0.9, 0.3, 0.3, True),
    (0.5, 1.0, 0.8, False)])
def test_measure_depth_matches_the_history_of_dual_filter(stickiness, concentration, relax,
                                                         normalize):
    hmm = df.random_hmm(5, 4, seed=3, stickiness=stickiness,
                        emission_concentration=concentration)
    _, tokens = df.sample(hmm, 40, seed=4)
    for eps in (1e-3, 1e-8):
        for cap in (5, 41, 80):
            got = study.measure_depth(hmm, tokens, eps, relax=relax, cap=cap, normalize=normalize)
            assert got == depth_by_history(hmm, tokens, eps, relax, cap, normalize)


def test_censored_runs_are_none_and_exactness_bounds_the_unrelaxed_depth():
    hmm = df.random_hmm(6, 6, seed=0, stickiness=0.95, emission_concentration=0.3)
    _, tokens = df.sample(hmm, 30, seed=1)
    assert study.measure_depth(hmm, tokens, 1e-6, cap=5) is None          # needs about T layers
    assert study.measure_depth(hmm, tokens, 1e-6, cap=31) <= 30           # exact after T layers


def test_stored_full_results_come_from_the_scripts_full_parameters():
    stored = json.loads((ROOT / "book" / "data" / "depth_study.json").read_text())
    assert stored["params"] == study.FULL_GRID
    P = stored["params"]
    assert len(stored["records"]) == (len(P["stickiness"]) * len(P["concentration"])
                                      * len(P["seeds"]) * len(P["horizons"]))
    cells = {(r["stickiness"], r["concentration"], r["seed"], r["T"]) for r in stored["records"]}
    assert cells == {(s, c, k, T) for s in P["stickiness"] for c in P["concentration"]
                     for k in P["seeds"] for T in P["horizons"]}
    for r in stored["records"]:
        assert r["censored"] == (r["depth"] is None) and r["cap"] == r["T"] + 1
        assert r["censored_relaxed"] == (r["depth_relaxed"] is None)
        assert r["cap_relaxed"] == P["relaxed_cap"] * r["T"]
        assert r["depth"] is None or 1 <= r["depth"] <= r["cap"]
        assert abs(r["relax"] - (1 - r["lambda2"] ** 2)) < 1e-12
    assert stored["provenance"]["script"] == "benchmarks/depth_study.py"


def test_a_stored_record_is_reproduced():
    """One cheap cell of the stored grid, recomputed (numbers may move by a layer at most)."""
    stored = json.loads((ROOT / "book" / "data" / "depth_study.json").read_text())
    r = next(r for r in stored["records"] if r["stickiness"] == 0.5 and r["concentration"] == 1.0
             and r["seed"] == 0 and r["T"] == 100)
    hmm = df.random_hmm(8, 8, seed=0, stickiness=0.5, emission_concentration=1.0)
    _, tokens = df.sample(hmm, 100, seed=1000)
    assert abs(study.measure_depth(hmm, tokens, 1e-6, cap=101) - r["depth"]) <= 1
    relaxed = study.measure_depth(hmm, tokens, 1e-6, relax=r["relax"], cap=200)
    assert relaxed is not None and abs(relaxed - r["depth_relaxed"]) <= 1


@pytest.mark.parametrize("stickiness,concentration", [(0.0, 0.3), (0.5, 1.0), (0.8, 0.3)])
def test_measure_depth_exact_agrees_with_float64_where_float64_is_accurate(stickiness,
                                                                          concentration):
    """Short sequences, well-conditioned models: rounding cannot move the depth."""
    hmm = df.random_hmm(4, 3, seed=2, stickiness=stickiness, emission_concentration=concentration)
    _, tokens = df.sample(hmm, 25, seed=5)
    for eps in (1e-3, 1e-6, 1e-9):
        for cap in (3, 26):
            exact = study.measure_depth_exact(hmm, tokens, eps, cap=cap)
            assert exact == study.measure_depth(hmm, tokens, eps, cap=cap)
            assert exact == depth_by_history(hmm, tokens, eps, 1.0, cap)
    assert study.measure_depth_exact(hmm, tokens, 1e-9, cap=26, bits=100) is not None


def test_measure_depth_exact_censors_and_is_exact_after_T_layers():
    hmm = df.random_hmm(6, 6, seed=0, stickiness=0.95, emission_concentration=0.3)
    _, tokens = df.sample(hmm, 30, seed=1)
    assert study.measure_depth_exact(hmm, tokens, 1e-6, cap=5) is None
    assert study.measure_depth_exact(hmm, tokens, 1e-12, cap=31) <= 30   # exact after T layers


def test_measure_depth_exact_rejects_bad_arguments():
    hmm = df.random_hmm(3, 3, seed=0)
    tokens = [0, 1, 2, 1]
    for kw, name in ((dict(eps=0.0), "eps"), (dict(eps=-1e-6), "eps"), (dict(cap=0), "cap"),
                     (dict(bits=52), "bits")):
        args = dict(eps=1e-6, cap=5) | kw
        with pytest.raises(ValueError, match=name):
            study.measure_depth_exact(hmm, tokens, args.pop("eps"), **args)
    with pytest.raises(ValueError, match="vocabulary"):
        study.measure_depth_exact(hmm, [0, 3], 1e-6, cap=5)
    with pytest.raises(TypeError, match="cap"):
        study.measure_depth_exact(hmm, tokens, 1e-6, cap=2.0)
    with pytest.raises(TypeError, match="hmm"):
        study.measure_depth_exact(hmm.A, tokens, 1e-6, cap=5)
    tiny = df.HMM(np.array([[1 - 2.0 ** -80, 2.0 ** -80], [0.5, 0.5]]),
                  np.array([[0.75, 0.25], [0.25, 0.75]]), np.array([0.5, 0.5]))                   # needs 80 bits to be held exactly
    with pytest.raises(ValueError, match="bits"):
        study.measure_depth_exact(tiny, [0, 1], 1e-6, cap=3, bits=60)
    assert study.measure_depth_exact(tiny, [0, 1], 1e-6, cap=3, bits=80) is not None


def test_stored_exact_depths_cover_the_exact_cells():
    stored = json.loads((ROOT / "book" / "data" / "depth_study.json").read_text())
    cells = stored["params"]["exact_cells"]
    assert cells
    for r in stored["records"]:
        listed = any(r["stickiness"] == s and r["concentration"] == c and r["T"] <= T_max
                     for s, c, T_max in cells)
        assert ("depth_exact" in r) == listed
        assert not listed or r["depth_exact"] is None or 1 <= r["depth_exact"] <= r["cap"]


def dense_jacobian(hmm, J):
    """The linearised layer map as a dense matrix on row-stacked sequences (row convention)."""
    T, d = J.shape[0], hmm.n_states
    G = np.zeros(((T + 1) * d, (T + 1) * d))
    for s in range(T):
        for t in range(s + 1, T + 1):
            G[s * d:(s + 1) * d, t * d:(t + 1) * d] = J[s] @ np.linalg.matrix_power(hmm.A, t - s)
    return G


def tau(B):
    return 0.5 * max(np.abs(B[i] - B[j]).sum() for i in range(len(B)) for j in range(len(B)))


def brute_block_norm(G, d):
    n = G.shape[0] // d
    return max(sum(tau(G[s * d:(s + 1) * d, t * d:(t + 1) * d]) for s in range(n))
               for t in range(n))


@pytest.mark.parametrize("seed", [0, 1])
def test_gain_jacobians_are_the_derivative_of_the_normalised_layer_map(seed):
    hmm = df.random_hmm(4, 3, seed=seed, stickiness=0.6, emission_concentration=0.5)
    _, tokens = df.sample(hmm, 20, seed=seed)
    pi = df.predict(hmm, tokens)
    J = study.gain_jacobians(hmm, tokens, pi)
    e = np.random.default_rng(seed).normal(size=pi.shape)
    h = 1e-5
    fd = (df.fixed_point_map(hmm, tokens, pi + h * e)
          - df.fixed_point_map(hmm, tokens, pi - h * e)) / (2 * h)
    lin = study.apply_jacobian(hmm, J, e[:, None, :])[:, 0, :]
    assert np.abs(fd - lin).max() < 1e-8 * max(1.0, np.abs(lin).max())
    assert np.allclose(lin.ravel(), e.ravel() @ dense_jacobian(hmm, J), atol=1e-12)


def test_conditioning_study_against_dense_linear_algebra():
    hmm = df.random_hmm(3, 3, seed=2, stickiness=0.7, emission_concentration=0.5)
    T = 12
    _, tokens = df.sample(hmm, T, seed=5)
    res = study.conditioning_study(hmm, tokens, 1e-6)
    G = dense_jacobian(hmm, study.gain_jacobians(hmm, tokens, df.predict(hmm, tokens)))
    d = hmm.n_states
    for l in (0, 1, 2, 5, T, T + 1):
        assert abs(res["norms"][l] - brute_block_norm(np.linalg.matrix_power(G, l), d)) < 1e-10
    assert res["norms"][T + 1] == 0.0                                    # nilpotent
    inv = np.linalg.inv(np.eye(G.shape[0]) - G)
    assert abs(res["cond"] - brute_block_norm(inv, d)) < 1e-10
    assert res["cond"] <= res["forget"] + 1e-12


def test_symbol_radius_of_the_perfectly_observed_chain():
    theta = 0.8
    hmm = df.HMM(theta * np.eye(4) + (1 - theta) / 4, np.eye(4), np.full(4, 0.25))
    _, tokens = df.sample(hmm, 30, seed=0)
    J = study.gain_jacobians(hmm, tokens, df.predict(hmm, tokens)).mean(axis=0)
    assert abs(study.symbol_radius(hmm, J) - theta / (1 - theta)) < 1e-9     # at w = 1
    assert abs(study.symbol_radius(hmm, J, a=1 - theta ** 2) - theta) < 1e-9  # all-pass

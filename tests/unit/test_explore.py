"""The interactive explorers, driven programmatically: sliders, set(), status, data, animation."""

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import dualfilter as df  # noqa: E402
from dualfilter import brute_force, explore  # noqa: E402

TIGHT = 1e-12


def model_of(ex):
    """The model and path an explorer shows, rebuilt from its parameters with the package."""
    p = ex.params
    hmm = df.random_hmm(p["n_states"], p["n_tokens"], seed=p["seed"], stickiness=p["stickiness"],
                        emission_concentration=p["emission_concentration"])
    states, tokens = df.sample(hmm, p["T"], seed=p["seed"])
    return hmm, states, tokens


def png_of(ex) -> str:
    """The PNG (base64) currently shown in the explorer's Output widget."""
    (output,) = ex.widget.children[-1].outputs
    return output["data"]["image/png"]


def test_importing_the_package_does_not_import_ipywidgets():
    code = ("import sys, dualfilter; assert 'ipywidgets' not in sys.modules; "
            "from dualfilter import explore; ex = explore.filter_explorer(T=5); ex.figure; "
            "assert 'ipywidgets' not in sys.modules, 'widgets are built lazily'")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert "explore" not in df.__all__


def test_fixed_point_sliders_recompute_and_match_the_package():
    ex = explore.fixed_point_explorer(n_states=3, T=12, seed=2, layer=1)
    fig, before = ex.figure, ex.data["rho"]
    controls = ex.controls
    controls["layer"].value = 5                                  # the observer recomputes
    hmm, _, tokens = model_of(ex)
    data = ex.data
    assert not np.allclose(data["rho"], before)
    np.testing.assert_allclose(data["rho"], df.dual_filter(hmm, tokens, 5), atol=TIGHT)
    np.testing.assert_allclose(ex.im_rho.get_array(), data["rho"].T, atol=TIGHT)
    pi = df.predict(hmm, tokens)
    np.testing.assert_allclose(data["pi"], pi, atol=TIGHT)
    np.testing.assert_allclose(data["error_per_position"],
                               np.abs(df.dual_filter(hmm, tokens, 5) - pi).sum(axis=1), atol=TIGHT)
    errors = [np.abs(df.dual_filter(hmm, tokens, l) - pi).sum(axis=1).max() for l in range(14)]
    np.testing.assert_allclose(data["error_per_layer"], errors, atol=TIGHT)
    assert data["error_per_layer"][-1] < 1e-13                   # T+1 layers are exact
    shown = png_of(ex)
    controls["seed"].value = 7                                   # a new model and path
    hmm, _, tokens = model_of(ex)
    np.testing.assert_allclose(ex.data["rho"], df.dual_filter(hmm, tokens, 5), atol=TIGHT)
    assert png_of(ex) != shown and ex.figure is fig and ex.status == ""


def test_fixed_point_set_normalize_relax_and_bounds():
    ex = explore.fixed_point_explorer(n_states=4, T=10, seed=1)
    fig = ex.figure
    ex.set(normalize=False, relax=0.5, layer=7, stickiness=0.3)
    hmm, _, tokens = model_of(ex)
    expected = df.dual_filter(hmm, tokens, 7, normalize=False, relax=0.5)
    np.testing.assert_allclose(ex.data["rho"], expected, atol=TIGHT)
    assert ex.figure is fig and len(fig.axes) == 5
    ex.widget
    assert ex.controls["normalize"].value is False and ex.controls["relax"].value == 0.5
    ex.controls["T"].value = 4                                   # the layer follows T
    assert ex.params["layer"] == 5 and ex.controls["layer"].max == 5
    np.testing.assert_allclose(ex.data["rho"], df.dual_filter(
        *model_of(ex)[::2], 5, normalize=False, relax=0.5), atol=TIGHT)


INVALID = [
    (dict(layer=50), "layer must lie in [0, 11]"),
    (dict(T=5, layer=7), "layer must lie in [0, 6]"),
    (dict(n_states=40), "n_states must lie in [2, 10]"),
    (dict(relax=0.0), "relax"),
    (dict(normalize="yes"), "normalize must be True or False"),
    (dict(seed=1.5), "seed must be an integer"),
    (dict(colour=3), "unknown parameter"),
]


def test_invalid_input_shows_a_message_and_changes_nothing():
    ex = explore.fixed_point_explorer(n_states=3, T=10, seed=0, layer=2)
    ex.widget
    before, rho = ex.params, ex.data["rho"]
    for params, words in INVALID:
        ex.set(**params)
        assert words in ex.status
        assert words in ex.widget.children[1].value             # the status widget
        assert ex.params == before and ex.controls["layer"].value == 2
        np.testing.assert_array_equal(ex.data["rho"], rho)
    ex.set(layer=3)                                              # a valid change clears it
    assert ex.status == "" and ex.widget.children[1].value == ""


def test_invalid_factory_parameters_fall_back_to_defaults_with_a_message():
    ex = explore.fixed_point_explorer(layer=-1)
    assert "layer" in ex.status and ex.params["layer"] == 3


def test_overflow_of_the_raw_iteration_is_reported_not_raised(monkeypatch):
    ex = explore.fixed_point_explorer(n_states=3, T=10, seed=0)

    def overflow(*args, **kwargs):
        raise ValueError("the dual filter overflowed at layer 9 (normalize=False)")

    monkeypatch.setattr(explore, "dual_filter", overflow)
    ex.set(normalize=False)
    assert "overflowed" in ex.status and ex.params["normalize"] is True


def test_fixed_point_animation_is_a_jshtml_player_without_cdn():
    ex = explore.fixed_point_explorer(n_states=3, T=6, seed=0, layer=2)
    rho = ex.data["rho"]
    html = ex.animation(layers=[0, 3, 7]).data
    assert 'class="anim-controls"' in html and html.count("data:image/png;base64") == 3
    assert "bootstrapcdn" not in html and '<i class="fa' not in html
    np.testing.assert_array_equal(ex.data["rho"], rho)           # the explorer is untouched
    assert ex.params["layer"] == 2
    with pytest.raises(ValueError, match="0..7"):
        ex.animation(layers=[8])


def test_simplex_points_are_the_barycentric_image_of_the_iterates():
    ex = explore.simplex_explorer(T=8, seed=3, layer=0)
    fig = ex.figure
    ex.controls["layer"].value = 4
    hmm, _, tokens = model_of(ex)
    assert hmm.n_states == 3
    rho = df.dual_filter(hmm, tokens, 4)
    data = ex.data
    np.testing.assert_allclose(data["rho"], rho, atol=TIGHT)
    np.testing.assert_allclose(data["rho_xy"], rho @ explore.SIMPLEX_VERTICES, atol=TIGHT)
    np.testing.assert_allclose(ex.points.get_offsets(), data["rho_xy"], atol=TIGHT)
    np.testing.assert_allclose(ex.targets.get_offsets(),
                               df.predict(hmm, tokens) @ explore.SIMPLEX_VERTICES, atol=TIGHT)
    ex.set(n_states=4)
    assert "exactly 3 hidden states" in ex.status and ex.params["n_states"] == 3
    ex.controls["emission_concentration"].value = 2.0
    hmm, _, tokens = model_of(ex)
    np.testing.assert_allclose(ex.data["rho"], df.dual_filter(hmm, tokens, 4), atol=TIGHT)
    assert ex.status == "" and ex.figure is fig
    html = ex.animation(layers=[0, 9]).data
    assert 'class="anim-controls"' in html and html.count("data:image/png;base64") == 2


def test_attention_row_and_matrix_match_contributions():
    ex = explore.attention_explorer(n_states=3, n_tokens=3, T=10, seed=4)
    fig = ex.figure
    controls = ex.controls
    controls["layer"].value = 2
    controls["position"].value = 6
    controls["token"].value = 1
    hmm, _, tokens = model_of(ex)
    rho = df.dual_filter(hmm, tokens, 2)
    f = hmm.C[:, 1]
    W = df.contributions(hmm, tokens, rho, f)
    data = ex.data
    np.testing.assert_allclose(data["W"], W, atol=TIGHT)
    np.testing.assert_allclose(data["row"], W[6, :6], atol=TIGHT)
    np.testing.assert_allclose(ex.bars.get_data().values, W[6, :6], atol=TIGHT)
    next_layer = df.fixed_point_map(hmm, tokens, rho)[6] @ f     # N(rho)_t(f) = mu A^t f + sum
    assert abs(float(data["estimate"]) - next_layer) < TIGHT
    assert abs(float(data["truth"]) - df.predict(hmm, tokens)[6] @ f) < TIGHT
    ex.set(n_tokens=2)                                           # the token follows n_tokens
    assert ex.params["token"] == 1 and len(controls["token"].options) == 2
    ex.set(token=5)
    assert "token must be one of 0, 1" in ex.status
    controls["T"].value = 4                                      # the position follows T
    assert ex.params["position"] == 4 and controls["position"].max == 4
    assert ex.figure is fig


def test_linear_vs_nonlinear_exact_curves_and_path():
    ex = explore.linear_vs_nonlinear_explorer(n_states=3, n_tokens=2, T=5, seed=1, target=2)
    fig = ex.figure
    ex.controls["emission_concentration"].value = 0.5
    data = ex.data
    f = np.eye(3)[2]
    for i, c in enumerate(explore.CONCENTRATIONS):
        hmm = df.random_hmm(3, 2, seed=1, stickiness=0.8, emission_concentration=c)
        assert abs(data["linear_mse"][i] - df.linear_predictor(hmm, 5).mse(f)) < TIGHT
        assert abs(data["mmse"][i] - brute_force.mmse(hmm, f, 5)) < TIGHT
    assert np.all(data["mmse"] <= data["linear_mse"] + 1e-12)
    hmm, states, tokens = model_of(ex)
    np.testing.assert_allclose(data["truth"], f[states])
    np.testing.assert_allclose(data["nonlinear"], df.predict(hmm, tokens) @ f, atol=TIGHT)
    linear = [df.linear_predictor(hmm, t).estimate(tokens[:t], f) for t in range(6)]
    np.testing.assert_allclose(data["linear"], linear, atol=1e-10)
    np.testing.assert_allclose(ex.line_m.get_ydata(), linear, atol=1e-10)
    ex.set(emission_concentration=0.3)
    assert "emission_concentration must be one of" in ex.status
    ex.controls["target"].value = 0
    assert not np.allclose(ex.data["linear_mse"], data["linear_mse"])
    assert ex.figure is fig


def test_linear_vs_nonlinear_monte_carlo_matches_its_definition():
    ex = explore.linear_vs_nonlinear_explorer(n_states=2, n_tokens=3, T=10, seed=0, mc_paths=8)
    assert 3**10 > explore.EXACT_SEQUENCES
    f = np.eye(2)[0]
    for i, c in enumerate(explore.CONCENTRATIONS[::4]):
        hmm = df.random_hmm(2, 3, seed=0, stickiness=0.8, emission_concentration=c)
        lp = df.linear_predictor(hmm, 10)
        gap = 0.0
        for k in range(8):
            _, tokens = df.sample(hmm, 10, seed=(0, k))
            gap += (df.predict(hmm, tokens)[10] @ f - lp.estimate(tokens, f)) ** 2
        assert abs(ex.data["mmse"][4 * i] - (lp.mse(f) - gap / 8)) < 1e-10


def test_monte_carlo_mmse_is_close_to_the_exact_value():
    hmm = df.random_hmm(3, 2, seed=5, stickiness=0.5, emission_concentration=0.5)
    f = np.array([1.0, 0.0, 2.0])
    lp = df.linear_predictor(hmm, 8)
    exact = brute_force.mmse(hmm, f, 8)
    estimate = explore.mc_mmse(lp, f, seed=0, paths=400)
    assert abs(estimate - exact) < 0.05 * exact
    assert estimate <= lp.mse(f)


def test_filter_explorer_shows_the_forward_algorithm():
    ex = explore.filter_explorer(n_states=3, T=15, seed=0)
    fig = ex.figure
    tokens_before = ex.data["tokens"]
    ex.controls["seed"].value = 9
    hmm, states, tokens = model_of(ex)
    data = ex.data
    assert not np.array_equal(data["tokens"], tokens_before)
    np.testing.assert_array_equal(data["states"], states)
    np.testing.assert_array_equal(data["tokens"], tokens)
    np.testing.assert_allclose(data["pi"], df.predict(hmm, tokens), atol=TIGHT)
    probs = df.next_token_probs(hmm, tokens)[np.arange(15), tokens]
    np.testing.assert_allclose(data["observed_token_prob"], probs, atol=TIGHT)
    np.testing.assert_allclose(ex.im.get_array(), data["pi"].T, atol=TIGHT)
    ex.set(n_states=5, T=30, emission_concentration=5.0)
    assert ex.data["pi"].shape == (31, 5) and ex.status == "" and ex.figure is fig
    assert ex.controls["n_states"].value == 5 and ex.controls["T"].value == 30


def test_linear_estimates_are_the_riccati_estimates_for_every_horizon():
    hmm = df.random_hmm(4, 3, seed=2)
    _, tokens = df.sample(hmm, 7, seed=3)
    f = np.array([0.5, -1.0, 2.0, 0.0])
    m = explore.linear_estimates(df.linear_predictor(hmm, 7), tokens)
    for t in range(8):
        assert abs(m[t] @ f - df.linear_predictor(hmm, t).estimate(tokens[:t], f)) < 1e-10

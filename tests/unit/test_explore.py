"""The interactive explorers, driven programmatically: set(), status, data, controls, spec,
the rendering (blit against full redraw) and the animation."""

import html
import io
import json
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

import dualfilter as df  # noqa: E402
from dualfilter import brute_force, explore, plots  # noqa: E402
from dualfilter.explore._base import encode_png  # noqa: E402

TIGHT = 1e-12
NAMES = list(explore.EXPLORERS)


def model_of(ex):
    """The model and path an explorer shows, rebuilt from its parameters with the package."""
    p = ex.params
    hmm = df.random_hmm(p["n_states"], p["n_tokens"], seed=p["seed"], stickiness=p["stickiness"],
                        emission_concentration=p["emission_concentration"])
    states, tokens = df.sample(hmm, p["T"], seed=p["seed"])
    return hmm, states, tokens


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def shown(ex) -> np.ndarray:
    """The picture currently shown in the explorer's widget."""
    return pixels(ex.widget.children[-1].value)


def full_redraw(name, params) -> np.ndarray:
    """A fresh explorer with these parameters, drawn in full (no blitting)."""
    fresh = getattr(explore, name)(**params)
    fresh.figure.canvas.draw()
    return np.asarray(fresh.figure.canvas.buffer_rgba())[..., :3]


# ----- packaging ----------------------------------------------------------------------
def test_importing_the_core_imports_no_presentation_library():
    code = ("import sys, dualfilter, dualfilter.brute_force; "
            "bad = [m for m in ('matplotlib', 'ipywidgets', 'PIL', 'IPython') if m in sys.modules]; "
            "assert not bad, bad; "
            "from dualfilter import explore; ex = explore.filter_explorer(T=5); ex.figure; "
            "assert 'ipywidgets' not in sys.modules, 'widgets are built lazily'")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert "explore" not in df.__all__ and "plots" not in df.__all__


def test_the_package_metadata_puts_the_presentation_libraries_in_the_book_extra():
    tomllib = pytest.importorskip("tomllib")
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"])
    assert "numpy" in core and "numba" in core
    for name in ("matplotlib", "ipywidgets", "pillow"):
        assert name not in core.lower()
        assert any(d.lower().startswith(name) for d in project["optional-dependencies"]["book"])
    assert "-e .[book]" in (root / "requirements.txt").read_text().splitlines()


# ----- the parameter declaration --------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_spec_is_json_and_agrees_with_the_controls(name):
    ex = getattr(explore, name)()
    spec = json.loads(json.dumps(ex.spec()))
    assert spec == explore.parameter_spec(name)
    assert [p["name"] for p in spec] == list(ex.params)
    controls = ex.controls
    assert sorted(controls) == sorted(p["name"] for p in spec if p["control"])

    def value(bound):                     # a ref resolved against the current parameters
        if isinstance(bound, dict):
            return ex.params[bound["param"]] + bound["offset"]
        return bound

    for p in spec:
        default = value(p["default"])
        assert ex.params[p["name"]] == default, p["name"]
        if not p["control"]:
            continue
        w = controls[p["name"]]
        assert w.description == p["label"]
        assert w.value == default
        kind = p["kind"]
        if kind == "bool":
            assert type(w).__name__ == "Checkbox"
            continue
        if kind == "choice":
            options = (list(range(value(p["options"]["range"]))) if isinstance(p["options"], dict)
                       else p["options"])
            assert type(w).__name__ == "Dropdown"
            assert [v for _, v in w.options] == options
            continue
        if kind == "text":
            assert type(w).__name__ == "Text" and not w.continuous_update
            assert 0 < p["low"] <= len(default) <= p["high"]
            continue
        assert w.continuous_update == p["live"]
        assert w.step == pytest.approx(p["step"], rel=1e-12)
        low, high = value(p["low"]), value(p["high"])
        if kind == "log":
            assert type(w).__name__ == "FloatLogSlider"
            assert (10 ** w.min, 10 ** w.max) == pytest.approx((low, high), rel=1e-12)
        else:
            assert type(w).__name__ == {"int": "IntSlider", "float": "FloatSlider"}[kind]
            assert (w.min, w.max) == (low, high)


def test_spec_example_layer_and_refs():
    spec = {p["name"]: p for p in explore.parameter_spec("fixed_point_explorer")}
    assert spec["layer"] == {"name": "layer", "kind": "int", "label": "layer ℓ", "default": 3,
                             "low": 0, "high": {"param": "T", "offset": 1}, "step": 1,
                             "control": True, "live": True,
                             "doc": "the layer ℓ shown (T + 1 layers are exact)"}
    attention = {p["name"]: p for p in explore.parameter_spec("attention_explorer")}
    assert attention["position"]["default"] == {"param": "T", "offset": 0}
    assert attention["token"]["options"] == {"range": {"param": "n_tokens", "offset": 0}}
    simplex = {p["name"]: p for p in explore.parameter_spec("simplex_explorer")}
    assert (simplex["n_states"]["low"], simplex["n_states"]["high"]) == (3, 3)
    assert "3 hidden states" in simplex["n_states"]["reason"]
    with pytest.raises(ValueError, match="name must be one of"):
        explore.parameter_spec("nope")


def test_refs_follow_earlier_parameters_in_the_factory_and_in_set():
    ex = explore.attention_explorer(T=12)
    assert ex.params["position"] == 12                  # the default follows T
    ex.set(T=5)
    assert ex.params["position"] == 5 and ex.controls["position"].max == 5
    ex.set(n_tokens=2, token=1)
    ex.set(n_tokens=3)
    assert ex.params["token"] == 1
    ex.set(n_tokens=2)
    assert ex.params["token"] == 1 and len(ex.controls["token"].options) == 2


# ----- every explorer against the package ----------------------------------------------
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
    np.testing.assert_allclose(ex.line_layer.get_ydata(), plots.floor(errors), atol=TIGHT)
    assert data["error_per_layer"][-1] < 1e-13                   # T+1 layers are exact
    before = shown(ex)
    controls["seed"].value = 7                                   # a new model and path
    hmm, _, tokens = model_of(ex)
    np.testing.assert_allclose(ex.data["rho"], df.dual_filter(hmm, tokens, 5), atol=TIGHT)
    assert not np.array_equal(shown(ex), before) and ex.figure is fig and ex.status == ""


def test_fixed_point_set_normalize_relax_and_bounds():
    ex = explore.fixed_point_explorer(n_states=4, T=10, seed=1)
    fig = ex.figure
    ex.set(normalize=False, relax=0.5, layer=7, stickiness=0.3)
    hmm, _, tokens = model_of(ex)
    expected = df.dual_filter(hmm, tokens, 7, normalize=False, relax=0.5)
    np.testing.assert_allclose(ex.data["rho"], expected, atol=TIGHT)
    assert ex.figure is fig and len(fig.axes) == 5
    assert ex.controls["normalize"].value is False and ex.controls["relax"].value == 0.5
    ex.controls["T"].value = 4                                   # the layer follows T
    assert ex.params["layer"] == 5 and ex.controls["layer"].max == 5
    np.testing.assert_allclose(ex.data["rho"], df.dual_filter(
        *model_of(ex)[::2], 5, normalize=False, relax=0.5), atol=TIGHT)


def test_simplex_points_are_the_barycentric_image_of_the_iterates():
    ex = explore.simplex_explorer(T=8, seed=3, layer=0)
    fig = ex.figure
    ex.controls["layer"].value = 4
    hmm, _, tokens = model_of(ex)
    assert hmm.n_states == 3
    rho = df.dual_filter(hmm, tokens, 4)
    data = ex.data
    np.testing.assert_allclose(data["rho"], rho, atol=TIGHT)
    np.testing.assert_allclose(data["rho_xy"], rho @ plots.SIMPLEX_VERTICES, atol=TIGHT)
    np.testing.assert_allclose(ex.simplex["points"].get_offsets(), data["rho_xy"], atol=TIGHT)
    np.testing.assert_allclose(ex.simplex["targets"].get_offsets(),
                               df.predict(hmm, tokens) @ plots.SIMPLEX_VERTICES, atol=TIGHT)
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
    np.testing.assert_allclose(data["pi"], df.predict(hmm, tokens), atol=TIGHT)
    ex.set(token=5)
    assert "token must be one of 0, 1, 2; got 5" in ex.status
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
        p_T = hmm.prior_marginals(5)[5]
        assert abs(data["prior_var"][i] - (p_T @ f - (p_T @ f) ** 2)) < TIGHT
    assert np.all(data["mmse"] <= data["linear_mse"] + 1e-12)
    hmm, states, tokens = model_of(ex)
    np.testing.assert_allclose(data["truth"], f[states])
    np.testing.assert_allclose(data["nonlinear"], df.predict(hmm, tokens) @ f, atol=TIGHT)
    linear = [df.linear_predictor(hmm, t).estimate(tokens[:t], f) for t in range(6)]
    np.testing.assert_allclose(data["linear"], linear, atol=1e-10)
    np.testing.assert_allclose(ex.path_lines[r"linear $m_t f$"].get_ydata(), linear, atol=1e-10)
    ex.set(emission_concentration=0.3)
    assert "emission_concentration must be one of" in ex.status
    ex.controls["target"].value = 0
    assert not np.allclose(ex.data["linear_mse"], data["linear_mse"])
    assert ex.figure is fig


def test_linear_vs_nonlinear_monte_carlo_is_the_package_estimate():
    ex = explore.linear_vs_nonlinear_explorer(n_states=2, n_tokens=3, T=10, seed=0, mc_paths=8)
    assert 3**10 > explore.EXACT_SEQUENCES
    f = np.eye(2)[0]
    for i, c in enumerate(explore.CONCENTRATIONS):
        hmm = df.random_hmm(2, 3, seed=0, stickiness=0.8, emission_concentration=c)
        lp = df.linear_predictor(hmm, 10)
        assert abs(ex.data["mmse"][i] - brute_force.mc_mmse(lp, f, 0, 8)) < TIGHT
    assert ex.mse_lines["mmse"].get_label() == "MMSE (Monte Carlo, 8 paths)"


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
    prior = (hmm.prior_marginals(15) @ hmm.C)[np.arange(15), tokens]
    np.testing.assert_allclose(data["prior_token_prob"], prior, atol=TIGHT)
    np.testing.assert_allclose(ex.im.get_array(), data["pi"].T, atol=TIGHT)
    ex.set(n_states=5, T=30, emission_concentration=5.0)
    assert ex.data["pi"].shape == (31, 5) and ex.status == "" and ex.figure is fig
    assert ex.controls["n_states"].value == 5 and ex.controls["T"].value == 30


# ----- invalid input: a message, and nothing changes -----------------------------------
INVALID = [
    (dict(layer=50), "layer must lie in [0, 11], got 50"),
    (dict(T=5, layer=7), "layer must lie in [0, 6], got 7"),
    (dict(n_states=40), "n_states must lie in [2, 10], got 40"),
    (dict(relax=0.0), "relax must lie in [0.05, 1], got 0"),
    (dict(normalize="yes"), "normalize must be True or False"),
    (dict(seed=1.5), "seed must be an integer"),
    (dict(colour=3), "unknown parameter(s) colour"),
    # huge values: no OverflowError, a message with a short form of the number
    (dict(T=10**400), "T must lie in [1, 100], got an integer of about 401 digits"),
    (dict(T=10**5000), "T must lie in [1, 100], got an integer of about 5001 digits"),
    (dict(layer=10**400), "layer must lie in [0, 11]"),
    (dict(seed=-10**400), "seed must lie in [0, 999]"),
    (dict(relax=10**400), "relax must lie in [0.05, 1]"),
    (dict(stickiness=10**400), "stickiness must lie in [0, 0.99]"),
    (dict(emission_concentration=-10**400), "emission_concentration must lie in [0.03, 30]"),
    (dict(relax=float("nan")), "relax must be a number, got nan"),
    (dict(stickiness=float("inf")), "stickiness must lie in [0, 0.99], got inf"),
    # arrays and sequences: refused, whatever their content
    (dict(stickiness=np.array([0.5, 0.6])), "stickiness must be a single value, got an array of shape (2,)"),
    (dict(layer=np.array([3])), "layer must be a single value, got an array of shape (1,)"),
    (dict(relax=np.array(0.5)), "relax must be a single value, got an array of shape ()"),
    (dict(normalize=np.array([True])), "normalize must be a single value"),
    (dict(layer=[3]), "layer must be a single value"),
    # booleans only for bool parameters, numbers only for the others
    (dict(normalize="False"), "normalize must be True or False, got 'False'"),
    (dict(normalize=1), "normalize must be True or False, got 1"),
    (dict(relax=True), "relax must be a number, got True"),
    (dict(layer=False), "layer must be an integer, got False"),
    (dict(relax="0.5"), "relax must be a number, got '0.5'"),
    (dict(relax=None), "relax must be a number, got None"),
]


@pytest.fixture(scope="module")
def small_explorer():
    ex = explore.fixed_point_explorer(n_states=3, T=10, seed=0, layer=2)
    ex.widget
    return ex


@pytest.mark.parametrize("params, words", INVALID, ids=[str(list(p)) for p, _ in INVALID])
def test_invalid_input_shows_a_message_and_changes_nothing(small_explorer, params, words):
    ex = small_explorer
    before, rho, picture = ex.params, ex.data["rho"], ex.widget.children[-1].value
    ex.set(**params)                                             # never raises
    assert words in ex.status
    assert html.escape(words) in ex.widget.children[1].value      # the status line
    assert ex.params == before and ex.controls["layer"].value == 2
    np.testing.assert_array_equal(ex.data["rho"], rho)
    assert ex.widget.children[-1].value == picture
    ex.set(layer=3)                                              # a valid change clears it
    assert ex.status == "" and ex.widget.children[1].value == ""
    ex.set(layer=2)


@pytest.mark.parametrize("params", [dict(T=10**400), dict(relax=True), dict(normalize="False"),
                                    dict(layer=-1), dict(stickiness=np.ones(2))])
def test_invalid_factory_parameters_fall_back_to_defaults_with_a_message(params):
    ex = explore.fixed_point_explorer(**params)
    name = next(iter(params))
    assert ex.status.startswith(name) and ex.params["layer"] == 3 and ex.params["T"] == 40


def test_choice_parameters_refuse_arrays_and_booleans():
    ex = explore.attention_explorer(T=10, n_tokens=3)
    for value, words in ((np.array([0, 1]), "token must be a single value"),
                         (True, "token must be one of 0, 1, 2; got True"),
                         (1.5, "token must be one of 0, 1, 2; got 1.5"),
                         ("1", "token must be one of 0, 1, 2; got '1'")):
        ex.set(token=value)
        assert words in ex.status and ex.params["token"] == 0
    ex.set(token=np.int64(2))                                    # a numpy integer is fine
    assert ex.status == "" and ex.params["token"] == 2


def test_log_slider_reaches_its_bounds():
    ex = explore.fixed_point_explorer()
    w = ex.controls["emission_concentration"]
    for end, bound in ((w.min, 0.03), (w.max, 30.0)):
        w.value = 10**end                     # the slider's end: one rounding off the bound
        assert ex.status == "" and ex.params["emission_concentration"] == bound
    ex.set(emission_concentration=0.03 * (1 - 1e-6))             # genuinely out of range
    assert "emission_concentration must lie in [0.03, 30]" in ex.status


@pytest.mark.parametrize("n_states", [2, 4])
def test_simplex_needs_exactly_three_states(n_states):
    ex = explore.simplex_explorer(n_states=n_states)
    assert "the simplex view needs exactly 3 hidden states" in ex.status
    assert ex.params["n_states"] == 3
    ex.set(n_states=n_states, T=5)
    assert ex.status == (f"n_states must be 3, got {n_states}: the simplex view needs exactly 3 "
                         f"hidden states (a triangle)")
    assert ex.params["T"] == 20


def test_a_refusal_of_the_package_is_reported_not_raised(monkeypatch):
    ex = explore.fixed_point_explorer(n_states=3, T=10, seed=0)

    def overflow(*args, **kwargs):
        raise ValueError("the dual filter overflowed at layer 9 (normalize=False)")

    monkeypatch.setattr(df, "dual_filter", overflow)
    ex.set(normalize=False)
    assert "overflowed" in ex.status and ex.params["normalize"] is True


def test_fixed_point_animation_is_a_jshtml_player_without_cdn():
    ex = explore.fixed_point_explorer(n_states=3, T=6, seed=0, layer=2)
    rho = ex.data["rho"]
    html = ex.animation(layers=[0, 3, np.int64(7)]).data
    assert 'class="anim-controls"' in html and html.count("data:image/png;base64") == 3
    assert "bootstrapcdn" not in html and '<i class="fa' not in html
    np.testing.assert_array_equal(ex.data["rho"], rho)           # the explorer is untouched
    assert ex.params["layer"] == 2


@pytest.mark.parametrize("layers", [[8], [-1], [2.7], [2.0], [True], ["1"], [], 3, "12"])
def test_animation_refuses_anything_but_integer_layers(layers):
    ex = explore.fixed_point_explorer(n_states=3, T=6, seed=0)
    with pytest.raises(ValueError, match=r"layers must be a non-empty list of integers in 0\.\.7"):
        ex.animation(layers=layers)


# ----- rendering: what the widget shows is the figure ------------------------------------
def test_moving_the_position_updates_both_titles_of_the_attention_explorer():
    ex = explore.attention_explorer(T=20, seed=1)
    ex.widget
    ex.controls["position"].value = 7                            # the fast (blit) path
    assert ex.ax_mat.get_title() == "attention matrix of layer 2\n(row t = 7 outlined)"
    assert ex.ax_bar.get_title().startswith("position t = 7,")
    np.testing.assert_array_equal(shown(ex), full_redraw("attention_explorer", ex.params))


MOVES = {
    "filter_explorer": [dict(seed=2), dict(stickiness=0.3), dict(T=20), dict(n_states=6),
                        dict(emission_concentration=0.03), dict(n_tokens=10)],
    "linear_vs_nonlinear_explorer": [dict(emission_concentration=1.0), dict(target=1),
                                     dict(stickiness=0.5), dict(T=3), dict(n_states=4)],
    "simplex_explorer": [dict(layer=10), dict(layer=11), dict(stickiness=0.5), dict(layer=4),
                         dict(T=30), dict(layer=2), dict(seed=4)],
    "fixed_point_explorer": [dict(layer=10), dict(layer=12), dict(stickiness=0.5),
                             dict(normalize=False), dict(layer=30), dict(normalize=True),
                             dict(normalize=False), dict(relax=0.5), dict(T=30), dict(layer=2),
                             dict(seed=3), dict(n_states=10, T=100)],
    "attention_explorer": [dict(position=10), dict(position=3), dict(token=2), dict(layer=4),
                           dict(T=20), dict(position=7), dict(seed=5), dict(position=20)],
    "depth_explorer": [dict(eps=1e-9), dict(eps=1e-3), dict(T=60), dict(memory=2),
                       dict(relax_rule=False), dict(relax=0.3), dict(eps=1e-9), dict(seed=4)],
    "real_text_explorer": [dict(layers=10), dict(layers=2), dict(relax=0.5), dict(n_states=16),
                           dict(text="the return statement"), dict(layers=32), dict(relax=1.0),
                           dict(text="x" * 100)],
}


@pytest.mark.parametrize("name", NAMES)
def test_blitted_pictures_equal_a_full_redraw(name):
    """Every level of the incremental rendering (live artists over a saved picture, dynamic
    artists over a saved frame, a frame picture kept from before) gives the pixels of a full
    redraw of a fresh explorer with the same parameters."""
    ex = getattr(explore, name)()
    ex.widget
    np.testing.assert_array_equal(shown(ex), full_redraw(name, ex.params))
    for move in MOVES[name]:
        ex.set(**move)
        assert ex.status == "", ex.status
        np.testing.assert_array_equal(shown(ex), full_redraw(name, ex.params), err_msg=str(move))


def test_png_encoder_round_trips_the_canvas():
    ex = explore.fixed_point_explorer(T=10)
    ex.figure.canvas.draw()
    rgba = np.asarray(ex.figure.canvas.buffer_rgba())
    np.testing.assert_array_equal(pixels(encode_png(rgba)), rgba[..., :3])
    np.testing.assert_array_equal(pixels(ex.png()), rgba[..., :3])


# ----- plots: one style, functions that return their artists ---------------------------
def test_plot_functions_return_their_artists_and_floor_errors():
    fig = plots.new_figure((6, 4))
    ax = fig.add_subplot()
    lines = plots.plot_layer_errors(ax, {"a": [1.0, 0.0, 1e-20]})
    np.testing.assert_array_equal(lines["a"].get_ydata(), [1.0, plots.ERROR_FLOOR,
                                                           plots.ERROR_FLOOR])
    im = plots.plot_measure_heatmap(fig.add_subplot(), np.full((5, 3), 1 / 3), [0, 1, 2, 1, 0])
    assert im.get_array().shape == (3, 5)
    assert isinstance(plots.plot_mse_sweep(ax, [1, 2], {"x": np.ones((3, 2))}, xlabel="c")["x"],
                      matplotlib.lines.Line2D)
    assert set(plots.plot_estimates_vs_truth(ax, [0, 1], {"a": [0.5, 0.5]}, ylabel="y")) == {
        "truth", "a"}
    assert plots.nice_ceiling(0.37) == 0.4 and plots.nice_ceiling(1e-13) == 1e-13
    assert plots.nice_ceiling(0.0) == 1.0 and plots.nice_ceiling(101) == 120


def test_the_style_and_every_spec_export_as_json_from_the_command_line():
    out = subprocess.run([sys.executable, "-m", "dualfilter.explore"], check=True,
                         capture_output=True, text=True).stdout
    exported = json.loads(out)
    assert exported["explorers"] == explore.all_specs() and set(exported["explorers"]) == set(NAMES)
    assert exported["style"]["error_floor"] == plots.ERROR_FLOOR == 1e-16
    assert exported["style"]["colors"]["nonlinear"] == "#1f77b4"

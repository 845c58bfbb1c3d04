"""The chapter 13 explorer (real_text_explorer): typed text, exact predictor, dual filter."""

import json

import numpy as np
import pytest

pytest.importorskip("matplotlib")
import dualfilter as df  # noqa: E402
from dualfilter import explore, text  # noqa: E402
from dualfilter.explore.real_text import DEFAULT_TEXT, MAX_CHARS, MAX_LAYERS, load_model  # noqa: E402


def test_default_shows_the_exact_law_and_the_dual_filter_of_the_stored_model():
    ex = explore.real_text_explorer()
    assert ex.status == "" and ex.params == dict(text=DEFAULT_TEXT, n_states=64, layers=4,
                                                 relax=1.0)
    hmm = load_model(64)
    tokens = text.encode(DEFAULT_TEXT)
    data = ex.data
    np.testing.assert_array_equal(data["tokens"], tokens)
    np.testing.assert_allclose(data["exact"], df.next_token_probs(hmm, tokens)[-1],
                               rtol=0, atol=1e-14)
    rho = df.dual_filter(hmm, tokens, 4)
    np.testing.assert_array_equal(data["rho"], rho)
    q = np.clip(rho[-1], 0, None)
    np.testing.assert_allclose(data["filtered"], q / q.sum() @ hmm.C, rtol=0, atol=1e-15)
    assert data["exact"].sum() == pytest.approx(1, abs=1e-13)
    assert data["total_variation"] == pytest.approx(
        0.5 * np.abs(data["filtered"] - data["exact"]).sum(), abs=1e-15)
    np.testing.assert_allclose(data["error_per_position"],
                               np.abs(rho - df.predict(hmm, tokens)).sum(axis=1), atol=1e-15)


def test_enough_layers_give_the_exact_predictor_and_relaxation_is_the_package_s():
    short = "the value"
    ex = explore.real_text_explorer(text=short, n_states=16, layers=len(short) + 1)
    assert ex.data["total_variation"] < 1e-12
    ex.set(relax=0.5, layers=7)
    hmm = load_model(16)
    rho = df.dual_filter(hmm, text.encode(short), 7, relax=0.5)
    np.testing.assert_allclose(ex.data["rho"], rho, atol=1e-15)
    ex.set(layers=0)                       # layer 0: the prior measures
    np.testing.assert_allclose(ex.data["rho"], df.prior_measures(hmm, len(short)), atol=1e-15)


def test_unknown_character_gets_the_message_of_text_encode_and_changes_nothing():
    ex = explore.real_text_explorer()
    before = ex.data["exact"]
    typed = "print(x); return"
    with pytest.raises(ValueError) as info:
        text.encode(typed)
    ex.set(text=typed)
    assert ex.status == str(info.value) and "';' (U+003B) at position 8" in ex.status
    assert ex.params["text"] == DEFAULT_TEXT
    np.testing.assert_array_equal(ex.data["exact"], before)
    ex.set(text="Return")                  # folded to lower case, as encode does
    assert ex.status == "" and ex.params["text"] == "Return"


@pytest.mark.parametrize("value, words", [
    ("", f"text must have 1 to {MAX_CHARS} characters, got 0"),
    ("a" * (MAX_CHARS + 1), f"text must have 1 to {MAX_CHARS} characters, got {MAX_CHARS + 1}"),
    (5, "text must be a string, got 5"),
    (["a"], "text must be a single value"),
    (None, "text must be a string, got None"),
])
def test_text_parameter_is_checked(value, words):
    ex = explore.real_text_explorer()
    ex.set(text=value)
    assert ex.status.startswith(words) and ex.params["text"] == DEFAULT_TEXT


def test_other_parameters_are_checked():
    ex = explore.real_text_explorer()
    for params, words in ((dict(n_states=256), "n_states must be one of 16, 64; got 256"),
                          (dict(layers=MAX_LAYERS + 1), f"layers must lie in [0, {MAX_LAYERS}]"),
                          (dict(relax=0.0), "relax must lie in [0.05, 1]")):
        ex.set(**params)
        assert ex.status.startswith(words), ex.status


def test_twin_data_is_small_plain_json_with_the_stored_models():
    ex = explore.real_text_explorer()
    data = ex.twin_data()
    blob = json.dumps(data, allow_nan=False)
    assert len(blob) < 300_000
    assert data["vocabulary"] == text.VOCABULARY
    for d in (16, 64):
        hmm = load_model(d)
        for key in ("A", "C", "mu"):
            np.testing.assert_array_equal(np.array(data["models"][str(d)][key]), getattr(hmm, key))
    config = ex.twin().config
    assert config["name"] == "real_text_explorer" and config["book"] is None
    assert config["data"]["labels"] == text.labels()

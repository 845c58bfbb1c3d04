"""The stored character-level models of chapter 13 (book/data/text-hmm-d*.npz).

Re-running ``benchmarks/fit_text_models.py`` with its documented settings must reproduce the
stored files. The full refit of the smallest model (d = 16, 200 iterations) takes one to a
few minutes on two cores, so by default the test refits its first 10 iterations and checks
the log-likelihood path; with DUALFILTER_FULL=1 it refits the whole d = 16 model and compares
every array. The larger models (hours to fit) are checked for consistency, not refitted;
the likelihood of the training text is recomputed for the smallest one.
"""

import os
import sys
from pathlib import Path

import numpy as np
import pytest

import dualfilter as df
from dualfilter import text

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import fit_text_models  # noqa: E402

FULL = os.environ.get("DUALFILTER_FULL") == "1"


def _same_corpus(record) -> bool:
    return str(record["corpus_sha256"]) == text.corpus_sha256()


@pytest.mark.parametrize("d", sorted(fit_text_models.SETTINGS))
def test_stored_model_is_consistent(d):
    hmm, record = fit_text_models.load(d)
    assert hmm.n_states == d and hmm.n_tokens == text.N_TOKENS
    assert str(record["vocabulary"]) == text.VOCABULARY
    settings = fit_text_models.SETTINGS[d]
    assert int(record["n_iter"]) == settings["n_iter"] and float(record["tol"]) == settings["tol"]
    assert int(record["seed"]) == settings["seed"]
    path = record["log_likelihoods"]
    iterations = len(path) - 1
    assert 0 < iterations <= settings["n_iter"]
    assert np.all(np.diff(path) >= -1e-12 * abs(path[-1]))               # the EM inequality
    floor, tf = float(record["floor"]), float(record["transition_floor"])
    assert tf == df.learning.TRANSITION_FLOOR and floor == df.learning.DEFAULT_FLOOR
    assert hmm.C.min() >= floor / (1 + text.N_TOKENS * floor) * (1 - 1e-12)
    assert min(hmm.A.min(), hmm.mu.min()) >= tf / (1 + d * tf) * (1 - 1e-12)
    if d == 16 and _same_corpus(record):
        # the stored (floored) model scores the training text at most the documented cost of
        # the floors below the path's last entry
        train = text.split()[0]
        ll = sum(df.log_likelihood(hmm, s) for s in train)
        n = int(record["n_train_tokens"])
        cost = n * (np.log1p(text.N_TOKENS * floor) + np.log1p(d * tf))
        assert path[-1] - cost - 1e-9 * abs(ll) <= ll


def test_rerunning_the_script_reproduces_the_smallest_model(tmp_path):
    _, record = fit_text_models.load(16)
    if not _same_corpus(record):
        pytest.skip("this Python's pydoc_data corpus differs from the one the model was fit to")
    if not FULL:
        _, path = fit_text_models.fit(16, n_iter=10)
        np.testing.assert_allclose(path, record["log_likelihoods"][:11], rtol=1e-12, atol=0)
        return
    hmm, path = fit_text_models.fit(16)
    fit_text_models.save(16, hmm, path, 0.0, tmp_path)
    _, again = fit_text_models.load(16, tmp_path)
    for key in ("mu", "A", "C", "log_likelihoods"):
        np.testing.assert_allclose(again[key], record[key], rtol=1e-9, atol=1e-12)

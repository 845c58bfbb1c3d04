"""Fit the character-level HMMs of chapter 13 and store them under book/data/.

Usage::

    python benchmarks/fit_text_models.py                # d = 16, 64 and 256 (hours on 2 cores)
    python benchmarks/fit_text_models.py --d 16         # one model (about a minute)
    python benchmarks/fit_text_models.py --d 16 --out /tmp/models   # elsewhere (the test does)

Each model is ``dualfilter.fit_hmm`` on the training topics of ``dualfilter.text.split()``
(one sequence per topic) with the settings of ``SETTINGS`` below: the default initial model
with seed 0, at most ``n_iter`` EM iterations, stopping early when an iteration gains less
than ``tol`` nats per character, and the default floors. The file
``book/data/text-hmm-d{d}.npz`` (compressed) holds the fitted mu, A, C, the log-likelihood
path, the settings, and the corpus's SHA-256 with the Python version it came from (the
corpus, ``pydoc_data.topics``, differs a little between Python versions; a model is
reproduced exactly only from the same corpus).

The whole computation is deterministic for a given corpus: re-running the script
reproduces the stored arrays up to the rounding of the BLAS products (whose order of
summation may depend on the machine), see tests/test_text_models.py.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np

import dualfilter as df
from dualfilter import text

DATA = Path(__file__).resolve().parents[1] / "book" / "data"
SETTINGS = {
    16: dict(n_iter=200, tol=1e-6, seed=0),
    64: dict(n_iter=200, tol=1e-6, seed=0),
    256: dict(n_iter=200, tol=1e-6, seed=0),
}


def path_of(d: int, directory: Path = DATA) -> Path:
    return Path(directory) / f"text-hmm-d{d}.npz"


def fit(d: int, n_iter: int | None = None):
    """The model of size d with its stored settings (``n_iter`` overrides the maximum)."""
    settings = dict(SETTINGS[d])
    if n_iter is not None:
        settings["n_iter"] = n_iter
    train = text.split()[0]
    return df.fit_hmm(train, d, n_tokens=text.N_TOKENS, **settings)


def save(d: int, hmm: df.HMM, log_likelihoods: np.ndarray, seconds: float, directory: Path):
    directory.mkdir(parents=True, exist_ok=True)
    train = text.split()[0]
    np.savez_compressed(
        path_of(d, directory), mu=hmm.mu, A=hmm.A, C=hmm.C, log_likelihoods=log_likelihoods,
        n_train_tokens=sum(len(s) for s in train), vocabulary=text.VOCABULARY,
        corpus_sha256=text.corpus_sha256(), python=platform.python_version(),
        n_iter=SETTINGS[d]["n_iter"], tol=SETTINGS[d]["tol"], seed=SETTINGS[d]["seed"],
        floor=df.learning.DEFAULT_FLOOR, transition_floor=df.learning.TRANSITION_FLOOR,
        seconds=seconds,
    )


def load(d: int, directory: Path = DATA) -> tuple[df.HMM, dict]:
    """The stored model of size d and the rest of its file (as a dict of arrays)."""
    with np.load(path_of(d, directory)) as f:
        data = {k: f[k] for k in f.files}
    return df.HMM(data["A"], data["C"], data["mu"]), data


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", type=int, nargs="*", default=sorted(SETTINGS),
                        choices=sorted(SETTINGS))
    parser.add_argument("--out", type=Path, default=DATA)
    args = parser.parse_args()
    for d in args.d:
        start = time.perf_counter()
        hmm, ll = fit(d)
        seconds = time.perf_counter() - start
        save(d, hmm, ll, seconds, args.out)
        n = int(np.load(path_of(d, args.out))["n_train_tokens"])
        print(f"d = {d}: {len(ll) - 1} iterations in {seconds:.0f} s, training "
              f"{-ll[-1] / n / np.log(2):.4f} bits/char -> {path_of(d, args.out)} "
              f"({path_of(d, args.out).stat().st_size / 1024:.0f} KB)", flush=True)


if __name__ == "__main__":
    main()

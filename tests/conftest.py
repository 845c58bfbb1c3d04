"""Shared fixtures and the test layout.

- ``tests/unit``: fast oracle tests of the package (the everyday run,
  ``python -m pytest -m "not book"``, under a minute on two cores);
- ``tests/book``: the book itself (build, browser, determinism, live explorers), marked
  ``book`` automatically; CI runs everything.

Oracles shared by several test modules (the log-space forward algorithm, the hmmlearn
adapter) live in ``tests/oracles.py``; the list of the book's pages from _toc.yml in
``tests/pages.py``.
"""

from pathlib import Path

import pytest

import dualfilter as df

BOOK_TESTS = Path(__file__).resolve().parent / "book"


def pytest_collection_modifyitems(config, items):
    """Every test under tests/book gets the ``book`` marker."""
    for item in items:
        if BOOK_TESTS in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.book)


@pytest.fixture(params=[(2, 2, 0), (3, 2, 1), (3, 3, 2), (4, 2, 3)], ids=lambda p: f"d{p[0]}m{p[1]}s{p[2]}")
def small_hmm(request):
    """Small dense models for enumeration oracles: (d, n_tokens, seed)."""
    d, n, seed = request.param
    return df.random_hmm(d, n, seed=seed)

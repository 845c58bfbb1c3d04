"""Shared fixtures: small random models and a session-wide build of the book."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import dualfilter as df
from offline import offline_command, offline_env

ROOT = Path(__file__).resolve().parents[1]
JUPYTER_BOOK = shutil.which("jupyter-book") or str(Path(sys.executable).with_name("jupyter-book"))


@pytest.fixture(params=[(2, 2, 0), (3, 2, 1), (3, 3, 2), (4, 2, 3)], ids=lambda p: f"d{p[0]}m{p[1]}s{p[2]}")
def small_hmm(request):
    """Small dense models for enumeration oracles: (d, n_tokens, seed)."""
    d, n, seed = request.param
    return df.random_hmm(d, n, seed=seed)


@pytest.fixture(scope="session")
def built_book(tmp_path_factory):
    """Build the whole book once (executing every chapter, warnings as errors), offline.

    The build runs with no network but loopback (tests/offline.py: a Python socket guard in
    every process, and a fresh network namespace where the machine allows it), so a chapter
    that downloads anything fails the build. Returns the path of the HTML output. Set
    DUALFILTER_BOOK_HTML to reuse an existing build.
    """
    reuse = os.environ.get("DUALFILTER_BOOK_HTML")
    if reuse:
        return Path(reuse)
    out = tmp_path_factory.mktemp("book")
    proc = subprocess.run(
        offline_command(
            [JUPYTER_BOOK, "build", str(ROOT), "-W", "-n", "--keep-going", "--path-output", str(out)]
        ),
        cwd=ROOT, capture_output=True, text=True, env=offline_env(),
    )
    if proc.returncode != 0:
        reports = list((out / "_build" / "html" / "reports").glob("**/*.log"))
        details = "\n".join(p.read_text()[-3000:] for p in reports)
        pytest.fail(f"jupyter-book build failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}\n{details}")
    return out / "_build" / "html"


def toc_pages() -> list[str]:
    """Every document of _toc.yml (root, parts, chapters, nested sections), in order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                pages.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return pages

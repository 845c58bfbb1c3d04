"""Fixture of the book tests: one build of the whole book per session."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from offline import offline_command, offline_env

ROOT = Path(__file__).resolve().parents[2]
JUPYTER_BOOK = shutil.which("jupyter-book") or str(Path(sys.executable).with_name("jupyter-book"))


@pytest.fixture(scope="session")
def built_book(tmp_path_factory):
    """Build the whole book once (executing every chapter, warnings as errors), offline.

    The build runs with no network but loopback (tests/book/offline.py: a Python socket guard
    in every process, and a fresh network namespace where the machine allows it), so a
    chapter that downloads anything fails the build. Returns the path of the HTML output.
    Set DUALFILTER_BOOK_HTML to reuse an existing build.
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

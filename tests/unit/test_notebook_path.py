"""The chapters as notebooks: the pinned header, the jupytext round trip, the launch set-up.

JupyterLab opens a chapter through jupytext and, on save, writes it back with the notebook's
metadata: the kernelspec of the running kernel and jupytext's own section. A chapter whose
header differs from what that save writes becomes "modified" as soon as a reader runs and saves
it. So every notebook chapter carries exactly ``PINNED_HEADER`` and the repository's jupytext
configuration (book/jupytext.toml) keeps the version numbers out; here a
save through jupytext's contents manager (the one JupyterLab's server uses), with the metadata
JupyterLab adds, and a round trip through the jupytext command must both give the file back
byte for byte. (tests/book/test_jupyterlab.py does the same through the
real JupyterLab.)
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
from pathlib import Path

import jupytext
import pytest
import yaml
from jupyter_client.kernelspec import KernelSpecManager
from jupytext.cli import jupytext as jupytext_cli
from jupytext.config import find_jupytext_configuration_file, load_jupytext_config

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"

# The front matter of every notebook chapter. Keys in the order JupyterLab writes the
# kernelspec (name, display_name, language); display_name is the one of ipykernel's python3.
PINNED_HEADER = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  name: python3
  display_name: Python 3 (ipykernel)
  language: python
---
"""

FRONT_MATTER = re.compile(r"\A---\n(.*?\n)---\n", re.S)


def _front_matter(text: str) -> dict:
    m = FRONT_MATTER.match(text)
    return yaml.safe_load(m.group(1)) if m else {}


def notebook_chapters() -> list[Path]:
    """Pages with code cells or notebook metadata (intro, bibliography... are plain pages)."""
    pages = []
    for path in sorted(BOOK.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        meta = _front_matter(text)
        if "```{code-cell}" in text or "kernelspec" in meta or "jupytext" in meta:
            pages.append(path)
    return pages


CHAPTERS = notebook_chapters()


def test_there_are_notebook_chapters():
    assert len(CHAPTERS) >= 10, [p.name for p in CHAPTERS]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_carries_the_pinned_header(path):
    text = path.read_text(encoding="utf-8")
    assert text.startswith(PINNED_HEADER), (
        f"{path.name}: the front matter must be exactly\n{PINNED_HEADER}got\n"
        + (FRONT_MATTER.match(text).group(0) if FRONT_MATTER.match(text) else text[:300]))


def test_pinned_kernelspec_is_what_jupyterlab_writes():
    """JupyterLab writes the running kernel's name and display name into the notebook."""
    spec = KernelSpecManager().get_kernel_spec("python3")
    header = _front_matter(PINNED_HEADER)["kernelspec"]
    assert header == {"name": "python3", "display_name": spec.display_name,
                      "language": spec.language}


def test_repository_jupytext_config_is_found_from_the_chapters():
    assert Path(find_jupytext_configuration_file(str(BOOK))) == BOOK / "jupytext.toml"
    config = load_jupytext_config(str(BOOK / "01-next-token.md"))
    assert "-jupytext.text_representation.jupytext_version" in config.notebook_metadata_filter


@pytest.fixture
def repo_copy(tmp_path):
    """book/jupytext.toml in a temporary copy of the repository's layout."""
    (tmp_path / "book").mkdir()
    shutil.copy2(BOOK / "jupytext.toml", tmp_path / "book" / "jupytext.toml")
    return tmp_path


@pytest.mark.parametrize("root", ["repository", "book"])
@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_save_from_jupyterlab_is_byte_identical(path, root, repo_copy):
    """JupyterLab's server saves through jupytext's contents manager: open the chapter as a
    notebook, add what a JupyterLab session puts in the notebook metadata (the running
    kernel, language_info, widget state), save, and compare the bytes. JupyterLab serves the
    repository (`jupyter lab`) or, given a file (`jupyter lab book/08-dual-filter.md`), the
    file's folder."""
    copy = repo_copy / "book" / path.name
    shutil.copy2(path, copy)
    original = copy.read_bytes()
    root_dir, name = ((repo_copy, f"book/{path.name}") if root == "repository"
                      else (repo_copy / "book", path.name))
    manager = jupytext.TextFileContentsManager(root_dir=str(root_dir))
    model = manager.get(name)
    assert model["type"] == "notebook"
    nb = model["content"]
    spec = KernelSpecManager().get_kernel_spec("python3")
    nb["metadata"]["kernelspec"] = {"name": "python3", "display_name": spec.display_name,
                                    "language": spec.language}
    nb["metadata"]["language_info"] = {"name": "python", "version": "3.11.7",
                                       "pygments_lexer": "ipython3", "file_extension": ".py"}
    nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    manager.save({"type": "notebook", "format": "json", "content": nb}, name)
    saved = copy.read_bytes()
    assert saved == original, f"{path.name}: a save from JupyterLab rewrites the file:\n" + "\n".join(
        difflib.unified_diff(original.decode().splitlines(), saved.decode().splitlines(),
                             lineterm="", n=1))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_jupytext_command_round_trip_is_byte_identical(path, repo_copy):
    """`jupytext --to md:myst` (read, write to the same format, repository configuration)."""
    copy = repo_copy / "book" / path.name
    shutil.copy2(path, copy)
    out = repo_copy / "book" / "round-trip.md"
    assert jupytext_cli(["--quiet", "--to", "md:myst", str(copy), "-o", str(out)]) in (0, None)
    assert out.read_bytes() == path.read_bytes()


# --------------------------------------------------------------------------- launch set-up


def test_jupyterlab_opens_markdown_with_jupytext():
    """The settings override that README's `JUPYTER_CONFIG_PATH=.jupyter jupyter lab` and
    binder/start load: .md files open in jupytext's notebook view."""
    overrides = json.loads((ROOT / ".jupyter" / "labconfig" /
                            "default_setting_overrides.json").read_text())
    viewers = overrides["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]
    assert viewers["markdown"] == "Jupytext Notebook"
    start = ROOT / "binder" / "start"
    assert os.access(start, os.X_OK), "binder/start must be executable"
    assert "JUPYTER_CONFIG_PATH" in start.read_text() and ".jupyter" in start.read_text()


def test_launch_buttons_are_the_working_ones():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    launch = config["launch_buttons"]
    assert launch["binderhub_url"] == "https://mybinder.org"
    assert launch["notebook_interface"] == "jupyterlab"
    # no placeholder hub and no Colab (it cannot open MyST .md files)
    assert not launch.get("jupyterhub_url") and not launch.get("colab_url")
    binder = (ROOT / "binder" / "requirements.txt").read_text().split()
    assert "../requirements.txt" in binder   # one install: the README's
    requirements = (ROOT / "requirements.txt").read_text()
    for package in ("jupyterlab", "jupyterlab-myst", "jupytext", "-e ."):
        assert re.search(rf"^{re.escape(package)}(\W|$)", requirements, re.M), package

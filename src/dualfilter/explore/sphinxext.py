"""Sphinx extension of the book: serve the live explorers' JavaScript and Plotly.js.

Registered in ``_config.yml`` (``sphinx: extra_extensions: - dualfilter.explore.sphinxext``).
At build time it copies ``explore/web/`` (the engine, ``twins.js``, ``plotstyle.js`` and the
explorer modules, package data of ``dualfilter``) and ``plotly.min.js`` from the ``plotly``
wheel into the site's ``_static/dualfilter/``, so the pages fetch nothing from another site and
no copy of Plotly.js is kept in git; and it adds ``twins.js`` as an ES module to the pages that
hold a twin (``ex.twin()``, a ``<div class="dualfilter-twin">``), and only to those.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

STATIC = "dualfilter"        # the folder under _static
MARKER = 'class="dualfilter-twin"'


def plotly_js() -> Path:
    """The path of ``plotly.min.js`` in the installed ``plotly`` package."""
    try:
        root = resources.files("plotly")
    except ModuleNotFoundError as exc:
        raise RuntimeError("the live explorers need Plotly.js from the plotly package: "
                           "pip install plotly (requirements.txt)") from exc
    path = Path(str(root)) / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise RuntimeError(f"plotly.min.js not found in the plotly package ({path})")
    return path


def web_files() -> Path:
    """The folder ``dualfilter/explore/web`` of the installed package."""
    return Path(str(resources.files("dualfilter.explore"))) / "web"


def _stage(app) -> None:
    """Copy the files into a folder of the build and add it to html_static_path."""
    if app.builder.format != "html":
        return
    staging = Path(app.doctreedir).parent / "dualfilter-static"
    target = staging / STATIC
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(web_files(), target, ignore=shutil.ignore_patterns("__pycache__", "*.md"))
    shutil.copy2(plotly_js(), target / "plotly.min.js")
    if str(staging) not in app.config.html_static_path:
        app.config.html_static_path.append(str(staging))


def _page(app, pagename, templatename, context, doctree) -> None:
    if MARKER in context.get("body", ""):
        app.add_js_file(f"{STATIC}/twins.js", type="module")


def setup(app):
    app.connect("builder-inited", _stage)
    app.connect("html-page-context", _page)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

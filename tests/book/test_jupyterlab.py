"""The notebook path as a reader takes it: JupyterLab, a chapter, its explorer, Save.

One test drives the whole path in headless Chromium:

1. start JupyterLab with the README's command, ``JUPYTER_CONFIG_PATH=.jupyter jupyter lab
   book/08-dual-filter.md``, run in a temporary copy of the repository's book (the real
   chapters are never touched), plus what a test needs: 127.0.0.1, a port of the server's
   choosing, a random token, no browser, the offline guard of tests/book/offline.py in the
   server and the kernel, fresh user settings and workspaces;
2. open the chapter by URL (``/lab/tree/<chapter>``) and check that it opens as a notebook
   (jupytext's view, not the text editor) rendered by jupyterlab-myst (roles and directives
   rendered, not shown as markup);
3. run all cells (the command of Run > Run All Cells) and wait, without a fixed sleep, until
   every code cell has run and the kernel is idle; no cell may raise;
4. find the live ipywidgets explorer in the outputs, press the right arrow key on one of its
   sliders (the "layer" slider where there is one) and wait for its figure (the PNG in the
   explorer's output) to change;
5. save (File > Save) and check that the chapter on disk is byte-identical to what it was:
   the pinned header (tests/unit/test_notebook_path.py) survives JupyterLab's save.

Screenshots for a human land in artifacts/screenshots/jupyterlab-*.png. Chromium and
ChromeDriver (Debian ``chromium`` and ``chromium-driver``) are required in CI (``CI=true``):
there a missing browser fails the test; elsewhere it skips. Every wait is explicit and
generous (the machine is a loaded 2-core box); the measured times are printed (``-s``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from chromium import headless_chromium
from offline import offline_env

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHAPTER = "book/08-dual-filter.md"   # a chapter with a live explorer (fixed_point_explorer)

# Generous limits in seconds: each wait polls and returns as soon as its condition holds.
SERVER_TIMEOUT = 240    # JupyterLab up and answering (about 10 s on an idle machine)
OPEN_TIMEOUT = 240      # the chapter open as a notebook, its kernel idle
RUN_TIMEOUT = 1200      # Run All Cells (about 50 s on an idle machine)
SLIDER_TIMEOUT = 180    # a slider move redrawn by the kernel (well under a second idle)
SAVE_TIMEOUT = 120
POLL = 0.25

# SEVERE browser-console entries that are expected, each with its reason:
ALLOWED_CONSOLE_ERRORS = [
    # jupyterlab-myst resolves {ref}, {eq}, {prf:ref} only within the open notebook: a reference
    # to another chapter is shown as its label with a warning mark, and logged (book/intro.md
    # says so to the reader).
    re.compile(r"Cross reference target was not found"),
    # JupyterLab's cell toolbar, when a markdown cell becomes active (Run All walks through all
    # cells), measures it through `inputArea.renderedInput.node`, which the markdown cell of
    # jupyterlab-myst does not have: the toolbar's overlap check throws, nothing else is hit.
    re.compile(r"jlab_core\.[0-9a-f]+\.js.* Uncaught TypeError: Cannot read properties of "
               r"undefined \(reading 'node'\)"),
    # the browser's own request for /favicon.ico
    re.compile(r"/favicon\.ico - Failed to load resource"),
]


# --------------------------------------------------------------------------- fixtures


def _server_log(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-6000:]
    except OSError:
        return "(no log)"


@pytest.fixture
def lab(tmp_path):
    """JupyterLab serving a copy of the book; yields (base URL, token, repository copy, the
    chapter's path in JupyterLab, server log)."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "book", repo / "book",
                    ignore=shutil.ignore_patterns("_build", "__pycache__", ".ipynb_checkpoints",
                                                  "*.ipynb"))
    shutil.copytree(ROOT / ".jupyter", repo / ".jupyter")   # the labconfig overrides

    home = tmp_path / "jupyter"
    config_dir = home / "config"   # stands in for ~/.jupyter: the reader's own settings
    (config_dir / "labconfig").mkdir(parents=True)
    # The "Would you like to get notified about official Jupyter news?" toast would cover the
    # screenshots (and the plugin would fetch the news from the network if accepted).
    (config_dir / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    runtime = home / "runtime"
    env = offline_env()
    env.update({
        "JUPYTER_CONFIG_PATH": ".jupyter",   # the README's command, relative to its folder
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "user-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
    })
    token = secrets.token_hex(24)
    log = tmp_path / "jupyterlab.log"
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
        "--ServerApp.ip=127.0.0.1", "--ServerApp.port=0", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        "--LabApp.expose_app_in_browser=True",          # window.jupyterapp, as Galata uses it
        "--LabApp.news_url=None", "--LabApp.extension_manager=readonly",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        CHAPTER,                                        # as in the README: serves its folder
    ]
    started = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=repo, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        info_file = runtime / f"jpserver-{proc.pid}.json"
        base = root = None
        while time.monotonic() - started < SERVER_TIMEOUT:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{_server_log(log)}")
            if base is None and info_file.exists():
                try:
                    info = json.loads(info_file.read_text())
                    base, root = info["url"], info["root_dir"]
                except (ValueError, KeyError):
                    base = None   # written but not complete yet
            if base is not None:
                try:
                    with urllib.request.urlopen(f"{base}api/status?token={token}", timeout=10) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
            time.sleep(POLL)
        else:
            pytest.fail(f"JupyterLab did not answer within {SERVER_TIMEOUT} s:\n{_server_log(log)}")
        print(f"\nJupyterLab answered after {time.monotonic() - started:.1f} s")
        # the chapter's path in JupyterLab, relative to the folder the server serves
        served = Path(os.path.relpath(repo / CHAPTER, root)).as_posix()
        yield base, token, repo, served, log
    finally:
        # SIGTERM lets the server shut its kernels down; then make sure that the whole process
        # group (server and kernels) is gone.
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)


@pytest.fixture
def chromium():
    with headless_chromium("the JupyterLab test", window="1400,1000", page_timeout=OPEN_TIMEOUT,
                           script_timeout=60) as driver:
        yield driver


# --------------------------------------------------------------------------- helpers

def _wait(driver, condition, timeout, what, log=None):
    """Poll ``condition(driver)`` until it returns a truthy value; fail with ``what``."""
    start = time.monotonic()
    last = None
    while time.monotonic() - start < timeout:
        try:
            last = condition(driver)
        except StaleElementReferenceException:   # JupyterLab re-rendered the node: try again
            last = None
        if last and not (isinstance(last, dict) and last.get("error")):
            return last
        if isinstance(last, dict) and last.get("error"):
            pytest.fail(f"{what}: {last['error']}")
        time.sleep(POLL)
    details = f"\nserver log:\n{_server_log(log)}" if log else ""
    _screenshot(driver, "jupyterlab-timeout")
    pytest.fail(f"{what}: not done within {timeout} s (last state: {last}){details}")


def _screenshot(driver, name: str, element=None) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    if element is not None:
        element.screenshot(str(path))
    else:
        driver.save_screenshot(str(path))
    return path


OPEN_STATE = """
const path = arguments[0];
const app = window.jupyterapp;
if (!app || !app.shell) return null;
const w = app.shell.currentWidget;
if (!w || !w.context || w.context.path !== path || !w.context.isReady) return null;
const kernel = w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
return {
  notebook: w.node.classList.contains("jp-NotebookPanel"),
  editors: document.querySelectorAll(".jp-FileEditor").length,
  cells: w.content ? w.content.widgets.length : 0,
  kernel: kernel ? kernel.status : null,
  kernelName: kernel ? kernel.name : null,
};
"""

# the first markdown cell whose source matches, scrolled into view; its rendered text (the
# hidden source editor removed) and the MyST theorem boxes in it
MARKDOWN_CELL = """
const pattern = new RegExp(arguments[0]);
const panel = jupyterapp.shell.currentWidget;
const index = panel.content.widgets.findIndex(
  (c) => c.model.type === "markdown" && pattern.test(c.model.sharedModel.getSource()));
if (index < 0) return {error: "no markdown cell matches " + arguments[0]};
panel.content.scrollToItem(index, "start");
const cell = panel.content.widgets[index];
if (!cell.node.isConnected) return null;
const rendered = cell.node.cloneNode(true);
rendered.querySelectorAll(".jp-InputArea-editor, .cm-editor").forEach((e) => e.remove());
const text = rendered.textContent.trim();
if (!text) return null;
return {index: index, text: text, proofs: cell.node.querySelectorAll("aside.myst-proof").length,
        source: cell.model.sharedModel.getSource()};
"""

RUN_STATE = """
const panel = jupyterapp.shell.currentWidget;
const code = panel.content.widgets.filter((c) => c.model.type === "code");
const errors = [];
for (const c of code) {
  const outputs = c.model.outputs;
  for (let i = 0; i < outputs.length; i++) {
    const o = outputs.get(i).toJSON();
    if (o.output_type === "error") errors.push(o.ename + ": " + o.evalue);
  }
}
if (errors.length) return {error: "a cell raised: " + errors.join("; ")};
const pending = code.filter((c) => c.model.executionCount === null).length;
const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
const status = kernel ? kernel.status : "none";
if (pending || status !== "idle") return null;
return {cells: code.length, status: status};
"""

# index of the last code cell whose outputs hold an ipywidgets view (the live explorer)
EXPLORER_CELL = """
const panel = jupyterapp.shell.currentWidget;
let found = -1;
panel.content.widgets.forEach((c, i) => {
  if (c.model.type !== "code") return;
  const outputs = c.model.outputs;
  for (let k = 0; k < outputs.length; k++) {
    if ("application/vnd.jupyter.widget-view+json" in (outputs.get(k).toJSON().data || {})) found = i;
  }
});
if (found < 0) return {error: "no cell shows an ipywidgets view after Run All"};
panel.content.activeCellIndex = found;
panel.content.scrollToItem(found, "center");
const node = panel.content.widgets[found].node;
if (!node.isConnected || !node.querySelector(".widget-slider .noUi-handle")) return null;
const img = node.querySelector(".jp-OutputArea-output img");
if (!img || !img.complete || !img.naturalWidth) return null;
return {index: found};
"""

CELL_NODE = "return jupyterapp.shell.currentWidget.content.widgets[arguments[0]].node;"

EXPLORER_FIGURE = """
const node = jupyterapp.shell.currentWidget.content.widgets[arguments[0]].node;
const imgs = Array.from(node.querySelectorAll(".jp-OutputArea-output img"));
return imgs.length ? imgs[imgs.length - 1].getAttribute("src") : null;
"""

SAVE = """
const done = arguments[arguments.length - 1];
const panel = jupyterapp.shell.currentWidget;
jupyterapp.commands.execute("docmanager:save").then(
  () => done({dirty: panel.context.model.dirty}),
  (e) => done({error: String(e)}));
"""


# --------------------------------------------------------------------------- the test


def test_chapter_runs_in_jupyterlab_and_saves_unchanged(lab, chromium):
    base, token, repo, served, log = lab
    driver = chromium
    chapter = repo / CHAPTER
    original = chapter.read_bytes()
    assert original == (ROOT / CHAPTER).read_bytes()
    timings = {}

    # 1. open by URL: a notebook (jupytext), not the text editor
    start = time.monotonic()
    driver.get(f"{base}lab/tree/{served}?token={token}")
    state = _wait(driver, lambda d: d.execute_script(OPEN_STATE, served), OPEN_TIMEOUT,
                  f"JupyterLab opening {CHAPTER}", log)
    assert state["notebook"] and not state["editors"], (
        f"{CHAPTER} opened as text, not as a notebook: {state} (is the jupytext lab extension "
        "loaded and .jupyter/labconfig on JUPYTER_CONFIG_PATH?)")
    assert state["cells"] > 10, f"the notebook view has only {state['cells']} cells"
    timings["open"] = time.monotonic() - start

    # 2. MyST rendered by jupyterlab-myst: roles in the first cell, a theorem box further down
    first = _wait(driver, lambda d: d.execute_script(MARKDOWN_CELL, r"\{ref\}`"), OPEN_TIMEOUT,
                  "the first markdown cell with a {ref} role rendered", log)
    assert "{ref}" in first["source"] and "{ref}" not in first["text"], (
        f"MyST roles shown as raw markup (is jupyterlab-myst loaded?): {first['text'][:300]}")
    theorem = _wait(driver, lambda d: d.execute_script(MARKDOWN_CELL, r"```\{prf:theorem\}"),
                    OPEN_TIMEOUT, "the first markdown cell with a prf:theorem rendered", log)
    assert theorem["proofs"] >= 1, f"no MyST theorem box rendered: {theorem['text'][:300]}"
    _screenshot(driver, "jupyterlab-opened")

    # 3. Run All Cells, once the kernel is up
    state = _wait(driver, lambda d: (lambda s: s if s and s["kernel"] == "idle" else None)(
        d.execute_script(OPEN_STATE, served)), OPEN_TIMEOUT, "the kernel starting", log)
    assert state["kernelName"] == "python3"
    start = time.monotonic()
    driver.execute_script("jupyterapp.commands.execute('notebook:run-all-cells');")
    ran = _wait(driver, lambda d: d.execute_script(RUN_STATE), RUN_TIMEOUT,
                "Run All Cells", log)
    timings["run all"] = time.monotonic() - start

    # 4. the live explorer: press an arrow key on a slider, wait for a new figure
    found = _wait(driver, lambda d: d.execute_script(EXPLORER_CELL), OPEN_TIMEOUT,
                  "the explorer widget rendered", log)
    index = found["index"]
    cell = driver.execute_script(CELL_NODE, index)
    sliders = cell.find_elements(By.CSS_SELECTOR, ".widget-slider")
    labels = [s.find_element(By.CSS_SELECTOR, ".widget-label").text for s in sliders]
    slider = next((s for s, label in zip(sliders, labels) if "layer" in label.lower()), sliders[0])
    handle = slider.find_element(By.CSS_SELECTOR, ".noUi-handle")
    value = handle.get_attribute("aria-valuenow")
    key = (Keys.ARROW_LEFT if float(value) >= float(handle.get_attribute("aria-valuemax"))
           else Keys.ARROW_RIGHT)
    before = driver.execute_script(EXPLORER_FIGURE, index)
    # ipywidgets' Image shows its PNG bytes through a blob: URL (a data: URL in older versions)
    assert before and before.startswith(("data:image/png", "blob:")), (
        f"the explorer shows no PNG figure: {before!r}")
    _screenshot(driver, "jupyterlab-explorer-before", cell)
    start = time.monotonic()
    driver.execute_script("arguments[0].focus();", handle)
    handle.send_keys(key)
    moved = _wait(driver, lambda d: (lambda v: v if v != value else None)(
        handle.get_attribute("aria-valuenow")), SLIDER_TIMEOUT, "the slider moving", log)
    after = _wait(driver, lambda d: (lambda src: src if src and src != before else None)(
        d.execute_script(EXPLORER_FIGURE, index)), SLIDER_TIMEOUT,
        f"the explorer's figure changing after the slider moved from {value} to {moved}", log)
    timings["slider redraw"] = time.monotonic() - start
    assert after.startswith(("data:image/png", "blob:")) and after != before
    status = cell.find_elements(By.CSS_SELECTOR, ".widget-html")
    assert not any("\u26a0" in s.text for s in status), (
        f"the explorer reports an error: {[s.text for s in status]}")
    cell = driver.execute_script(CELL_NODE, index)
    _screenshot(driver, "jupyterlab-explorer-after", cell)

    # 5. save, and the file on disk is what it was
    mtime = chapter.stat().st_mtime_ns
    driver.set_script_timeout(SAVE_TIMEOUT)
    saved = driver.execute_async_script(SAVE)
    assert saved == {"dirty": False}, f"saving failed: {saved}"
    _wait(driver, lambda d: chapter.stat().st_mtime_ns != mtime, SAVE_TIMEOUT,
          "the chapter written to disk", log)
    after_save = chapter.read_bytes()
    if after_save != original:
        import difflib
        diff = "\n".join(difflib.unified_diff(original.decode().splitlines(),
                                              after_save.decode().splitlines(),
                                              "before", "after saving", lineterm="", n=1))
        pytest.fail(f"saving from JupyterLab changed {CHAPTER}:\n{diff[:4000]}")
    _screenshot(driver, "jupyterlab-saved")

    severe = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"
              and not any(p.search(e["message"]) for p in ALLOWED_CONSOLE_ERRORS)]
    assert not severe, "console errors in JupyterLab:\n" + "\n".join(m[:500] for m in severe)
    print("timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items())
          + f"; {ran['cells']} code cells")

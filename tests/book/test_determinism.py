"""Building twice gives the same notebook outputs, and the chapters need no network.

A second full build would cost as much as the first, so instead every chapter is executed once
more, in a fresh kernel (jupytext + nbclient, in a subprocess, two chapters at a time on the
CI's two cores), with no network but loopback (tests/offline.py), and its outputs are compared
cell by cell with the notebooks that the session build executed
(``_build/jupyter_execute/**/*.ipynb`` next to the HTML of ``built_book``):

- stream and text/plain outputs: equal text, once memory addresses (``0x7f...``) and random
  32-hex identifiers (animation and widget ids) are masked, and consecutive stream messages
  are joined (the kernel may split one print into two messages, depending on timing);
- image/png: equal decoded pixels (matplotlib's Agg PNGs are deterministic, but comparing the
  pixels keeps the test independent of PNG metadata and compression);
- text/html (e.g. a jshtml animation, whose frames are PNGs inlined in base64): equal text
  after masking the random ids;
- widget views: equal apart from the random model id;
- glued values (``<page>.glue.json``): equal text.

Cells that measure wall-clock time and the values they glue are exempt, because a timing is
not reproducible: cells tagged ``nondeterministic`` (``:tags: [nondeterministic]`` in the
code-cell options; use it for any cell that prints or plots a timing the heuristics below
miss), cells that read a clock (perf_counter, time.time, timeit, ...), call a function
defined in such a cell, or use a variable assigned from a clock reading. Every other output
must be reproducible.

Each chapter must also be free of download code: a static check refuses code cells that use a
network module or contain an http(s) URL outside comments.
"""

from __future__ import annotations

import base64
import concurrent.futures
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import numpy as np
import pytest
from PIL import Image

from pages import toc_pages
from offline import netns_available, offline_command, offline_env

ROOT = Path(__file__).resolve().parents[2]
CHAPTER_TIMEOUT = 600  # seconds; chapters are meant to run in < 60 s each

RUNNER = r"""
import sys
import jupytext, nbformat
from nbclient import NotebookClient
source, target, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3])
nb = jupytext.read(source)
NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=False,
               resources={"metadata": {"path": str(__import__("pathlib").Path(source).parent)}}
               ).execute()
nbformat.write(nb, target)
"""


def _source(page: str) -> Path:
    for suffix in (".md", ".ipynb"):
        if (ROOT / (page + suffix)).exists():
            return ROOT / (page + suffix)
    raise FileNotFoundError(page)


def _code_cells(nb) -> list:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


# Chapters executed only once, by the build, with the reason. Their cells are seeded like
# every other chapter's; re-running them would double the cost of the book tests.
RUN_ONCE = {
    "book/12-research-scale": "runs at GPT-2-small scale (d = 768, 50257 tokens, T = 1024)",
    "book/12a-research-errors": "repeats the set-up of chapter 12 at GPT-2-small scale "
                                "(d = 768, 50257 tokens, T = 1024, 24 layers)",
}

# Notebook chapters only: a plain markdown page (the intro) has fenced examples, not code cells.
CHAPTERS = [page for page in toc_pages()
            if "```{code-cell}" in _source(page).read_text() and page not in RUN_ONCE]


# --------------------------------------------------------------------------- static check

NETWORK_CODE = re.compile(
    r"\b(urllib|urlopen|urlretrieve|requests|httpx|aiohttp|http\.client|socket|wget|curl|"
    r"pooch|fetch_openml|load_dataset|hf_hub_download|from_pretrained)\b")
URL = re.compile(r"""https?://""")


@pytest.mark.parametrize("page", toc_pages())
def test_no_chapter_code_fetches_from_the_network(page):
    for k, cell in enumerate(_code_cells(jupytext.read(_source(page)))):
        code = "\n".join(line.split("#", 1)[0] for line in cell.source.splitlines())
        assert not NETWORK_CODE.search(code), (
            f"{page}, code cell {k}: network code {NETWORK_CODE.search(code).group(0)!r}")
        assert not URL.search(code), f"{page}, code cell {k}: a URL in code"


def test_offline_guard_blocks_the_network_but_not_loopback():
    """The guard used for the build and the runs below: a download fails, loopback works."""
    code = (
        "import socket, urllib.request\n"
        "try:\n"
        "    urllib.request.urlopen('http://example.com/', timeout=10)\n"
        "    print('FETCHED')\n"
        "except OSError as exc:\n"
        "    print('BLOCKED', exc)\n"
        "server = socket.socket(); server.bind(('127.0.0.1', 0)); server.listen()\n"
        "socket.create_connection(server.getsockname(), timeout=10).close()\n"
        "print('LOOPBACK')\n"
    )
    run = subprocess.run(offline_command([sys.executable, "-c", code]), env=offline_env(),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "BLOCKED" in run.stdout and "offline guard" in run.stdout, run.stdout
    assert "LOOPBACK" in run.stdout
    if netns_available():  # in the namespace only the loopback interface exists
        links = subprocess.run(offline_command(["ip", "-o", "link"]), capture_output=True,
                               text=True, timeout=60)
        names = [line.split(":")[1].strip() for line in links.stdout.splitlines()]
        assert names == ["lo"], links.stdout


# --------------------------------------------------------------------------- determinism


@pytest.fixture(scope="module")
def fresh_runs(built_book, tmp_path_factory):
    """Execute every chapter with code once more, offline; {page: (notebook path, error)}."""
    out = tmp_path_factory.mktemp("rerun")

    def run(page):
        target = out / (page.replace("/", "__") + ".ipynb")
        proc = subprocess.run(
            offline_command([sys.executable, "-c", RUNNER, str(_source(page)), str(target),
                             str(CHAPTER_TIMEOUT)]),
            cwd=ROOT, env=offline_env(), capture_output=True, text=True,
            timeout=CHAPTER_TIMEOUT + 120)
        return page, (target if proc.returncode == 0 else None, proc.stderr[-4000:])

    workers = max(1, min(2, os.cpu_count() or 1))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(pool.map(run, CHAPTERS))


HEX_ID = re.compile(r"[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")


def _mask(text) -> str:
    text = "".join(text) if isinstance(text, list) else str(text)
    return HEX_ID.sub("<id>", ADDRESS.sub("0x<address>", text))


def _pixels(b64: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGBA"))


def _merge_streams(outputs) -> list:
    """Consecutive stream outputs of the same stream joined into one.

    How a kernel splits printed text into stream messages depends on timing (one print can
    arrive as two messages), so only the concatenated text is reproducible.
    """
    merged = []
    for out in outputs:
        if (out.output_type == "stream" and merged and merged[-1].output_type == "stream"
                and merged[-1].name == out.name):
            joined = nbformat.from_dict(dict(merged[-1]))
            joined.text = _mask(merged[-1].text) + _mask(out.text)
            merged[-1] = joined
        else:
            merged.append(out)
    return merged


def _compare_outputs(page, k, first, second):
    """Assert that two output lists of code cell k are the same (see the module docstring)."""
    first, second = _merge_streams(first), _merge_streams(second)
    where = f"{page}, code cell {k}" if isinstance(k, int) else f"{page}, {k}"
    assert [o.output_type for o in first] == [o.output_type for o in second], (
        f"{where}: output types differ: {[o.output_type for o in first]} vs "
        f"{[o.output_type for o in second]}")
    for a, b in zip(first, second):
        if a.output_type == "stream":
            assert a.name == b.name and _mask(a.text) == _mask(b.text), (
                f"{where}: printed output differs:\n{a.text[:1500]}\n---\n{b.text[:1500]}")
            continue
        if a.output_type == "error":
            pytest.fail(f"{where}: an error output: {a.ename}: {a.evalue}")
        data_a, data_b = a.get("data", {}), b.get("data", {})
        assert sorted(data_a) == sorted(data_b), f"{where}: MIME types differ"
        for mime, value in data_a.items():
            other = data_b[mime]
            if mime == "image/png":
                pa, pb = _pixels(value), _pixels(other)
                assert pa.shape == pb.shape, f"{where}: image sizes differ {pa.shape} {pb.shape}"
                differ = np.any(pa != pb, axis=-1)
                assert not differ.any(), (
                    f"{where}: images differ in {differ.mean():.2%} of the pixels")
            elif mime.startswith("application/vnd.jupyter.widget"):
                strip = {key: val for key, val in value.items() if key != "model_id"}
                assert strip == {key: val for key, val in other.items() if key != "model_id"}, (
                    f"{where}: widget views differ")
            elif mime.startswith("image/"):
                assert _mask(value) == _mask(other), f"{where}: {mime} images differ"
            else:
                assert _mask(value) == _mask(other), (
                    f"{where}: {mime} output differs:\n{_mask(value)[:1500]}\n---\n"
                    f"{_mask(other)[:1500]}")


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_outputs_are_reproducible(built_book, fresh_runs, page):
    built_path = built_book.parent / "jupyter_execute" / (page + ".ipynb")
    assert built_path.exists(), f"{page}: the build left no executed notebook at {built_path}"
    rerun_path, stderr = fresh_runs[page]
    assert rerun_path is not None, f"{page}: executing it offline failed:\n{stderr}"
    built = _code_cells(nbformat.read(built_path, as_version=4))
    rerun = _code_cells(nbformat.read(rerun_path, as_version=4))
    assert [c.source for c in built] == [c.source for c in rerun], (
        f"{page}: the chapter changed since the book was built (rebuild it)")
    rerun_glue, timed_glue = {}, set()
    timed = _timing_cells(rerun)
    for k, (a, b) in enumerate(zip(built, rerun)):
        # myst-nb moves glued values out of the executed notebook into <page>.glue.json
        glued = {o.metadata.scrapbook.name: _unprefixed(o.data) for o in b.get("outputs", [])
                 if "scrapbook" in o.get("metadata", {})}
        rerun_glue.update(glued)
        if k in timed:
            timed_glue.update(glued)
            continue
        _compare_outputs(page, k, _unglued(a.get("outputs", [])), _unglued(b.get("outputs", [])))
    glue_path = built_path.with_name(built_path.stem + ".glue.json")
    built_glue = json.loads(glue_path.read_text()) if glue_path.exists() else {}
    assert sorted(built_glue) == sorted(rerun_glue), f"{page}: the glued names differ"
    for name, output in built_glue.items():
        if name in timed_glue:
            continue
        _compare_outputs(page, f"glue {name!r}", [nbformat.from_dict(output)],
                         [nbformat.from_dict({"output_type": "display_data", "metadata": {},
                                              "data": rerun_glue[name]})])


TIMING = re.compile(r"\b(perf_counter|process_time|monotonic|timeit|time\.time)\b")


def _timing_cells(cells) -> set[int]:
    """Indices of the code cells whose outputs measure wall-clock time (exempt from the
    comparison; their asserts still run in both executions): cells that carry the tag
    ``nondeterministic``, read a clock, call a function defined in such a cell, or use a
    variable that such a cell assigned from a clock reading (e.g. ``timings["x"] = ...``)."""
    timed, tainted = set(), set()
    for k, cell in enumerate(cells):
        source = cell.source
        uses_taint = any(re.search(rf"\b{re.escape(name)}\b", source) for name in tainted)
        if not (TIMING.search(source) or uses_taint
                or "nondeterministic" in cell.get("metadata", {}).get("tags", [])):
            continue
        timed.add(k)
        tainted.update(re.findall(r"^def (\w+)\(", source, flags=re.M))
        for line in source.splitlines():
            if TIMING.search(line) or any(re.search(rf"\b{re.escape(n)}\b", line)
                                          for n in tainted):
                assigned = re.match(r"\s*([A-Za-z_]\w*)\s*(\[[^\]]*\])?\s*[+\-*/]?=(?!=)", line)
                if assigned and assigned.group(1) not in ("start",):
                    tainted.add(assigned.group(1))
    return timed


def _unprefixed(data):
    """Glue outputs carry MIME types 'application/papermill.record/<mime>' before myst-nb
    stores them; compare them under the plain MIME type."""
    prefix = "application/papermill.record/"
    return {key[len(prefix):] if key.startswith(prefix) else key: val for key, val in data.items()}


def _unglued(outputs):
    return [o for o in outputs if "scrapbook" not in o.get("metadata", {})]

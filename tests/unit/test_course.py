"""What issue 9 asks of the book as a course, checked on the sources (no build needed).

- no page of the book is longer than about 700 lines (here: at most 720), so a chapter that
  grows past it is split where its argument splits (a page and its sections in _toc.yml);
- every exercise is marked by its difficulty, one to three stars at the end of its title
  (the convention stated in the introduction, label ``exercises-convention``).
"""

import re
from pathlib import Path

import pytest

from pages import toc_pages

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 720
EXERCISE = re.compile(r"^(`{3,}|:{3,})\{exercise\}\s*(?P<title>.*)$", re.MULTILINE)
STARS = re.compile(r"\S \u2605{1,3}$")    # "Title ★" .. "Title ★★★"


PAGES = [next(p for p in (ROOT / (n + ".md"), ROOT / (n + ".ipynb")) if p.exists())
         for n in toc_pages()]


def test_the_toc_lists_the_chapters_and_their_sections():
    names = [p.stem for p in PAGES]
    assert len(names) == len(set(names)) and len(names) > 20
    assert {"09a-depth-study", "11a-solvers", "12a-research-errors", "13a-text-dual-filter"} <= set(names)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_page_is_at_most_about_700_lines(page):
    lines = len(page.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{page.name} has {lines} lines (> {MAX_LINES}): split it"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_every_exercise_title_carries_one_to_three_stars(page):
    titles = [m.group("title") for m in EXERCISE.finditer(page.read_text(encoding="utf-8"))]
    bad = [t for t in titles if not STARS.search(t)]
    assert not bad, f"{page.name}: exercises without a difficulty mark: {bad}"


def test_every_chapter_ends_with_exercises():
    """The introduction says so: every numbered chapter page (not its sections, not the
    appendix) has an Exercises section with at least one exercise, the last section of the page."""
    for page in PAGES:
        if not re.match(r"\d\d-", page.name):
            continue
        text = page.read_text(encoding="utf-8")
        headings = re.findall(r"^## (.+)$", text, re.MULTILINE)
        assert headings and headings[-1] == "Exercises", f"{page.name}: last section {headings[-1:]}"
        assert EXERCISE.search(text.split("\n## Exercises\n", 1)[1]), f"{page.name}: no exercise"


def test_the_course_has_exercises_where_issue_9_asks():
    count = {p.stem: len(EXERCISE.findall(p.read_text(encoding="utf-8"))) for p in PAGES}
    assert count["01-next-token"] >= 3 and count["10-transformer"] >= 3
    assert sum(count.values()) >= 50

"""The book builds with warnings as errors, executing every chapter (a failing cell fails)."""

from pathlib import Path

from pages import toc_pages

ROOT = Path(__file__).resolve().parents[2]


def test_book_builds_and_every_chapter_has_a_page(built_book):
    for name in toc_pages():
        page = built_book / (name + ".html")
        assert page.exists(), f"no HTML page for {name}"
        assert "Traceback" not in page.read_text(encoding="utf-8"), f"an error is shown in {name}"


def test_every_notebook_was_executed(built_book):
    """Execution reports exist only for failed notebooks; none should be there."""
    reports = built_book / "reports"
    failed = sorted(p.name for p in reports.glob("**/*.err.log")) if reports.exists() else []
    assert not failed, f"notebooks failed to execute: {failed}"

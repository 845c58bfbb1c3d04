"""Headless Chromium and a local HTTP server, shared by the browser tests.

Used by test_browser.py (every page), test_live_explorers.py (the twins) and
test_jupyterlab.py (the notebook path). Chromium runs with a fresh profile, every background
service off and every host name but 127.0.0.1 unresolvable, so a page that needs anything from
outside the machine logs a failed request (which the tests turn into a failure).

Chromium and ChromeDriver (Debian ``chromium`` and ``chromium-driver``, which ``.ci/run``
installs) are required in CI (``CI=true``): there a missing browser fails the test; elsewhere
the test is skipped.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator

import pytest


def require_chromium(what: str) -> tuple[str, str]:
    """Paths of Chromium and ChromeDriver; fail (CI) or skip (elsewhere) without them.

    ``what`` names the tests that need the browser, for the message.
    """
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    if not (chromium and chromedriver):
        reason = (f"Chromium and ChromeDriver are needed for {what}: "
                  "apt-get install chromium chromium-driver (.ci/run does it)")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return chromium, chromedriver


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep pytest output clean
        pass


@contextlib.contextmanager
def serve(directory) -> Iterator[str]:
    """Serve ``directory`` over HTTP on 127.0.0.1 at a free port; yield the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def headless_chromium(what: str, *, window: str = "1280,1000", page_timeout: float,
                      script_timeout: float):
    """A selenium driver for headless Chromium with a fresh profile and no outside network.

    Parameters
    ----------
    what : str
        The tests that need the browser (for the skip / fail message).
    window : str
        Window size "width,height" in CSS pixels.
    page_timeout, script_timeout : float
        Seconds for a page load and for an asynchronous script.

    The console is logged at every level (``driver.get_log("browser")``).
    """
    chromium, chromedriver = require_chromium(what)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="dualfilter-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", f"--window-size={window}",
                 # every host but the local server is unreachable: the site must be self-contained
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    driver.set_page_load_timeout(page_timeout)
    driver.set_script_timeout(script_timeout)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)

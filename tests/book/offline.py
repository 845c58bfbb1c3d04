"""Run a command with no network but loopback (used by the book build and the chapter runs).

Two layers:
- always: ``offline_site/sitecustomize.py`` on PYTHONPATH with DUALFILTER_OFFLINE=1, so every
  Python process of the command (jupyter-book, the notebook kernels) refuses non-loopback
  connections and name lookups;
- where the machine allows it (root, ``unshare`` and ``ip`` present, as on the CI machine): a
  fresh network namespace, ``unshare -n``, with only the loopback interface up, which also
  cuts C-level network access.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

SITE_DIR = Path(__file__).resolve().parent / "offline_site"
_NETNS_SHELL = 'ip link set lo up && exec "$@"'


def offline_env(base: dict | None = None) -> dict:
    """A copy of the environment with the Python network guard switched on."""
    env = dict(os.environ if base is None else base)
    env["DUALFILTER_OFFLINE"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(
        [str(SITE_DIR)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


@functools.lru_cache(maxsize=1)
def netns_available() -> bool:
    """Whether ``unshare -n`` with a loopback interface works here."""
    if not (shutil.which("unshare") and shutil.which("ip")):
        return False
    try:
        probe = subprocess.run(["unshare", "-n", "sh", "-c", _NETNS_SHELL, "sh", "true"],
                               capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def offline_command(cmd: list[str]) -> list[str]:
    """``cmd`` wrapped in a network namespace with loopback only, when that is available."""
    if netns_available():
        return ["unshare", "-n", "sh", "-c", _NETNS_SHELL, "sh", *cmd]
    return list(cmd)

"""Helpers shared by the benchmark scripts (timing, machine description, optional libraries).

The scripts import the kernels from the package itself; nothing here is imported by the
package or by the book.
"""

from __future__ import annotations

import datetime
import os
import platform
import time

import numpy as np


def best_times(fns: dict, repeats: int) -> dict:
    """Minimum wall-clock time of each function over ``repeats`` interleaved rounds.

    One warm-up call each, then every round times every function once, so that a
    disturbance on the shared machine hits all of them alike rather than one of them.
    """
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: min(ts) for name, ts in times.items()}


def machine_info() -> dict:
    """Core count, date, load, library versions and the BLAS libraries loaded."""
    import numba
    import threadpoolctl

    blas = [
        {k: info.get(k) for k in ("internal_api", "version", "architecture", "num_threads", "filepath")}
        for info in threadpoolctl.threadpool_info()
    ]
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],  # other processes on a shared machine
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "blas": blas,
    }


def dynamax_or_none():
    """(jax, dynamax's HMM inference module) with float64 enabled, or None if not installed."""
    try:
        import jax

        jax.config.update("jax_enable_x64", True)
        from dynamax.hidden_markov_model import inference
    except ImportError:
        return None
    return jax, inference

"""Depth benchmark of chapter 11 ("few layers"): how many layers, at what cost.

Usage::

    python benchmarks/depth.py             # goal figures and wall-clock -> results/depth.json
    python benchmarks/depth.py --quick     # smaller repetitions (a minute), same sizes
    python benchmarks/depth.py --grid      # the depth grid -> results/depth_grid.json
    DUALFILTER_FULL=1 python benchmarks/depth.py --grid     # full size (about an hour)

The goal figures are those of issue 12, on the hardest cell of chapter 8's grid (stickiness
0.95, emission concentration 0.1, d = 8 and 16, T = 1600): the levels the scan needs to be
exact to 1e-10, the layers Jacobi, damped Jacobi and Anderson need to reach an error of 1e-6,
and the wall-clock of ``parallel_scan`` (both schedules), ``predict``, one dual-filter layer
and, when it is installed, dynamax's parallel and sequential HMM filters (JAX, float64, jit)
at d = 8, 64, 256 for T = 1600. Every time is the minimum over interleaved repetitions
(the machine is shared: the minimum is the least disturbed run); ratios are taken within
one run. The package's kernels run with OpenBLAS limited to one thread (threadpoolctl): on
this shared two-core machine a two-thread BLAS measured four times slower than one thread
under load. dynamax runs with JAX's defaults. Chapter 11 imports this file (``first_below`` in
book/11-few-layers.md; ``depth_of``, ``solver_errors``, ``scan_errors`` in its section
book/11a-solvers.md; ``grid`` and the stored JSON in its section book/11b-depth-study.md).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import dualfilter as df
from dualfilter.scan import scan_schedule
from dualfilter.solvers import damped_relaxation

RESULTS = Path(__file__).resolve().parent / "results"
EPS = 1e-6
METHODS = ("jacobi", "damped", "anderson", "damped-causal", "anderson-causal")

SMALL_GRID = dict(d=8, seeds=[0, 1], T=[100, 200, 400], stickiness=[0.0, 0.8, 0.95],
                  concentration=[0.1, 1.0, 10.0], cap=2, methods=("jacobi", "damped", "anderson"))
FULL_GRID = dict(d=8, seeds=[0, 1, 2], T=[100, 400, 1600],
                 stickiness=[0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95],
                 concentration=[0.1, 0.3, 1.0, 3.0, 10.0], cap=2, methods=METHODS)


# --------------------------------------------------------------------------- depth
def first_below(errors, eps=EPS):
    """The first index with errors[index] < eps, or None (censored)."""
    hit = np.flatnonzero(np.asarray(errors) < eps)
    return int(hit[0]) if hit.size else None


def solver_errors(hmm, tokens, pi, method, max_layers, stop=None):
    """max_t ||x_l - pi_t||_1 after each layer l = 0..L of a solver ("damped-causal": the
    causal variant); it stops early once the error is below ``stop`` (if given)."""
    errs = []
    base, _, causal = method.partition("-")

    def record(layer, x):
        errs.append(float(np.abs(x - pi).sum(axis=1).max()))
        return stop is not None and errs[-1] < stop

    df.solve_fixed_point(hmm, tokens, method=base, tol=0.0, max_layers=max_layers,
                         causal=bool(causal), callback=record)
    return np.array(errs)


def scan_errors(hmm, tokens, pi, work_efficient=False):
    """max_t ||rho_t - pi_t||_1 after each level of the scan (levels + 1 values)."""
    _, levels = df.parallel_scan(hmm, tokens, work_efficient=work_efficient, return_levels=True)
    return np.abs(levels - pi).sum(axis=-1).max(axis=-1)


def depth_of(hmm, tokens, eps=EPS, cap=2, methods=METHODS):
    """Layers (levels for the scan) to reach max_t ||. - pi_t||_1 < eps.

    Returns {method: (layers or None if censored, the cap)}: Jacobi is capped at T+1 (it is
    exact there), the others at cap (T+1) layers; "scan" is the Hillis-Steele scan's levels.
    """
    T = len(tokens)
    pi = df.predict(hmm, tokens)
    out = {}
    for method in methods:
        limit = T + 1 if method == "jacobi" else cap * (T + 1)
        out[method] = (first_below(solver_errors(hmm, tokens, pi, method, limit, stop=eps), eps),
                       limit)
    out["scan"] = (first_below(scan_errors(hmm, tokens, pi), eps), len(scan_schedule(T)))
    return out


def grid(full=False, progress=False):
    """The depth over chapter 8's grid at several horizons.

    Returns a dict: the spec, the median |lambda_2| per stickiness, and for every method an
    array layers[method] of shape (stickiness, concentration, seeds, T) with np.nan where
    the run was censored (the cap is in caps[method], same shape).
    """
    spec = FULL_GRID if full else SMALL_GRID
    shape = (len(spec["stickiness"]), len(spec["concentration"]), len(spec["seeds"]), len(spec["T"]))
    names = tuple(spec["methods"]) + ("scan",)
    layers = {m: np.full(shape, np.nan) for m in names}
    caps = {m: np.zeros(shape) for m in names}
    lam = np.zeros(shape[:3])
    relax = np.zeros(shape[:3])
    for i, s in enumerate(spec["stickiness"]):
        for j, c in enumerate(spec["concentration"]):
            for k, seed in enumerate(spec["seeds"]):
                hmm = df.random_hmm(spec["d"], spec["d"], seed=seed, stickiness=s,
                                    emission_concentration=c)
                lam[i, j, k] = np.sort(np.abs(np.linalg.eigvals(hmm.A)))[-2]
                relax[i, j, k] = damped_relaxation(hmm)[0]
                for n, T in enumerate(spec["T"]):
                    _, tokens = df.sample(hmm, T, seed=1000 + seed)
                    found = depth_of(hmm, tokens, cap=spec["cap"], methods=spec["methods"])
                    for m, (L, cap) in found.items():
                        layers[m][i, j, k, n] = np.nan if L is None else L
                        caps[m][i, j, k, n] = cap
                if progress:
                    print(f"  stickiness {s}, concentration {c}, seed {seed}", flush=True)
    return dict(spec=spec, lam=lam, relax=relax, layers=layers, caps=caps)


# --------------------------------------------------------------------------- timing
def dynamax_filters():
    """(parallel, sequential) jitted float64 filters of dynamax, or None if not importable."""
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        from dynamax.hidden_markov_model.inference import hmm_filter as sequential
        from dynamax.hidden_markov_model.parallel_inference import hmm_filter as parallel
        import dynamax
    except Exception as exc:                                  # optional dependency
        return None, f"{type(exc).__name__}: {exc}"
    return (jax.jit(parallel), jax.jit(sequential), jax), f"dynamax {dynamax.__version__}, jax {jax.__version__}"


def timings(ds=(8, 64, 256), T=1600, repeats=5):
    """Wall-clock of the scan (both schedules), predict, one layer, and dynamax, per d."""
    # imported here: the chapters load this file by path (benchmarks/ is not on their sys.path)
    # and never time anything; run as a script, benchmarks/ is sys.path[0]
    from common import best_times

    (filters, version) = dynamax_filters()
    rows = []
    for d in ds:
        hmm = df.random_hmm(d, d, seed=0, stickiness=0.95, emission_concentration=0.1)
        _, tokens = df.sample(hmm, T, seed=1)
        pi = df.predict(hmm, tokens)
        fns = {
            "scan_hillis_steele": lambda: df.parallel_scan(hmm, tokens),
            "scan_work_efficient": lambda: df.parallel_scan(hmm, tokens, work_efficient=True),
            "predict": lambda: df.predict(hmm, tokens),
            "dual_filter_layer": lambda: df.fixed_point_map(hmm, tokens, pi),
        }
        row = dict(d=d, T=T)
        ll = df.log_likelihood(hmm, tokens)
        _, ll_scan = df.parallel_scan(hmm, tokens, work_efficient=True, return_loglik=True)
        _, ll_hs = df.parallel_scan(hmm, tokens, return_loglik=True)
        row["loglik"] = ll
        row["loglik_rel_err_scan_work_efficient"] = abs(ll_scan - ll) / abs(ll)
        row["loglik_rel_err_scan_hillis_steele"] = abs(ll_hs - ll) / abs(ll)
        if filters is not None:
            parallel, sequential, jax = filters
            import jax.numpy as jnp
            args = (jnp.asarray(hmm.mu), jnp.asarray(hmm.A), jnp.asarray(np.log(hmm.C[:, tokens].T)))
            fns["dynamax_parallel"] = lambda: jax.block_until_ready(parallel(*args))
            fns["dynamax_sequential"] = lambda: jax.block_until_ready(sequential(*args))
            par, seq = parallel(*args), sequential(*args)
            row["loglik_rel_err_dynamax_parallel"] = abs(float(par.marginal_loglik) - ll) / abs(ll)
            row["loglik_rel_err_dynamax_sequential"] = abs(float(seq.marginal_loglik) - ll) / abs(ll)
            row["dynamax_parallel_vs_sequential_loglik"] = abs(float(par.marginal_loglik) - float(seq.marginal_loglik))
            row["dynamax_predicted_max_err"] = float(np.abs(np.asarray(par.predicted_probs) - pi[:-1]).max())
        reps = 2 if d >= 256 else repeats
        with threadpool_limits(limits=1):
            times = best_times(fns, reps)
        row.update({f"ms_{name}": 1e3 * t for name, t in times.items()})
        if filters is not None:
            row["ratio_work_efficient_over_dynamax_parallel"] = times["scan_work_efficient"] / times["dynamax_parallel"]
            row["ratio_hillis_steele_over_dynamax_parallel"] = times["scan_hillis_steele"] / times["dynamax_parallel"]
        row["ratio_work_efficient_over_predict"] = times["scan_work_efficient"] / times["predict"]
        rows.append(row)
        print(f"  d = {d}: " + ", ".join(f"{k[3:]} {v:.3g} ms" for k, v in row.items()
                                         if k.startswith("ms_")), flush=True)
    return dict(rows=rows, dynamax=version, blas_threads=1, repeats=repeats)


# --------------------------------------------------------------------------- goal figures
def hardest_cell(ds=(8, 16), T=1600, seeds=(0,), cap=4):
    """The goal figures on the hardest cell: scan levels to 1e-10, solver layers to 1e-6."""
    rows = []
    for d in ds:
        for seed in seeds:
            hmm = df.random_hmm(d, d, seed=seed, stickiness=0.95, emission_concentration=0.1)
            _, tokens = df.sample(hmm, T, seed=1000 + seed)
            pi = df.predict(hmm, tokens)
            row = dict(d=d, T=T, seed=seed, relax=damped_relaxation(hmm)[0],
                       q=damped_relaxation(hmm)[1])
            for we, name in ((False, "hillis_steele"), (True, "work_efficient")):
                errs = scan_errors(hmm, tokens, pi, we)
                row[f"scan_{name}_levels"] = len(errs) - 1
                row[f"scan_{name}_final_error"] = float(errs[-1])
                row[f"scan_{name}_levels_to_1e-10"] = first_below(errs, 1e-10)
            for method in METHODS:
                limit = T + 1 if method == "jacobi" else cap * (T + 1)
                t0 = time.perf_counter()
                errs = solver_errors(hmm, tokens, pi, method, limit)
                L = first_below(errs)
                row[f"{method}_layers_to_1e-6"] = L
                row[f"{method}_cap"] = limit
                row[f"{method}_final_error"] = float(errs[-1])
                row[f"{method}_seconds"] = time.perf_counter() - t0
            rows.append(row)
            print("  " + ", ".join(f"{k} {v}" for k, v in row.items()), flush=True)
    return rows


def machine() -> dict:
    return dict(date=datetime.datetime.now().isoformat(timespec="seconds"),
                python=platform.python_version(), platform=platform.platform(),
                cpus=os.cpu_count(), load_average=os.getloadavg(), numpy=np.__version__)


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.floating, float)):
        return None if not np.isfinite(x) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    return x


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--grid", action="store_true", help="run the depth grid instead")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    RESULTS.mkdir(exist_ok=True)
    if args.grid:
        full = os.environ.get("DUALFILTER_FULL", "0") == "1"
        start = time.perf_counter()
        result = grid(full=full, progress=True)
        result["machine"] = machine()
        result["seconds"] = time.perf_counter() - start
        result["full"] = full
        out = args.out or RESULTS / ("depth_grid.json" if full else "depth_grid_small.json")
        out.write_text(json.dumps(_jsonable(result), indent=1))
        print(f"wrote {out} ({result['seconds']:.0f} s)")
        return
    result = dict(machine_before=machine())
    print("hardest cell (stickiness 0.95, emission concentration 0.1, T = 1600):")
    result["hardest_cell"] = hardest_cell(cap=2 if args.quick else 4)
    print("wall-clock, T = 1600:")
    result["timings"] = timings(repeats=5 if args.quick else 20)
    result["machine_after"] = machine()
    out = args.out or RESULTS / "depth.json"
    out.write_text(json.dumps(_jsonable(result), indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())

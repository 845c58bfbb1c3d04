"""Baum-Welch (EM) speed: dualfilter.fit_hmm against hmmlearn and dynamax, in one run.

Usage::

    python benchmarks/em.py                 # -> benchmarks/results/em.json
    python benchmarks/em.py --quick         # smaller repeats, for a smoke test
    python benchmarks/em.py --out /tmp/em.json

Cases (issue 13): d = 64 hidden states, 40 symbols, one sequence of 100,000 tokens (the main
case), and the same model size on 10,000 tokens (a small case). The tokens are sampled from a
fixed random HMM; all three libraries start from the same initial parameters (fit_hmm's
default initial model) and do maximum-likelihood EM (dynamax's Dirichlet priors are set to
concentration 1, which makes its M-step the maximum-likelihood one), so they do the same
work and reach the same log-likelihoods, which are reported as a check (dynamax reports the
log-likelihood plus the log density of its flat Dirichlet prior, a constant that is subtracted).

Time per iteration = (wall time of a fit with k iterations) / k, the minimum over repeats
(the machine is shared; the least disturbed run is the figure). For fit_hmm a fit with k
iterations also computes the log-likelihood of its result (one forward pass more), which
is counted against it. dynamax is timed after a warm-up fit of the same shapes, so that JAX's
compilation is not counted. hmmlearn and dynamax are optional: a library that cannot be
imported is reported as absent.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
from math import lgamma
from pathlib import Path

import numpy as np

import dualfilter as df

RESULTS = Path(__file__).resolve().parent / "results"
D, N_TOKENS = 64, 40
CASES = {"main": 100_000, "small": 10_000}


def machine_info() -> dict:
    """Core count, date, load, library versions and the BLAS libraries loaded."""
    import numba
    import threadpoolctl

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],  # other processes on a shared machine
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "blas": [{k: info.get(k) for k in ("internal_api", "version", "num_threads")}
                 for info in threadpoolctl.threadpool_info()],
    }


def data(T: int) -> tuple[np.ndarray, df.HMM]:
    """Tokens (T,) from a fixed sparse random HMM, and the common initial model."""
    truth = df.random_hmm(D, N_TOKENS, seed=13, transition_concentration=0.1,
                          emission_concentration=0.1)
    tokens = df.sample(truth, T, seed=14)[1]
    init = df.fit_hmm(tokens, D, n_tokens=N_TOKENS, n_iter=0, seed=0, floor=0.0)[0]
    return tokens, init


def time_dualfilter(tokens, init, k, repeats):
    times, ll = [], None
    df.fit_hmm(tokens[:1000], D, n_tokens=N_TOKENS, n_iter=1, init=init)  # numba cache load
    for _ in range(repeats):
        start = time.perf_counter()
        _, ll = df.fit_hmm(tokens, D, n_tokens=N_TOKENS, n_iter=k, tol=0.0, init=init, floor=0.0)
        times.append((time.perf_counter() - start) / k)
    return min(times), [float(v) for v in ll[:k]]


def time_hmmlearn(tokens, init, k, repeats):
    try:
        import hmmlearn
        from hmmlearn.base import ConvergenceMonitor
        from hmmlearn.hmm import CategoricalHMM
    except ImportError as exc:
        return {"status": f"absent ({exc})"}

    class Recorder(ConvergenceMonitor):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.path = []

        def report(self, log_prob):
            self.path.append(float(log_prob))
            super().report(log_prob)

    times, path = [], None
    for _ in range(repeats):
        model = CategoricalHMM(n_components=D, n_features=N_TOKENS, init_params="",
                               params="ste", n_iter=k, tol=-np.inf)
        model.startprob_, model.transmat_, model.emissionprob_ = init.mu, init.A, init.C
        model.monitor_ = Recorder(model.tol, model.n_iter, False)
        start = time.perf_counter()
        model.fit(tokens.reshape(-1, 1))
        times.append((time.perf_counter() - start) / k)
        path = model.monitor_.path
    return {"status": "ok", "version": hmmlearn.__version__, "seconds_per_iteration": min(times),
            "log_likelihoods": path}


def time_dynamax(tokens, init, k, repeats):
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        import dynamax
        from dynamax.hidden_markov_model import CategoricalHMM
    except ImportError as exc:
        return {"status": f"absent ({exc})"}
    from importlib.metadata import version

    model = CategoricalHMM(D, 1, N_TOKENS, initial_probs_concentration=1.0,
                           transition_matrix_concentration=1.0, emission_prior_concentration=1.0)
    params, props = model.initialize(
        initial_probs=jnp.asarray(init.mu), transition_matrix=jnp.asarray(init.A),
        emission_probs=jnp.asarray(init.C)[:, None, :])
    emissions = jnp.asarray(tokens.reshape(-1, 1))
    model.fit_em(params, props, emissions, num_iters=k, verbose=False)  # compile
    times, path = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        _, log_probs = model.fit_em(params, props, emissions, num_iters=k, verbose=False)
        log_probs.block_until_ready()
        times.append((time.perf_counter() - start) / k)
        # dynamax reports log P(tokens) + log prior; a Dirichlet(1) prior on a probability
        # vector of size K has the constant density Gamma(K): subtract those constants
        log_prior = lgamma(D) + D * lgamma(D) + D * lgamma(N_TOKENS)
        path = [float(v) - log_prior for v in np.asarray(log_probs)]
    return {"status": "ok", "version": version("dynamax"), "jax": jax.__version__,
            "seconds_per_iteration": min(times), "log_likelihoods": path}


def agreement(ours, theirs) -> float | None:
    """Largest relative difference of two log-likelihood paths (common length)."""
    if not theirs:
        return None
    n = min(len(ours), len(theirs))
    a, b = np.array(ours[:n]), np.array(theirs[:n])
    return float(np.max(np.abs(a - b) / np.abs(b)))


def run(quick: bool = False) -> dict:
    results = {"command": "python benchmarks/em.py" + (" --quick" if quick else ""),
               "machine": machine_info(), "d": D, "n_tokens": N_TOKENS, "cases": {}}
    for name, T in CASES.items():
        tokens, init = data(T)
        k_ours, k_ref = (5, 2) if quick else (10, 3)
        rep_ours, rep_ref = (2, 1) if quick else (5, 2)
        if T <= 20_000:
            k_ref, rep_ref = k_ref * 2, rep_ref + 1
        ours, ll_ours = time_dualfilter(tokens, init, k_ours, rep_ours)
        hmml = time_hmmlearn(tokens, init, k_ref, rep_ref)
        dyn = time_dynamax(tokens, init, k_ref, rep_ref)
        case = {"T": T, "dualfilter": {"seconds_per_iteration": ours, "log_likelihoods": ll_ours}}
        for label, res in (("hmmlearn", hmml), ("dynamax", dyn)):
            case[label] = res
            if res["status"] == "ok":
                res["ratio_to_dualfilter"] = res["seconds_per_iteration"] / ours
                res["log_likelihood_max_relative_difference"] = agreement(
                    ll_ours, res["log_likelihoods"])
        results["cases"][name] = case
    results["machine"]["load_average_1min_at_end"] = os.getloadavg()[0]
    return results


def format_table(results: dict) -> str:
    lines = [f"EM per iteration, d = {results['d']}, {results['n_tokens']} symbols "
             f"(minimum over repeats, one run)"]
    for name, case in results["cases"].items():
        ours = case["dualfilter"]["seconds_per_iteration"]
        lines.append(f"  {name}: T = {case['T']:,} tokens")
        lines.append(f"    dualfilter.fit_hmm  {ours:9.3f} s")
        for label in ("hmmlearn", "dynamax"):
            res = case[label]
            if res["status"] != "ok":
                lines.append(f"    {label:<19} {res['status']}")
                continue
            lines.append(
                f"    {label:<19} {res['seconds_per_iteration']:9.3f} s   "
                f"{res['ratio_to_dualfilter']:6.1f} x slower; log-likelihood path agrees to "
                f"{res['log_likelihood_max_relative_difference']:.1e} relative")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS / "em.json")
    args = parser.parse_args()
    results = run(args.quick)
    print(format_table(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

"""How many layers the dual filter needs: the depth study of chapter 9 ("How many layers and why").

For random HMMs over a grid of stickiness (slow mixing) and emission concentration
(uninformative tokens), several seeds and several horizons T, measure

    L_eps = min{ l >= 1 : max_t ||rho_t^(l) - pi_t||_1 < eps }

for the normalised dual filter from the prior start, without relaxation (cap T + 1 layers,
which the exactness theorem of chapter 8 guarantees in exact arithmetic) and with the
relaxation a = 1 - |lambda_2|^2 (cap ``relaxed_cap`` * T layers). A run that does not reach
eps within its cap is *censored*: it is stored as ``null`` with ``censored = true``, never as a
depth. Each record also holds |lambda_2| of A and the filter's forgetting rate.

Usage::

    python benchmarks/depth_study.py             # FULL grid -> book/data/depth_study.json
    python benchmarks/depth_study.py --default   # the small grid chapter 9 computes live
    python benchmarks/depth_study.py --out /tmp/d.json

The chapter imports this file, runs ``run_study(DEFAULT)`` live, and draws the stored FULL
results from ``book/data/depth_study.json`` in a separate, labelled figure; it checks that the
stored parameters are ``FULL`` (provenance). The FULL run takes a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

import dualfilter as df

OUT = Path(__file__).resolve().parents[1] / "book" / "data" / "depth_study.json"

# The small grid of the default build (the chapter runs it live, in a few seconds).
DEFAULT = dict(
    n_states=8,
    stickiness=[0.0, 0.5, 0.8, 0.9, 0.95],
    concentration=[0.3, 1.0, 10.0],
    seeds=[0, 1, 2, 3],
    horizons=[50, 100, 200],
    eps=1e-6,
    relaxed_cap=2,
)
# The full-size grid (DUALFILTER_FULL=1 or this script): more seeds, a finer grid, T to 1600.
FULL = dict(
    n_states=8,
    stickiness=[0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95],
    concentration=[0.1, 0.3, 1.0, 3.0, 10.0],
    seeds=list(range(10)),
    horizons=[50, 100, 200, 400, 800, 1600],
    eps=1e-6,
    relaxed_cap=2,
)


def measure_depth(hmm, tokens, eps, *, relax=1.0, cap, normalize=True):
    """L_eps of the dual filter from the prior start, or None if censored.

    Iterates rho^(l+1) = (1 - relax) rho^(l) + relax N(rho^(l)) (N = ``df.fixed_point_map``,
    normalised unless ``normalize=False``) and returns the first layer l in 1..cap with
    max_t ||rho_t^(l) - pi_t||_1 < eps, where pi is the forward algorithm; None if no layer up
    to ``cap`` reaches eps (a censored run).
    """
    pi = df.predict(hmm, tokens)
    rho = df.prior_measures(hmm, len(tokens))
    for layer in range(1, cap + 1):
        nxt = df.fixed_point_map(hmm, tokens, rho, normalize=normalize)
        rho = nxt if relax == 1.0 else (1.0 - relax) * rho + relax * nxt
        if np.abs(rho - pi).sum(axis=1).max() < eps:
            return layer
    return None


def second_eigenvalue(A) -> float:
    """|lambda_2|: the second largest modulus among the eigenvalues of A."""
    return float(np.sort(np.abs(np.linalg.eigvals(A)))[-2])


def forgetting_rate(hmm, tokens, seed) -> float | None:
    """Rate r of ||pi_t^a - pi_t^b||_1 ~ exp(-r t) for two random initial laws a, b.

    Runs the forward algorithm from two Dirichlet initial laws on the same tokens and fits a
    line to the log distance over its initial run above 1e-12; None if that run is shorter
    than three positions (the filter forgot at once).
    """
    laws = np.random.default_rng(seed).dirichlet(np.ones(hmm.n_states), size=2)
    p, q = (df.predict(df.HMM(hmm.A, hmm.C, law), tokens) for law in laws)
    dist = np.abs(p - q).sum(axis=1)
    ok = np.flatnonzero(dist > 1e-12)
    ok = ok[: np.argmax(np.diff(np.append(ok, -1)) != 1) + 1]  # the initial run above 1e-12
    if len(ok) < 3:
        return None
    return float(-np.polyfit(ok, np.log(dist[ok]), 1)[0])


def run_study(params: dict, progress: bool = False) -> dict:
    """Measure every (stickiness, concentration, seed, T) of ``params``; see the module doc.

    Returns {"params": params, "records": [...], "seconds": wall time}, one record a run.
    """
    start = time.perf_counter()
    d, eps = params["n_states"], params["eps"]
    records = []
    for s in params["stickiness"]:
        for c in params["concentration"]:
            for seed in params["seeds"]:
                hmm = df.random_hmm(d, d, seed=seed, stickiness=s, emission_concentration=c)
                lam2 = second_eigenvalue(hmm.A)
                a = 1.0 - lam2**2
                for T in params["horizons"]:
                    _, tokens = df.sample(hmm, T, seed=1000 + seed)
                    plain = measure_depth(hmm, tokens, eps, cap=T + 1)
                    cap_r = params["relaxed_cap"] * T
                    relaxed = measure_depth(hmm, tokens, eps, relax=a, cap=cap_r)
                    records.append(dict(
                        stickiness=s, concentration=c, seed=seed, T=T, lambda2=lam2,
                        forgetting_rate=forgetting_rate(hmm, tokens, seed),
                        depth=plain, censored=plain is None, cap=T + 1,
                        relax=a, depth_relaxed=relaxed, censored_relaxed=relaxed is None,
                        cap_relaxed=cap_r))
                if progress:
                    print(f"  s={s} c={c} seed={seed}: {time.perf_counter() - start:.0f} s",
                          flush=True)
    return {"params": params, "records": records,
            "seconds": round(time.perf_counter() - start, 1)}


def runs(records, stickiness, concentration, T, key="depth") -> list:
    """The values ``key`` of the runs of one cell of the grid (None for censored runs)."""
    return [r[key] for r in records if r["stickiness"] == stickiness
            and r["concentration"] == concentration and r["T"] == T]


def ratio_table(result, key="depth") -> str:
    """Markdown table: median L_eps / T [min-max over seeds] per (stickiness, concentration)
    and horizon, over the uncensored runs ("censored" if every run of the cell is)."""
    P, recs = result["params"], result["records"]
    lines = ["| $s$ | $c$ | " + " | ".join(f"$T = {T}$" for T in P["horizons"]) + " |",
             "|---|---|" + "---|" * len(P["horizons"])]
    for s in P["stickiness"]:
        for c in P["concentration"]:
            cells = []
            for T in P["horizons"]:
                L = np.array([x for x in runs(recs, s, c, T, key) if x is not None]) / T
                cells.append(f"{np.median(L):.2f} [{L.min():.2f}–{L.max():.2f}]" if len(L)
                             else "censored")
            lines.append(f"| {s} | {c} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--default", action="store_true", help="the small grid (print only)")
    parser.add_argument("--out", type=Path, default=OUT, help="where FULL results go")
    args = parser.parse_args(argv)
    if args.default:
        result = run_study(DEFAULT)
        print(f"{len(result['records'])} runs in {result['seconds']} s")
        return
    result = run_study(FULL, progress=True)
    import numba

    result["provenance"] = {
        "script": "benchmarks/depth_study.py",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(), "numpy": np.__version__,
        "numba": numba.__version__, "dualfilter": df.__version__
        if hasattr(df, "__version__") else "unknown",
        "command": " ".join([Path(sys.argv[0]).name] + list(argv or sys.argv[1:])),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{len(result['records'])} runs in {result['seconds']} s -> {args.out}")


if __name__ == "__main__":
    main()

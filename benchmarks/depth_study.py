"""Run the full depth study of chapter 9 (section book/09a-depth-study.md); store it in
book/data/depth_study.json.

Usage::

    python benchmarks/depth_study.py             # FULL_GRID -> book/data/depth_study.json
    python benchmarks/depth_study.py --default   # the small grid section 9a computes live
    python benchmarks/depth_study.py --out /tmp/d.json
    python benchmarks/depth_study.py --add-exact # only the fixed-point depths of exact_cells,
                                                 # added to the stored float64 records

The measurement and the grids live in the package (``dualfilter.depth``); the section
book/09a-depth-study.md draws the stored results in a separate, labelled figure and checks
that their parameters are ``FULL_GRID`` (provenance). The FULL run takes about 8 minutes on
2 cores, and the fixed-point depths of ``FULL_GRID['exact_cells']`` (pure Python) about 11 more.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
from pathlib import Path

import numpy as np

import dualfilter as df
from dualfilter.depth import DEFAULT_GRID, FULL_GRID, add_exact_depths, run_study

OUT = Path(__file__).resolve().parents[1] / "book" / "data" / "depth_study.json"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--default", action="store_true", help="the small grid (print only)")
    parser.add_argument("--out", type=Path, default=OUT, help="where FULL results go")
    parser.add_argument("--add-exact", action="store_true",
                        help="add the fixed-point depths of FULL_GRID['exact_cells'] to --out")
    args = parser.parse_args(argv)
    if args.add_exact:
        result = json.loads(args.out.read_text())
        exact_free = {k: v for k, v in FULL_GRID.items() if k != "exact_cells"}
        assert {k: v for k, v in result["params"].items() if k != "exact_cells"} == exact_free
        result["params"]["exact_cells"] = FULL_GRID["exact_cells"]
        add_exact_depths(result, progress=True)
        result["provenance"]["exact_command"] = "depth_study.py --add-exact"
        args.out.write_text(json.dumps(result, indent=1) + "\n")
        print(f"exact depths added in {result['seconds_exact']} s -> {args.out}")
        return
    if args.default:
        result = run_study(DEFAULT_GRID)
        print(f"{len(result['records'])} runs in {result['seconds']} s")
        return
    result = run_study(FULL_GRID, progress=True)
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

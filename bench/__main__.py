"""Run every benchmark, print a table, and write ``bench/results.json``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench import (
    api_bench,
    designer_bench,
    engine_bench,
    floor_bench,
    hooks_bench,
    inbox_bench,
    reports_bench,
    timer_bench,
)

RESULTS = Path(__file__).resolve().parent / "results.json"
SUITES = {"engine": engine_bench.run, "api": api_bench.run, "timers": timer_bench.run}
SUITES["inbox"] = inbox_bench.run
SUITES["designer"] = designer_bench.run
SUITES["reports"] = reports_bench.run
SUITES["hooks"] = hooks_bench.run
SUITES["floor"] = floor_bench.run


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument(
        "suites", nargs="*", choices=[*SUITES, []], help="which to run (default: all)"
    )
    parser.add_argument("--quick", action="store_true", help="fewer runs, for a smoke test")
    args = parser.parse_args()
    figures: dict[str, dict[str, Any]] = {}
    if RESULTS.exists():
        figures.update(json.loads(RESULTS.read_text()))
    for name in args.suites or list(SUITES):
        figures.update(SUITES[name](quick=args.quick))
    width = max(len(k) for k in figures)
    print(f"{'figure':<{width}}  {'value':>12}  unit          setup")
    for key, fig in figures.items():
        print(f"{key:<{width}}  {fig['value']:>12,.1f}  {fig['unit']:<12}  {fig['setup']}")
    RESULTS.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    print(f"\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()

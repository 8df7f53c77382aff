"""`make bench`: run every benchmark and print one table of figures, floors and targets.

Each script prints its own detail and, for the table, lines `BENCH {json}` with: name,
figure, unit, floor (measured in the same run), target, better ("lower"/"higher") and
optionally ratio_target (how far from the floor the figure may be). Runs on the embedded
SQLite database, and on PostgreSQL too when DATABASE_URL is set (each script then works
in a throwaway database on that server).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _run(script: Path, env: dict) -> list[dict]:
    result = subprocess.run([sys.executable, str(script)], cwd=HERE, env=env, capture_output=True, text=True)
    sys.stdout.write(result.stdout)
    if result.returncode != 0:
        sys.stdout.write(result.stderr[-3000:])
        return [{"name": f"{script.name} failed (exit {result.returncode})", "figure": None}]
    return [json.loads(line[6:]) for line in result.stdout.splitlines() if line.startswith("BENCH ")]


def _verdict(line: dict) -> str:
    figure, target = line.get("figure"), line.get("target")
    if figure is None or target is None:
        return "?"
    met = figure <= target if line.get("better") == "lower" else figure >= target
    ratio_target = line.get("ratio_target")
    if met and ratio_target and line.get("floor"):
        ratio = figure / line["floor"] if line["better"] == "lower" else line["floor"] / figure
        met = ratio <= ratio_target
    return "met" if met else "NOT met"


def _cell(value, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f} {unit}" if unit == "rows/s" else f"{value:.3f} {unit}"


def main() -> int:
    databases = [("SQLite", {**os.environ, "DATABASE_URL": ""})]
    if os.environ.get("DATABASE_URL"):
        databases.append(("PostgreSQL", dict(os.environ)))
    rows = []
    for label, env in databases:
        for script in sorted(HERE.glob("bench_*.py")):
            print(f"\n== {script.name} on {label}", flush=True)
            rows += [(label, line) for line in _run(script, env)]
    print(f"\n{'database':<10} {'what':<62} {'figure':>16} {'floor':>16} {'ratio':>7} {'target':>14}  verdict")
    for label, line in rows:
        unit = line.get("unit", "")
        figure, floor = line.get("figure"), line.get("floor")
        ratio = "-"
        if figure and floor:
            ratio = f"{figure / floor:.1f}x" if line.get("better") == "lower" else f"{floor / figure:.1f}x"
        target = line.get("target")
        target_text = (
            "-" if target is None else (f"≥ {target:,.0f}" if line.get("better") == "higher" else f"≤ {target:g} s")
        )
        print(f"{label:<10} {line['name'][:62]:<62} {_cell(figure, unit):>16} {_cell(floor, unit):>16} {ratio:>7} "
              f"{target_text:>14}  {_verdict(line)}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

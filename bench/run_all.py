"""`make bench`: run every benchmark and print one table of figures, floors and targets.

Each script prints its own detail and, for the table, lines `BENCH {json}` with: name, figure,
unit ("s", "rows/s" or "MiB"), floor (measured in the same run) and floor_what (what the floor
is), target, better ("lower"/"higher") and optionally ratio_target (how far from the floor the
figure may be). Runs on the embedded SQLite database, and on PostgreSQL too when DATABASE_URL is
set (each script then works in a throwaway database on that server, never the configured one).

    .venv/bin/python bench/run_all.py [--only reporting pipeline ...]
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _run(script: Path, env: dict) -> list[dict]:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, str(script)], cwd=HERE, env=env, capture_output=True, text=True)
    sys.stdout.write(result.stdout)
    print(f"({script.name}: {time.perf_counter() - start:.0f}s)", flush=True)
    if result.returncode != 0:
        sys.stdout.write(result.stderr[-3000:])
        return [{"name": f"{script.name} failed (exit {result.returncode})", "figure": None}]
    return [json.loads(line[6:]) for line in result.stdout.splitlines() if line.startswith("BENCH ")]


def _ratio(line: dict) -> float | None:
    """How many times the floor the figure is (for rates: how many times faster the floor is)."""
    figure, floor = line.get("figure"), line.get("floor")
    if not figure or not floor:
        return None
    return figure / floor if line.get("better") == "lower" else floor / figure


def _verdict(line: dict) -> str:
    figure, target = line.get("figure"), line.get("target")
    if figure is None:
        return "?"
    if target is None:
        return "(info)"
    met = figure <= target if line.get("better") == "lower" else figure >= target
    ratio, ratio_target = _ratio(line), line.get("ratio_target")
    if ratio_target and ratio is not None and ratio > ratio_target:
        return "NOT met (ratio)" if met else "NOT met"
    if not met and _floor_misses_target(line):
        return "NOT met: the floor itself misses it"
    return "met" if met else "NOT met"


def _floor_misses_target(line: dict) -> bool:
    """The floor measured beside the figure is already on the wrong side of the target."""
    floor, target = line.get("floor"), line.get("target")
    if floor is None or target is None:
        return False
    return floor > target if line.get("better") == "lower" else floor < target


def _cell(value, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "rows/s":
        return f"{value:,.0f} rows/s"
    if unit == "MiB":
        return f"{value:,.0f} MiB"
    return f"{value:.3f} {unit}"


def _target(line: dict) -> str:
    target = line.get("target")
    if target is None:
        return "-"
    unit = line.get("unit", "")
    text = (f"≥ {target:,.0f} {unit}" if line.get("better") == "higher" else f"≤ {target:g} {unit}").strip()
    if line.get("ratio_target"):
        text += f", ≤ {line['ratio_target']}× floor"
    return text


def table(rows: list[tuple[str, dict]]) -> str:
    header = f"{'database':<10} {'what':<56} {'figure':>16} {'floor':>16} {'ratio':>7}  {'target':<26} met?"
    lines = [header, "-" * len(header)]
    for label, line in rows:
        unit = line.get("unit", "")
        ratio = _ratio(line)
        lines.append(
            f"{label:<10} {line['name'][:56]:<56} {_cell(line.get('figure'), unit):>16} "
            f"{_cell(line.get('floor'), unit):>16} {'-' if ratio is None else f'{ratio:.1f}x':>7}  "
            f"{_target(line):<26} {_verdict(line)}"
        )
    floors = sorted(
        {f"  {line['name'].split(' (')[0]}: {line['floor_what']}" for _, line in rows if line.get("floor_what")}
    )
    return "\n".join(lines + ["", "floors:"] + floors)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="*", help="Run only the bench_<name>.py scripts named.")
    args = parser.parse_args()
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in args.only]
    databases = [("SQLite", {**os.environ, "DATABASE_URL": ""})]
    if os.environ.get("DATABASE_URL"):
        databases.append(("PostgreSQL", dict(os.environ)))
    rows = []
    for label, env in databases:
        for script in scripts:
            print(f"\n== {script.name} on {label}", flush=True)
            rows += [(label, line) for line in _run(script, env)]
    print()
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

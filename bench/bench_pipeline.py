"""Wall time of one run_pipeline on the SIM market (process start-up and migrations excluded).

    .venv/bin/python bench/bench_pipeline.py [--universe 500 5000] [--repeat 5]

For each universe size: the first run in a fresh process (paths for the session are
generated: the cost a scheduled job pays), then warm runs at other minutes of the same
session (which send fewer brackets: the names already held are skipped). Each universe size
runs in its own process and throwaway database. The first run's floor is the SIM market's first
scan of a session (building every symbol's minute path, measured on the session before); the
later runs' floor is the scan alone, so the ratio shows what scoring, recording and execution
add on top of reading the market.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from _setup import setup_django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--universe", type=int, nargs="+", default=[500, 5000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if len(args.universe) > 1:
        # Each size in its own process and database: the book one size leaves behind (positions
        # already held, risk limits used) would stop the next one from sending its top 5.
        for universe in args.universe:
            argv = [sys.executable, __file__, "--universe", str(universe), "--repeat", str(args.repeat)]
            subprocess.run(argv, check=True)
        return
    setup_django("pipeline")

    from django.conf import settings

    from trading import sessions
    from trading.brokers import brokers
    from trading.models import PipelineRun
    from trading.services.pipeline import RunOptions, pipeline_run

    start = time.perf_counter()
    sessions.is_open(datetime.now(UTC))  # start-up: loading pandas and the NYSE calendar
    print(f"start-up (NYSE calendar load, excluded below): {time.perf_counter() - start:.3f}s")

    lines = []
    print(
        f"{'universe':>8}  {'first run':>10}  {'cold scan':>10}  {'warm median':>11}  {'scan floor':>10}  {'ratio':>6}  status"
    )
    for universe in args.universe:
        settings.BROKERS["default"]["OPTIONS"]["universe_size"] = universe
        brokers.reset()
        base = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # 10:00 New York
        timings, sent = [], []
        for i in range(args.repeat + 1):
            start = time.perf_counter()
            run = pipeline_run(RunOptions(at=base + timedelta(minutes=7 * i)))
            timings.append(time.perf_counter() - start)
            sent.append(run.executed_count)
            if run.status == PipelineRun.Status.FAILED:
                print(f"run failed: {run.error}", file=sys.stderr)
                sys.exit(1)
        # The first run's floor: the SIM market building a session's minute paths for every
        # symbol of the universe (for the previous session, measured after the runs so that it
        # warms nothing they do).
        with brokers.create("default") as broker:
            start = time.perf_counter()
            broker.scan(at=base - timedelta(days=1), scan_code="TOP_PERC_GAIN", above_price=5,
                        above_volume=100_000, max_results=50)  # fmt: skip
            cold_scan = time.perf_counter() - start
        with brokers.create("default") as broker:
            start = time.perf_counter()
            broker.scan(at=base, scan_code="TOP_PERC_GAIN", above_price=5, above_volume=100_000, max_results=50)
            floor = time.perf_counter() - start
        warm = statistics.median(timings[1:])
        print(
            f"{universe:>8}  {timings[0]:>9.3f}s  {cold_scan:>9.3f}s  {warm:>10.3f}s  {floor:>9.3f}s  "
            f"{warm / floor:>5.1f}x  {run.status}; brackets sent: first run {sent[0]}, later runs {sent[1:]} "
            "(the top names already held are skipped)"
        )
        lines.append(
            {
                "name": f"run_pipeline, SIM {universe}, first run ({sent[0]} brackets)",
                "figure": timings[0],
                "unit": "s",
                "floor": cold_scan,
                "floor_what": "the SIM market's first scan of a session (building every symbol's minute path)",
                "target": 0.25 if universe <= 500 else 2.0,
                "better": "lower",
                "warm": warm,
            }
        )
        lines.append(
            {
                "name": f"run_pipeline, SIM {universe}, later runs ({statistics.median(sent[1:]):g} brackets)",
                "figure": warm,
                "unit": "s",
                "floor": floor,
                "floor_what": "the same run's scan alone",
                "target": 0.25 if universe <= 500 else 2.0,
                "better": "lower",
            }
        )
    for line in lines:
        print("BENCH " + json.dumps(line))


if __name__ == "__main__":
    main()

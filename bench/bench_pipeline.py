"""Wall time of one run_pipeline on the SIM market (process start-up and migrations excluded).

    .venv/bin/python bench/bench_pipeline.py [--universe 500 5000] [--samples 5] [--repeat 5]

For each universe size, `--samples` fresh processes, each with its own throwaway database, do:
the first run (paths for the session are generated: the cost a scheduled job pays), then warm
runs at other minutes of the same session (which send fewer brackets: the names already held are
skipped). The figures are the medians over the processes: one first run per process is a single
sub-second reading, and on a shared machine one reading swings by a third.

The first run's floor is the SIM market's first scan of a session (building every symbol's minute
path, measured on the session before); the later runs' floor is the scan alone, so the ratio shows
what scoring, recording and execution add on top of reading the market.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from _setup import setup_django

BASE = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # 10:00 New York


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--universe", type=int, nargs="+", default=[500, 5000])
    parser.add_argument("--samples", type=int, default=5, help="fresh processes per universe size")
    parser.add_argument("--repeat", type=int, default=5, help="warm runs after the first, per process")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        _one_process(args.universe[0], args.repeat)
        return
    print(
        f"{'universe':>8}  {'first run':>10}  {'cold scan':>10}  {'warm median':>11}  {'scan floor':>10}  {'ratio':>6}"
        "  (medians of fresh processes)"
    )
    lines = []
    for universe in args.universe:
        samples = [_sample(universe, args.repeat) for _ in range(args.samples)]
        lines += _summarise(universe, samples)
    for line in lines:
        print("BENCH " + json.dumps(line))


def _sample(universe: int, repeat: int) -> dict:
    """One fresh process and database: the book a process leaves behind (positions held, risk
    limits used) would stop the next one from sending its top 5."""
    argv = [sys.executable, __file__, "--one", "--universe", str(universe), "--repeat", str(repeat)]
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stderr[-3000:])
        sys.exit(result.returncode)
    return json.loads(result.stdout.strip().splitlines()[-1])


def _summarise(universe: int, samples: list[dict]) -> list[dict]:
    first = statistics.median(s["first"] for s in samples)
    cold_scan = statistics.median(s["cold_scan"] for s in samples)
    warm = statistics.median(s["warm"] for s in samples)
    floor = statistics.median(s["floor"] for s in samples)
    sent_first = sorted({s["sent"][0] for s in samples})
    sent_later = statistics.median(n for s in samples for n in s["sent"][1:])
    firsts = ", ".join(f"{s['first']:.3f}" for s in samples)
    print(
        f"{universe:>8}  {first:>9.3f}s  {cold_scan:>9.3f}s  {warm:>10.3f}s  {floor:>9.3f}s  {warm / floor:>5.1f}x"
        f"  first runs [{firsts}] s; brackets sent: first run {sent_first}, later runs {samples[0]['sent'][1:]}"
        " (the top names already held are skipped)"
    )
    target = 0.25 if universe <= 500 else 2.0
    return [
        {
            "name": f"run_pipeline, SIM {universe}, first run ({'/'.join(map(str, sent_first))} brackets)",
            "figure": first,
            "unit": "s",
            "floor": cold_scan,
            "floor_what": "the SIM market's first scan of a session (building every symbol's minute path)",
            "target": target,
            "better": "lower",
            "samples": [s["first"] for s in samples],
        },
        {
            "name": f"run_pipeline, SIM {universe}, later runs ({sent_later:g} brackets)",
            "figure": warm,
            "unit": "s",
            "floor": floor,
            "floor_what": "the same run's scan alone",
            "target": target,
            "better": "lower",
        },
    ]


def _one_process(universe: int, repeat: int) -> None:
    setup_django("pipeline")

    from django.conf import settings

    from trading import sessions
    from trading.brokers import brokers
    from trading.models import PipelineRun
    from trading.services.pipeline import RunOptions, pipeline_run

    sessions.is_open(datetime.now(UTC))  # start-up: loading pandas and the NYSE calendar
    settings.BROKERS["default"]["OPTIONS"]["universe_size"] = universe
    brokers.reset()
    # Start-up too: importing the backend's modules (compiled from source where, as on CI,
    # PYTHONDONTWRITEBYTECODE keeps no bytecode), which a long-lived worker does once.
    brokers.backend_class("default")
    timings, sent = [], []
    for i in range(repeat + 1):
        start = time.perf_counter()
        run = pipeline_run(RunOptions(at=BASE + timedelta(minutes=7 * i)))
        timings.append(time.perf_counter() - start)
        sent.append(run.executed_count)
        if run.status == PipelineRun.Status.FAILED:
            print(f"run failed: {run.error}", file=sys.stderr)
            sys.exit(1)
    scan = {"scan_code": "TOP_PERC_GAIN", "above_price": 5, "above_volume": 100_000, "max_results": 50}
    # The first run's floor: the SIM market building a session's minute paths for every symbol
    # (for the previous session, measured after the runs so that it warms nothing they do).
    with brokers.create("default") as broker:
        start = time.perf_counter()
        broker.scan(at=BASE - timedelta(days=1), **scan)
        cold_scan = time.perf_counter() - start
    with brokers.create("default") as broker:
        start = time.perf_counter()
        broker.scan(at=BASE, **scan)
        floor = time.perf_counter() - start
    result = {
        "first": timings[0],
        "warm": statistics.median(timings[1:]),
        "cold_scan": cold_scan,
        "floor": floor,
        "sent": sent,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

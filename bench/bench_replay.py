"""Replay of one year of the default schedule into a new SIM book, and its floor.

    .venv/bin/python bench/bench_replay.py [--year 2025] [--skip-month]

Each replay runs in a fresh process with its own throwaway database: `manage.py replay` over every
NYSE session of the year (09:30 and 12:00 scans of the 500-symbol synthetic market, marks every
5 minutes, 16:00 reconciliation, 17:00 report). Its wall time excludes process start-up and
migrations. The floor, measured in another fresh process, is the SIM market alone computing
what the replay reads: every symbol's minute path of every session (the opening scan reads
them all), both scans, and the quotes of the names they return; no book, no database.

On a machine with a second core the replay has the market's paths built a session or two ahead
in a second process (`trading.sim.ahead`), so most of the floor runs beside the book's work
rather than before it; the printed ratio then compares the replay with work it partly overlaps.

Peak memory is the process's VmHWM (peak RSS), for a one-month replay (January) and the year:
a replay must not grow with its length (target: year ≤ 1.2 × month).
"""

import argparse
import json
import subprocess
import sys
import time
from datetime import date

from _setup import setup_django

TARGET_SECONDS = 30.0
MEMORY_RATIO_TARGET = 1.2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--skip-month", action="store_true", help="Only the year (no memory comparison).")
    parser.add_argument("--child", choices=["replay", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--start", help=argparse.SUPPRESS)
    parser.add_argument("--end", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = _replay(args.start, args.end) if args.child == "replay" else _floor(args.start, args.end)
        print(json.dumps(result))
        return
    year_range = (f"{args.year}-01-01", f"{args.year}-12-31")
    floor = _in_child("floor", *year_range)
    year = _in_child("replay", *year_range)
    month = None if args.skip_month else _in_child("replay", f"{args.year}-01-01", f"{args.year}-01-31")
    print(
        f"replay {args.year}: {year['sessions']} sessions, {year['jobs']:,} jobs, {year['trades']:,} closed trades "
        f"in {year['seconds']:.1f} s (floor {floor['seconds']:.1f} s: {floor['paths']:,} paths, "
        f"{floor['quotes']:,} quotes; ratio {year['seconds'] / floor['seconds']:.1f}x); "
        f"{year['seconds'] / year['sessions'] * 1000:.0f} ms a session; peak RSS {year['peak_mib']} MiB"
    )
    lines = [
        {"name": f"replay one year ({year['sessions']} sessions, 500 symbols)", "figure": round(year["seconds"], 2),
         "unit": "s", "floor": round(floor["seconds"], 2), "better": "lower", "target": TARGET_SECONDS,
         "floor_what": "the SIM market computing every path, scan and quote the replay reads, without a book"},
    ]  # fmt: skip
    if month is not None:
        ratio = year["peak_mib"] / month["peak_mib"]
        print(
            f"peak RSS: one month {month['peak_mib']} MiB ({month['seconds']:.1f} s), one year {year['peak_mib']} "
            f"MiB: {ratio:.2f}x (target ≤ {MEMORY_RATIO_TARGET}x)"
        )
        lines.append(
            {
                "name": "replay peak memory, one year",
                "figure": year["peak_mib"],
                "unit": "MiB",
                "floor": month["peak_mib"],
                "better": "lower",
                "target": None,
                "ratio_target": MEMORY_RATIO_TARGET,
                "floor_what": "the peak memory of a one-month replay",
            }  # fmt: skip
        )
    for line in lines:
        print("BENCH " + json.dumps(line))


def _in_child(kind: str, start: str, end: str) -> dict:
    argv = [sys.executable, __file__, "--child", kind, "--start", start, "--end", end]
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stderr[-3000:])
        sys.exit(result.returncode)
    return json.loads(result.stdout.strip().splitlines()[-1])


def _peak_mib() -> int:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM"))
    return int(line.split()[1]) // 1024


def _replay(start: str, end: str) -> dict:
    setup_django("replay")
    from django.core.management import call_command

    from trading.models import Trade

    began = time.perf_counter()
    out = _Capture()
    call_command("replay", "--from", start, "--to", end, "--book", "bench", "--json", stdout=out)
    seconds = time.perf_counter() - began
    payload = json.loads(out.text)
    return {
        "seconds": seconds,
        "sessions": payload["sessions"],
        "jobs": payload["jobs_run"],
        "trades": Trade.objects.filter(book__name="bench", status=Trade.Status.CLOSED).count(),
        "peak_mib": _peak_mib(),
    }


def _floor(start: str, end: str) -> dict:
    """What the replay reads from the market, read alone: the scans at 09:30 and 12:00 (which
    build every symbol's path of the session) and a quote of each name they return."""
    setup_django("replay-floor")
    from django.conf import settings

    from trading import sessions
    from trading.brokers.sim import SimBroker
    from trading.schedule.plan import ScheduleConfig, new_york_moment

    config = ScheduleConfig.from_settings()
    scanner = settings.TRADE_LABS_SCANNER
    broker = SimBroker("sim", seed=20240101, universe_size=500)
    paths = quotes = 0
    began = time.perf_counter()
    for session in sessions.sessions_between(date.fromisoformat(start), date.fromisoformat(end)):
        for job in ("opening_scan", "midday_scan"):
            at = new_york_moment(session.day, config.times[job])
            if not session.open <= at < session.close:
                continue
            found = broker.scan(
                at=at, scan_code=scanner["scan_code"], above_price=scanner["above_price"],
                above_volume=int(scanner["above_volume"]), max_results=int(scanner["max_results"]),
            )  # fmt: skip
            quotes += len(broker.quotes([result.symbol for result in found], at=at))
        paths += len(broker.market.symbols)
    return {"seconds": time.perf_counter() - began, "paths": paths, "quotes": quotes, "peak_mib": _peak_mib()}


class _Capture:
    def __init__(self):
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass


if __name__ == "__main__":
    main()

"""Reporting on years of history: a million closed trades, then stats, a daily report and the full CSV export.

    .venv/bin/python bench/bench_reporting.py [--trades 1000000] [--years 4] [--symbols 500] [--no-tracemalloc] [--keep]

The trades go into a throwaway database (see _setup.py: a temporary SQLite file unless
DATABASE_URL is set) with bulk_create in batches. Each step is timed on its own; peak memory
is the rise of the process's resident set over the step (VmHWM, reset before each step) and,
unless --no-tracemalloc, the Python heap peak of a second pass under tracemalloc (slower, so
that pass is not timed). The figures are checked against totals kept while generating.
"""

import argparse
import json
import os
import random
import shutil
import sys
import time
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from _setup import peak_memory, setup_django

MIB = 1024 * 1024


def _rss_hwm_reset() -> bool:
    """Reset the kernel's peak-RSS mark for this process (Linux); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


@contextmanager
def measured(results: dict, key: str):
    """Wall time and the rise of peak RSS over the block."""
    can_reset = _rss_hwm_reset()
    before = _status_kib("VmRSS")
    start = time.perf_counter()
    yield
    results[key] = {
        "seconds": time.perf_counter() - start,
        "rss_rise_mib": (_status_kib("VmHWM") - before) / 1024 if can_reset else None,
    }


def generate(*, trades: int, years: int, symbols: int, seed: int = 7) -> dict:
    """Closed trades spread over the NYSE sessions of `years` years; returns the totals kept on the way."""
    from django.db import transaction

    from trading import sessions
    from trading.models import Trade

    rng = random.Random(seed)
    end = date(2025, 12, 31)
    days = sessions.sessions_between(end - timedelta(days=365 * years), end)
    names = [f"S{i:04d}" for i in range(symbols)]
    reasons = ["stop", "target", "manual", "eod"]
    per_day, extra = divmod(trades, len(days))
    total_units = 0
    batch: list[Trade] = []
    made = 0
    for index, session in enumerate(days):
        count = per_day + (1 if index < extra else 0)
        minutes = int((session.close - session.open).total_seconds() // 60)
        for _ in range(count):
            entry = session.open + timedelta(minutes=rng.randrange(0, minutes - 1), seconds=rng.randrange(60))
            exit_ = min(entry + timedelta(seconds=rng.randrange(30, 4 * 3600)), session.close)
            units = rng.randrange(-2_500_000, 2_600_000)  # -250.0000 .. +259.9999: a small edge
            total_units += units
            batch.append(
                Trade(
                    backend="sim",
                    symbol=rng.choice(names),
                    side="BUY",
                    quantity=rng.randrange(1, 500),
                    entry_price=Decimal("50.0000"),
                    entry_time=entry,
                    exit_price=Decimal("51.0000"),
                    exit_time=exit_,
                    exit_reason=rng.choice(reasons),
                    commission=Decimal(rng.randrange(10_000, 50_000)).scaleb(-4),
                    realized_pnl=Decimal(units).scaleb(-4),
                    status=Trade.Status.CLOSED,
                )
            )
            if len(batch) >= 10_000:
                with transaction.atomic():
                    Trade.objects.bulk_create(batch)
                made += len(batch)
                batch.clear()
                print(f"\r  generated {made:,} trades", end="", flush=True)
    with transaction.atomic():
        Trade.objects.bulk_create(batch)
    made += len(batch)
    print(f"\r  generated {made:,} trades over {len(days)} sessions ({days[0].day} to {days[-1].day})")
    return {"trades": made, "net": Decimal(total_units).scaleb(-4), "last_day": days[-1].day, "sessions": len(days)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trades", type=int, default=1_000_000)
    parser.add_argument("--years", type=int, default=4)
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--no-tracemalloc", action="store_true", help="Skip the second, heap-measuring pass.")
    parser.add_argument("--keep", action="store_true", help="Keep the throwaway database and reports.")
    args = parser.parse_args()
    os.environ.setdefault("ALLOWED_HOSTS", "localhost,testserver")
    workdir = setup_django("reporting")

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from reporting.metrics import Period
    from reporting.selectors import stats_summary
    from reporting.services import report_generate
    from trading.money import to_cents

    settings.TRADE_LABS_REPORTS_DIR = workdir / "reports"
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    start = time.perf_counter()
    made = generate(trades=args.trades, years=args.years, symbols=args.symbols)
    print(f"  insert: {time.perf_counter() - start:.1f}s")
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    user = get_user_model().objects.create_user("bench", is_staff=True)
    client = Client()
    client.force_login(user)
    results: dict = {}

    def stats_all():
        return stats_summary(period=Period.all_time())

    def stats_month():
        return stats_summary(period=Period.month(made["last_day"].year, made["last_day"].month))

    def report_day():
        return report_generate(day=made["last_day"])

    def export_csv():
        response = client.get("/api/v1/trades/?format=csv")
        assert response.status_code == 200 and response.streaming
        lines = size = 0
        for chunk in response.streaming_content:
            lines += chunk.count(b"\n")
            size += len(chunk)
        return lines - 1, size

    steps = [("stats (all time)", stats_all), ("stats --month", stats_month), ("report (one day)", report_day),
             ("CSV export (all trades)", export_csv)]  # fmt: skip
    outputs = {}
    for name, step in steps:
        with measured(results, name):
            outputs[name] = step()
    if not args.no_tracemalloc:
        for name, step in steps:
            with peak_memory(results[name], "heap_peak"):
                step()

    overall = outputs["stats (all time)"]
    assert overall["trade_count"] == made["trades"], (overall["trade_count"], made["trades"])
    assert overall["net_pnl"] == str(to_cents(made["net"])), (overall["net_pnl"], made["net"])
    rows, size = outputs["CSV export (all trades)"]
    assert rows == made["trades"], (rows, made["trades"])
    print()
    print(f"{'step':<26} {'seconds':>8} {'rows/s':>12} {'RSS rise':>10} {'heap peak':>10}")
    for name, _ in steps:
        r = results[name]
        per_second = f"{rows / r['seconds']:>12,.0f}" if name.startswith("CSV") else f"{'':>12}"
        rss = "n/a" if r["rss_rise_mib"] is None else f"{r['rss_rise_mib']:.1f} MiB"
        heap = f"{r['heap_peak'] / MIB:.1f} MiB" if "heap_peak" in r else "-"
        print(f"{name:<26} {r['seconds']:>8.2f} {per_second} {rss:>10} {heap:>10}")
    floors = _floors(connection, client, rows)
    for line in _bench_lines(results, floors, rows):
        print("BENCH " + json.dumps(line))
    report = outputs["report (one day)"]
    print()
    print(f"all time: {overall['trade_count']:,} closed trades, net {overall['net_pnl']} (checked), "
          f"max drawdown {overall['max_drawdown']}, Sharpe {overall['sharpe_ratio']}, "
          f"median hold {overall['median_holding_time']}s")  # fmt: skip
    print(f"report {report.day}: {report.trade_count} trades, net {report.metrics['net_pnl']}")
    print(f"CSV export: {rows:,} rows, {size / MIB:.1f} MiB")
    if args.keep:
        print(f"(throwaway data kept in {workdir})")
    else:
        connection.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _floors(connection, client, rows: int) -> dict:
    """What the database does alone, measured now, beside which our figures are judged."""
    import csv
    import io
    import statistics

    floors = {}
    with connection.cursor() as cursor:
        start = time.perf_counter()
        cursor.execute(
            "SELECT COUNT(*), SUM(realized_pnl), SUM(CASE WHEN realized_pnl > 0 THEN realized_pnl END), "
            "SUM(CASE WHEN realized_pnl < 0 THEN realized_pnl END), SUM(commission), MIN(realized_pnl), "
            "MAX(realized_pnl), symbol FROM trading_trade WHERE status = 'closed' AND NOT dry_run GROUP BY symbol"
        )
        cursor.fetchall()
        floors["aggregate"] = time.perf_counter() - start
        # The database's own CSV export of the same rows: a raw cursor into the csv module.
        sink = io.StringIO()
        writer = csv.writer(sink)
        start = time.perf_counter()
        cursor.execute(
            "SELECT id, symbol, side, quantity, entry_price, entry_time, exit_price, exit_time, exit_reason, "
            "commission, realized_pnl, status FROM trading_trade ORDER BY id"
        )
        while batch := cursor.fetchmany(10_000):
            writer.writerows(batch)
            sink.seek(0)
            sink.truncate()
        floors["csv_rows_per_s"] = rows / (time.perf_counter() - start)
    from django.contrib.auth import get_user_model
    from django.test import Client

    admin = Client()
    admin.force_login(get_user_model().objects.create_superuser("bench-admin", "bench@example.com", None))
    client = admin
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        response = client.get("/admin/trading/trade/")
        timings.append(time.perf_counter() - start)
        assert response.status_code == 200
    floors["admin_seconds"] = statistics.median(timings)
    start = time.perf_counter()
    client.get("/admin/")
    floors["admin_index"] = time.perf_counter() - start
    return floors


def _bench_lines(results: dict, floors: dict, rows: int) -> list[dict]:
    db = f"{rows:,} closed trades"
    export_rate = rows / results["CSV export (all trades)"]["seconds"]
    heap = results["CSV export (all trades)"].get("heap_peak")
    return [
        {"name": f"stats, all time ({db})", "figure": results["stats (all time)"]["seconds"], "unit": "s",
         "floor": floors["aggregate"], "target": 1.0, "ratio_target": 3, "better": "lower"},
        {"name": f"report, one day ({db})", "figure": results["report (one day)"]["seconds"], "unit": "s",
         "floor": floors["aggregate"], "target": 1.0, "ratio_target": 3, "better": "lower"},
        {"name": f"CSV export over the API ({db})", "figure": export_rate, "unit": "rows/s",
         "floor": floors["csv_rows_per_s"], "target": 100_000, "ratio_target": 5, "better": "higher",
         "peak_mib": round(heap / MIB, 1) if heap else None},
        {"name": f"admin trade list ({db})", "figure": floors["admin_seconds"], "unit": "s",
         "floor": floors["admin_index"], "target": 0.3, "better": "lower"},
    ]  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())

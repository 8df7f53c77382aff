"""Reporting on years of history: a million closed trades, then stats, a daily report, the full CSV
export over the REST API and the admin's trade list, each beside what the database does alone.

    .venv/bin/python bench/bench_reporting.py [--trades 1000000] [--years 4] [--symbols 500] [--repeat 3] [--keep]

The trades are written straight into a throwaway database (see _setup.py: a temporary SQLite
file unless DATABASE_URL is set; _trades.py: one executemany or COPY, then the closed-trade
summaries rebuilt and ANALYZE, as a database in service would have both). Every figure is the median of --repeat warm
runs (the first, cold run is printed too), checked against totals kept while generating.
Floors, measured in the same run on the same rows:
- stats and the report's metrics: the same aggregation written as one raw SQL query
  (_one_query.py; its figures are checked against stats'); one plain aggregate touching every
  row once (count, wins, losses, gross profit and loss, net, extremes, commissions) is printed
  beside it, as the least any statistic reading those rows costs. Stats over whole months read
  the closed-trade summaries instead of the rows, so they come in far below both: the floors
  then say what the summaries save, and check that stats' figures are the rows' own;
- CSV export: the database's own CSV of the same columns in the same order (the sqlite3 CLI's
  -csv mode, or PostgreSQL's COPY ... TO STDOUT WITH CSV); a raw cursor into the csv module is
  printed beside it;
- admin trade list: the admin index page (session, user, a rendered page with no list).
Peak memory of the export is the process's peak resident set during it (VmHWM, reset first).
"""

import argparse
import csv
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _one_query import stats_in_one_query
from _setup import setup_django
from _trades import trades_generate_apart

MIB = 1024 * 1024
EXPORT_SQL = (
    "SELECT t.id, r.run_id, t.backend, t.dry_run, t.symbol, t.side, t.quantity, t.status, t.entry_time, "
    "t.entry_price, t.stop_price, t.target_price, t.exit_time, t.exit_price, t.exit_reason, t.commission, "
    "t.realized_pnl, t.review_status, t.tags, t.notes, t.created_at "
    "FROM trading_trade t LEFT JOIN trading_pipelinerun r ON r.id = t.run_id ORDER BY t.created_at DESC, t.id DESC"
)
AGGREGATE_SQL = (
    "SELECT COUNT(*), SUM(CASE WHEN realized_pnl > 0 THEN 1 ELSE 0 END), SUM(CASE WHEN realized_pnl < 0 THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN realized_pnl > 0 THEN realized_pnl END), SUM(CASE WHEN realized_pnl < 0 THEN realized_pnl END), "
    "SUM(realized_pnl), MAX(realized_pnl), MIN(realized_pnl), SUM(commission) "
    "FROM trading_trade WHERE status = 'closed' AND NOT dry_run AND realized_pnl IS NOT NULL"
)  # fmt: skip


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _peak_rss_reset() -> bool:
    """Reset the kernel's peak-RSS mark of this process (Linux); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def timed(step, repeat: int) -> dict:
    """A cold run, then `repeat` warm runs: their median, min and max, and the last result."""
    start = time.perf_counter()
    result = step()
    cold = time.perf_counter() - start
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = step()
        runs.append(time.perf_counter() - start)
    return {"seconds": statistics.median(runs), "min": min(runs), "max": max(runs), "cold": cold, "result": result}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trades", type=int, default=1_000_000)
    parser.add_argument("--years", type=int, default=4)
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3, help="Warm runs per figure (the median is reported).")
    parser.add_argument("--keep", action="store_true", help="Keep the throwaway SQLite file and reports.")
    args = parser.parse_args()
    os.environ.setdefault("ALLOWED_HOSTS", "localhost,testserver")
    workdir = setup_django("reporting", keep=args.keep)

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.db import connection
    from django.test import Client

    from reporting.metrics import Period, metrics_compute
    from reporting.selectors import stats_summary
    from reporting.services import report_generate
    from trading.money import to_cents
    from trading.services.books import book_default

    settings.TRADE_LABS_REPORTS_DIR = workdir / "reports"
    database = f"{connection.vendor} {connection.settings_dict['NAME']}"
    print(f"database: {database}")
    start = time.perf_counter()
    made = trades_generate_apart(trades=args.trades, years=args.years, symbols=args.symbols)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE trading_trade")  # what autovacuum does after a bulk load
    print(f"  {made['trades']:,} trades over {made['sessions']} sessions ({made['first_day']} to "
          f"{made['last_day']}) written in {time.perf_counter() - start:.1f}s, of which summing them into "
          f"the closed-trade summaries (summaries_rebuild) {made['summaries_seconds']:.1f}s")  # fmt: skip
    last_day = made["last_day"]

    stats_all = timed(lambda: stats_summary(book=book_default(), period=Period.all_time()), args.repeat)
    stats_month = timed(
        lambda: stats_summary(book=book_default(), period=Period.month(last_day.year, last_day.month)), args.repeat
    )
    report = timed(lambda: report_generate(day=last_day), args.repeat)
    day_metrics = timed(lambda: metrics_compute(book=book_default(), period=Period.day(last_day)), args.repeat)
    overall = stats_all["result"]
    assert overall["trade_count"] == made["trades"], (overall["trade_count"], made["trades"])
    assert overall["net_pnl"] == str(to_cents(made["net"])), (overall["net_pnl"], made["net"])

    reader = Client()
    user = get_user_model().objects.create_user("bench-reader")
    user.user_permissions.add(Permission.objects.get(codename="view_trade", content_type__app_label="trading"))
    reader.force_login(user)
    export = _export(reader, args.repeat)
    assert export["rows"] == made["trades"], (export["rows"], made["trades"])

    admin = Client()
    admin.force_login(get_user_model().objects.create_superuser("bench-admin", "bench@example.com", None))
    admin_list = _admin_page(admin, "/admin/trading/trade/", repeat=7)
    admin_index = _admin_page(admin, "/admin/", repeat=7)

    aggregate_all = timed(lambda: _raw(connection, AGGREGATE_SQL), args.repeat)
    one_query_all = timed(
        lambda: stats_in_one_query(connection, first=made["first_day"], last=last_day), max(1, args.repeat - 2)
    )
    one_query_day = timed(lambda: stats_in_one_query(connection, first=last_day, last=last_day), args.repeat)
    _check_against(one_query_all["result"], overall)
    _check_against(one_query_day["result"], day_metrics["result"])
    own_csv = _database_csv(connection, made["trades"])
    loop_csv = _cursor_loop_csv(connection, made["trades"])

    print()
    print(f"{'step':<40} {'median':>8} {'min':>8} {'max':>8} {'cold':>8}")
    for name, figure in [("stats (all time)", stats_all), ("stats --month", stats_month),
                         ("report (one day)", report), ("report's metrics (one day)", day_metrics),
                         ("same aggregation, one query (all time)", one_query_all),
                         ("same aggregation, one query (one day)", one_query_day),
                         ("one plain aggregate (all time)", aggregate_all), ("admin trade list", admin_list),
                         ("admin index", admin_index)]:  # fmt: skip
        print(
            f"{name:<40} {figure['seconds']:>7.3f}s {figure['min']:>7.3f}s {figure['max']:>7.3f}s {figure['cold']:>7.3f}s"
        )
    print(f"CSV export over the API: {export['rows']:,} rows, {export['bytes'] / MIB:.1f} MiB; "
          f"{export['rows_per_s']:,.0f} rows/s (median; runs {', '.join(f'{r:,.0f}' for r in export['runs'])}); "
          f"peak RSS {export['peak_mib']:.0f} MiB (was {export['before_mib']:.0f} MiB before)")  # fmt: skip
    print(
        f"the database's own CSV ({own_csv['how']}): {own_csv['rows_per_s']:,.0f} rows/s; "
        f"a raw cursor into csv.writer: {loop_csv:,.0f} rows/s"
    )
    print(f"all time: {overall['trade_count']:,} closed trades, net {overall['net_pnl']} (checked), "
          f"max drawdown {overall['max_drawdown']}, Sharpe {overall['sharpe_ratio']}, "
          f"median hold {overall['median_holding_time']}s")  # fmt: skip
    print(f"report {last_day}: {report['result'].trade_count} trades, net {report['result'].metrics['net_pnl']}")

    db = f"{made['trades'] / 1e6:g}M closed trades"
    lines = [
        {"name": f"stats, all time ({db})", "figure": stats_all["seconds"], "unit": "s",
         "floor": one_query_all["seconds"], "floor_what": "the same aggregation as one raw SQL query",
         "target": 1.0, "ratio_target": 3, "better": "lower"},
        {"name": f"one plain SQL aggregate, all time ({db})", "figure": aggregate_all["seconds"], "unit": "s",
         "floor": None, "target": None, "better": "lower"},
        {"name": f"stats --month ({db})", "figure": stats_month["seconds"], "unit": "s",
         "floor": None, "target": None, "better": "lower"},
        {"name": f"report's metrics, one day ({db})", "figure": day_metrics["seconds"], "unit": "s",
         "floor": one_query_day["seconds"], "floor_what": "the same aggregation as one raw SQL query",
         "target": 1.0, "ratio_target": 3, "better": "lower"},
        {"name": f"daily report written, one day ({db})", "figure": report["seconds"], "unit": "s",
         "floor": None, "target": 1.0, "better": "lower"},
        {"name": f"CSV export over the API ({db})", "figure": export["rows_per_s"], "unit": "rows/s",
         "floor": own_csv["rows_per_s"], "floor_what": own_csv["how"],
         "target": 100_000, "ratio_target": 5, "better": "higher"},
        # The least a Python process does: the same rows and columns, unformatted (no New York
        # times, no formula guard), from a raw cursor into csv.writer (psycopg also parses each
        # value). When the machine is slow it drops below the target too, and the export with it.
        {"name": f"raw cursor into csv.writer, same columns ({db})", "figure": loop_csv, "unit": "rows/s",
         "floor": None, "target": None, "better": "higher"},
        {"name": f"CSV export peak memory ({db})", "figure": export["peak_mib"], "unit": "MiB",
         "floor": export["before_mib"], "floor_what": "the process before the export",
         "target": 200, "better": "lower"},
        {"name": f"admin trade list ({db})", "figure": admin_list["seconds"], "unit": "s",
         "floor": admin_index["seconds"], "floor_what": "the admin index page",
         "target": 0.3, "better": "lower"},
    ]  # fmt: skip
    for line in lines:
        print("BENCH " + json.dumps(line))
    if args.keep:
        print(f"(throwaway data kept in {workdir})")


def _export(client, repeat: int) -> dict:
    """The trades CSV over the REST API, streamed and counted: rows/s (median) and peak memory."""

    def once():
        response = client.get("/api/v1/trades/?format=csv")
        assert response.status_code == 200 and response.streaming
        lines = size = 0
        for chunk in response.streaming_content:
            lines += chunk.count(b"\n")
            size += len(chunk)
        return lines - 1, size

    once()  # warm: the first run also pays for the database file coming into the page cache
    runs, before, peak = [], 0, 0
    for _ in range(repeat):
        can_reset = _peak_rss_reset()
        before = _status_kib("VmRSS") / 1024
        start = time.perf_counter()
        rows, size = once()
        runs.append(rows / (time.perf_counter() - start))
        peak = max(peak, _status_kib("VmHWM") / 1024 if can_reset else 0)
    return {"rows": rows, "bytes": size, "runs": runs, "rows_per_s": statistics.median(runs),
            "peak_mib": peak or None, "before_mib": before}  # fmt: skip


def _admin_page(client, url: str, *, repeat: int) -> dict:
    def once():
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)

    return timed(once, repeat)


def _check_against(one_query: dict, metrics: dict) -> None:
    """The floor computed what stats computed: same count, net, drawdown and median hold."""
    from reporting.metrics import units_to_money
    from trading.money import to_cents

    assert one_query["trade_count"] == metrics["trade_count"], (one_query, metrics["trade_count"])
    assert str(to_cents(units_to_money(one_query["net_units"]))) == metrics["net_pnl"], one_query
    assert str(to_cents(units_to_money(one_query["max_drawdown_units"]))) == metrics["max_drawdown"], one_query
    assert one_query["median_holding_time"] == metrics["median_holding_time"], one_query


def _raw(connection, sql: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _database_csv(connection, rows: int) -> dict:
    """The database writing the export's columns as CSV itself, into nothing: rows/s (best of two)."""
    best = 0.0
    for _ in range(2):
        start = time.perf_counter()
        if connection.vendor == "postgresql":
            how = "COPY ... TO STDOUT WITH CSV"
            with (
                connection.cursor() as cursor,
                cursor.cursor.copy(f"COPY ({EXPORT_SQL}) TO STDOUT WITH CSV HEADER") as copy,
            ):
                for _block in copy:
                    pass
        elif shutil.which("sqlite3"):
            how = "sqlite3 -csv"
            subprocess.run(["sqlite3", "-csv", "-header", connection.settings_dict["NAME"], EXPORT_SQL],
                           check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        else:
            return {"how": "raw cursor into csv.writer", "rows_per_s": _cursor_loop_csv(connection, rows)}
        best = max(best, rows / (time.perf_counter() - start))
    return {"how": how, "rows_per_s": best}


def _cursor_loop_csv(connection, rows: int) -> float:
    """The export's columns through a raw DB-API cursor into csv.writer: rows/s.

    SQLite: a plain sqlite3 connection (Django's parses every timestamp into a datetime);
    PostgreSQL: the psycopg cursor under Django's wrapper.
    """
    import sqlite3

    sink = io.StringIO()
    writer = csv.writer(sink)
    start = time.perf_counter()
    if connection.vendor == "sqlite":
        plain = sqlite3.connect(connection.settings_dict["NAME"])
        cursor = plain.execute(EXPORT_SQL)
    else:
        wrapper = connection.cursor()
        cursor = wrapper.cursor
        cursor.execute(EXPORT_SQL)
    while batch := cursor.fetchmany(10_000):
        writer.writerows(batch)
        sink.seek(0)
        sink.truncate()
    cursor.close()
    return rows / (time.perf_counter() - start)


if __name__ == "__main__":
    sys.exit(main())

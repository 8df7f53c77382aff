"""A million closed trades for the reporting benchmarks, written in seconds rather than minutes.

The rows go straight into the trade table, the way the database stores them (SQLite: one
`executemany` in one transaction; PostgreSQL: COPY), with no model instance and no per-row
Django call: `bulk_create` spends about three minutes on a million rows, which would make
the benchmark mostly a benchmark of its own set-up. The totals kept while generating let the
benchmark check the figures it times.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np

COLUMNS = (
    "book_id", "backend", "broker_alias", "account_id", "dry_run", "symbol", "side", "quantity", "entry_price", "entry_time", "exit_price", "exit_time",
    "exit_reason", "commission", "realized_pnl", "status", "status_reason", "notes", "tags", "review_status",
    "created_at", "updated_at",
)  # fmt: skip
REASONS = np.array(["stop", "target", "manual", "eod"])
BATCH = 100_000


def trades_generate(*, trades: int, years: int, symbols: int, seed: int = 7) -> dict:
    """Closed trades spread evenly over the NYSE sessions of `years` years ending 2025-12-31.

    Entries fall anywhere in their session, exits 30 s to 4 h later (never after the close);
    P&L is -250.0000 .. +259.9999 (a small edge), commission 1.0000 .. 4.9999. Returns the count,
    the exact net P&L, the last session day and the number of sessions.
    """
    from django.db import connection, transaction

    from reporting.summaries import summaries_rebuild
    from trading import sessions
    from trading.models import Trade
    from trading.services.books import book_default

    rng = np.random.default_rng(seed)
    end = date(2025, 12, 31)
    days = sessions.sessions_between(end - timedelta(days=365 * years), end)
    per_day, extra = divmod(trades, len(days))
    counts = np.full(len(days), per_day, dtype=np.int64)
    counts[:extra] += 1
    opens = np.repeat([int(s.open.timestamp()) for s in days], counts)
    closes = np.repeat([int(s.close.timestamp()) for s in days], counts)
    entry = opens + rng.integers(0, closes - opens - 60)
    exit_ = np.minimum(entry + rng.integers(30, 4 * 3600, trades), closes)
    pnl_units = rng.integers(-2_500_000, 2_600_000, trades)
    commission_units = rng.integers(10_000, 50_000, trades)
    columns = {
        "book": book_default(),  # every row in the default book, as `stats` without --book reads
        "symbol": np.char.add("S", np.char.zfill(rng.integers(0, symbols, trades).astype(str), 4)),
        "quantity": rng.integers(1, 500, trades),
        "exit_reason": REASONS[rng.integers(0, len(REASONS), trades)],
        "entry_time": entry,
        "exit_time": exit_,
        "realized_pnl": pnl_units,
        "commission": commission_units,
    }
    # As for any bulk load: the table's own indexes are built once after the rows, not row by row.
    with connection.schema_editor() as editor:
        for index in Trade._meta.indexes:
            editor.remove_index(Trade, index)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            _copy_postgresql(connection, columns, trades)
        else:
            _insert_sqlite(connection, columns, trades)
    with connection.schema_editor() as editor:
        for index in Trade._meta.indexes:
            editor.add_index(Trade, index)
    # Then what a database in service would have: planner statistics, and (SQLite) the write-ahead
    # log folded back into the file, so that reads do not go through a log of a million rows.
    # Rows written around the app are summed into the closed-trade summaries statistics read, as
    # `manage.py summaries_rebuild` does after a bulk load (the app sums each trade as it closes).
    started = time.perf_counter()
    summaries_rebuild(book=book_default())
    summed_in = time.perf_counter() - started
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE")
        else:
            cursor.execute("ANALYZE")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {
        "summaries_seconds": summed_in,
        "trades": trades,
        "net": Decimal(int(pnl_units.sum())).scaleb(-4),
        "last_day": days[-1].day,
        "first_day": days[0].day,
        "sessions": len(days),
    }


def trades_generate_apart(*, trades: int, years: int, symbols: int) -> dict:
    """`trades_generate` in a child process on the same database (the environment _setup.py set),
    so that the memory the generation takes is not counted against what the benchmarks measure."""
    result = subprocess.run(
        [sys.executable, __file__, str(trades), str(years), str(symbols)],
        env=os.environ,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    made = json.loads(result.stdout.splitlines()[-1])
    made["net"] = Decimal(made["net"])
    made["first_day"], made["last_day"] = (date.fromisoformat(made[key]) for key in ("first_day", "last_day"))
    return made


def _timestamps(seconds: np.ndarray, suffix: str = "") -> list[str]:
    text = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s")
    return [t.replace("T", " ") + suffix for t in text.tolist()]


def _money(units: np.ndarray) -> list[str]:
    return [f"{u / 10_000:.4f}" for u in units.tolist()]


def _rows(columns: dict, start: int, stop: int, *, timestamp_suffix: str) -> list[tuple]:
    part = {name: values[start:stop] for name, values in columns.items() if name != "book"}
    book = columns["book"]
    entry = _timestamps(part["entry_time"], timestamp_suffix)
    exit_ = _timestamps(part["exit_time"], timestamp_suffix)
    return list(
        zip(
            *[
                [book.pk] * (stop - start),
                ["sim"] * (stop - start),
                [book.broker_alias] * (stop - start),
                [book.account_id] * (stop - start),
                [False] * (stop - start),
                part["symbol"].tolist(),
                ["BUY"] * (stop - start),
                part["quantity"].tolist(),
                ["50.0000"] * (stop - start),
                entry,
                ["51.0000"] * (stop - start),
                exit_,
                part["exit_reason"].tolist(),
                _money(part["commission"]),
                _money(part["realized_pnl"]),
                ["closed"] * (stop - start),
                [""] * (stop - start),
                [""] * (stop - start),
                [""] * (stop - start),
                ["unreviewed"] * (stop - start),
                entry,
                exit_,
            ],
            strict=True,
        )
    )


def _insert_sqlite(connection, columns: dict, trades: int) -> None:
    sql = f"INSERT INTO trading_trade ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    raw = connection.connection  # the sqlite3 connection: no per-row placeholder rewriting
    for start in range(0, trades, BATCH):
        raw.executemany(sql, _rows(columns, start, min(start + BATCH, trades), timestamp_suffix=""))
        print(f"\r  generated {min(start + BATCH, trades):,} trades", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)


def _copy_postgresql(connection, columns: dict, trades: int) -> None:
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor, for COPY
        with raw.copy(f"COPY trading_trade ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for start in range(0, trades, BATCH):
                for row in _rows(columns, start, min(start + BATCH, trades), timestamp_suffix="+00"):
                    copy.write_row(row)
                print(f"\r  generated {min(start + BATCH, trades):,} trades", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    made = trades_generate(trades=int(sys.argv[1]), years=int(sys.argv[2]), symbols=int(sys.argv[3]))
    print(json.dumps(made, default=str))

"""CSV writing that holds memory flat: rows come from `values_list(...).iterator()`, never model instances."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import QuerySet

from trading import sessions
from trading.money import to_cents

CHUNK_SIZE = 2_000
# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    """One CSV column: its header, the `values_list` lookup feeding it, and an optional formatter."""

    header: str
    lookup: str
    format: Callable[[Any], Any] | None = None


def cell(value: Any) -> Any:
    """How a database value is written to CSV: timestamps in New York ISO 8601, decimals as stored."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return sessions.to_new_york(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS) and not _is_number(value):
        return "'" + value
    return value


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return True


def cents(value: Decimal | None) -> Decimal | None:
    return None if value is None else to_cents(value)


class _Echo:
    """A file-like object whose write() returns the line, so csv.writer can feed a generator."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Iterable[Any]], *, headers: list[str]) -> Iterator[str]:
    """CSV text, one line at a time."""
    writer = csv.writer(_Echo())
    yield writer.writerow(headers)
    for row in rows:
        yield writer.writerow([cell(v) for v in row])


def queryset_rows(queryset: QuerySet, columns: list[Column]) -> Iterator[list[Any]]:
    """Rows of `columns` from `queryset`, fetched in chunks over only the needed columns."""
    formatters = [c.format for c in columns]
    for values in queryset.values_list(*[c.lookup for c in columns]).iterator(chunk_size=CHUNK_SIZE):
        yield [fmt(v) if fmt else v for fmt, v in zip(formatters, values, strict=True)]


def queryset_csv(queryset: QuerySet, columns: list[Column]) -> Iterator[str]:
    return csv_lines(queryset_rows(queryset, columns), headers=[c.header for c in columns])


TRADE_COLUMNS = [
    Column("id", "id"),
    Column("run_id", "run__run_id"),
    Column("backend", "backend"),
    Column("dry_run", "dry_run"),
    Column("symbol", "symbol"),
    Column("side", "side"),
    Column("quantity", "quantity"),
    Column("status", "status"),
    Column("entry_time", "entry_time"),
    Column("entry_price", "entry_price"),
    Column("stop_price", "stop_price"),
    Column("target_price", "target_price"),
    Column("exit_time", "exit_time"),
    Column("exit_price", "exit_price"),
    Column("exit_reason", "exit_reason"),
    Column("commission", "commission"),
    Column("realized_pnl", "realized_pnl"),
    Column("review_status", "review_status"),
    Column("tags", "tags"),
    Column("notes", "notes"),
    Column("created_at", "created_at"),
]

"""CSV writing that holds memory flat: rows come from `values_list(...).iterator()`, never model instances."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import connections, models
from django.db.models import QuerySet
from django.db.models.sql.constants import MULTI

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
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
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
    """CSV text, one line at a time (for small, already-fetched row lists)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(headers)
    for row in rows:
        yield writer.writerow([cell(v) for v in row])


def queryset_rows(queryset: QuerySet, columns: list[Column]) -> Iterator[list[Any]]:
    """Rows of `columns` from `queryset`, fetched in chunks over only the needed columns."""
    formatters = [c.format for c in columns]
    for values in queryset.values_list(*[c.lookup for c in columns]).iterator(chunk_size=CHUNK_SIZE):
        yield [fmt(v) if fmt else v for fmt, v in zip(formatters, values, strict=True)]


# Cell writers over raw database values, picked once per column from its field type and the database
# vendor. They do what Django's converters and `cell` would do, without a Python call chain per value:
# that is most of the cost of a million-row export.
def _plain(value: Any) -> Any:
    return "" if value is None else value


def _timestamp(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(sessions.NEW_YORK).isoformat()


def _sqlite_timestamp(value: datetime | str | None) -> str:
    # Django keeps aware datetimes in SQLite as naive UTC text (its sqlite3 converter parses declared columns).
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC).astimezone(sessions.NEW_YORK).isoformat()


def _sqlite_decimal(places: int) -> Callable[[Any], Any]:
    # SQLite hands back the nearest int or float; its rounding to the field's places is the stored decimal.
    def write(value):
        return "" if value is None else value if isinstance(value, str) else f"{value:.{places}f}"

    return write


def _sqlite_uuid(value: str | None) -> str:
    return "" if value is None else str(uuid.UUID(hex=value))


def _boolean(value: Any) -> str:
    return "" if value is None else ("true" if value else "false")


def _text(value: str | None) -> str:
    if not value:
        return ""
    return "'" + value if value.startswith(_FORMULA_STARTS) and not _is_number(value) else value


_INTEGERS = {
    "AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField", "SmallIntegerField",
    "PositiveIntegerField", "PositiveBigIntegerField", "PositiveSmallIntegerField",
}  # fmt: skip


def _raw_writer(field: models.Field, vendor: str) -> Callable[[Any], Any] | None:
    """A writer for this column's raw database value, or None to go through Django's converters."""
    if field.is_relation:
        field = field.target_field
    kind = field.get_internal_type()
    sqlite = vendor == "sqlite"
    if vendor not in ("sqlite", "postgresql"):
        return None
    if kind in _INTEGERS:
        return _plain
    if kind in ("CharField", "TextField"):
        return _plain if field.choices else _text
    if kind == "BooleanField":
        return _boolean
    if kind == "DateTimeField":
        return _sqlite_timestamp if sqlite else _timestamp
    if kind == "DecimalField":
        return _sqlite_decimal(field.decimal_places) if sqlite else _plain
    if kind == "UUIDField":
        return _sqlite_uuid if sqlite else _plain
    return None


def queryset_csv(queryset: QuerySet, columns: list[Column], *, rows_per_chunk: int = 1_000) -> Iterator[str]:
    """The CSV of `columns` over `queryset`, in chunks of lines: memory stays flat however many rows.

    Rows are fetched in chunks (a server-side cursor on PostgreSQL) over only these columns; no model
    instance is built. Each chunk of lines is yielded as one string, keeping per-line overhead off
    the response.
    """
    values = queryset.values_list(*[c.lookup for c in columns])
    compiler = values.query.get_compiler(using=values.db)
    chunked = not connections[values.db].settings_dict.get("DISABLE_SERVER_SIDE_CURSORS")
    chunks = compiler.execute_sql(MULTI, chunked_fetch=chunked, chunk_size=CHUNK_SIZE)
    expressions = [selected[0] for selected in compiler.select[: compiler.col_count]]
    writers = []
    for column, expression in zip(columns, expressions, strict=True):
        raw = None if column.format else _raw_writer(expression.output_field, compiler.connection.vendor)
        if raw is not None:
            writers.append(raw)
            continue
        converters = compiler.get_converters([expression]).get(0, ([], None))[0]
        fmt = column.format or (lambda value: value)

        def converted(value, _converters=converters, _expression=expression, _fmt=fmt):
            for convert in _converters:
                value = convert(value, _expression, compiler.connection)
            return cell(_fmt(value))

        writers.append(converted)

    buffer = io.StringIO()
    out = csv.writer(buffer)
    out.writerow([c.header for c in columns])
    for rows in chunks:
        for row in rows:
            out.writerow([write(v) for write, v in zip(writers, row, strict=True)])
        if buffer.tell() > 64 * 1024 or len(rows) >= rows_per_chunk:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


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

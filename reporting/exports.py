"""CSV writing that holds memory flat: rows come from `values_list(...).iterator()`, never model instances."""

from __future__ import annotations

import csv
import io
import itertools
import json
import operator
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import models
from django.db.models import F, Func, QuerySet
from django.db.models.sql.constants import MULTI

from trading import sessions
from trading.money import to_cents

CHUNK_SIZE = 10_000
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


# A million-row export spends its time per value, so each column is written the cheapest way its
# database allows, decided once per column from its field type. The database renders numbers,
# decimals (at their stored places), booleans, uuids and choice values as CSV-ready text, and runs
# of such columns arrive as one string; Python only moves timestamps to New York time
# (`_new_york_time`), guards free text against spreadsheet formulas, and joins the line. Anything
# else goes through Django's converters and `cell`. The output is what `csv.writer` writes from
# `cell` values, byte for byte (tests/reporting/test_exports.py holds the two side by side).
_INTEGERS = {
    "AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField", "SmallIntegerField",
    "PositiveIntegerField", "PositiveBigIntegerField", "PositiveSmallIntegerField",
}  # fmt: skip
_AS_TEXT = "CAST(%(expressions)s AS TEXT)"
_BOOLEAN = "CASE WHEN %(expressions)s THEN 'true' WHEN NOT %(expressions)s THEN 'false' END"
_SQL = {
    "sqlite": {
        "integer": _AS_TEXT,
        # SQLite keeps decimals as the nearest float (or integer); printf gives back the stored places.
        # '%%%%' reaches the database as '%': Django's SQLite cursor (and its query log) unescape '%%'.
        "decimal": "CASE WHEN %(expressions)s IS NOT NULL THEN printf('%%%%.{places}f', %(expressions)s) END",
        "boolean": _BOOLEAN,
        "uuid": "lower(substr(%(expressions)s, 1, 8) || '-' || substr(%(expressions)s, 9, 4) || '-' || "
        "substr(%(expressions)s, 13, 4) || '-' || substr(%(expressions)s, 17, 4) || '-' || substr(%(expressions)s, 21))",
        # A value with a comma, quote or line break is quoted as the csv module would.
        "choice": "CASE WHEN %(expressions)s GLOB ('*[\",' || char(10) || char(13) || ']*') "
        "THEN '\"' || replace(%(expressions)s, '\"', '\"\"') || '\"' ELSE %(expressions)s END",
        # UTC text 'YYYY-MM-DD HH:MM:SS[.ffffff]' as Django stored it, not parsed into a datetime.
        "timestamp": _AS_TEXT,
    },
    "postgresql": {
        "integer": _AS_TEXT,
        "decimal": _AS_TEXT,
        "boolean": _BOOLEAN,
        "uuid": _AS_TEXT,
        "choice": "CASE WHEN strpos(%(expressions)s, ',') + strpos(%(expressions)s, '\"') + "
        "strpos(%(expressions)s, chr(10)) + strpos(%(expressions)s, chr(13)) > 0 "
        "THEN '\"' || replace(%(expressions)s, '\"', '\"\"') || '\"' ELSE %(expressions)s END",
        # PostgreSQL's own text for timestamptz, in the session's time zone, which Django keeps at UTC:
        # 'YYYY-MM-DD HH:MM:SS[.f]+00' (ISO DateStyle, as psycopg's own date loaders need).
        "timestamp": _AS_TEXT,
    },
}


def _quoted(text: str) -> str:
    """A CSV field as `csv.writer` writes it (the excel dialect: quoted only when it must be)."""
    if '"' in text:
        return '"' + text.replace('"', '""') + '"'
    if "," in text or "\n" in text or "\r" in text:
        return '"' + text + '"'
    return text


def _free_text(value: str | None) -> str:
    if not value:
        return ""
    if value[0] in _FORMULA_FIRST and not _is_number(value):
        value = "'" + value
    return _quoted(value)


_FORMULA_FIRST = frozenset(_FORMULA_STARTS)


def _new_york_time(vendor: str) -> Callable[[str | None], str]:
    """A writer of a UTC timestamp's text as New York ISO 8601, as `cell` writes a datetime.

    New York is a whole number of hours from UTC, so only the date and hour change: they are worked
    out once per UTC hour and cached, and minutes, seconds and fraction are carried over as they are.
    SQLite holds 'YYYY-MM-DD HH:MM:SS[.ffffff]' (Django's text); PostgreSQL writes 'YYYY-MM-DD
    HH:MM:SS[.f]+00', its fraction without trailing zeros.
    """
    hours: dict[str, tuple[str, str] | None] = {}
    postgresql = vendor == "postgresql"

    def write(text: str | None) -> str:
        if text is None:
            return ""
        if postgresql:
            if not text.endswith("+00"):  # a session not in UTC after all: the slow, sure way
                return datetime.fromisoformat(text).astimezone(sessions.NEW_YORK).isoformat()
            text = text[:-3] if len(text) == 22 else text[:-3].ljust(26, "0")
        known = hours.get(text[:13], False)
        if known is False:
            known = hours[text[:13]] = _new_york_hour(text[:13])
        if known is None:
            return datetime.fromisoformat(text).replace(tzinfo=UTC).astimezone(sessions.NEW_YORK).isoformat()
        return known[0] + text[13:] + known[1]

    return write


def _new_york_hour(hour: str) -> tuple[str, str] | None:
    """('YYYY-MM-DDTHH' in New York, its UTC offset '-05:00') for a UTC hour 'YYYY-MM-DD HH'."""
    moment = datetime.strptime(hour, "%Y-%m-%d %H").replace(tzinfo=UTC).astimezone(sessions.NEW_YORK)
    if moment.utcoffset().total_seconds() % 3600:
        return None  # not a whole-hour offset (New York's before 1883): convert each value in full
    text = moment.isoformat()
    return text[:13], text[19:]


def _kind(field: models.Field) -> str | None:
    if field.is_relation:
        field = field.target_field
    kind = field.get_internal_type()
    if kind in _INTEGERS:
        return "integer"
    if kind in ("CharField", "TextField"):
        return "choice" if field.choices else "text"
    return {
        "DecimalField": "decimal",
        "BooleanField": "boolean",
        "UUIDField": "uuid",
        "DateTimeField": "timestamp",
    }.get(kind)


def _known_choices_first(field: models.Field, template: str) -> str:
    """The quoting check only for a value that is not one of the field's choices (which need none)."""
    if field.is_relation:
        field = field.target_field
    plain = [str(value) for value, _ in field.flatchoices if not set(str(value)) & set(",\"\r\n'%")]
    if not plain:
        return template
    known = ", ".join(f"'{value}'" for value in plain)
    return f"CASE WHEN %(expressions)s IN ({known}) THEN %(expressions)s ELSE {template} END"


def queryset_csv(queryset: QuerySet, columns: list[Column], *, rows_per_chunk: int = 2_000) -> Iterator[str]:
    """The CSV of `columns` over `queryset`, in chunks of lines: memory stays flat however many rows.

    Rows are fetched in chunks (a server-side cursor on PostgreSQL) over only these columns; no model
    instance is built, and a value is touched in Python only where the database cannot write it as
    the CSV shows it. Each chunk of lines is yielded as one string, keeping per-line overhead off
    the response.
    """
    plain = queryset.values_list(*[c.lookup for c in columns])
    plain_compiler = plain.query.get_compiler(using=plain.db)
    plain_compiler.setup_query()
    selected = [expression for expression, _, _ in plain_compiler.select[: plain_compiler.col_count]]
    templates = _SQL.get(plain_compiler.connection.vendor)

    # What is selected: runs of columns rendered in SQL, joined there into one string, and single
    # columns that Python writes (with their writer).
    lookups: list = []
    writers: list[Callable[[Any], str] | None] = []
    run: list = []
    for column, expression in zip(columns, selected, strict=True):
        kind = None if column.format or templates is None else _kind(expression.output_field)
        if kind in (None, "text", "timestamp"):
            if run:
                lookups.append(_joined(run))
                writers.append(None)
                run = []
            if kind == "timestamp":
                lookups.append(Func(F(column.lookup), template=templates[kind], output_field=models.TextField()))
                writers.append(_new_york_time(plain_compiler.connection.vendor))
            else:
                lookups.append(column.lookup)
                writers.append(_free_text if kind == "text" else _converted(plain_compiler, expression, column.format))
            continue
        template = templates[kind].replace("{places}", str(getattr(expression.output_field, "decimal_places", 0)))
        if kind == "choice":
            template = _known_choices_first(expression.output_field, template)
        run.append(Func(F(column.lookup), template=template, output_field=models.TextField()))
    if run:
        lookups.append(_joined(run))
        writers.append(None)

    chunks = row_chunks(queryset.values_list(*lookups))
    # str() hands a string back as it is: the columns already rendered in SQL go through untouched.
    writes = [write or str for write in writers]

    header = io.StringIO()
    csv.writer(header).writerow([c.header for c in columns])
    yield header.getvalue()
    lines: list[str] = []
    for rows in chunks:
        lines += [",".join(map(operator.call, writes, row)) for row in rows]
        if len(lines) >= rows_per_chunk:
            lines.append("")
            yield "\r\n".join(lines)
            lines = []
    if lines:
        lines.append("")
        yield "\r\n".join(lines)


def row_chunks(values: QuerySet, *, size: int = CHUNK_SIZE) -> Iterator[list[tuple]]:
    """A values_list queryset's rows as the database driver hands them over (no converters), in lists
    of up to `size`: memory stays flat however many rows there are.

    PostgreSQL streams the result (libpq's chunked mode): the server goes on producing rows while
    Python works on the ones it has, with no cursor round trip per chunk, and it needs no server-side
    cursor (fine behind a transaction-pooling proxy). An abandoned stream cancels the query.
    Elsewhere, Django's chunked fetch.
    """
    compiler = values.query.get_compiler(using=values.db)
    connection = compiler.connection
    if connection.vendor == "postgresql" and _libpq_streams_chunks():
        sql, params = compiler.as_sql()
        with connection.cursor() as cursor:
            rows = cursor.cursor.stream(sql, params, size=size)
            try:
                while chunk := list(itertools.islice(rows, size)):
                    yield chunk
            finally:
                rows.close()
        return
    chunked = not connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS")
    yield from compiler.execute_sql(MULTI, chunked_fetch=chunked, chunk_size=size)


def _libpq_streams_chunks() -> bool:
    import psycopg

    return psycopg.pq.version() >= 170000  # chunked rows mode came with libpq 17


def _joined(expressions: list) -> Func:
    """Columns already rendered as CSV fields, joined with commas in SQL (a NULL is an empty field)."""
    fields = [Func(expression, template="COALESCE(%(expressions)s, '')") for expression in expressions]
    return Func(*fields, template="%(expressions)s", arg_joiner=" || ',' || ", output_field=models.TextField())


def _converted(compiler, expression, fmt: Callable[[Any], Any] | None) -> Callable[[Any], str]:
    """Django's own converters for this column, then `fmt`, then `cell`, quoted: the general path."""
    converters = compiler.get_converters([expression]).get(0, ([], None))[0]
    connection = compiler.connection

    def write(value):
        for convert in converters:
            value = convert(value, expression, connection)
        value = cell(fmt(value) if fmt else value)
        return _quoted(value if isinstance(value, str) else str(value))

    return write


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
    Column("book", "book__name"),
]

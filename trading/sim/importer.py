"""Importing OHLCV bars from CSV (Yahoo and Stooq layouts) for the SIM market to replay.

A file is checked whole before anything is written: by default one bad row rejects the
file with its reason stored on a BarImport row; `skip_bad_rows` keeps the good rows and
records the bad ones. Nothing is ever half-written.
"""

import csv
import math
import stat
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction

from trading import sessions
from trading.symbols import InvalidSymbol, symbol_clean

from .models import Bar, BarImport

DEFAULT_BAR_SET = "imported"

DAY_SECONDS = 86_400
MAX_PRICE = Decimal("1e9")
PRICE_TICK = Decimal("0.0001")
MAX_VOLUME = 10**15
MAX_REASONS = 50

# Header names (lower-cased, <> stripped) → our field names.
_ALIASES = {
    "date": "date",
    "datetime": "datetime",
    "time": "time",
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "adj close": "adj_close",
    "volume": "volume",
    "vol": "volume",
    "ticker": "ticker",
    "per": "period",
    "openint": "openint",
}


class BarFileError(ValueError):
    """The file as a whole cannot be read."""


@dataclass
class ParsedBar:
    start: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int


@dataclass
class ParseResult:
    layout: str
    symbol: str
    interval_seconds: int
    rejected: list[str] = field(default_factory=list)  # the first MAX_REASONS
    rows_read: int = 0
    rows_rejected: int = 0
    rows_good: int = 0


def _header_map(header: list[str]) -> dict[str, int]:
    mapped = {}
    for index, name in enumerate(header):
        key = _ALIASES.get(name.strip().strip("<>").strip().lower())
        if key:
            mapped[key] = index
    return mapped


def _layout(columns: dict[str, int]) -> str:
    if "ticker" in columns:
        return "stooq-ascii"
    if "datetime" in columns:
        return "yahoo-intraday"
    if "adj_close" in columns:
        return "yahoo"
    if "time" in columns:
        return "stooq-intraday"
    return "stooq"


def _price(text: str, name: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise ValueError(f"{name} {text!r} is not a number") from None
    if value.is_nan():
        raise ValueError(f"{name} is NaN")
    if value.is_infinite():
        raise ValueError(f"{name} is infinite")
    if value <= 0:
        raise ValueError(f"{name} {value} is not positive")
    if value >= MAX_PRICE:
        raise ValueError(f"{name} {value} is implausibly large")
    if value < PRICE_TICK:
        raise ValueError(f"{name} {value} is below {PRICE_TICK}, the smallest price stored")
    return value.quantize(PRICE_TICK)


def _volume(text: str) -> int:
    try:
        value = float(text.strip())
    except (ValueError, AttributeError):
        raise ValueError(f"volume {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0 or value > MAX_VOLUME or value != int(value):
        raise ValueError(f"volume {text.strip()} is not a whole non-negative number")
    return int(value)


def _moment(row: list[str], columns: dict[str, int], layout: str, tz: ZoneInfo) -> tuple[datetime, bool]:
    """The bar's start and whether it is a daily bar."""
    if layout == "yahoo-intraday":
        moment = datetime.fromisoformat(row[columns["datetime"]].strip())
        return (moment if moment.tzinfo else moment.replace(tzinfo=tz)), False
    day_text = row[columns["date"]].strip()
    day = date.fromisoformat(day_text) if "-" in day_text else datetime.strptime(day_text, "%Y%m%d").date()
    time_text = row[columns["time"]].strip() if "time" in columns else ""
    if not time_text or time_text in ("000000", "00:00:00"):
        return datetime.combine(day, time(9, 30), tzinfo=sessions.NEW_YORK), True
    clock = time.fromisoformat(time_text) if ":" in time_text else datetime.strptime(time_text, "%H%M%S").time()
    return datetime.combine(day, clock, tzinfo=tz), False


def _open_text(source: Path):
    """The file as UTF-8 text (a BOM allowed), read as it streams. Only a regular file: a FIFO,
    a device such as /dev/zero or a directory would never end or is not a file of bars."""
    if not stat.S_ISREG(source.stat().st_mode):
        raise BarFileError(f"{source} is not a regular file")
    return source.open("r", encoding="utf-8-sig", newline="")


def parse_bars(source: Path, *, symbol: str | None, tz: ZoneInfo, on_bar=None) -> ParseResult:
    """Read the file row by row in constant memory: each good bar goes to `on_bar` (if given),
    each bad row to `rejected` (the first MAX_REASONS with their line numbers)."""
    try:
        with _open_text(source) as handle:
            return _parse_rows(csv.reader(handle), symbol=symbol, tz=tz, on_bar=on_bar)
    except UnicodeDecodeError:
        raise BarFileError("the file is not UTF-8 text (save it as UTF-8 CSV)") from None


def _parse_rows(reader, *, symbol: str | None, tz: ZoneInfo, on_bar) -> ParseResult:
    try:
        header = next(reader)
    except StopIteration:
        raise BarFileError("the file is empty") from None
    columns = _header_map(header)
    missing = [name for name in ("open", "high", "low", "close", "volume") if name not in columns]
    if "date" not in columns and "datetime" not in columns:
        missing.insert(0, "date")
    if missing:
        raise BarFileError(f"missing column(s): {', '.join(missing)} (header: {', '.join(header)})")
    layout = _layout(columns)
    result = ParseResult(layout=layout, symbol=(symbol or "").upper(), interval_seconds=DAY_SECONDS)
    previous: datetime | None = None
    smallest_gap: int | None = None
    hours = _SessionHours()
    daily_flags = set()
    for line_number, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        result.rows_read += 1
        try:
            if len(row) < len(header):
                raise ValueError(f"has {len(row)} fields, the header has {len(header)}")
            if layout == "stooq-ascii":
                _check_ticker(result, row[columns["ticker"]], line_number)
            start, daily = _moment(row, columns, layout, tz)
            bar = ParsedBar(
                start=start.astimezone(UTC),
                open=_price(row[columns["open"]], "open"),
                high=_price(row[columns["high"]], "high"),
                low=_price(row[columns["low"]], "low"),
                close=_price(row[columns["close"]], "close"),
                volume=_volume(row[columns["volume"]]),
            )
            if not (bar.low <= min(bar.open, bar.close) and max(bar.open, bar.close) <= bar.high):
                raise ValueError(f"inconsistent OHLC (O {bar.open} H {bar.high} L {bar.low} C {bar.close})")
            if daily and not sessions.is_session(start.date()):
                raise ValueError(f"{start.date()} is not an NYSE session")
            if not daily and not hours.contains(bar.start):
                raise ValueError(f"{start.isoformat()} is outside the NYSE session")
            # In time order, as Yahoo and Stooq write them: a duplicate is caught without
            # remembering every timestamp of the file.
            if previous is not None and bar.start <= previous:
                problem = "duplicated timestamp" if bar.start == previous else "out of time order at"
                raise ValueError(f"{problem} {start.isoformat()} (rows must be in time order)")
        except (ValueError, IndexError, ArithmeticError) as exc:
            if len(result.rejected) < MAX_REASONS:
                result.rejected.append(f"line {line_number}: {exc}")
            result.rows_rejected += 1
            continue
        if previous is not None:
            gap = int((bar.start - previous).total_seconds())
            smallest_gap = gap if smallest_gap is None else min(smallest_gap, gap)
        previous = bar.start
        daily_flags.add(daily)
        result.rows_good += 1
        if on_bar is not None:
            on_bar(bar)
    if len(daily_flags) > 1:
        raise BarFileError("the file mixes daily and intraday rows")
    if daily_flags == {False}:
        result.interval_seconds = smallest_gap or 60
    return result


class _SessionHours:
    """Whether a moment is inside its day's NYSE session, the calendar asked once per day:
    an intraday file has hundreds of bars a day."""

    def __init__(self):
        self.day: date | None = None
        self.bounds: tuple[datetime, datetime] | None = None

    def contains(self, moment: datetime) -> bool:
        day = moment.astimezone(sessions.NEW_YORK).date()
        if day != self.day:
            current = sessions.session(day) if sessions.is_session(day) else None
            self.day, self.bounds = day, (current.open, current.close) if current else None
        return self.bounds is not None and self.bounds[0] <= moment < self.bounds[1]


def _check_ticker(result: ParseResult, cell: str, line_number: int) -> None:
    """A Stooq file names its ticker on every row: one file, one symbol. A second ticker refuses
    the whole file, so one symbol's prices are never stored under another's."""
    try:
        ticker = symbol_clean(cell.strip().split(".")[0])
    except InvalidSymbol as exc:
        raise BarFileError(f"line {line_number}: {exc}") from None
    if not result.symbol:
        result.symbol = ticker
    elif ticker != result.symbol:
        raise BarFileError(
            f"line {line_number}: ticker {ticker}, but the file's bars are for {result.symbol}: "
            "a file holds one symbol (split it by its TICKER column, one file per symbol)"
        )


def _symbol_from_path(path: Path) -> str:
    return path.name.split(".")[0].upper()


def bars_import(
    *,
    path: str,
    symbol: str | None = None,
    tz: str = "America/New_York",
    skip_bad_rows: bool = False,
    bar_set: str = DEFAULT_BAR_SET,
) -> BarImport:
    """Import one CSV file; the returned BarImport says what happened and why.

    Two passes over the file, each in constant memory: the first checks every row (and decides
    whether the file is refused), the second stores the bars in batches, all in one transaction:
    a refused file stores no bar."""
    source = Path(path)
    record = BarImport(source=str(source)[-500:], bar_set=bar_set)
    try:
        if symbol is not None:
            symbol = symbol_clean(symbol)
        zone = ZoneInfo(tz)
        checked = parse_bars(source, symbol=symbol, tz=zone)
        record.symbol = symbol_clean(checked.symbol or _symbol_from_path(source))
    except (OSError, BarFileError, csv.Error, InvalidSymbol, ZoneInfoNotFoundError, ValueError) as exc:
        record.status = BarImport.Status.REJECTED
        record.error = f"{exc}; name it with --symbol" if isinstance(exc, InvalidSymbol) else str(exc)
        record.save()
        return record
    record.layout = checked.layout
    record.rows_read = checked.rows_read
    record.rows_rejected = checked.rows_rejected
    problems = checked.rejected
    if not checked.rows_good or (checked.rows_rejected and not skip_bad_rows):
        record.status = BarImport.Status.REJECTED
        record.error = "\n".join(problems) or "no bars in the file"
        record.save()
        return record
    with transaction.atomic():
        writer = _BarWriter(
            bar_set=bar_set, symbol=record.symbol, interval_seconds=checked.interval_seconds, source=source.name
        )
        stored = parse_bars(source, symbol=symbol, tz=zone, on_bar=writer.add)
        writer.flush()
        if stored.rows_good != checked.rows_good:
            raise BarFileError(f"{source} changed while it was imported; nothing was stored")
        record.rows_imported = writer.written
        record.status = BarImport.Status.PARTIAL if checked.rows_rejected else BarImport.Status.IMPORTED
        record.error = "\n".join(problems)
        record.save()
    return record


class _BarWriter:
    """Stores bars BATCH_BARS at a time (a re-import updates them in place)."""

    BATCH_BARS = 2000

    def __init__(self, *, bar_set: str, symbol: str, interval_seconds: int, source: str):
        self.bar_set = bar_set
        self.symbol, self.interval_seconds, self.source = symbol, interval_seconds, source[:200]
        self.pending: list[Bar] = []
        self.written = 0

    def add(self, bar: ParsedBar) -> None:
        self.pending.append(
            Bar(
                bar_set=self.bar_set,
                symbol=self.symbol,
                interval_seconds=self.interval_seconds,
                start=bar.start,
                open=bar.open,
                high=bar.high,
                low=bar.low,
                close=bar.close,
                volume=bar.volume,
                source=self.source,
            )
        )
        if len(self.pending) >= self.BATCH_BARS:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        Bar.objects.bulk_create(
            self.pending,
            update_conflicts=True,
            unique_fields=["bar_set", "symbol", "interval_seconds", "start"],
            update_fields=["open", "high", "low", "close", "volume", "source"],
        )
        self.written += len(self.pending)
        self.pending = []

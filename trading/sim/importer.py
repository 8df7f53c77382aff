"""Importing OHLCV bars from CSV (Yahoo and Stooq layouts) for the SIM market to replay.

A file is checked whole before anything is written: by default one bad row rejects the
file with its reason stored on a BarImport row; `skip_bad_rows` keeps the good rows and
records the bad ones. Nothing is ever half-written.
"""

import csv
import io
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction

from trading import sessions
from trading.symbols import InvalidSymbol, symbol_clean

from .models import Bar, BarImport

DAY_SECONDS = 86_400
MAX_PRICE = Decimal("1e9")
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
    bars: list[ParsedBar] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    rows_read: int = 0


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BarFileError("the file is not UTF-8 text (save it as UTF-8 CSV)") from None


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
    return value.quantize(Decimal("0.0001"))


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


def parse_bars(text: str, *, symbol: str | None, tz: ZoneInfo) -> ParseResult:
    reader = csv.reader(io.StringIO(text))
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
    seen: set[datetime] = set()
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
            if bar.start in seen:
                raise ValueError(f"duplicated timestamp {start.isoformat()}")
        except (ValueError, IndexError) as exc:
            result.rejected.append(f"line {line_number}: {exc}")
            continue
        seen.add(bar.start)
        daily_flags.add(daily)
        result.bars.append(bar)
    if len(daily_flags) > 1:
        raise BarFileError("the file mixes daily and intraday rows")
    if daily_flags == {False}:
        result.interval_seconds = _interval(result.bars)
    return result


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


def _interval(bars: list[ParsedBar]) -> int:
    starts = sorted(bar.start for bar in bars)
    gaps = [int((b - a).total_seconds()) for a, b in zip(starts, starts[1:], strict=False) if b > a]
    return min(gaps) if gaps else 60


def _symbol_from_path(path: Path) -> str:
    return path.name.split(".")[0].upper()


def bars_import(
    *, path: str, symbol: str | None = None, tz: str = "America/New_York", skip_bad_rows: bool = False
) -> BarImport:
    """Import one CSV file; the returned BarImport says what happened and why."""
    source = Path(path)
    record = BarImport(source=str(source)[-500:])
    try:
        if symbol is not None:
            symbol = symbol_clean(symbol)
        raw = source.read_bytes()
        parsed = parse_bars(_decode(raw), symbol=symbol, tz=ZoneInfo(tz))
    except (OSError, BarFileError, csv.Error, InvalidSymbol, ZoneInfoNotFoundError) as exc:
        record.status = BarImport.Status.REJECTED
        record.error = str(exc)
        record.save()
        return record
    try:
        record.symbol = symbol_clean(parsed.symbol or _symbol_from_path(source))
    except InvalidSymbol as exc:
        record.symbol = ""
        record.status = BarImport.Status.REJECTED
        record.error = f"{exc}; name it with --symbol"
        record.save()
        return record
    record.layout = parsed.layout
    record.rows_read = parsed.rows_read
    record.rows_rejected = len(parsed.rejected)
    problems = parsed.rejected[:MAX_REASONS]
    if not parsed.bars or (parsed.rejected and not skip_bad_rows):
        record.status = BarImport.Status.REJECTED
        record.error = "\n".join(problems) or "no bars in the file"
        record.save()
        return record
    with transaction.atomic():
        Bar.objects.bulk_create(
            [
                Bar(
                    symbol=record.symbol,
                    interval_seconds=parsed.interval_seconds,
                    start=bar.start,
                    open=bar.open,
                    high=bar.high,
                    low=bar.low,
                    close=bar.close,
                    volume=bar.volume,
                    source=source.name[:200],
                )
                for bar in parsed.bars
            ],
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["symbol", "interval_seconds", "start"],
            update_fields=["open", "high", "low", "close", "volume", "source"],
        )
        record.rows_imported = len(parsed.bars)
        record.status = BarImport.Status.PARTIAL if parsed.rejected else BarImport.Status.IMPORTED
        record.error = "\n".join(problems)
        record.save()
    return record

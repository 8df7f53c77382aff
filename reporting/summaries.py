"""Summaries of closed trades, kept as trades close, so statistics over years read a few rows.

Three tables (`reporting.models`):
- `ClosedTradeMonth`: per book, New York month of exit, symbol and exit reason — counts, sums and
  extremes, from which totals, the exit-reason breakdown and the per-symbol table are folded;
- `ClosedTradeDay`: per book and New York date of exit — count, net and the running net's peak,
  trough and deepest fall within the day, which chain into the trade-by-trade maximum drawdown
  of any run of days, and give the daily P&L for Sharpe;
- `ClosedTradeHolding`: per book, month and whole minute held — counts and seconds of all trades,
  winners and losers, for holding-time averages, and for finding the minute each median lies in.

They count what the metrics count: closed, non-dry-run trades with an exit time and a P&L.

How they stay true:
- a trade that closes through its fills (`trading.services.book`, the one place trades close)
  is added in the same transaction (`trading.signals.trades_closed`);
- a trade saved or deleted any other way (a correction, a factory in a test) makes its day and
  month be summed again from the trades (Django's post_save / post_delete);
- rows written around Django (a bulk load, a hand edit in the database) need
  `manage.py summaries_rebuild`, which sums every trade again.
Money is an exact integer number of 1/10,000ths of a dollar, the trades' own precision.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from django.db import transaction
from django.db.models import Max, Min, Sum

from trading import sessions
from trading.bulk import rows_add, rows_update
from trading.expressions import HoldingSeconds
from trading.models import Book, Trade

from .models import ClosedTradeDay, ClosedTradeHolding, ClosedTradeMonth

# The fields of a trade that decide whether and how it is summed; saving only others (notes,
# tags, review) leaves the summaries as they are.
COUNTED_FIELDS = frozenset(
    {"book", "status", "dry_run", "symbol", "exit_time", "exit_reason", "realized_pnl", "commission"}
)
# What the summaries read of a trade; `held` is annotated (HoldingSeconds: the database's own figure).
TRADE_COLUMNS = ("id", "book_id", "symbol", "exit_reason", "exit_time", "realized_pnl", "commission", "held")
_MONTH_SUMS = ("trades", "wins", "losses", "net_units", "gross_profit_units", "commission_units")
_MONTH_FIELDS = [*_MONTH_SUMS, "highest_units", "lowest_units"]
_HOLDING_FIELDS = ["trades", "wins", "losses", "seconds", "win_seconds", "loss_seconds"]
_DAY_FIELDS = ["trades", "net_units", "peak_units", "trough_units", "deepest_fall_units", "last_exit_time", "last_trade_id"]  # fmt: skip


def money_units(value: Decimal | float | int) -> int:
    """A stored amount as it came from the driver (Decimal; SQLite may give a float) in 1/10,000ths."""
    exact = value if isinstance(value, Decimal) else Decimal(repr(value))
    return int(exact.scaleb(4).to_integral_value(rounding=ROUND_HALF_EVEN))


@dataclass(frozen=True)
class _Closed:
    """One counted trade, as the summaries read it."""

    id: int
    book_id: int
    symbol: str
    exit_reason: str
    exit_time: datetime
    pnl: int
    commission: int
    held: int | None  # seconds; None without an entry time

    @classmethod
    def of(cls, row: tuple) -> _Closed:
        trade_id, book_id, symbol, reason, exit_time, pnl, commission, held = row
        return cls(trade_id, book_id, symbol, reason, exit_time, money_units(pnl), money_units(commission), held)

    @property
    def day(self) -> date:
        return sessions.to_new_york(self.exit_time).date()

    @property
    def month(self) -> date:
        return self.day.replace(day=1)

    @property
    def order(self) -> tuple[datetime, int]:
        return self.exit_time, self.id


def is_counted(trade: Trade) -> bool:
    return (
        trade.status == Trade.Status.CLOSED
        and not trade.dry_run
        and trade.exit_time is not None
        and trade.realized_pnl is not None
    )


def _counted_trades(book_id: int | None = None):
    counted = Trade.objects.filter(
        status=Trade.Status.CLOSED, dry_run=False, realized_pnl__isnull=False, exit_time__isnull=False
    )
    return counted if book_id is None else counted.filter(book_id=book_id)


# --- Folding trades into rows -------------------------------------------------------------------


def _month_add(row: ClosedTradeMonth, trade: _Closed) -> None:
    row.trades += 1
    row.wins += trade.pnl > 0
    row.losses += trade.pnl < 0
    row.net_units += trade.pnl
    row.gross_profit_units += max(trade.pnl, 0)
    row.commission_units += trade.commission
    row.highest_units = trade.pnl if row.highest_units is None else max(row.highest_units, trade.pnl)
    row.lowest_units = trade.pnl if row.lowest_units is None else min(row.lowest_units, trade.pnl)


def _new_month(book_id: int, key: tuple[date, str, str]) -> ClosedTradeMonth:
    month, symbol, reason = key
    return ClosedTradeMonth(
        book_id=book_id, month=month, symbol=symbol, exit_reason=reason, highest_units=None, lowest_units=None
    )


def _holding_add(row: ClosedTradeHolding, trade: _Closed) -> None:
    row.trades += 1
    row.seconds += trade.held
    if trade.pnl > 0:
        row.wins += 1
        row.win_seconds += trade.held
    elif trade.pnl < 0:
        row.losses += 1
        row.loss_seconds += trade.held


def _new_holding(book_id: int, key: tuple[date, int]) -> ClosedTradeHolding:
    month, minute = key
    return ClosedTradeHolding(book_id=book_id, month=month, minute=minute)


def _day_appends(row: ClosedTradeDay, trade: _Closed) -> bool:
    """Whether `trade` comes after every trade the day has counted (then it is added)."""
    if row.trades and trade.order <= (row.last_exit_time, row.last_trade_id):
        return False
    row.trades += 1
    row.net_units += trade.pnl
    row.peak_units = max(row.peak_units, row.net_units)
    row.trough_units = min(row.trough_units, row.net_units)
    row.deepest_fall_units = max(row.deepest_fall_units, row.peak_units - row.net_units)
    row.last_exit_time, row.last_trade_id = trade.order
    return True


def _new_day(book_id: int, day: date) -> ClosedTradeDay:
    return ClosedTradeDay(book_id=book_id, day=day, trades=0)


@dataclass
class _Fold:
    """Rows built from scratch out of trades given in exit order."""

    book_id: int
    months: dict[tuple, ClosedTradeMonth] = field(default_factory=dict)
    days: dict[date, ClosedTradeDay] = field(default_factory=dict)
    holdings: dict[tuple, ClosedTradeHolding] = field(default_factory=dict)

    def add(self, trade: _Closed) -> None:
        key = (trade.month, trade.symbol, trade.exit_reason)
        month = self.months.get(key) or self.months.setdefault(key, _new_month(self.book_id, key))
        _month_add(month, trade)
        day = self.days.get(trade.day) or self.days.setdefault(trade.day, _new_day(self.book_id, trade.day))
        _day_appends(day, trade)
        if trade.held is not None:
            key = (trade.month, trade.held // 60)
            held = self.holdings.get(key) or self.holdings.setdefault(key, _new_holding(self.book_id, key))
            _holding_add(held, trade)


def counted_rows(queryset):
    """TRADE_COLUMNS of these trades in exit order (exit time, then id)."""
    return queryset.annotate(held=HoldingSeconds()).order_by("exit_time", "id").values_list(*TRADE_COLUMNS)


def _in_exit_order(queryset) -> Iterable[_Closed]:
    return (_Closed.of(row) for row in counted_rows(queryset).iterator(chunk_size=20_000))


def summary_fields(book_id: int, trade_rows: Iterable[tuple]) -> tuple[list[dict], list[dict], list[dict]]:
    """The month, day and holding rows of one book's counted trades, as field values (for a
    migration, whose models are historical): `trade_rows` are `counted_rows` in exit order."""
    fold = _Fold(book_id)
    for row in trade_rows:
        fold.add(_Closed.of(row))

    def fields(row) -> dict:
        return {f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields if not f.primary_key}

    return (
        [fields(r) for r in fold.months.values()],
        [fields(r) for r in fold.days.values()],
        [fields(r) for r in fold.holdings.values()],
    )


# --- Keeping them up to date ---------------------------------------------------------------------


def summaries_add(*, trades: Iterable[Trade]) -> None:
    """Add trades that have just closed (not yet counted) to their books' summaries.

    Called inside the transaction that closes them, once they are written: they are read back
    with their holding time as the database computes it. A trade closing out of exit order within
    its day (an execution reported late) makes that day be summed again from its trades."""
    ids = [t.pk for t in trades if is_counted(t)]
    if not ids:
        return
    by_book: dict[int, list[_Closed]] = {}
    for trade in _in_exit_order(_counted_trades().filter(pk__in=ids)):
        by_book.setdefault(trade.book_id, []).append(trade)
    for book_id, book_trades in by_book.items():
        _months_add(book_id, book_trades)
        _holdings_add(book_id, [t for t in book_trades if t.held is not None])
        redo = _days_add(book_id, book_trades)
        if redo:
            _days_recompute(book_id, redo)


def _months_add(book_id: int, trades: list[_Closed]) -> None:
    rows: dict[tuple, ClosedTradeMonth] = {}
    for trade in trades:
        key = (trade.month, trade.symbol, trade.exit_reason)
        _month_add(rows.get(key) or rows.setdefault(key, _new_month(book_id, key)), trade)
    # In key order: two writers adding to the same rows lock them in the same order.
    rows_add(
        [rows[key] for key in sorted(rows)], unique=["book", "month", "symbol", "exit_reason"], sums=list(_MONTH_SUMS),
        highest=["highest_units"], lowest=["lowest_units"],
    )  # fmt: skip


def _holdings_add(book_id: int, trades: list[_Closed]) -> None:
    rows: dict[tuple, ClosedTradeHolding] = {}
    for trade in trades:
        key = (trade.month, trade.held // 60)
        _holding_add(rows.get(key) or rows.setdefault(key, _new_holding(book_id, key)), trade)
    rows_add([rows[key] for key in sorted(rows)], unique=["book", "month", "minute"], sums=_HOLDING_FIELDS)


def _days_add(book_id: int, trades: list[_Closed]) -> set[date]:
    """Append the trades to their days; the days a trade could not be appended to."""
    days = {t.day for t in trades}
    rows = {r.day: r for r in ClosedTradeDay.objects.select_for_update().filter(book_id=book_id, day__in=days)}
    existing, redo = set(rows), set()
    for trade in trades:
        row = rows.get(trade.day) or rows.setdefault(trade.day, _new_day(book_id, trade.day))
        if not _day_appends(row, trade):
            redo.add(trade.day)
    rows_update([rows[day] for day in existing - redo], _DAY_FIELDS)
    ClosedTradeDay.objects.bulk_create([row for day, row in rows.items() if day not in existing and day not in redo])
    return redo


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = sessions.new_york_midnight(day)
    return start, sessions.new_york_midnight(date.fromordinal(day.toordinal() + 1))


def _days_recompute(book_id: int, days: Iterable[date]) -> None:
    for day in days:
        start, end = _day_bounds(day)
        fold = _Fold(book_id)
        for trade in _in_exit_order(_counted_trades(book_id).filter(exit_time__gte=start, exit_time__lt=end)):
            fold.add(trade)
        ClosedTradeDay.objects.filter(book_id=book_id, day=day).delete()
        ClosedTradeDay.objects.bulk_create(fold.days.values())


def _months_recompute(book_id: int, months: Iterable[date]) -> None:
    for month in months:
        start = sessions.new_york_midnight(month)
        end = sessions.new_york_midnight(date(month.year + (month.month == 12), month.month % 12 + 1, 1))
        fold = _Fold(book_id)
        for trade in _in_exit_order(_counted_trades(book_id).filter(exit_time__gte=start, exit_time__lt=end)):
            fold.add(trade)
        ClosedTradeMonth.objects.filter(book_id=book_id, month=month).delete()
        ClosedTradeMonth.objects.bulk_create(fold.months.values())
        ClosedTradeHolding.objects.filter(book_id=book_id, month=month).delete()
        ClosedTradeHolding.objects.bulk_create(fold.holdings.values())


@transaction.atomic
def summaries_recompute(*, book_id: int, exit_times: Iterable[datetime]) -> None:
    """Sum again, from the trades, the days and months of these exit times."""
    days = {sessions.to_new_york(moment).date() for moment in exit_times}
    _days_recompute(book_id, days)
    _months_recompute(book_id, {day.replace(day=1) for day in days})


@transaction.atomic
def summaries_rebuild(*, book: Book) -> int:
    """Sum every counted trade of the book again, replacing its summaries; the trades counted."""
    fold = _Fold(book.pk)
    count = 0
    for trade in _in_exit_order(_counted_trades(book.pk)):
        fold.add(trade)
        count += 1
    for model, rows in (
        (ClosedTradeMonth, fold.months),
        (ClosedTradeDay, fold.days),
        (ClosedTradeHolding, fold.holdings),
    ):
        model.objects.filter(book=book).delete()
        model.objects.bulk_create(rows.values(), batch_size=5_000)
    return count


def summaries_differences(*, book: Book) -> list[str]:
    """Where the book's stored summaries differ from its trades summed afresh (nothing written)."""
    fold = _Fold(book.pk)
    for trade in _in_exit_order(_counted_trades(book.pk)):
        fold.add(trade)
    differences = []
    for label, fresh, stored, key in (
        ("month", fold.months, ClosedTradeMonth.objects.filter(book=book), lambda r: (r.month, r.symbol, r.exit_reason)),
        ("day", fold.days, ClosedTradeDay.objects.filter(book=book), lambda r: r.day),
        ("holding", fold.holdings, ClosedTradeHolding.objects.filter(book=book), lambda r: (r.month, r.minute)),
    ):  # fmt: skip
        kept = {key(row): row for row in stored}
        for k in sorted(set(fresh) | set(kept), key=str):
            want, have = fresh.get(k), kept.get(k)
            if want is None or have is None or _values(want) != _values(have):
                differences.append(f"{label} {_label(k)}: stored {_values(have)}, trades give {_values(want)}")
    return differences


_COMPARED = {ClosedTradeMonth: _MONTH_FIELDS, ClosedTradeDay: _DAY_FIELDS, ClosedTradeHolding: _HOLDING_FIELDS}


def _values(row) -> dict | None:
    return None if row is None else {name: getattr(row, name) for name in _COMPARED[type(row)]}


def _label(key) -> str:
    if not isinstance(key, tuple):
        return key.isoformat()
    if len(key) == 2:
        month, minute = key
        return f"{month:%Y-%m} held {minute} min"
    month, symbol, reason = key
    return f"{month:%Y-%m} {symbol} {reason or '(no reason)'}"


# --- Reading them --------------------------------------------------------------------------------


def month_breakdown(*, book: Book, first: date | None, last: date | None) -> list[tuple]:
    """Per (symbol, exit reason) over the months `first` .. `last` (first days; None: unbounded):
    (symbol, reason, trades, wins, losses, net, gross profit, commissions, highest, lowest)."""
    rows = ClosedTradeMonth.objects.filter(book=book)
    if first is not None:
        rows = rows.filter(month__gte=first)
    if last is not None:
        rows = rows.filter(month__lte=last)
    return list(
        rows.order_by()
        .values("symbol", "exit_reason")
        .annotate(
            *(Sum(name) for name in _MONTH_SUMS),
            high=Max("highest_units"),
            low=Min("lowest_units"),
        )
        .values_list("symbol", "exit_reason", *(f"{name}__sum" for name in _MONTH_SUMS), "high", "low")
    )


def holding_minutes(*, book: Book, first: date | None, last: date | None) -> dict[int, list[int]]:
    """Per whole minute held over the months `first` .. `last` (first days; None: unbounded):
    [trades, wins, losses, seconds, win seconds, loss seconds]."""
    rows = ClosedTradeHolding.objects.filter(book=book)
    if first is not None:
        rows = rows.filter(month__gte=first)
    if last is not None:
        rows = rows.filter(month__lte=last)
    grouped = rows.order_by().values("minute").annotate(*(Sum(name) for name in _HOLDING_FIELDS))
    return {
        minute: list(sums)
        for minute, *sums in grouped.values_list("minute", *(f"{name}__sum" for name in _HOLDING_FIELDS))
    }


@dataclass(frozen=True)
class DaySummary:
    day: date
    trades: int
    net: int
    peak: int
    trough: int
    deepest_fall: int


def day_summaries(*, book: Book, start: date | None, end: date | None) -> list[DaySummary]:
    """The book's days with closed trades from `start` to `end` (None: unbounded), in date order."""
    rows = ClosedTradeDay.objects.filter(book=book)
    if start is not None:
        rows = rows.filter(day__gte=start)
    if end is not None:
        rows = rows.filter(day__lte=end)
    columns = ("day", "trades", "net_units", "peak_units", "trough_units", "deepest_fall_units")
    return [DaySummary(*row) for row in rows.order_by("day").values_list(*columns)]


def max_drawdown_units(days: list[DaySummary]) -> int:
    """The deepest fall of cumulative net P&L below its running peak, trade by trade, over these
    days (the curve starts at 0): a fall either starts from the peak before a day and reaches the
    day's trough, or lies within the day."""
    cumulative = peak = deepest = 0
    for day in days:
        deepest = max(deepest, peak - (cumulative + day.trough), day.deepest_fall)
        peak = max(peak, cumulative + day.peak)
        cumulative += day.net
    return deepest

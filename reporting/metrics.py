"""Trading metrics over closed trades, computed where the data lives.

Sums, counts, extremes, daily P&L and the trade-by-trade drawdown come from the closed-trade
summaries (`reporting.summaries`: a few rows per month, one per day) for the period's whole
months, and from one grouped pass over the trades for its other days; holding-time medians from
one ordered histogram pass in SQL. A statistic over a million trades never builds a million
model instances; only small results come back.

Conventions, in one place:
- A trade belongs to the New York date of its exit; P&L is `Trade.realized_pnl`, net of commissions.
- Dry-run trades (filled locally, never sent) are left out, as in `trading.selectors.book_totals`.
- Money is summed exactly as integer units of 1/10,000 (SQLite keeps decimals as floats, so a
  plain SUM could drift) and quantized to cents only when shown (`trading.money.to_cents`).
- Holding time is exit minus entry in whole seconds.
- Ratios (win rate, profit factor, Sharpe, drawdown %) are rounded to 4 decimal places.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import structlog
from django.db import NotSupportedError
from django.db.models import (
    BigIntegerField,
    Count,
    F,
    Func,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Window,
)

from trading import sessions
from trading.expressions import HoldingSeconds
from trading.models import Position, Side, Trade
from trading.money import to_cents, to_price

from .exports import row_chunks
from .summaries import day_summaries, holding_minutes, max_drawdown_units, month_breakdown

log = structlog.get_logger(__name__)

NEW_YORK = sessions.NEW_YORK
UNITS_PER_MONEY = 10_000  # money is stored with 4 decimal places
RATIO_QUANTUM = Decimal("0.0001")
TRADING_DAYS_PER_YEAR = 252


class MoneyUnits(Func):
    """A 4-place money column as an exact integer number of 1/10,000ths."""

    template = f"CAST(ROUND(%(expressions)s * {UNITS_PER_MONEY}) AS BIGINT)"
    output_field = BigIntegerField()


class MoneyUnitsSum(Sum):
    """The exact sum of a 4-place money column, as an integer number of 1/10,000ths."""

    output_field = BigIntegerField()

    def as_sqlite(self, compiler, connection, **extra_context):
        # SQLite keeps decimals as floats: each value is rounded to whole units before adding,
        # so the sum is exact however many there are.
        copy = self.copy()
        *values, condition = copy.get_source_expressions()
        copy.set_source_expressions([MoneyUnits(value) for value in values] + [condition])
        return super(MoneyUnitsSum, copy).as_sql(compiler, connection, **extra_context)

    def as_postgresql(self, compiler, connection, **extra_context):
        # NUMERIC adds exactly; scaling the one total is cheaper than scaling every row.
        sql, params = super().as_sql(compiler, connection, **extra_context)
        return f"CAST({sql} * {UNITS_PER_MONEY} AS BIGINT)", params

    def as_sql(self, compiler, connection, **extra_context):
        raise NotSupportedError(f"money sums are computed on SQLite and PostgreSQL, not {connection.vendor}")


@dataclass(frozen=True)
class Period:
    """New York dates from `start` to `end`, both included; None on a side means unbounded."""

    start: date | None = None
    end: date | None = None

    @classmethod
    def all_time(cls) -> Period:
        return cls()

    @classmethod
    def day(cls, day: date) -> Period:
        return cls(start=day, end=day)

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        first = date(year, month, 1)
        following = date(year + (month == 12), month % 12 + 1, 1)
        return cls(start=first, end=following - timedelta(days=1))

    def whole_months(self) -> tuple[tuple[date | None, date | None] | None, list[Period]]:
        """The calendar months lying wholly inside the period, as (first, last) first days (None:
        unbounded; None for no whole month), and the periods of the days outside them."""
        first = self.start if self.start is None or self.start.day == 1 else _next_month(self.start)
        if self.end is None:
            last = None
        elif (self.end + timedelta(days=1)).day == 1:
            last = self.end.replace(day=1)
        else:
            last = (self.end.replace(day=1) - timedelta(days=1)).replace(day=1)
        if first is not None and last is not None and first > last:
            return None, [self]
        rest = []
        if self.start is not None and self.start < first:
            rest.append(Period(self.start, first - timedelta(days=1)))
        if self.end is not None and _next_month(last) <= self.end:
            rest.append(Period(_next_month(last), self.end))
        return (first, last), rest

    @property
    def starts_at(self) -> datetime | None:
        """The first instant of the period (aware, New York)."""
        return None if self.start is None else datetime.combine(self.start, time.min, tzinfo=NEW_YORK)

    @property
    def ends_before(self) -> datetime | None:
        """The first instant after the period (exclusive bound)."""
        if self.end is None:
            return None
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=NEW_YORK)


def _next_month(day: date) -> date:
    """The first day of the month after `day`'s."""
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def closed_trades(*, book, period: Period) -> QuerySet[Trade]:
    """The book's closed, non-dry-run trades whose exit falls in `period` (New York dates), unordered."""
    qs = Trade.objects.filter(
        book=book, status=Trade.Status.CLOSED, dry_run=False, realized_pnl__isnull=False, exit_time__isnull=False
    ).order_by()
    if period.starts_at is not None:
        qs = qs.filter(exit_time__gte=period.starts_at)
    if period.ends_before is not None:
        qs = qs.filter(exit_time__lt=period.ends_before)
    return qs


def open_trades(*, book, period: Period) -> QuerySet[Trade]:
    """The book's trades open now that were entered by the end of `period`."""
    qs = Trade.objects.filter(book=book, status=Trade.Status.OPEN, dry_run=False).order_by("entry_time", "id")
    if period.ends_before is not None:
        qs = qs.filter(entry_time__lt=period.ends_before)
    return qs


def units_to_money(units: int | None) -> Decimal | None:
    return None if units is None else Decimal(int(units)).scaleb(-4)


def _cents(units: int | None) -> str | None:
    return None if units is None else str(to_cents(units_to_money(units)))


def _ratio(value: Decimal | None) -> float | None:
    return None if value is None else float(value.quantize(RATIO_QUANTUM, rounding=ROUND_HALF_EVEN))


def _whole_seconds(value: Decimal | None) -> int | None:
    return None if value is None else int(value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


WIN = Q(realized_pnl__gt=0)
LOSS = Q(realized_pnl__lt=0)
EVEN = Q(realized_pnl=0)
HELD = Q(entry_time__isnull=False)


_HOLD_GROUPS = ("all", "winners", "losers")  # the order of their counts and seconds in a minute's sums


def _held_histogram(qs: QuerySet[Trade], *, minute: int | None = None) -> list[tuple[int, int, int, int]]:
    """(seconds held, trades, winners, losers) per distinct holding time of these trades (of those
    held `minute` whole minutes, if given), in order."""
    held = qs.filter(HELD).annotate(held=HoldingSeconds())
    if minute is not None:
        held = held.filter(held__gte=minute * 60, held__lt=minute * 60 + 60)
    return list(
        held.values("held")
        .annotate(n=Count("id"), w=Count("id", filter=WIN), l=Count("id", filter=LOSS))
        .order_by("held")
        .values_list("held", "n", "w", "l")
    )


class _MinuteDisagrees(Exception):
    """A minute's trades do not hold the position its summary says (trades closed meanwhile, or
    summaries out of date)."""


def holding_times(*, book, period: Period) -> dict[str, dict[str, Decimal | None]]:
    """Average and median holding time of all trades, winners and losers of `period`.

    A period without a whole month (a day, a few weeks) reads its trades' holding times at once.
    Otherwise, per whole minute held, the counts and seconds come from the holding summaries for the
    period's whole months and from the trades for its other days: the averages follow, and
    the minute each middle position lies in. Only the trades held in those minutes (a few
    index ranges of `trade_book_closed_held_idx`) are read to the second. Should a minute's
    trades not hold the position its count promised, every holding time of the period is read
    from the trades instead, in one statement.
    """
    months, rest = period.whole_months()
    if months is None:  # a day, a few weeks: its trades are few, and read to the second at once
        return _holding_from_trades(book=book, period=period)
    minutes = holding_minutes(book=book, first=months[0], last=months[1])
    for part in rest:
        _add_to_minutes(minutes, _held_histogram(closed_trades(book=book, period=part)))
    exact: dict[int, list[tuple]] = {}

    def within(minute: int) -> list[tuple]:
        if minute not in exact:
            exact[minute] = _held_histogram(closed_trades(book=book, period=period), minute=minute)
        return exact[minute]

    try:
        return _holding_figures(minutes, within)
    except _MinuteDisagrees as exc:
        log.warning("holding_summaries_disagree", book=book.name, detail=str(exc), hint="summaries_rebuild --check")
        return _holding_from_trades(book=book, period=period)


def _holding_from_trades(*, book, period: Period) -> dict[str, dict[str, Decimal | None]]:
    """Holding times from one histogram of the period's trades (one row per distinct second)."""
    rows = _held_histogram(closed_trades(book=book, period=period))
    by_minute: dict[int, list[tuple]] = {}
    for row in rows:
        by_minute.setdefault(row[0] // 60, []).append(row)
    return _holding_figures(_add_to_minutes({}, rows), lambda minute: by_minute.get(minute, []))


def _add_to_minutes(minutes: dict[int, list[int]], rows: list[tuple]) -> dict[int, list[int]]:
    """Add per-second histogram rows to per-minute [trades, wins, losses, seconds × 3] sums."""
    for held, *counts in rows:
        sums = minutes.setdefault(held // 60, [0] * 6)
        for index, count in enumerate(counts):
            sums[index] += count
            sums[3 + index] += held * count
    return minutes


def _holding_figures(minutes: dict[int, list[int]], within) -> dict[str, dict[str, Decimal | None]]:
    """Averages from the minutes' sums; each median from the trades `within` its minute."""
    in_order = sorted(minutes)

    def held_at(position: int, group: int) -> int:
        """The holding time at `position` (from 0, shortest first) among the group's trades."""
        before = 0
        for minute in in_order:
            count = minutes[minute][group]
            if position < before + count:
                for row in within(minute):
                    before += row[1 + group]
                    if position < before:
                        return row[0]
                raise _MinuteDisagrees(f"minute {minute}: fewer trades than counted")
            before += count
        raise AssertionError(f"median position {position} beyond {before} trades")  # a bug here, never bad data

    result: dict[str, dict[str, Decimal | None]] = {}
    for group, name in enumerate(_HOLD_GROUPS):
        total = sum(minutes[minute][group] for minute in in_order)
        if not total:
            result[name] = {"average": None, "median": None}
            continue
        seconds = sum(minutes[minute][3 + group] for minute in in_order)
        low, high = (held_at(position, group) for position in ((total - 1) // 2, total // 2))
        result[name] = {"average": Decimal(seconds) / total, "median": (Decimal(low) + Decimal(high)) / 2}
    return result


def daily_pnl_units(*, book, period: Period) -> list[tuple[date, int]]:
    """Net P&L per New York exit date of `period`, for each date that had closed trades, in date order."""
    return [(d.day, d.net) for d in day_summaries(book=book, start=period.start, end=period.end)]


def sharpe_ratio(daily: list[tuple[date, int]], *, equity: Decimal) -> Decimal | None:
    """Annualized Sharpe of daily net P&L as returns on `equity` (risk-free rate 0, sample std).

    Every NYSE session from the first to the last trading day counts, a day without closed trades
    as a zero return; fewer than two days, or no variation, gives None.
    """
    if not daily or equity <= 0:
        return None
    by_day = dict(daily)
    days = {s.day for s in sessions.sessions_between(daily[0][0], daily[-1][0])} | set(by_day)
    if len(days) < 2:
        return None
    with localcontext() as ctx:
        ctx.prec = 34
        returns = [units_to_money(by_day.get(day, 0)) / equity for day in days]
        n = len(returns)
        mean = sum(returns) / n
        variance = sum((r - mean) ** 2 for r in returns) / (n - 1)
        if variance == 0:
            return None
        return mean / variance.sqrt() * Decimal(TRADING_DAYS_PER_YEAR).sqrt()


def _by_symbol_and_reason(*, book, period: Period) -> list[tuple]:
    """Counts, sums and extremes per (symbol, exit reason): the period's whole months from their
    summaries, its days outside whole months from the trades in one grouped pass each.

    Everything that is a plain aggregate comes from these rows: the totals, the exit-reason
    breakdown and the per-symbol table are all folded from them (`_Breakdown`). A (symbol, reason)
    may come more than once (from months and from days); the fold adds them up.
    """
    months, rest = period.whole_months()
    rows = [] if months is None else month_breakdown(book=book, first=months[0], last=months[1])
    for part in rest:
        grouped = (
            closed_trades(book=book, period=part)
            .values("symbol", "exit_reason")
            .annotate(
                trades=Count("*"),
                wins=Count("id", filter=WIN),
                losses=Count("id", filter=LOSS),
                net=MoneyUnitsSum("realized_pnl"),
                gross_profit=MoneyUnitsSum("realized_pnl", filter=WIN),
                commissions=MoneyUnitsSum("commission"),
                highest=Max(MoneyUnits("realized_pnl")),
                lowest=Min(MoneyUnits("realized_pnl")),
            )
            .values_list(
                "symbol", "exit_reason", "trades", "wins", "losses", "net", "gross_profit", "commissions",
                "highest", "lowest",
            )
        )  # fmt: skip
        rows += [row for chunk in row_chunks(grouped) for row in chunk]
    return rows


@dataclass
class _Breakdown:
    """The period's totals, and sums per exit reason and per symbol, folded in one pass over the
    per-(symbol, exit reason) rows (a day has about as many rows as trades, so this runs often).
    Each exit reason's and symbol's sums are [trades, wins, losses, net units, commission units]."""

    totals: dict
    by_reason: dict[str, list[int]]
    by_symbol: dict[str, list[int]]

    @classmethod
    def fold(cls, rows: list[tuple]) -> _Breakdown:
        by_reason: dict[str, list[int]] = {}
        by_symbol: dict[str, list[int]] = {}
        trades = wins = losses = net = gross_profit = commissions = 0
        highest = lowest = None
        for symbol, reason, n, w, lost, units, profit, fees, high, low in rows:
            units, fees = units or 0, fees or 0
            trades, wins, losses, net = trades + n, wins + w, losses + lost, net + units
            gross_profit, commissions = gross_profit + (profit or 0), commissions + fees
            for key, into in ((reason, by_reason), (symbol, by_symbol)):
                sums = into.get(key)
                if sums is None:
                    into[key] = [n, w, lost, units, fees]
                else:
                    sums[0] += n
                    sums[1] += w
                    sums[2] += lost
                    sums[3] += units
                    sums[4] += fees
            if high is not None and (highest is None or high > highest):
                highest = high
            if low is not None and (lowest is None or low < lowest):
                lowest = low
        totals = {
            "trades": trades,
            "wins": wins,
            "losses": losses,
            "breakevens": trades - wins - losses,
            "net": net,
            "gross_profit": gross_profit,
            "gross_loss": net - gross_profit,
            "commissions": commissions,
            "largest_win": highest if highest is not None and highest > 0 else None,
            "largest_loss": lowest if lowest is not None and lowest < 0 else None,
        }
        return cls(totals=totals, by_reason=by_reason, by_symbol=by_symbol)

    def exit_reasons(self) -> dict[str, dict]:
        """Every known exit reason (zeros when unused), then any other recorded value."""
        known = Trade.ExitReason.values
        reasons = list(known) + sorted(r for r in self.by_reason if r not in known)
        result = {}
        for reason in reasons:
            n, w, lost, units, _ = self.by_reason.get(reason, (0, 0, 0, 0, 0))
            result[reason or "unknown"] = {
                "trades": n,
                "wins": w,
                "losses": lost,
                "breakevens": n - w - lost,
                "net_pnl": _cents(units),
            }
        return result

    def symbols(self) -> list[dict]:
        return [
            {
                "symbol": symbol,
                "trades": n,
                "wins": w,
                "losses": lost,
                "breakevens": n - w - lost,
                "win_rate": _ratio(Decimal(w) / n),
                "net_pnl": _cents(units),
                "commissions": _cents(fees),
            }
            for symbol, (n, w, lost, units, fees) in sorted(self.by_symbol.items())
        ]


def open_trade_rows(*, book, period: Period) -> list[dict]:
    """The book's open trades with unrealized P&L at the book's latest mark of their symbol (None when never marked)."""
    position = Position.objects.filter(book=book, symbol=OuterRef("symbol"))
    rows = open_trades(book=book, period=period).annotate(
        mark_price=Subquery(position.values("mark_price")[:1]),
        marked_at=Subquery(position.values("marked_at")[:1]),
    )
    result = []
    for trade in rows.values(
        "id", "symbol", "side", "quantity", "entry_price", "entry_time", "stop_price", "target_price", "commission",
        "mark_price", "marked_at",
    ):  # fmt: skip
        mark, entry = trade["mark_price"], trade["entry_price"]
        unrealized = None
        if mark is not None and entry is not None:
            direction = 1 if trade["side"] == Side.BUY else -1
            unrealized = to_cents((to_price(mark) - entry) * trade["quantity"] * direction)
        result.append(
            {
                "id": trade["id"],
                "symbol": trade["symbol"],
                "side": trade["side"],
                "quantity": trade["quantity"],
                "entry_price": None if entry is None else str(entry),
                "entry_time": None
                if trade["entry_time"] is None
                else trade["entry_time"].astimezone(NEW_YORK).isoformat(),
                "stop_price": None if trade["stop_price"] is None else str(trade["stop_price"]),
                "target_price": None if trade["target_price"] is None else str(trade["target_price"]),
                "commission": str(to_cents(trade["commission"])),
                "mark_price": None if mark is None else str(to_price(mark)),
                "marked_at": None
                if trade["marked_at"] is None
                else trade["marked_at"].astimezone(NEW_YORK).isoformat(),
                "unrealized_pnl": None if unrealized is None else str(unrealized),
            }
        )
    return result


def metrics_compute(*, book, period: Period, equity: Decimal | None = None, with_open: bool = True) -> dict:
    """All metrics of one book over `period` as one JSON-ready dict; money as strings of cents.
    Without `with_open`, the trades open now are left out (a caller that has them at another
    moment, a past close, adds its own)."""
    equity = Decimal(book.starting_equity if equity is None else equity)
    # From the closed-trade summaries: a few rows a month, one a day.
    folded = _Breakdown.fold(_by_symbol_and_reason(book=book, period=period))
    days = day_summaries(book=book, start=period.start, end=period.end)
    daily = [(d.day, d.net) for d in days if d.trades]
    drawdown_units = max_drawdown_units(days)
    held = holding_times(book=book, period=period)
    t = folded.totals
    count, wins, losses = t["trades"], t["wins"], t["losses"]
    gross_profit = units_to_money(t["gross_profit"])
    gross_loss = units_to_money(t["gross_loss"])
    net = units_to_money(t["net"])
    drawdown = units_to_money(drawdown_units)
    sharpe = sharpe_ratio(daily, equity=equity)
    open_rows = open_trade_rows(book=book, period=period) if with_open else []
    unrealized = [Decimal(r["unrealized_pnl"]) for r in open_rows if r["unrealized_pnl"] is not None]

    return {
        "book": book.name,
        "period_start": period.start.isoformat() if period.start else None,
        "period_end": period.end.isoformat() if period.end else None,
        "trade_count": count,
        "wins": wins,
        "losses": losses,
        "breakevens": t["breakevens"],
        "win_rate": _ratio(Decimal(wins) / count) if count else None,
        "gross_profit": str(to_cents(gross_profit)),
        "gross_loss": str(to_cents(gross_loss)),
        "net_pnl": str(to_cents(net)),
        "profit_factor": _ratio(gross_profit / abs(gross_loss)) if gross_loss else None,
        "expectancy": str(to_cents(net / count)) if count else None,
        "average_win": str(to_cents(gross_profit / wins)) if wins else None,
        "average_loss": str(to_cents(gross_loss / losses)) if losses else None,
        "largest_win": _cents(t["largest_win"]),
        "largest_loss": _cents(t["largest_loss"]),
        "average_holding_time": _whole_seconds(held["all"]["average"]),
        "median_holding_time": _whole_seconds(held["all"]["median"]),
        "average_holding_time_winners": _whole_seconds(held["winners"]["average"]),
        "median_holding_time_winners": _whole_seconds(held["winners"]["median"]),
        "average_holding_time_losers": _whole_seconds(held["losers"]["average"]),
        "median_holding_time_losers": _whole_seconds(held["losers"]["median"]),
        "max_drawdown": str(to_cents(drawdown)),
        "max_drawdown_pct": _ratio(drawdown / equity * 100) if equity > 0 else None,
        "sharpe_ratio": _ratio(sharpe),
        "exit_reasons": folded.exit_reasons(),
        "per_symbol": folded.symbols(),
        "commissions": _cents(t["commissions"]),
        "starting_equity": str(to_cents(equity)),
        "open_trades": len(open_rows),
        "unrealized_pnl": str(to_cents(sum(unrealized, Decimal(0)))),
        "open_trade_list": open_rows,
    }


def pnl_curve_by_trade(*, book, period: Period) -> list[tuple[datetime, Decimal]]:
    """Cumulative net P&L after each closed trade in exit order (for a day's chart: few points)."""
    rows = (
        closed_trades(book=book, period=period)
        .annotate(cum=Window(Sum(MoneyUnits("realized_pnl")), order_by=[F("exit_time").asc(), F("id").asc()]))
        .order_by("exit_time", "id")
        .values_list("exit_time", "cum")
    )
    return [(moment, units_to_money(cum)) for moment, cum in rows]


def pnl_curve_by_day(*, book, period: Period) -> list[tuple[date, Decimal]]:
    """Cumulative net P&L at the end of each New York day with closed trades (small for years of history)."""
    running = 0
    curve = []
    for day, units in daily_pnl_units(book=book, period=period):
        running += units
        curve.append((day, units_to_money(running)))
    return curve

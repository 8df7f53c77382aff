"""Trading metrics over closed trades, computed where the data lives.

Every figure is an aggregate, a grouped histogram or a window function in SQL, so a statistic
over a million trades never builds a million model instances; only small results (one row per
UTC hour with closed trades, per symbol and exit reason, a handful of histogram rows) come back.

Conventions, in one place:
- A trade belongs to the New York date of its exit; P&L is `Trade.realized_pnl`, net of commissions.
- Dry-run trades (filled locally, never sent) are left out, as in `trading.selectors.book_totals`.
- Money is summed exactly as integer units of 1/10,000 (SQLite keeps decimals as floats, so a
  plain SUM could drift) and quantized to cents only when shown (`trading.money.to_cents`).
- Holding time is exit minus entry in whole seconds.
- Ratios (win rate, profit factor, Sharpe, drawdown %) are rounded to 4 decimal places.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

from django.db import NotSupportedError, connections
from django.db.models import (
    BigIntegerField,
    Count,
    DateTimeField,
    F,
    Func,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    Window,
)
from django.db.models.expressions import RawSQL

from trading import sessions
from trading.expressions import HoldingSeconds
from trading.models import Position, Side, Trade
from trading.money import to_cents, to_price

from .exports import row_chunks

NEW_YORK = sessions.NEW_YORK
UNITS_PER_MONEY = 10_000  # money is stored with 4 decimal places
RATIO_QUANTUM = Decimal("0.0001")
TRADING_DAYS_PER_YEAR = 252
MAX_QUERY_WORKERS = 4  # connections one statistic may hold at once
OVERLAP_AFTER_DAYS = 92  # periods longer than a quarter run their passes side by side (SQLite)


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


# Which column of the holding-time histogram counts each group's trades.
_HOLD_GROUPS = {"all": "n", "winners": "w", "losers": "l"}


def _held_at(rows: list[tuple], position: int, *, count_at: int, run_at: int) -> int:
    """The holding time at `position` among the histogram rows that came back."""
    for row in rows:
        if row[run_at] - row[count_at] <= position < row[run_at]:
            return row[0]
    raise AssertionError(f"median position {position} not returned")  # a bug in the query, never bad data


def holding_times(qs: QuerySet[Trade]) -> dict[str, dict[str, Decimal | None]]:
    """Average and median holding time of all trades, winners and losers, from one ordered pass in SQL.

    The trades are grouped by holding time (one row per distinct number of seconds, with counts per
    group; `trade_closed_held_idx` hands them over already in that order); window functions run the
    counts up in order and total the counts and seconds, and only the rows holding the middle
    positions come back: at most six rows, however many trades.
    """
    histogram = (
        qs.filter(HELD)
        .annotate(held=HoldingSeconds())
        .values("held")
        .annotate(n=Count("id"), w=Count("id", filter=WIN), l=Count("id", filter=LOSS))
        .values_list("held", "n", "w", "l")
    )
    inner, params = histogram.query.get_compiler(using=qs.db).as_sql()
    columns = _HOLD_GROUPS.values()
    windows = ", ".join(
        f"SUM({c}) OVER (ORDER BY held ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS run_{c}, "
        f"CAST(SUM({c}) OVER () AS BIGINT) AS total_{c}, SUM(held * {c}) OVER () AS seconds_{c}"
        for c in columns
    )
    # A histogram row holds positions [run - count, run - 1] of its group's sorted holding times; the
    # median is the mean of positions (total - 1) / 2 and total / 2 (integer division).
    middle = " OR ".join(
        f"(run_{c} > {position} AND run_{c} - {c} <= {position})"
        for c in columns
        for position in (f"(total_{c} - 1) / 2", f"total_{c} / 2")
    )
    picked = ", ".join(f"{c}, run_{c}, total_{c}, seconds_{c}" for c in columns)
    sql = f"SELECT held, {picked} FROM (SELECT held, n, w, l, {windows} FROM ({inner}) histogram) runs WHERE {middle}"
    with connections[qs.db].cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    result: dict[str, dict[str, Decimal | None]] = {}
    for index, group in enumerate(_HOLD_GROUPS):
        count_at, run_at, total_at, seconds_at = (1 + 4 * index + offset for offset in range(4))
        total = int(rows[0][total_at]) if rows else 0
        if not total:
            result[group] = {"average": None, "median": None}
            continue
        low, high = (_held_at(rows, p, count_at=count_at, run_at=run_at) for p in ((total - 1) // 2, total // 2))
        result[group] = {"average": Decimal(rows[0][seconds_at]) / total, "median": (Decimal(low) + Decimal(high)) / 2}
    return result


def max_drawdown_units(qs: QuerySet[Trade]) -> int:
    """The deepest fall of cumulative net P&L below its running peak (the curve starts at 0).

    Trade by trade in exit order (id breaks ties): the deepest fall can lie inside one day, so no
    daily summary gives it, and every trade is read once, in the order an index keeps them
    (`trade_status_exit_idx`). Reading one integer per trade costs about what one aggregate over
    the same rows does; window functions in SQL (a running sum, then a running maximum of it) cost
    several times that on both databases. Rows come in chunks (streamed on PostgreSQL, `row_chunks`).
    """
    cumulative = peak = deepest = 0
    for chunk in row_chunks(qs.order_by("exit_time", "id").values_list(MoneyUnits("realized_pnl"))):
        for (units,) in chunk:
            cumulative += units
            if cumulative > peak:
                peak = cumulative
            elif peak - cumulative > deepest:
                deepest = peak - cumulative
    return deepest


# One row per New York date: its first instant and the next day's, in UTC, as the database
# compares them. The day's sum is a range read off `trade_status_exit_idx`, no sorting or grouping.
_DAYS = {
    "sqlite": (
        "json_each(%s) AS day",
        "json_extract(day.value, '$[0]')",
        "json_extract(day.value, '$[1]')",
        "json_extract(day.value, '$[2]')",
    ),
    "postgresql": (
        "unnest(%s::date[], %s::timestamptz[], %s::timestamptz[]) AS day(day, starts, ends)",
        "day.day",
        "day.starts",
        "day.ends",
    ),
}


def daily_pnl_units(*, book, period: Period) -> list[tuple[date, int]]:
    """Net P&L per New York exit date of `period`, for each date that had closed trades, in date order.

    The New York dates (and where each begins in UTC, daylight saving included) are worked out
    here, over the period's dates (an open-ended side: up to its first or last exit); the database
    sums each date's range of exit times.
    """
    # Day by day, each subquery's only exit-time bounds are its day's, so each reads just that range.
    qs = closed_trades(book=book, period=Period.all_time())
    first, last = period.start, period.end
    if first is None or last is None:
        # An open-ended period runs from its first to its last exit (two index reads).
        in_period = closed_trades(book=book, period=period).order_by("exit_time").values_list("exit_time", flat=True)
        first_exit, last_exit = in_period.first(), in_period.last()
        if first_exit is None:
            return []
        first = first or first_exit.astimezone(NEW_YORK).date()
        last = last or last_exit.astimezone(NEW_YORK).date()
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    starts = [datetime.combine(day, time.min, tzinfo=NEW_YORK).astimezone(UTC) for day in days]
    ends = starts[1:] + [datetime.combine(last + timedelta(days=1), time.min, tzinfo=NEW_YORK).astimezone(UTC)]

    connection = connections[qs.db]
    source, day_column, starts_column, ends_column = _DAYS[connection.vendor]
    day_sum = (
        qs.filter(
            exit_time__gte=RawSQL(starts_column, (), output_field=DateTimeField()),
            exit_time__lt=RawSQL(ends_column, (), output_field=DateTimeField()),
        )
        .annotate(one=Value(1))  # grouping by a constant: one sum over the rows, as a scalar subquery
        .values("one")
        .annotate(units=MoneyUnitsSum("realized_pnl"))
        .values_list("units")
    )
    inner, inner_params = day_sum.query.get_compiler(using=qs.db).as_sql()
    if connection.vendor == "sqlite":
        # Django keeps aware datetimes in SQLite as UTC text 'YYYY-MM-DD HH:MM:SS[.ffffff]'.
        text = [[day.isoformat(), s.strftime("%Y-%m-%d %H:%M:%S"), e.strftime("%Y-%m-%d %H:%M:%S")]
                for day, s, e in zip(days, starts, ends, strict=True)]  # fmt: skip
        source_params = [json.dumps(text)]
    else:
        source_params = [days, starts, ends]
    sql = f"SELECT {day_column}, ({inner}) FROM {source}"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*inner_params, *source_params])
        rows = cursor.fetchall()
    return [(_date(day), int(units)) for day, units in rows if units is not None]


def _date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


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


_GROUP_COLUMNS = ("symbol", "exit_reason", "trades", "wins", "losses", "net", "gross_profit", "commissions")


def _by_symbol_and_reason(qs: QuerySet[Trade]) -> list[tuple]:
    """Counts, sums and extremes per (symbol, exit reason) in one grouped pass.

    Everything that is a plain aggregate comes from these few rows: the totals, the exit-reason
    breakdown and the per-symbol table are all folded from them (`_Breakdown`). The rows are kept
    as the driver hands them over (`row_chunks`): every figure but the two extremes is an integer
    already.
    """
    grouped = (
        qs.values("symbol", "exit_reason")
        .annotate(
            trades=Count("*"),
            wins=Count("id", filter=WIN),
            losses=Count("id", filter=LOSS),
            net=MoneyUnitsSum("realized_pnl"),
            gross_profit=MoneyUnitsSum("realized_pnl", filter=WIN),
            commissions=MoneyUnitsSum("commission"),
            highest=Max("realized_pnl"),
            lowest=Min("realized_pnl"),
        )
        .values_list(*_GROUP_COLUMNS, "highest", "lowest")
    )
    return [row for chunk in row_chunks(grouped) for row in chunk]


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
            "largest_win": _units(highest) if highest is not None and highest > 0 else None,
            "largest_loss": _units(lowest) if lowest is not None and lowest < 0 else None,
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


def _units(value: Decimal | float | int) -> int:
    """A stored P&L as it came from the driver (Decimal; SQLite: a float or an int) in 1/10,000ths."""
    exact = value if isinstance(value, Decimal) else Decimal(repr(value))
    return int(exact.scaleb(4).to_integral_value(rounding=ROUND_HALF_EVEN))


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


def concurrently(*calls: Callable[[], Any], using: str) -> list[Any]:
    """The results of `calls`, independent read-only queries, each run on its own connection at once.

    Inside a transaction they run one after another on its connection instead: another connection
    would not see what the transaction has written.
    """
    workers = min(len(calls), os.cpu_count() or 1, MAX_QUERY_WORKERS)
    if workers < 2 or connections[using].in_atomic_block:
        return [call() for call in calls]

    def on_own_connection(call: Callable[[], Any]) -> Any:
        try:
            return call()
        finally:
            connections[using].close()  # this thread's connection: the thread ends with the call

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="metrics") as pool:
        return list(pool.map(on_own_connection, calls))


def _overlap_pays(period: Period, *, using: str) -> bool:
    """Whether the passes over `period` are long enough to be worth running side by side.

    SQLite answers each query on one core, and the passes over a long period are spent inside it
    (the GIL released), so they overlap well: at a million trades, 1.5 s one after another, 0.95 s
    side by side on two cores. PostgreSQL already spreads each large query over parallel workers,
    so overlapping them only makes them compete. A short period is a few queries of milliseconds,
    where opening connections would cost more than it saves.
    """
    if connections[using].vendor != "sqlite":
        return False
    return period.start is None or period.end is None or (period.end - period.start).days > OVERLAP_AFTER_DAYS


def metrics_compute(*, book, period: Period, equity: Decimal | None = None) -> dict:
    """All metrics of one book over `period` as one JSON-ready dict; money as strings of cents."""
    equity = Decimal(book.starting_equity if equity is None else equity)
    qs = closed_trades(book=book, period=period)
    # Four independent passes over the period's trades, longest first.
    passes = (
        lambda: _by_symbol_and_reason(qs),
        lambda: max_drawdown_units(qs),
        lambda: holding_times(qs),
        lambda: daily_pnl_units(book=book, period=period),
    )
    if _overlap_pays(period, using=qs.db):
        breakdown, drawdown_units, held, daily = concurrently(*passes, using=qs.db)
    else:
        breakdown, drawdown_units, held, daily = (run() for run in passes)
    folded = _Breakdown.fold(breakdown)
    t = folded.totals
    count, wins, losses = t["trades"], t["wins"], t["losses"]
    gross_profit = units_to_money(t["gross_profit"])
    gross_loss = units_to_money(t["gross_loss"])
    net = units_to_money(t["net"])
    drawdown = units_to_money(drawdown_units)
    sharpe = sharpe_ratio(daily, equity=equity)
    open_rows = open_trade_rows(book=book, period=period)
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

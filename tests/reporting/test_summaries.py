"""The closed-trade summaries statistics read: kept true as trades close, and what the trades give."""

from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from reporting.metrics import Period, metrics_compute
from reporting.models import ClosedTradeDay, ClosedTradeHolding, ClosedTradeMonth
from reporting.summaries import summaries_differences
from tests.factories import BookFactory, PipelineRunFactory, TradeFactory
from tests.trading.test_book import _execution, _trade
from trading.models import Trade
from trading.money import to_cents
from trading.services.book import fills_record
from trading.services.books import book_default
from trading.sessions import NEW_YORK

from .factories import closed_trade, ny

pytestmark = pytest.mark.django_db

FIRST_DAY = date(2025, 12, 1)  # trades fall over 100 days from here, across three month ends


def _units(amount: Decimal) -> int:
    return int(amount.scaleb(4))


def _expected(trades: list[Trade], period: Period) -> dict:
    """What the metrics must say, worked out in Python from the trades themselves."""
    chosen = sorted(
        (
            t
            for t in trades
            if (period.start is None or t.exit_time.astimezone(NEW_YORK).date() >= period.start)
            and (period.end is None or t.exit_time.astimezone(NEW_YORK).date() <= period.end)
        ),
        key=lambda t: (t.exit_time, t.pk),
    )
    cumulative = peak = deepest = 0
    per_symbol: dict[str, int] = {}
    per_reason: dict[str, int] = {}
    for t in chosen:
        units = _units(t.realized_pnl)
        cumulative += units
        peak = max(peak, cumulative)
        deepest = max(deepest, peak - cumulative)
        per_symbol[t.symbol] = per_symbol.get(t.symbol, 0) + units
        per_reason[t.exit_reason] = per_reason.get(t.exit_reason, 0) + units
    pnls = [_units(t.realized_pnl) for t in chosen]

    def median(values: list[int]) -> int | None:
        if not values:
            return None
        values = sorted(values)
        middle = (Decimal(values[(len(values) - 1) // 2]) + values[len(values) // 2]) / 2
        return int(middle.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))

    def held(group) -> list[int]:
        return [int((t.exit_time - t.entry_time).total_seconds()) for t in chosen if group(_units(t.realized_pnl))]

    everyone, winners, losers = held(lambda p: True), held(lambda p: p > 0), held(lambda p: p < 0)

    def cents(units: int) -> str:
        return str(to_cents(Decimal(units).scaleb(-4)))

    return {
        "trade_count": len(chosen),
        "net_pnl": cents(sum(pnls)),
        "gross_profit": cents(sum(p for p in pnls if p > 0)),
        "wins": sum(p > 0 for p in pnls),
        "losses": sum(p < 0 for p in pnls),
        "largest_win": cents(max(pnls)) if pnls and max(pnls) > 0 else None,
        "largest_loss": cents(min(pnls)) if pnls and min(pnls) < 0 else None,
        "max_drawdown": cents(deepest),
        "per_symbol": {s: cents(u) for s, u in per_symbol.items()},
        "per_reason": {r: cents(u) for r, u in per_reason.items()},
        "median_holding_time": median(everyone),
        "median_holding_time_winners": median(winners),
        "median_holding_time_losers": median(losers),
        "average_holding_time": (
            int((Decimal(sum(everyone)) / len(everyone)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
            if everyone
            else None
        ),
    }


def _got(metrics: dict) -> dict:
    keys = (
        "trade_count", "net_pnl", "gross_profit", "wins", "losses", "largest_win", "largest_loss", "max_drawdown",
        "median_holding_time", "median_holding_time_winners", "median_holding_time_losers", "average_holding_time",
    )  # fmt: skip
    return {
        **{key: metrics[key] for key in keys},
        "per_symbol": {row["symbol"]: row["net_pnl"] for row in metrics["per_symbol"]},
        "per_reason": {r: v["net_pnl"] for r, v in metrics["exit_reasons"].items() if v["trades"]},
    }


_trade_shape = st.tuples(
    st.integers(0, 99),  # day after FIRST_DAY
    st.integers(0, 23 * 60 + 59),  # minute of that New York day: exits at any hour, midnight included
    st.sampled_from(["AAA", "BBB", "CCC"]),
    st.sampled_from(["stop", "target", "manual", "eod"]),
    st.integers(-50_000_000, 50_000_000),  # P&L in 1/10,000 dollar
    st.sampled_from([0, 1, 59, 60, 61, 119, 120, 600, 3599, 3600, 20_000]),  # seconds held: minute edges
)
_day = st.integers(-10, 110).map(lambda n: FIRST_DAY + timedelta(days=n))


@hsettings(max_examples=30, deadline=None)
@given(
    shapes=st.lists(_trade_shape, max_size=25),
    bounds=st.tuples(st.one_of(st.none(), _day), st.one_of(st.none(), _day)),
)
def test_statistics_from_the_summaries_are_what_the_trades_give(shapes, bounds):
    """Any trades, any period (whole months, parts of months, open-ended): every figure the
    summaries feed matches the trades summed in Python, drawdown trade by trade included."""
    start, end = bounds
    if start is not None and end is not None and start > end:
        start, end = end, start
    book = BookFactory()
    run = PipelineRunFactory(book=book)
    trades = []
    for offset, minute, symbol, reason, pnl, held in shapes:
        exit_at = ny(*(FIRST_DAY + timedelta(days=offset)).timetuple()[:3]) + timedelta(minutes=minute)
        trades.append(
            closed_trade(
                run=run, book=book, symbol=symbol, reason=reason, pnl=str(Decimal(pnl).scaleb(-4)),
                entry=exit_at - timedelta(seconds=held), exit=exit_at,
            )
        )  # fmt: skip
    period = Period(start, end)
    assert _got(metrics_compute(book=book, period=period)) == _expected(trades, period)
    assert summaries_differences(book=book) == []


@given(start=st.one_of(st.none(), _day), length=st.one_of(st.none(), st.integers(0, 120)))
def test_whole_months_and_the_days_outside_them_cover_the_period_once(start, length):
    end = None if length is None else (start or FIRST_DAY) + timedelta(days=length)
    period = Period(start, end)
    months, rest = period.whole_months()
    lo, hi = FIRST_DAY - timedelta(days=400), FIRST_DAY + timedelta(days=400)
    covered: list[date] = []
    for part in rest:
        assert part.start is not None and part.end is not None and part.start <= part.end
        covered += [part.start + timedelta(days=n) for n in range((part.end - part.start).days + 1)]
    if months is not None:
        first, last = months
        day = first or lo
        while day <= (last or hi):
            assert day.day == 1 or first is None
            month_end = date(day.year + (day.month == 12), day.month % 12 + 1, 1) - timedelta(days=1)
            covered += [day + timedelta(days=n) for n in range((month_end - day).days + 1)]
            day = month_end + timedelta(days=1)
    inside = [d for d in covered if lo <= d <= hi]
    assert len(inside) == len(set(inside))  # nothing twice
    want = {
        lo + timedelta(days=n)
        for n in range((hi - lo).days + 1)
        if (start is None or lo + timedelta(days=n) >= start) and (end is None or lo + timedelta(days=n) <= end)
    }
    assert set(inside) == want


def test_trades_closed_by_their_fills_are_summed_as_they_close():
    """Through the fills (the one place trades close): a late execution whose exit comes before
    the day's last trade, and an exit fill on a trade closed already, leave true summaries."""
    for symbol in ("SUA", "SUB", "SUC"):
        _trade(symbol, 100)
    fills_record(executions=[_execution(s, "entry", 1, 100, "10.00", 1) for s in ("SUA", "SUB", "SUC")])
    fills_record(executions=[_execution("SUA", "stop", 1, 100, "9.00", 30)])
    fills_record(executions=[_execution("SUB", "target", 1, 100, "12.00", 90)])
    assert ClosedTradeDay.objects.get().trades == 2
    fills_record(executions=[_execution("SUC", "target", 1, 100, "11.00", 60)])  # reported late, exits earlier
    fills_record(executions=[_execution("SUA", "target", 1, 50, "12.00", 95)])  # both legs of SUA filled
    assert summaries_differences(book=book_default()) == []
    day = ClosedTradeDay.objects.get()
    assert day.trades == 3
    assert Decimal(day.net_units).scaleb(-4) == sum(t.realized_pnl for t in Trade.objects.all())
    m = metrics_compute(book=book_default(), period=Period.all_time())
    assert m["trade_count"] == 3


def test_summaries_are_per_book():
    other = BookFactory(name="other")
    closed_trade(pnl="100.00", entry=ny(2026, 11, 20, 10), exit=ny(2026, 11, 20, 11))
    closed_trade(pnl="-40.00", entry=ny(2026, 11, 20, 10), exit=ny(2026, 11, 20, 11), book=other, run=None)
    assert metrics_compute(book=book_default(), period=Period.all_time())["net_pnl"] == "100.00"
    assert metrics_compute(book=other, period=Period.all_time())["net_pnl"] == "-40.00"


def test_a_trade_saved_or_deleted_outside_the_fills_is_summed_again():
    trade = closed_trade(pnl="100.00", entry=ny(2026, 11, 20, 10), exit=ny(2026, 11, 20, 11))
    closed_trade(pnl="-30.00", entry=ny(2026, 11, 20, 10), exit=ny(2026, 11, 20, 12))
    trade.realized_pnl = Decimal("10.00")
    trade.save()
    assert metrics_compute(book=book_default(), period=Period.all_time())["net_pnl"] == "-20.00"
    trade.notes = "reviewed"
    trade.save(update_fields=["notes", "updated_at"])
    trade.exit_time = ny(2026, 12, 1, 11)  # a correction moving it to another day and month
    trade.save(update_fields=["exit_time", "updated_at"])
    assert summaries_differences(book=book_default()) == []
    assert metrics_compute(book=book_default(), period=Period.month(2026, 11))["net_pnl"] == "-30.00"
    trade.delete()
    assert metrics_compute(book=book_default(), period=Period.all_time())["net_pnl"] == "-30.00"
    assert summaries_differences(book=book_default()) == []


def test_rebuild_after_a_change_made_around_the_app(capsys):
    trade = closed_trade(pnl="100.00", entry=ny(2026, 11, 20, 10), exit=ny(2026, 11, 20, 11))
    with connection.cursor() as cursor:  # a hand edit in the database: no signal, no summary
        cursor.execute("UPDATE trading_trade SET realized_pnl = %s WHERE id = %s", ["55.5000", trade.pk])
    with pytest.raises(CommandError, match="1 book"):
        call_command("summaries_rebuild", "--check")
    assert "day 2026-11-20: stored" in capsys.readouterr().out
    call_command("summaries_rebuild")
    assert "1 closed trades summed" in capsys.readouterr().out
    call_command("summaries_rebuild", "--check")
    assert "summaries match the trades" in capsys.readouterr().out
    assert metrics_compute(book=book_default(), period=Period.all_time())["net_pnl"] == "55.50"


def test_the_migration_sums_trades_closed_before_it():
    from importlib import import_module

    from django.apps import apps

    closed_trade(pnl="12.3456", entry=ny(2026, 11, 20, 10), exit=ny(2026, 11, 20, 11), symbol="MIG")
    closed_trade(pnl="-2.0000", entry=ny(2026, 11, 3, 10), exit=ny(2026, 11, 3, 11), symbol="MIG", reason="stop")
    ClosedTradeMonth.objects.all().delete()
    ClosedTradeDay.objects.all().delete()
    ClosedTradeHolding.objects.all().delete()
    import_module("reporting.migrations.0005_closed_trade_summaries_backfill").backfill(apps, None)
    assert summaries_differences(book=book_default()) == []
    assert ClosedTradeMonth.objects.count() == 2 and ClosedTradeDay.objects.count() == 2
    assert ClosedTradeHolding.objects.count() == 1  # both held an hour in November


def test_dry_run_and_open_trades_are_not_summed():
    closed_trade(pnl="100.00", entry=ny(2026, 11, 20, 10), exit=ny(2026, 11, 20, 11), dry_run=True)
    TradeFactory(status=Trade.Status.OPEN, exit_time=None, realized_pnl=None, exit_price=None)
    assert ClosedTradeMonth.objects.count() == 0 and ClosedTradeDay.objects.count() == 0


def test_holding_times_stay_true_when_a_minute_disagrees_with_its_trades():
    """Holding times edited around the app: the medians are read from the trades, not guessed."""
    trades = [
        closed_trade(pnl="10.00", entry=ny(2026, 11, 20, 10), exit=ny(2026, 11, 20, 10, minutes))
        for minutes in (5, 6, 7)
    ]
    with connection.cursor() as cursor:  # the middle one now held 40 minutes, unknown to the summaries
        cursor.execute(
            "UPDATE trading_trade SET exit_time = %s WHERE id = %s", [ny(2026, 11, 20, 10, 40), trades[1].pk]
        )
    m = metrics_compute(book=book_default(), period=Period.month(2026, 11))
    assert m["median_holding_time"] == 7 * 60

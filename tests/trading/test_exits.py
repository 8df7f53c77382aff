"""Brackets worked on the SIM price path: stops and targets close trades with the right P&L."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from trading.models import Order, Position, Trade
from trading.services.books import book_named
from trading.services.marking import book_mark
from trading.services.pipeline import RunOptions, pipeline_run
from trading.sim.models import SimExecution, SimOrder, SimPosition

pytestmark = pytest.mark.django_db


def _expected_pnl(trade: Trade) -> Decimal:
    commissions = sum(f.commission for o in trade.orders.all() for f in o.fills.all())
    return (trade.exit_price - trade.entry_price) * trade.quantity - commissions


def _run_and_mark_until_exits(morning):
    pipeline_run(RunOptions(at=morning))
    # Work the path for a few sessions: with 2% stops and 4% targets most brackets resolve.
    result = None
    for day in (20, 23, 24, 25, 26):
        result = book_mark(
            at=datetime(2026, 11, day, 20, 59, tzinfo=UTC) if day != 26 else datetime(2026, 11, 27, 17, 59, tzinfo=UTC)
        )
    return result


def test_marking_closes_trades_at_their_stop_or_target_with_net_pnl(morning):
    _run_and_mark_until_exits(morning)
    closed = list(Trade.objects.filter(status=Trade.Status.CLOSED))
    assert closed, "expected at least one bracket to resolve over a week of price path"
    reasons = set()
    for trade in closed:
        reasons.add(trade.exit_reason)
        assert trade.exit_time > trade.entry_time
        assert trade.realized_pnl == _expected_pnl(trade)
        if trade.exit_reason == Trade.ExitReason.TARGET:
            assert trade.exit_price == trade.target_price
            assert trade.realized_pnl > 0
        else:
            assert trade.exit_reason == Trade.ExitReason.STOP
            assert trade.exit_price <= trade.stop_price
            assert trade.realized_pnl < 0
        legs = {o.leg: o.status for o in trade.orders.all()}
        exit_leg = "target" if trade.exit_reason == "target" else "stop"
        other = "stop" if exit_leg == "target" else "target"
        assert legs[exit_leg] == Order.Status.FILLED
        assert legs[other] == Order.Status.CANCELLED, "OCA sibling must be cancelled"
        assert Position.objects.get(symbol=trade.symbol).quantity == 0
        assert not SimPosition.objects.filter(symbol=trade.symbol).exclude(quantity=0).exists()


def test_position_realized_pnl_matches_the_trades(morning):
    _run_and_mark_until_exits(morning)
    for trade in Trade.objects.filter(status=Trade.Status.CLOSED):
        assert Position.objects.get(symbol=trade.symbol).realized_pnl == trade.realized_pnl


def test_stop_exit_pnl_by_hand(morning):
    """One trade, its stop forced just under the entry: the loss is computed to the cent."""
    run = pipeline_run(RunOptions(at=morning, top_n=1))
    trade = run.trades.get()
    stop_order = SimOrder.objects.get(order_ref=trade.orders.get(leg="stop").client_order_ref)
    target_order = SimOrder.objects.get(order_ref=trade.orders.get(leg="target").client_order_ref)
    stop_order.stop_price = trade.entry_price + Decimal("100")  # triggers on the next minute
    stop_order.save()
    target_order.limit_price = trade.entry_price * 10
    target_order.save()
    book_mark(at=morning + timedelta(minutes=5))
    trade.refresh_from_db()
    sell = SimExecution.objects.get(order=stop_order)
    buy = SimExecution.objects.get(order__order_ref=trade.orders.get(leg="entry").client_order_ref)
    assert trade.status == Trade.Status.CLOSED and trade.exit_reason == Trade.ExitReason.STOP
    assert trade.exit_price == sell.price
    assert trade.realized_pnl == (sell.price - buy.price) * trade.quantity - sell.commission - buy.commission


def test_marking_twice_records_each_fill_once(morning):
    _run_and_mark_until_exits(morning)
    fills_before = SimExecution.objects.count()
    book_mark(at=datetime(2026, 11, 27, 17, 59, tzinfo=UTC))
    assert SimExecution.objects.count() == fills_before
    from trading.models import Fill

    assert Fill.objects.count() == fills_before


def test_mark_refreshes_unrealized_pnl(morning):
    pipeline_run(RunOptions(at=morning, top_n=2))
    book_mark(at=morning + timedelta(minutes=1))
    for position in Position.objects.exclude(quantity=0):
        assert position.mark_price is not None and position.marked_at is not None
        assert position.unrealized_pnl == (position.mark_price - position.average_cost) * position.quantity


def test_mark_command(morning):
    pipeline_run(RunOptions(at=morning, top_n=1))
    out = StringIO()
    call_command("mark", "--at", "2026-11-20T15:59", stdout=out)
    assert "Marked at 2026-11-20 15:59" in out.getvalue()


def test_mark_works_dry_run_exits_locally(real_broker, settings, morning):
    settings.TRADE_LABS_ARMED = False
    pipeline_run(book=book_named("real"), options=RunOptions(at=morning))
    for day in (20, 23, 24, 25):
        book_mark(book=book_named("real"), at=datetime(2026, 11, day, 20, 59, tzinfo=UTC))
    closed = Trade.objects.filter(dry_run=True, status=Trade.Status.CLOSED)
    assert closed.exists(), "over four sessions some dry-run bracket should resolve"
    for trade in closed:
        assert trade.exit_reason in (Trade.ExitReason.STOP, Trade.ExitReason.TARGET)
        assert trade.realized_pnl == _expected_pnl(trade)
        assert all(f.exec_id.startswith("DRY-") for o in trade.orders.all() for f in o.fills.all())
    assert real_broker.placed == [] and not SimOrder.objects.exists()

"""Closing a trade by hand or at the end of the day: legs cancelled, one exit, P&L to the cent."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from tests.arming import arm_books
from trading.models import Order, Position, Trade
from trading.services.books import book_named
from trading.services.closing import CloseRefused, TradeNotOpen, trade_close
from trading.services.marking import book_mark
from trading.services.pipeline import RunOptions, pipeline_run
from trading.sim.models import SimExecution, SimOrder

pytestmark = pytest.mark.django_db


@pytest.fixture
def open_trade(morning):
    return pipeline_run(RunOptions(at=morning, top_n=1)).trades.get()


def test_manual_close_cancels_the_bracket_and_sells_once(open_trade, morning):
    trade = trade_close(trade_id=open_trade.pk, at=morning + timedelta(minutes=2))
    assert trade.status == Trade.Status.CLOSED and trade.exit_reason == Trade.ExitReason.MANUAL
    legs = {o.leg: o for o in trade.orders.all()}
    assert legs["stop"].status == legs["target"].status == Order.Status.CANCELLED
    assert legs["exit"].status == Order.Status.FILLED
    assert SimOrder.objects.filter(order_ref=legs["stop"].client_order_ref).get().status == "cancelled"
    sells = SimExecution.objects.filter(side="SELL", symbol=trade.symbol)
    assert sells.count() == 1
    buy = SimExecution.objects.get(side="BUY", symbol=trade.symbol)
    sell = sells.get()
    assert trade.realized_pnl == (sell.price - buy.price) * trade.quantity - buy.commission - sell.commission
    assert Position.objects.get(symbol=trade.symbol).quantity == 0


def test_closing_twice_is_refused_and_sells_nothing_more(open_trade, morning):
    trade_close(trade_id=open_trade.pk, at=morning + timedelta(minutes=2))
    with pytest.raises(TradeNotOpen):
        trade_close(trade_id=open_trade.pk, at=morning + timedelta(minutes=3))
    assert SimExecution.objects.filter(side="SELL").count() == 1


def _bracket_out_of_reach(trade):
    stop = SimOrder.objects.get(order_ref=trade.orders.get(leg="stop").client_order_ref)
    target = SimOrder.objects.get(order_ref=trade.orders.get(leg="target").client_order_ref)
    stop.stop_price, target.limit_price = stop.stop_price / 10, target.limit_price * 10
    stop.save()
    target.save()


def test_flatten_at_close_closes_open_trades_as_end_of_day(open_trade, settings, close_of_day):
    settings.TRADE_LABS_RISK = {**settings.TRADE_LABS_RISK, "flatten_minutes_before_close": 5}
    _bracket_out_of_reach(open_trade)
    result = book_mark(at=close_of_day)
    open_trade.refresh_from_db()
    assert open_trade.status == Trade.Status.CLOSED and open_trade.exit_reason == Trade.ExitReason.END_OF_DAY
    assert open_trade.pk in result.closed_trades


def test_close_trade_command(open_trade):
    out = StringIO()
    call_command("close_trade", str(open_trade.pk), "--at", "2026-11-20T10:35", stdout=out)
    assert "closed" in out.getvalue()
    with pytest.raises(CommandError, match="not open"):
        call_command("close_trade", str(open_trade.pk), stdout=StringIO())
    with pytest.raises(CommandError, match="no trade"):
        call_command("close_trade", "999999", stdout=StringIO())


def test_admin_action_closes_and_logs(staff_client, open_trade):
    from django.contrib.admin.models import LogEntry

    _bracket_out_of_reach(open_trade)
    response = staff_client.post(
        reverse("admin:trading_trade_changelist"),
        {"action": "close_at_market", "index": "0", "_selected_action": [open_trade.pk]},
        follow=True,
    )
    assert response.status_code == 200
    open_trade.refresh_from_db()
    assert open_trade.status == Trade.Status.CLOSED and open_trade.exit_reason == Trade.ExitReason.MANUAL
    assert "Closed at market" in LogEntry.objects.get(object_id=str(open_trade.pk)).get_change_message()


def test_dry_run_trades_close_locally(real_broker, settings, morning):
    settings.TRADE_LABS_ARMED = False
    trade = pipeline_run(book=book_named("real"), options=RunOptions(at=morning, top_n=1)).trades.get()
    closed = trade_close(trade_id=trade.pk, at=morning + timedelta(minutes=1))
    assert closed.status == Trade.Status.CLOSED and closed.dry_run
    assert real_broker.placed == [] and not SimOrder.objects.exists()


@pytest.fixture
def armed_real_trade(real_broker, settings, morning):
    """An open trade sent (armed) through the 'real' alias, while the default backend is SIM."""
    arm_books(settings, "real")
    trade = pipeline_run(book=book_named("real"), options=RunOptions(at=morning, top_n=1)).trades.get()
    assert trade.status == Trade.Status.OPEN and not trade.dry_run
    assert (trade.broker_alias, trade.account_id) == ("real", "DU111")
    return trade


def _sim_orders(account_id):
    return SimOrder.objects.filter(account__account_id=account_id)


def test_close_trade_closes_through_the_alias_that_opened_the_trade(armed_real_trade):
    out = StringIO()
    call_command("close_trade", str(armed_real_trade.pk), "--at", "2026-11-20T10:35", stdout=out)
    assert "closed" in out.getvalue()
    assert not _sim_orders("SIM-PAPER-1").exists()
    assert _sim_orders("DU111").filter(order_ref__startswith="TL-close-").count() == 1


def test_the_admin_action_closes_through_the_alias_that_opened_the_trade(staff_client, armed_real_trade):
    _bracket_out_of_reach(armed_real_trade)
    staff_client.post(
        reverse("admin:trading_trade_changelist"),
        {"action": "close_at_market", "index": "0", "_selected_action": [armed_real_trade.pk]},
    )
    armed_real_trade.refresh_from_db()
    assert armed_real_trade.status == Trade.Status.CLOSED
    assert not _sim_orders("SIM-PAPER-1").exists()


def test_a_refused_close_keeps_the_stop_and_target_working_and_fails_the_command(armed_real_trade, settings):
    settings.TRADE_LABS_ARMED = False
    with pytest.raises(CommandError, match="not closed: .*ARMED.*stop and target stay working"):
        call_command("close_trade", str(armed_real_trade.pk), "--at", "2026-11-20T10:35", stdout=StringIO())
    legs = armed_real_trade.orders.filter(leg__in=["stop", "target"])
    assert {leg.status for leg in legs} == {Order.Status.WORKING}
    assert {o.status for o in _sim_orders("DU111").filter(order_ref__in=[leg.client_order_ref for leg in legs])} == {
        "working"
    }
    assert not armed_real_trade.orders.filter(leg="exit").exists()


def test_a_close_without_a_tradable_quote_changes_nothing(open_trade, morning):
    # A symbol outside the SIM market's universe has no quote, as after bars that lack it.
    Trade.objects.filter(pk=open_trade.pk).update(symbol="NOSUCH")
    with pytest.raises(CloseRefused, match="no tradable quote for NOSUCH"):
        trade_close(trade_id=open_trade.pk, at=morning + timedelta(minutes=2))
    assert {leg.status for leg in open_trade.orders.filter(leg__in=["stop", "target"])} == {Order.Status.WORKING}
    assert SimOrder.objects.filter(status="working").count() == 2


def test_close_trade_json(open_trade):
    import json

    out = StringIO()
    call_command("close_trade", str(open_trade.pk), "--at", "2026-11-20T10:35", "--json", stdout=out)
    closed = json.loads(out.getvalue())
    assert closed["trade_id"] == open_trade.pk and closed["status"] == "closed" and closed["broker_alias"] == "sim"
    assert closed["exit_reason"] == "manual" and closed["realized_pnl_usd"] is not None


@pytest.mark.parametrize("change", ["removed", "other-backend"])
def test_a_trade_whose_broker_alias_is_gone_or_changed_is_refused_in_one_line(open_trade, settings, change):
    if change == "removed":
        Trade.objects.filter(pk=open_trade.pk).update(broker_alias="gone")
        type(open_trade.run).objects.filter(pk=open_trade.run_id).update(broker_alias="gone")
        expected = "'gone' .* no longer configured"
    else:
        settings.BROKERS = {**settings.BROKERS, "sim": settings.BROKERS["ib"]}
        expected = "'sim' .* is now a 'ib' backend"
    with pytest.raises(
        CommandError, match=f"not closed: trade {open_trade.pk}: recorded through broker alias {expected}"
    ):
        call_command("close_trade", str(open_trade.pk), stdout=StringIO())
    run = open_trade.run
    with pytest.raises(CommandError, match="recorded through broker alias"):
        call_command("run_pipeline", "--retry", str(run.run_id), stdout=StringIO())
    assert {leg.status for leg in open_trade.orders.filter(leg__in=["stop", "target"])} == {Order.Status.WORKING}

"""Closing an IB trade: always through IB (whatever the default backend), and a close that
cannot go through leaves the trade's stop and target working at the gateway, untouched."""

from datetime import UTC, datetime

import pytest

from tests.arming import arm_books
from trading.models import Order, Trade
from trading.services.books import book_named
from trading.services.closing import CloseRefused, trade_close
from trading.services.pipeline import RunOptions, pipeline_run
from trading.sim.models import SimOrder

pytestmark = [pytest.mark.ib, pytest.mark.django_db]

SESSION = datetime(2026, 11, 20, 15, 45, tzinfo=UTC)  # Friday 10:45 New York
SATURDAY = datetime(2026, 11, 21, 15, 45, tzinfo=UTC)


@pytest.fixture
def ib_trade(ib_settings, gateway):
    arm_books(ib_settings, "ib")
    ib_settings.TRADE_LABS_RISK = {**ib_settings.TRADE_LABS_RISK, "top_n": 1}
    run = pipeline_run(book=book_named("ib"), options=RunOptions())
    trade = run.trades.get()
    assert trade.status == Trade.Status.OPEN and not trade.dry_run, run.error
    return trade


def _order_messages(gateway, since: int) -> list[str]:
    return [name for name, _ in gateway.state.requests[since:] if name in ("placeOrder", "cancelOrder")]


def _legs_still_working(trade, gateway) -> None:
    for leg in trade.orders.filter(leg__in=["stop", "target"]):
        assert leg.status == Order.Status.WORKING, leg
        held = next(o for o in gateway.state.orders if o.order_ref == leg.client_order_ref)
        assert held.status not in ("Cancelled", "ApiCancelled"), held
    assert not trade.orders.filter(leg="exit").exists()
    trade.refresh_from_db()
    assert trade.status == Trade.Status.OPEN


def test_an_ib_trade_closes_through_ib_when_the_default_backend_is_sim(ib_trade, gateway, settings):
    assert settings.BROKERS["default"]["BACKEND"].endswith("SimBroker")
    before = len(gateway.state.requests)
    closed = trade_close(trade_id=ib_trade.pk, now=SESSION)
    assert closed.status == Trade.Status.CLOSED and closed.exit_reason == Trade.ExitReason.MANUAL
    assert sorted(_order_messages(gateway, before)) == ["cancelOrder", "cancelOrder", "placeOrder"]
    assert gateway.state.positions[ib_trade.symbol][0] == 0
    assert not SimOrder.objects.exists()


def test_unarmed_close_sends_nothing_and_keeps_the_protection(ib_trade, gateway, settings):
    settings.TRADE_LABS_ARMED = False
    before = len(gateway.state.requests)
    with pytest.raises(CloseRefused, match="ARMED is not 1.*stop and target stay working"):
        trade_close(trade_id=ib_trade.pk, now=SESSION)
    assert _order_messages(gateway, before) == []
    _legs_still_working(ib_trade, gateway)


def test_a_close_while_the_market_is_closed_keeps_the_protection(ib_trade, gateway):
    before = len(gateway.state.requests)
    with pytest.raises(CloseRefused, match="market is closed"):
        trade_close(trade_id=ib_trade.pk, now=SATURDAY)
    assert _order_messages(gateway, before) == []
    _legs_still_working(ib_trade, gateway)


def test_a_close_without_a_tradable_quote_keeps_the_protection(ib_trade, gateway):
    gateway.inject_error("reqMktData", 200, "No security definition has been found", symbol=ib_trade.symbol)
    before = len(gateway.state.requests)
    with pytest.raises(CloseRefused, match=f"no tradable quote for {ib_trade.symbol}"):
        trade_close(trade_id=ib_trade.pk, now=SESSION)
    assert _order_messages(gateway, before) == []
    _legs_still_working(ib_trade, gateway)


def test_a_close_on_another_account_than_the_trade_s_is_refused(ib_trade, gateway):
    gateway.state.account = "DU7777777"
    before = len(gateway.state.requests)
    with pytest.raises(CloseRefused, match="held in account DU1234567"):
        trade_close(trade_id=ib_trade.pk, now=SESSION)
    assert _order_messages(gateway, before) == []

"""The SIM broker's engine: a bracket is accepted whole or rejected whole, fills once, and a
bracket it already holds is returned as it stands."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from trading.brokers.base import BracketRequest, OrderRequest, Quote
from trading.sim.engine import sim_account_get, sim_advance, sim_place_bracket
from trading.sim.models import SimExecution, SimOrder, SimPosition

pytestmark = pytest.mark.django_db

AT = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)


class OneQuoteMarket:
    """A market that quotes every symbol the same way (the engine only asks for quotes here)."""

    def __init__(self, bid, ask):
        self.bid, self.ask = bid, ask

    def quote(self, symbol, at):
        return Quote(symbol=symbol, bid=self.bid, ask=self.ask, last=self.ask, time=at)

    def __contains__(self, symbol):
        return False  # nothing to work on advance: no minute paths here


def _bracket(symbol="ABC", quantity=10):
    def leg(name, side, order_type, **prices):
        return OrderRequest(f"TL-test-{symbol}-{name}", name, symbol, side, order_type, quantity, **prices)

    return BracketRequest(
        entry=leg("entry", "BUY", "MKT"),
        stop=leg("stop", "SELL", "STP", stop_price=Decimal("9.50")),
        target=leg("target", "SELL", "LMT", limit_price=Decimal("11.00")),
    )


def _place(market, bracket=None):
    account = sim_account_get(account_id="SIM-TEST", starting_cash=Decimal("100000"))
    return sim_place_bracket(
        account=account, bracket=bracket or _bracket(), at=AT, market=market, slippage_bps=Decimal(0)
    )


def test_a_bracket_fills_its_entry_once_and_leaves_both_exits_working():
    orders, executions = _place(OneQuoteMarket(Decimal("9.99"), Decimal("10.00")))

    entry, stop, target = (SimOrder.objects.get(pk=order.pk) for order in orders)
    assert (entry.status, entry.filled_quantity) == (SimOrder.Status.FILLED, 10)
    assert stop.status == target.status == SimOrder.Status.WORKING
    assert stop.parent_id == target.parent_id == entry.pk and stop.oca_group == target.oca_group != ""
    assert [e.exec_id for e in executions] == list(SimExecution.objects.values_list("exec_id", flat=True))
    assert (executions[0].quantity, executions[0].price) == (10, Decimal("10.00"))
    account = sim_account_get(account_id="SIM-TEST", starting_cash=Decimal(0))
    assert account.cash == Decimal("100000") - Decimal("100.00") - executions[0].commission
    assert account.clock == AT
    assert SimPosition.objects.get(symbol="ABC").quantity == 10


def test_the_same_bracket_again_is_returned_as_it_stands_not_placed_twice():
    market = OneQuoteMarket(Decimal("9.99"), Decimal("10.00"))
    first_orders, first_executions = _place(market)
    again_orders, again_executions = _place(market)

    assert [o.pk for o in again_orders] == [o.pk for o in first_orders]
    assert [e.exec_id for e in again_executions] == [e.exec_id for e in first_executions]
    assert again_executions[0].order.order_ref == "TL-test-ABC-entry"
    assert SimOrder.objects.count() == 3 and SimExecution.objects.count() == 1


@pytest.mark.parametrize(
    ("bid", "ask"),
    [(None, Decimal("10.00")), (Decimal("10.01"), Decimal("10.00")), (Decimal("9.99"), Decimal(0))],
    ids=["missing bid", "crossed", "zero ask"],
)
def test_a_bracket_without_a_tradable_quote_is_rejected_whole(bid, ask):
    orders, executions = _place(OneQuoteMarket(bid, ask))

    entry, stop, target = (SimOrder.objects.get(pk=order.pk) for order in orders)
    assert entry.status == SimOrder.Status.REJECTED and "no tradable quote for ABC" in entry.reason
    assert stop.status == target.status == SimOrder.Status.CANCELLED
    assert stop.reason == entry.reason and stop.parent_id == entry.pk
    assert executions == [] and not SimExecution.objects.exists() and not SimPosition.objects.exists()
    assert sim_account_get(account_id="SIM-TEST", starting_cash=Decimal(0)).cash == Decimal("100000")


def test_advancing_with_nothing_to_work_writes_only_the_clock():
    account = sim_account_get(account_id="SIM-TEST", starting_cash=Decimal("100000"))
    sim_advance(account=account, at=AT, market=OneQuoteMarket(None, None), slippage_bps=Decimal(0))
    account.refresh_from_db()
    assert account.clock == AT and account.cash == Decimal("100000")

"""The SIM broker's engine: a bracket is accepted whole or rejected whole, fills once, and a
bracket it already holds is returned as it stands."""

from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest
from django.db import IntegrityError
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import bracket_request
from trading.brokers.base import Quote
from trading.sim.engine import sim_account_get, sim_advance, sim_place_bracket, sim_place_brackets
from trading.sim.models import SimAccount, SimExecution, SimOrder, SimPosition

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


def _bracket(symbol="ABC", quantity=10, key=""):
    return bracket_request(symbol, quantity, ref=f"TL-test-{symbol}{key}", stop="9.50", target="11.00")


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


class QuotesBySymbol:
    """A market with one quote per symbol; a symbol it does not know has no tradable quote."""

    def __init__(self, asks: dict[str, Decimal]):
        self.asks = asks

    def quote(self, symbol, at):
        ask = self.asks.get(symbol)
        bid = None if ask is None else ask - Decimal("0.01")
        return Quote(symbol=symbol, bid=bid, ask=ask, last=ask, time=at)

    def __contains__(self, symbol):
        return False


def _book_of(account) -> dict:
    """What an account ended with, in terms that do not depend on row ids."""
    account.refresh_from_db()
    orders = SimOrder.objects.filter(account=account).select_related("parent").order_by("order_ref")
    executions = SimExecution.objects.filter(account=account).select_related("order").order_by("order__order_ref")
    return {
        "cash": account.cash,
        "clock": account.clock,
        "orders": [
            (o.order_ref, o.status, o.filled_quantity, o.reason, o.oca_group, o.parent and o.parent.order_ref)
            for o in orders
        ],
        "executions": [(e.order.order_ref, e.quantity, e.price, e.commission, e.executed_at) for e in executions],
        "positions": sorted(
            SimPosition.objects.filter(account=account).values_list("symbol", "quantity", "average_cost")
        ),
    }


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["ABC", "DEF", "GHI", "NOQ"]), st.integers(1, 400)),
        min_size=1,
        max_size=6,
    ),
    st.booleans(),
)
def test_brackets_placed_together_end_as_they_would_one_by_one(wanted, first_already_held):
    # NOQ has no quote: its brackets are rejected whole; a symbol twice builds one position.
    market = QuotesBySymbol({"ABC": Decimal("10.00"), "DEF": Decimal("25.37"), "GHI": Decimal("3.1416")})
    brackets = [_bracket(symbol, quantity, key=str(index)) for index, (symbol, quantity) in enumerate(wanted)]
    books = []
    for together in (True, False):
        account = SimAccount.objects.create(account_id=f"SIM-{uuid4().hex[:12]}", cash=Decimal("100000"))
        options = {"account": account, "at": AT, "market": market, "slippage_bps": Decimal(5)}
        if first_already_held:
            sim_place_bracket(bracket=brackets[0], **options)
        if together:
            placed = sim_place_brackets(brackets=brackets, **options)
        else:
            placed = [sim_place_bracket(bracket=bracket, **options) for bracket in brackets]
        assert [[o.order_ref for o in orders] for orders, _ in placed] == [
            [leg.order_ref for leg in bracket.legs] for bracket in brackets
        ]
        books.append(_book_of(account))
    assert books[0] == books[1]


def test_a_bracket_partly_known_to_the_broker_is_refused_with_the_rest_of_its_batch():
    account = sim_account_get(account_id="SIM-TEST", starting_cash=Decimal("100000"))
    market = OneQuoteMarket(Decimal("9.99"), Decimal("10.00"))
    half = _bracket("DEF")
    SimOrder.objects.create(
        account=account, order_ref=half.stop.order_ref, symbol="DEF", side="SELL", quantity=10, active_from=AT
    )

    with pytest.raises(IntegrityError, match="partly known"):
        sim_place_brackets(account=account, brackets=[_bracket(), half], at=AT, market=market, slippage_bps=Decimal(0))
    assert SimOrder.objects.count() == 1 and not SimExecution.objects.exists()


class GapMarket:
    """ABC trades flat at 10.00 on Thursday 2026-11-19; on Friday it moves to `friday` from minute
    `moves_at` (0: it opens there) and stays there."""

    def __init__(self, friday: float, moves_at: int = 0):
        self.friday, self.moves_at = friday, moves_at

    def __contains__(self, symbol):
        return symbol == "ABC"

    def day_path(self, symbol, day):
        import numpy as np

        from trading import sessions
        from trading.sim.market import DayPath

        current = sessions.session(day)
        points = current.minutes + 1
        mid = np.full(points, 10.0)
        if day.day == 20:
            mid[self.moves_at :] = self.friday
        return DayPath(symbol, current, mid, np.full(points, 1.0), np.arange(points) * 100.0, 10.0,
                       np.zeros(points, dtype=int))  # fmt: skip

    def quote(self, symbol, at):
        path = self.day_path(symbol, at.date())
        bid, ask = path.bid_ask(path.index_at(at))
        return Quote(symbol=symbol, bid=bid, ask=ask, last=ask, time=at)


@pytest.mark.parametrize(
    "friday, leg, fills_at",
    [
        (11.50, "LMT", Decimal("11.50")),  # the target gapped through: the better opening bid, not 11.00
        (9.00, "STP", Decimal("8.99")),  # the stop gapped through: the worse opening bid, not 9.50
    ],
)
def test_an_exit_the_market_gaps_through_fills_at_the_opening_price(friday, leg, fills_at):
    market = GapMarket(friday)
    account = sim_account_get(account_id="SIM-GAP", starting_cash=Decimal("100000"))
    thursday = datetime(2026, 11, 19, 15, 30, tzinfo=UTC)
    sim_place_bracket(account=account, bracket=_bracket(), at=thursday, market=market, slippage_bps=Decimal(0))
    sim_advance(account=account, at=datetime(2026, 11, 20, 16, 0, tzinfo=UTC), market=market, slippage_bps=Decimal(0))
    filled = SimOrder.objects.get(account=account, status=SimOrder.Status.FILLED, order_type=leg)
    execution = SimExecution.objects.get(order=filled)
    assert execution.price == fills_at
    assert execution.executed_at == datetime(2026, 11, 20, 14, 30, tzinfo=UTC)  # Friday's open


def test_a_target_reached_during_the_session_fills_at_its_limit():
    """Only a gap fills a limit at a better price: during the session the price passes through it."""
    market = GapMarket(11.50, moves_at=60)
    account = sim_account_get(account_id="SIM-GAP", starting_cash=Decimal("100000"))
    thursday = datetime(2026, 11, 19, 15, 30, tzinfo=UTC)
    sim_place_bracket(account=account, bracket=_bracket(), at=thursday, market=market, slippage_bps=Decimal(0))
    sim_advance(account=account, at=datetime(2026, 11, 20, 18, 0, tzinfo=UTC), market=market, slippage_bps=Decimal(0))
    execution = SimExecution.objects.get(order__status=SimOrder.Status.FILLED, order__order_type="LMT")
    assert execution.price == Decimal("11.00")
    assert execution.executed_at == datetime(2026, 11, 20, 15, 30, tzinfo=UTC)

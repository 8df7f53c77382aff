"""Recording fills: each execution counts once, and a broker's report recorded in one batch
leaves exactly the book that recording it one execution at a time would."""

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from reporting.summaries import summaries_differences
from tests.factories import PipelineRunFactory, bracket_request
from trading.brokers.base import BracketRequest, Execution, OrderState
from trading.models import Fill, Order, OrderEvent, Position, Trade
from trading.services.book import fill_record, fills_record, order_apply_states, trade_record_intent

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
_symbols = itertools.count()


def _bracket(symbol: str, quantity: int) -> BracketRequest:
    return bracket_request(symbol, quantity, ref=f"TL-book-{symbol}", stop="9.00", target="12.00")


def _trade(symbol: str, quantity: int) -> Trade:
    return trade_record_intent(
        run=PipelineRunFactory(), candidate=None, bracket=_bracket(symbol, quantity), backend="sim", dry_run=False
    )


def _execution(symbol: str, leg: str, n: int, quantity: int, price: str, minute: int, exec_id: str = "") -> Execution:
    return Execution(
        exec_id=exec_id or f"E-{symbol}-{leg}-{n}",
        order_ref=f"TL-book-{symbol}-{leg}",
        broker_order_id="",
        symbol=symbol,
        side="BUY" if leg == "entry" else "SELL",
        quantity=quantity,
        price=Decimal(price),
        commission=Decimal("0.35"),
        time=START + timedelta(minutes=minute),
    )


def _book(symbol: str) -> dict:
    """Everything the fills moved, without ids or the symbol, so two symbols can be compared."""
    trade = Trade.objects.get(symbol=symbol)
    position = Position.objects.filter(symbol=symbol).first()
    return {
        "trade": [
            getattr(trade, f)
            for f in ("status", "entry_price", "entry_time", "exit_price", "exit_time", "exit_reason", "commission")
        ]
        + [trade.realized_pnl],
        "orders": list(
            trade.orders.order_by("leg").values_list("leg", "status", "filled_quantity", "average_fill_price")
        ),
        "fills": sorted(
            (f.order.leg, f.quantity, f.price, f.filled_at) for f in Fill.objects.filter(order__trade=trade)
        ),
        "events": sorted(
            (e.order.leg, e.status, e.message.replace(symbol, "S"))
            for e in OrderEvent.objects.filter(order__trade=trade)
        ),
        "position": position and (position.quantity, position.average_cost, position.realized_pnl),
    }


def test_a_replayed_report_changes_nothing_after_the_first_time():
    _trade("RPL", 100)
    report = [_execution("RPL", "entry", 1, 60, "10.00", 1), _execution("RPL", "entry", 2, 40, "10.10", 2)]
    assert len(fills_record(executions=report)) == 2
    assert fills_record(executions=report) == [] and fill_record(execution=report[0]) is None
    assert Fill.objects.count() == 2
    entry = Order.objects.get(client_order_ref="TL-book-RPL-entry")
    assert (entry.status, entry.filled_quantity, entry.average_fill_price) == ("filled", 100, Decimal("10.0400"))
    assert Position.objects.get(symbol="RPL").quantity == 100


def test_the_same_exec_id_twice_in_one_report_counts_once():
    _trade("DUP", 100)
    twice = _execution("DUP", "entry", 1, 50, "10.00", 1)
    assert len(fills_record(executions=[twice, twice])) == 1
    assert Order.objects.get(client_order_ref="TL-book-DUP-entry").filled_quantity == 50


def test_a_fill_beyond_the_order_is_cut_to_what_was_left():
    _trade("BIG", 100)
    fills = fills_record(
        executions=[_execution("BIG", "entry", 1, 80, "10.00", 1), _execution("BIG", "entry", 2, 80, "10.00", 2)]
    )
    assert [f.quantity for f in fills] == [80, 20]
    assert fills_record(executions=[_execution("BIG", "entry", 3, 5, "10.00", 3)]) == []


def test_exits_close_the_trade_at_the_fill_that_completes_them():
    _trade("CLS", 100)
    fills_record(
        executions=[
            _execution("CLS", "entry", 1, 100, "10.00", 1),
            _execution("CLS", "stop", 1, 30, "9.00", 5),
            _execution("CLS", "stop", 2, 70, "8.90", 6),
        ]
    )
    trade = Trade.objects.get(symbol="CLS")
    assert trade.status == Trade.Status.CLOSED and trade.exit_reason == Trade.ExitReason.STOP
    assert trade.exit_time == START + timedelta(minutes=6)
    assert trade.exit_price == Decimal("8.9300")
    assert trade.realized_pnl == Decimal("-107.00") - trade.commission
    assert Position.objects.get(symbol="CLS").quantity == 0


_price = st.decimals(min_value=Decimal("5"), max_value=Decimal("15"), places=2)


@hsettings(max_examples=25, deadline=None)
@given(
    quantity=st.integers(min_value=1, max_value=200),
    entries=st.lists(st.tuples(st.integers(1, 120), _price), min_size=1, max_size=4),
    exits=st.lists(st.tuples(st.sampled_from(["stop", "target"]), st.integers(1, 120), _price), max_size=4),
    replay=st.booleans(),
)
def test_one_batch_leaves_the_book_that_one_by_one_leaves(quantity, entries, exits, replay):
    n = next(_symbols)
    one, batch = f"ONE{n}", f"BAT{n}"

    def report(symbol):
        executions = [_execution(symbol, "entry", i, q, str(p), i) for i, (q, p) in enumerate(entries)]
        executions += [_execution(symbol, leg, i, q, str(p), 200 + i) for i, (leg, q, p) in enumerate(exits)]
        return executions + executions[:1] if replay else executions

    _trade(one, quantity)
    _trade(batch, quantity)
    one_by_one = [fill_record(execution=e) for e in report(one)]
    together = fills_record(executions=report(batch))

    assert len(together) == len([f for f in one_by_one if f is not None])
    assert _book(batch) == _book(one)
    # Exits beyond the entry, both legs filled, fills out of time order: the statistics' summaries
    # still say what the trades say.
    assert summaries_differences(book=Trade.objects.get(symbol=one).book) == []


def _state(symbol: str, leg: str, status: str, broker_id: str, message: str = "") -> OrderState:
    return OrderState(
        order_ref=f"TL-book-{symbol}-{leg}",
        broker_order_id=broker_id,
        symbol=symbol,
        side="BUY" if leg == "entry" else "SELL",
        order_type="MKT",
        quantity=100,
        status=status,
        filled_quantity=0,
        limit_price=None,
        stop_price=None,
        message=message,
    )


@pytest.mark.parametrize("entry_first", [True, False])
def test_an_entry_rejected_with_its_children_reported_working_ends_the_trade(entry_first):
    trade = _trade("REJ", 100)
    children = [_state("REJ", "stop", "working", "2"), _state("REJ", "target", "working", "3")]
    entry = _state("REJ", "entry", "rejected", "1", "no shares to borrow")
    order_apply_states(states=[entry, *children] if entry_first else [*children, entry])

    trade.refresh_from_db()
    assert trade.status == Trade.Status.REJECTED and trade.status_reason == "no shares to borrow"
    legs = dict(trade.orders.values_list("leg", "status"))
    assert legs == {"entry": "rejected", "stop": "cancelled", "target": "cancelled"}
    assert set(trade.orders.values_list("broker_order_id", flat=True)) == {"1", "2", "3"}
    assert OrderEvent.objects.filter(order__trade=trade, status="cancelled").count() == 2


def test_a_late_submitted_never_undoes_a_fill():
    _trade("LATE", 100)
    fills_record(executions=[_execution("LATE", "entry", 1, 100, "10.00", 1)])
    order_apply_states(states=[_state("LATE", "entry", "submitted", "9")])
    entry = Order.objects.get(client_order_ref="TL-book-LATE-entry")
    assert entry.status == Order.Status.FILLED and entry.broker_order_id == "9"

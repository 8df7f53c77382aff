"""Reconciliation against IB through the fake gateway: the same discrepancy kinds as on SIM."""

from decimal import Decimal

import pytest

from reconciliation.models import Discrepancy
from reconciliation.services import reconciliation_run
from tests.arming import arm_books
from tests.ib.test_ib_backend import _run, gateway  # noqa: F401 - fixtures
from trading.models import Order, Trade
from trading.services.books import book_named

pytestmark = [pytest.mark.ib, pytest.mark.django_db]
Kind = Discrepancy.Kind


@pytest.fixture
def traded(ib_settings, gateway):  # noqa: F811
    arm_books(ib_settings, "ib")
    run = _run()
    assert run.status == "succeeded", run.error
    return list(run.trades.order_by("symbol"))


def _found(alias="ib"):
    run = reconciliation_run(book=book_named(alias))
    return run, set(run.discrepancies.values_list("kind", "symbol"))


def test_clean_after_a_run(traded):
    run, found = _found()
    assert run.status == "clean" and found == set()
    assert {row["symbol"] for row in run.positions} == {t.symbol for t in traded}


def test_a_position_closed_at_ib_outside_trade_labs(traded, gateway):  # noqa: F811
    gateway.state.positions[traded[0].symbol] = [Decimal(0), Decimal(0)]
    _run_, found = _found()
    assert (Kind.MISSING_AT_BROKER, traded[0].symbol) in found


def test_quantity_mismatch_and_cost_drift(traded, gateway):  # noqa: F811
    first, second = traded[0], traded[1]
    gateway.state.positions[first.symbol][0] += 5
    gateway.state.positions[second.symbol][1] *= Decimal("1.05")
    _run_, found = _found()
    assert {(Kind.QUANTITY_MISMATCH, first.symbol), (Kind.AVG_COST_DRIFT, second.symbol)} <= found


def test_an_order_placed_outside_trade_labs(traded, gateway):  # noqa: F811
    gateway.seed_order(
        symbol="META", action="BUY", quantity=Decimal(3), order_type="LMT", limit_price=Decimal("1.00"), order_ref=""
    )
    run, found = _found()
    assert (Kind.ORDER_UNKNOWN_TO_US, "META") in found


def test_our_open_order_that_ib_does_not_know(traded, gateway):  # noqa: F811
    stop_ref = Trade.objects.get(pk=traded[0].pk).orders.get(leg="stop").client_order_ref
    for order in gateway.orders_with_ref(stop_ref):
        order.status = "Cancelled"
    _run_, found = _found()
    assert (Kind.ORDER_MISSING_AT_BROKER, traded[0].symbol) in found


def test_an_unreachable_gateway_is_an_error_not_a_discrepancy(ib_settings, gateway):  # noqa: F811
    ib_settings.BROKERS["ib"]["OPTIONS"]["port"] = 1
    run, found = _found()
    assert run.status == "error" and "broker unreachable" in run.error and found == set()


def test_an_ib_order_working_that_the_book_calls_cancelled(traded):
    stop = traded[0].orders.get(leg="stop")
    Order.objects.filter(pk=stop.pk).update(status=Order.Status.CANCELLED)
    run, found = _found()
    assert (Kind.ORDER_WORKING_AT_BROKER_ONLY, traded[0].symbol) in found
    assert run.discrepancies.get(kind=Kind.ORDER_WORKING_AT_BROKER_ONLY).severity == "critical"

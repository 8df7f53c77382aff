"""IB reports matched to our orders when the gateway does not echo orderRef (a proxy, or an
order modified in TWS): by the (clientId, orderId) our own placeOrder produced and by permId.
An outcome nobody can confirm makes the run partial and names the orders."""

import pytest

from tests.arming import arm_books
from trading.brokers import brokers
from trading.models import Fill, Order, PipelineRun, Trade
from trading.services.books import book_named
from trading.services.pipeline import RunOptions, pipeline_run
from trading.services.sync import book_sync

pytestmark = [pytest.mark.ib, pytest.mark.django_db]


@pytest.fixture
def no_echo(ib_settings, gateway):
    arm_books(ib_settings, "ib")
    gateway.state.echo_order_ref = False
    return gateway


def test_a_run_records_acks_and_fills_when_ib_does_not_echo_our_ref(no_echo):
    run = pipeline_run(book=book_named("ib"), options=RunOptions())
    assert run.status == PipelineRun.Status.SUCCEEDED, run.error
    assert not Order.objects.filter(status=Order.Status.INTENT).exists()
    assert not Order.objects.filter(broker_order_id="").exists()
    for trade in run.trades.all():
        assert trade.status == Trade.Status.OPEN
        assert trade.orders.get(leg="entry").status == Order.Status.FILLED
        assert {o.status for o in trade.orders.exclude(leg="entry")} == {Order.Status.WORKING}
    assert Fill.objects.count() == run.executed_count == 3


def test_a_later_connection_takes_fills_by_the_broker_ids_the_book_recorded(no_echo):
    run = pipeline_run(book=book_named("ib"), options=RunOptions())
    stop = Order.objects.filter(run=run, leg="stop").first()
    held = next(o for o in no_echo.state.orders if o.order_ref == stop.client_order_ref)
    # The stop triggers at IB while nobody is connected.
    quote = no_echo.state.quote(stop.symbol)
    no_echo.state.execute(held, held.quantity, quote.bid)
    with brokers.create("ib") as broker:
        book_sync(broker=broker, book=book_named("ib"))
    stop.refresh_from_db()
    assert stop.fills.count() == 1 and stop.trade.status == Trade.Status.CLOSED


def test_an_outcome_that_cannot_be_confirmed_makes_the_run_partial_and_names_the_orders(no_echo):
    no_echo.state.fill_mode = "none"
    no_echo.ignore("placeOrder")  # taken, never acknowledged
    run = pipeline_run(book=book_named("ib"), options=RunOptions())
    assert run.status == PipelineRun.Status.PARTIAL
    unconfirmed = Order.objects.filter(run=run, status=Order.Status.INTENT).values_list("client_order_ref", flat=True)
    assert unconfirmed and all(ref in run.error for ref in unconfirmed)
    assert run.executed_count == 0

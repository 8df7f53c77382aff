"""Reconciliation on SIM: every kind of discrepancy, exit codes, JSON, and records that persist."""

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from reconciliation.models import Discrepancy, ReconciliationRun
from reconciliation.services import reconciliation_run
from trading.brokers import brokers
from trading.brokers.base import BrokerUnavailable, OrderRequest
from trading.brokers.sim import SimBroker
from trading.models import Order, Position, Trade
from trading.services.pipeline import RunOptions, pipeline_run
from trading.sim.models import SimOrder, SimPosition

pytestmark = pytest.mark.django_db
Kind = Discrepancy.Kind


class UnreachableBroker(SimBroker):
    def connect(self):
        raise BrokerUnavailable("connection refused (127.0.0.1:4002)")


@pytest.fixture
def traded(morning):
    run = pipeline_run(RunOptions(at=morning, top_n=2))
    return list(run.trades.order_by("symbol"))


def _reconcile(*args):
    out = StringIO()
    try:
        call_command("reconcile", *args, stdout=out)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    return code, out.getvalue()


def _kinds(run):
    return sorted((d.kind, d.symbol) for d in run.discrepancies.all())


def test_a_book_that_matches_the_broker_is_clean(traded, settings):
    code, text = _reconcile("--json")
    payload = json.loads(text)
    assert code == 0 and payload["status"] == "clean" and payload["discrepancies"] == []
    rows = {row["symbol"]: row for row in payload["positions"]}
    for trade in traded:
        assert rows[trade.symbol]["expected_qty"] == rows[trade.symbol]["actual_qty"] == trade.quantity
    written = json.loads((settings.TRADE_LABS_REPORTS_DIR / "position_reconciliation.json").read_text())
    assert written["run_id"] == payload["run_id"]


def test_a_position_closed_at_the_broker_outside_trade_labs(traded, morning):
    trade = traded[0]
    with brokers.create("default") as broker:  # someone sells in the broker's own app
        broker.place_order(
            OrderRequest("TWS-manual-1", "exit", trade.symbol, "SELL", "MKT", trade.quantity), at=morning
        )
    run = reconciliation_run()
    assert (Kind.MISSING_AT_BROKER, trade.symbol) in _kinds(run)
    discrepancy = run.discrepancies.get(kind=Kind.MISSING_AT_BROKER)
    assert discrepancy.expected == str(trade.quantity) and discrepancy.actual == "0"
    assert discrepancy.severity == "critical" and trade in discrepancy.trades.all()


def test_an_order_placed_outside_trade_labs(traded, morning):
    with brokers.create("default") as broker:
        account = broker.sim_account
    SimOrder.objects.create(
        account=account,
        order_ref="",
        symbol="SPY",
        side="BUY",
        order_type="LMT",
        quantity=10,
        limit_price=Decimal("1.00"),
        active_from=morning,
    )
    run = reconciliation_run()
    unknown = run.discrepancies.get(kind=Kind.ORDER_UNKNOWN_TO_US)
    assert unknown.symbol == "SPY" and unknown.order_ref.startswith("broker:")


def test_unexpected_position_quantity_mismatch_and_cost_drift(traded):
    account = SimPosition.objects.first().account
    SimPosition.objects.create(account=account, symbol="ZZZZ", quantity=50, average_cost=Decimal("10"))
    first, second = traded
    SimPosition.objects.filter(symbol=first.symbol).update(quantity=first.quantity + 7)
    SimPosition.objects.filter(symbol=second.symbol).update(average_cost=second.entry_price * Decimal("1.05"))
    run = reconciliation_run()
    assert set(_kinds(run)) == {
        (Kind.UNEXPECTED_AT_BROKER, "ZZZZ"),
        (Kind.QUANTITY_MISMATCH, first.symbol),
        (Kind.AVG_COST_DRIFT, second.symbol),
    }
    assert run.discrepancies.get(kind=Kind.AVG_COST_DRIFT).severity == "warning"


def test_our_open_order_that_the_broker_does_not_know(traded):
    stop = traded[0].orders.get(leg="stop")
    SimOrder.objects.filter(order_ref=stop.client_order_ref).delete()
    run = reconciliation_run()
    missing = run.discrepancies.get(kind=Kind.ORDER_MISSING_AT_BROKER)
    assert missing.order_ref == stop.client_order_ref


@pytest.mark.parametrize("broker_status", ["cancelled", "filled", "rejected"])
def test_our_working_order_that_the_broker_has_finished(traded, broker_status):
    stop = traded[0].orders.get(leg="stop")
    SimOrder.objects.filter(order_ref=stop.client_order_ref).update(status=broker_status)
    run = reconciliation_run()
    done = run.discrepancies.get(kind=Kind.ORDER_DONE_AT_BROKER)
    assert (done.order_ref, done.expected, done.actual) == (stop.client_order_ref, "working", broker_status)
    assert done.severity == Discrepancy.Severity.HIGH
    assert not run.discrepancies.filter(kind=Kind.ORDER_MISSING_AT_BROKER).exists()


@pytest.mark.parametrize("book_status", ["cancelled", "not_sent", "rejected", "filled", "error"])
def test_a_broker_order_working_that_the_book_calls_done_is_critical(traded, book_status):
    target = traded[0].orders.get(leg="target")
    Order.objects.filter(pk=target.pk).update(status=book_status)
    run = reconciliation_run()
    live = run.discrepancies.get(kind=Kind.ORDER_WORKING_AT_BROKER_ONLY)
    assert (live.order_ref, live.expected, live.actual) == (target.client_order_ref, book_status, "working")
    assert live.severity == Discrepancy.Severity.CRITICAL
    assert not run.discrepancies.filter(kind=Kind.ORDER_UNKNOWN_TO_US).exists()

    Order.objects.filter(pk=target.pk).update(status="working")
    assert not reconciliation_run().discrepancies.filter(kind=Kind.ORDER_WORKING_AT_BROKER_ONLY).exists()
    live.refresh_from_db()
    assert live.cleared_at is not None


def test_a_persisting_discrepancy_stays_one_record_and_clears_when_fixed(traded):
    first = traded[0]
    SimPosition.objects.filter(symbol=first.symbol).update(quantity=1)
    reconciliation_run()
    second_run = reconciliation_run()
    discrepancy = Discrepancy.objects.get()
    assert discrepancy.times_seen == 2 and discrepancy.last_seen_run == second_run and discrepancy.cleared_at is None

    SimPosition.objects.filter(symbol=first.symbol).update(quantity=first.quantity)
    assert reconciliation_run().status == ReconciliationRun.Status.CLEAN
    discrepancy.refresh_from_db()
    assert discrepancy.cleared_at is not None and Discrepancy.objects.count() == 1

    discrepancy.review_status = Discrepancy.Review.RESOLVED
    discrepancy.save()
    SimPosition.objects.filter(symbol=first.symbol).update(quantity=2)
    reconciliation_run()
    discrepancy.refresh_from_db()
    assert discrepancy.review_status == Discrepancy.Review.OPEN and "Reopened" in discrepancy.notes
    assert Discrepancy.objects.count() == 1


def test_reconciliation_changes_nothing_in_the_book(traded):
    SimPosition.objects.filter(symbol=traded[0].symbol).update(quantity=0)
    before = (list(Position.objects.values()), list(Trade.objects.values()), list(Order.objects.values()))
    reconciliation_run()
    assert (list(Position.objects.values()), list(Trade.objects.values()), list(Order.objects.values())) == before


def test_exit_codes_for_cron(traded, settings):
    assert _reconcile()[0] == 0
    SimPosition.objects.filter(symbol=traded[0].symbol).update(quantity=0)
    code, text = _reconcile()
    assert code == 1 and "missing_at_broker" in text
    settings.BROKERS = {**settings.BROKERS, "down": {"BACKEND": f"{__name__}.UnreachableBroker", "OPTIONS": {}}}
    code, text = _reconcile("--backend", "down", "--json")
    assert code == 2
    payload = json.loads(text)
    assert payload["status"] == "error" and "connection refused" in payload["error"]


def test_unrealized_pnl_per_position_and_total(traded, morning):
    from datetime import timedelta

    from trading.services.marking import book_mark

    book_mark(at=morning + timedelta(minutes=3))
    payload = json.loads(_reconcile("--json")[1])
    total = sum(Decimal(row["unrealized_pnl"]) for row in payload["positions"])
    assert Decimal(payload["unrealized_pnl_total"]) == total
    assert all(row["mark_price"] for row in payload["positions"])


def test_admin_review_actions(staff_client, traded):
    SimPosition.objects.filter(symbol=traded[0].symbol).update(quantity=0)
    run = reconciliation_run()
    discrepancy = run.discrepancies.get()
    url = reverse("admin:reconciliation_discrepancy_changelist")
    assert (
        staff_client.get(url, {"review_status__exact": "open", "kind__exact": "missing_at_broker"}).status_code == 200
    )
    assert (
        staff_client.get(reverse("admin:reconciliation_discrepancy_change", args=[discrepancy.pk])).status_code == 200
    )
    assert staff_client.get(reverse("admin:reconciliation_reconciliationrun_change", args=[run.pk])).status_code == 200
    for action, status in (("acknowledge", "acknowledged"), ("resolve", "resolved")):
        staff_client.post(url, {"action": action, "index": "0", "_selected_action": [discrepancy.pk]})
        discrepancy.refresh_from_db()
        assert discrepancy.review_status == status
    assert "Resolved by reviewer" in discrepancy.notes


def test_the_scheduler_task_calls_the_service(traded):
    from reconciliation.tasks import reconcile_task

    assert reconcile_task() == "clean"
    assert ReconciliationRun.objects.get().trigger == "schedule"

"""The IB backend with the real client library over a real socket to the fake gateway:
the pipeline unarmed, armed on a paper account, refused on a live one, and every fault."""

import socket
from decimal import Decimal

import pytest

from tests.arming import arm_books
from tests.fake_gateway import FakeGateway
from trading.brokers import brokers
from trading.brokers.base import BrokerError, BrokerUnavailable, SafetyError
from trading.models import Candidate, Order, PipelineRun, Trade
from trading.services.books import book_named
from trading.services.pipeline import RunOptions, pipeline_run

pytestmark = [pytest.mark.ib, pytest.mark.django_db]

SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMD", "SPY", "META", "TSLA"]


@pytest.fixture
def gateway():
    with FakeGateway.run_in_thread() as running:
        running.state.scanner_results = SYMBOLS
        for index, symbol in enumerate(SYMBOLS):
            price = Decimal(40 + 10 * index)
            running.set_quote(symbol, price - Decimal("0.01"), price + Decimal("0.01"), price, volume=2_000_000)
        yield running


def _run(**options):
    return pipeline_run(book=book_named("ib"), options=RunOptions(**options))


def test_unarmed_run_uses_ib_data_and_sends_nothing(ib_settings, gateway):
    ib_settings.TRADE_LABS_ARMED = False
    run = _run()
    assert run.status == PipelineRun.Status.SUCCEEDED, run.error
    assert run.backend == "ib" and run.dry_run and not run.armed
    assert gateway.requests_named("reqScannerSubscription") and gateway.requests_named("reqMktData")
    assert gateway.state.orders == [] and not gateway.requests_named("placeOrder")
    assert Trade.objects.filter(dry_run=True, status=Trade.Status.OPEN).count() == 3


def test_armed_on_a_paper_account_sends_brackets_with_our_refs(ib_settings, gateway):
    arm_books(ib_settings, "ib")
    run = _run()
    assert run.status == PipelineRun.Status.SUCCEEDED, run.error
    trades = list(run.trades.all())
    assert len(trades) == 3 and all(t.status == Trade.Status.OPEN and not t.dry_run for t in trades)
    refs = {o.client_order_ref for o in Order.objects.filter(run=run)}
    received = {o.order_ref: o for o in gateway.state.orders}
    assert set(received) == refs
    for trade in trades:
        entry, stop, target = (trade.orders.get(leg=leg) for leg in ("entry", "stop", "target"))
        assert entry.status == Order.Status.FILLED and entry.fills.get().commission > 0
        assert stop.status == target.status == Order.Status.WORKING
        sent_stop, sent_target = received[stop.client_order_ref], received[target.client_order_ref]
        assert sent_stop.parent_id == sent_target.parent_id == received[entry.client_order_ref].order_id
        assert sent_stop.oca_group == sent_target.oca_group != ""
        assert sent_stop.stop_price == trade.stop_price and sent_target.limit_price == trade.target_price
        assert gateway.state.positions[trade.symbol][0] == trade.quantity


def test_a_live_account_is_refused_armed_or_not(ib_settings, gateway):
    gateway.state.account = "U7654321"
    for armed in (True, False):
        ib_settings.TRADE_LABS_ARMED = armed
        run = _run()
        assert run.status == PipelineRun.Status.FAILED
        assert "U7654321 is not a paper account" in run.error
    assert gateway.state.orders == [] and not Trade.objects.exists()


def test_the_backend_itself_refuses_to_send_unarmed(ib_settings, gateway):
    ib_settings.TRADE_LABS_ARMED = False
    from trading.brokers.base import BracketRequest, OrderRequest

    leg = OrderRequest("TL-x-AAPL-entry", "entry", "AAPL", "BUY", "MKT", 1)
    with brokers.create("ib") as broker, pytest.raises(SafetyError, match="ARMED"):
        broker.place_bracket(BracketRequest(leg, leg, leg), at=None)
    assert gateway.state.orders == []


def test_connection_refused_is_a_clear_broker_error(ib_settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    ib_settings.BROKERS["ib"]["OPTIONS"]["port"] = free_port
    run = _run()
    assert run.status == PipelineRun.Status.FAILED
    assert "connection refused" in run.error


def test_a_gateway_that_never_answers_the_handshake_times_out(ib_settings, gateway):
    gateway.ignore("startApi")
    run = _run()
    assert run.status == PipelineRun.Status.FAILED and "handshake" in run.error


def test_client_id_in_use_moves_to_the_next_id(ib_settings, gateway):
    with brokers.create("ib") as first, brokers.create("ib") as second:
        assert {first.client_id, second.client_id} == {31, 32}


def test_every_client_id_in_use_is_a_clear_error(ib_settings, gateway):
    ib_settings.BROKERS["ib"]["OPTIONS"]["client_id_attempts"] = 1
    with brokers.create("ib"), pytest.raises(BrokerUnavailable, match="already in use"):
        brokers.create("ib").connect()


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ({"code": 354, "message": "Requested market data is not subscribed"}, "no market data"),
        ({"code": 200, "message": "No security definition has been found"}, "no market data"),
        ({"ignore": True}, "no market data within"),
    ],
)
def test_a_failing_symbol_costs_only_its_own_candidate(ib_settings, gateway, fault, reason):
    ib_settings.TRADE_LABS_ARMED = False
    if fault.get("ignore"):
        gateway.ignore("reqMktData", symbol="MSFT")
    else:
        gateway.inject_error("reqMktData", fault["code"], fault["message"], symbol="MSFT")
    run = _run()
    assert run.status == PipelineRun.Status.SUCCEEDED, run.error
    msft = run.candidates.get(symbol="MSFT")
    assert msft.status == Candidate.Status.REJECTED and reason in msft.reason
    assert run.candidates.exclude(symbol="MSFT").filter(status=Candidate.Status.REJECTED).count() == 0


def test_live_data_not_subscribed_falls_back_to_delayed(ib_settings, gateway):
    ib_settings.TRADE_LABS_ARMED = False
    gateway.state.live_data_subscribed = False
    run = _run()
    assert run.status == PipelineRun.Status.SUCCEEDED, run.error
    assert run.scored_count == len(SYMBOLS)
    assert [f[2] for f in gateway.requests_named("reqMarketDataType")] == ["3"]


def test_a_pacing_violation_on_the_scanner_fails_the_run_clearly(ib_settings, gateway):
    gateway.inject_error(
        "reqScannerSubscription", 162, "Historical Market Data Service error message:API scanner subscription cancelled"
    )
    run = _run()
    assert run.status == PipelineRun.Status.FAILED and "pacing violation" in run.error


def test_connectivity_lost_mid_request_ends_the_run(ib_settings, gateway):
    gateway.ignore("reqScannerSubscription")
    import threading

    threading.Timer(
        0.5, gateway.send_error, args=(1100, "Connectivity between IB and Trader Workstation has been lost.")
    ).start()
    run = _run()
    assert run.status == PipelineRun.Status.FAILED and "1100" in run.error


def test_a_socket_dropped_mid_order_is_recorded_and_adopted_not_resent(ib_settings, gateway):
    arm_books(ib_settings, "ib")
    ib_settings.TRADE_LABS_RISK = {**ib_settings.TRADE_LABS_RISK, "top_n": 1}
    gateway.drop_after("placeOrder")  # the entry reaches IB; the connection dies before any answer
    first = _run()
    assert first.status in (PipelineRun.Status.PARTIAL, PipelineRun.Status.FAILED)
    assert Order.objects.filter(status=Order.Status.INTENT).exists(), "the intent stays for recovery"
    sent_before = len(gateway.state.orders)

    second = _run()
    assert second.status == PipelineRun.Status.SUCCEEDED, second.error
    assert not Order.objects.filter(status=Order.Status.INTENT).exists()
    refs = [o.order_ref for o in gateway.state.orders]
    assert len(refs) == len(set(refs)), "no order was sent twice"
    assert len(gateway.state.orders) >= sent_before


def test_a_crash_between_send_and_record_is_adopted_by_the_next_run(ib_settings, gateway):
    from trading.services.book import trade_record_intent
    from trading.services.pipeline import _bracket_for
    from trading.services.risk import RiskConfig, plan_long_entry

    arm_books(ib_settings, "ib")
    ib_settings.TRADE_LABS_RISK = {**ib_settings.TRADE_LABS_RISK, "top_n": 1}
    crashed = _run()
    candidate = crashed.candidates.filter(status=Candidate.Status.ACCEPTED).order_by("-score").first()
    plan = plan_long_entry(ask=candidate.ask, config=RiskConfig.from_settings(ib_settings.TRADE_LABS_RISK))
    bracket = _bracket_for(crashed, candidate, plan)
    trade = trade_record_intent(run=crashed, candidate=candidate, bracket=bracket, backend="ib", dry_run=False)
    with brokers.create("ib") as broker:
        broker.place_bracket(bracket, at=None)  # sent; the process "dies" before recording anything
    sent = len(gateway.state.orders)

    _run()

    trade.refresh_from_db()
    assert trade.status == Trade.Status.OPEN
    assert trade.orders.get(leg="entry").status == Order.Status.FILLED
    assert len(gateway.orders_with_ref(bracket.entry.order_ref)) == 1
    assert len([o for o in gateway.state.orders if o.symbol == candidate.symbol]) == 3
    assert len(gateway.state.orders) >= sent


def test_positions_and_account_for_reconciliation(ib_settings, gateway):
    arm_books(ib_settings, "ib")
    run = _run()
    with brokers.create("ib") as broker:
        positions = {p.symbol: p for p in broker.positions()}
        account = broker.account()
    for trade in run.trades.all():
        assert positions[trade.symbol].quantity == trade.quantity
        assert positions[trade.symbol].average_cost == trade.entry_price
    assert account.account_id == "DU1234567" and account.is_paper
    assert account.net_liquidation > 0 and account.cash is not None


def test_reconciliation_against_ib_is_clean_after_a_run(ib_settings, gateway):
    from reconciliation.services import reconciliation_run

    arm_books(ib_settings, "ib")
    _run()
    result = reconciliation_run(book=book_named("ib"))
    assert result.status == "clean", list(result.discrepancies.values_list("kind", "symbol"))
    gateway.state.positions["ZZZZ"] = [Decimal(7), Decimal("39.99")]  # bought outside Trade Labs
    assert ("unexpected_at_broker", "ZZZZ") in set(
        reconciliation_run(book=book_named("ib")).discrepancies.values_list("kind", "symbol")
    )


def test_the_connection_is_always_closed(ib_settings, gateway):
    with brokers.create("ib") as broker:
        assert broker.connected
    assert not broker.connected
    with pytest.raises(BrokerError):
        broker.positions()


def test_a_second_quote_on_one_connection_is_fresh(ib_settings, gateway):
    with brokers.create("ib") as broker:
        first = broker.quotes(["AAPL"], at=None)["AAPL"]
        gateway.set_quote("AAPL", "50.00", "50.02", "50.01")
        second = broker.quotes(["AAPL"], at=None)["AAPL"]
    assert first.bid != second.bid and second.bid == Decimal("50.00")

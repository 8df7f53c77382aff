"""The fake gateway speaks the TWS API well enough for the real client library: connect,
contracts, quotes (live and delayed), scanner, bracket orders, recovery, positions,
account, and the faults the IB backend must survive."""

import time

import pytest

from tests.fake_gateway import FakeGateway
from tests.ib.conftest import client_module

pytestmark = pytest.mark.ib
ib_lib = client_module()


def test_connect_sees_the_managed_account(ib_client, gateway):
    assert ib_client.isConnected()
    assert ib_client.managedAccounts() == ["DU1234567"]


def test_contracts_qualify(ib_client):
    [contract] = ib_client.qualifyContracts(ib_lib.Stock("AAPL", "SMART", "USD"))
    assert contract.conId > 0 and contract.symbol == "AAPL"


def test_snapshot_quotes_are_the_scripted_prices(ib_client):
    contract = ib_client.qualifyContracts(ib_lib.Stock("AAPL", "SMART", "USD"))[0]
    [ticker] = ib_client.reqTickers(contract)
    assert (ticker.bid, ticker.ask, ticker.last, ticker.close) == (189.98, 190.02, 190.0, 185.0)


def test_delayed_data_when_live_is_not_subscribed(ib_client, gateway):
    gateway.state.live_data_subscribed = False
    contract = ib_client.qualifyContracts(ib_lib.Stock("MSFT", "SMART", "USD"))[0]
    errors = []
    ib_client.errorEvent += lambda req_id, code, message, *rest: errors.append(code)
    ib_client.reqTickers(contract)
    assert 10089 in errors
    ib_client.reqMarketDataType(3)
    [ticker] = ib_client.reqTickers(contract)
    assert ticker.bid == 410.1 and ticker.ask == 410.2


def test_scanner_returns_the_scripted_symbols_filtered(ib_client, gateway):
    gateway.set_quote("AMD", "4.00", "4.02")  # below abovePrice
    subscription = ib_lib.ScannerSubscription(
        instrument="STK", locationCode="STK.US.MAJOR", scanCode="TOP_PERC_GAIN", abovePrice=5, numberOfRows=10
    )
    rows = ib_client.reqScannerData(subscription)
    assert [row.contractDetails.contract.symbol for row in rows] == ["AAPL", "MSFT", "NVDA", "SPY"]
    assert [row.rank for row in rows] == [0, 1, 2, 3]


def _bracket(ib_client, symbol="AAPL", quantity=10, ref="TL-test"):
    contract = ib_client.qualifyContracts(ib_lib.Stock(symbol, "SMART", "USD"))[0]
    bracket = ib_client.bracketOrder("BUY", quantity, 190.05, 195.0, 185.0)
    parent, take_profit, stop = bracket
    parent.orderType, parent.lmtPrice = "MKT", 0
    for order, leg in zip(bracket, ("entry", "target", "stop"), strict=True):
        order.orderRef = f"{ref}-{leg}"
    take_profit.ocaGroup = stop.ocaGroup = f"{ref}-oca"
    return contract, [ib_client.placeOrder(contract, order) for order in bracket]


def test_a_bracket_fills_its_entry_and_leaves_the_exits_working(ib_client, gateway):
    contract, trades = _bracket(ib_client)
    ib_client.sleep(0.3)
    entry, target, stop = trades
    assert entry.orderStatus.status == "Filled" and entry.orderStatus.filled == 10
    assert [f.execution.orderRef for f in entry.fills] == ["TL-test-entry"]
    assert entry.fills[0].commissionReport.commission == 1.0
    assert target.orderStatus.status == "Submitted" and stop.orderStatus.status == "PreSubmitted"
    received = {o.order_ref: o for o in gateway.state.orders}
    assert received["TL-test-stop"].oca_group == received["TL-test-target"].oca_group != ""
    assert received["TL-test-stop"].parent_id == received["TL-test-entry"].order_id
    assert gateway.state.positions["AAPL"][0] == 10


def test_a_reconnecting_client_sees_earlier_orders_and_executions(gateway):
    first = ib_lib.IB()
    first.connect(gateway.host, gateway.port, clientId=8, timeout=5)
    _bracket(first, ref="TL-crash")
    first.sleep(0.3)
    first.disconnect()
    second = ib_lib.IB()
    second.connect(gateway.host, gateway.port, clientId=8, timeout=5)
    try:
        open_refs = {trade.order.orderRef for trade in second.reqAllOpenOrders()}
        assert open_refs == {"TL-crash-target", "TL-crash-stop"}
        fills = second.reqExecutions()
        assert [f.execution.orderRef for f in fills] == ["TL-crash-entry"]
        assert {p.contract.symbol: p.position for p in second.reqPositions()} == {"AAPL": 10}
    finally:
        second.disconnect()


def test_account_summary_and_portfolio(ib_client, gateway):
    _bracket(ib_client)
    ib_client.sleep(0.3)
    summary = {v.tag: float(v.value) for v in ib_client.accountSummary()}
    held = 10 * 190.0  # ten AAPL marked at the scripted last price
    assert summary["GrossPositionValue"] == held
    assert summary["NetLiquidation"] == summary["TotalCashValue"] + held
    assert summary["TotalCashValue"] == 100_000 - 10 * 190.02 - 1.0  # bought at the ask, $1 commission


def test_a_second_client_with_the_same_id_is_refused(ib_client, gateway):
    duplicate = ib_lib.IB()
    with pytest.raises((ConnectionError, TimeoutError, OSError, Exception)):
        duplicate.connect(gateway.host, gateway.port, clientId=7, timeout=3)
    assert not duplicate.isConnected()


def test_a_socket_dropped_mid_order_leaves_the_order_at_the_gateway(ib_client, gateway):
    gateway.drop_after("placeOrder")
    contract = ib_client.qualifyContracts(ib_lib.Stock("MSFT", "SMART", "USD"))[0]
    order = ib_lib.MarketOrder("BUY", 5)
    order.orderRef = "TL-dropped"
    ib_client.placeOrder(contract, order)
    deadline = time.monotonic() + 5
    with pytest.raises(ConnectionError):
        while time.monotonic() < deadline:
            ib_client.sleep(0.05)
    assert not ib_client.isConnected()
    assert [o.order_ref for o in gateway.state.orders] == ["TL-dropped"]


def test_an_injected_market_data_error_reaches_the_client(ib_client, gateway):
    gateway.inject_error("reqMktData", 354, "Requested market data is not subscribed", symbol="MSFT")
    errors = []
    ib_client.errorEvent += lambda req_id, code, message, *rest: errors.append(code)
    contract = ib_client.qualifyContracts(ib_lib.Stock("MSFT", "SMART", "USD"))[0]
    ib_client.reqMktData(contract, "", True, False)
    ib_client.sleep(0.3)
    assert 354 in errors


def test_fifty_quotes_with_latency_take_about_one_round_trip():
    with FakeGateway.run_in_thread(latency=0.05) as gateway:
        ib = ib_lib.IB()
        ib.connect(gateway.host, gateway.port, clientId=9, timeout=10)
        try:
            contracts = [ib_lib.Stock(f"S{i:02d}", "SMART", "USD") for i in range(50)]
            start = time.perf_counter()
            ib.qualifyContracts(*contracts)
            tickers = ib.reqTickers(*contracts)
            elapsed = time.perf_counter() - start
        finally:
            ib.disconnect()
    assert len(tickers) == 50 and all(t.bid > 0 for t in tickers)
    print(f"50 qualified quotes at 50 ms latency: {elapsed:.3f} s")

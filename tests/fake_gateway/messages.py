"""Server → client messages at server version 176, field by field.

The layouts follow what the clients' decoders read (ib_async and ib_insync agree at
this version); fields the fake never uses are sent empty.
"""

from .wire import UNSET

IN = {  # incoming message ids (client → server) by name
    "reqMktData": 1,
    "cancelMktData": 2,
    "placeOrder": 3,
    "cancelOrder": 4,
    "reqOpenOrders": 5,
    "reqAccountUpdates": 6,
    "reqExecutions": 7,
    "reqIds": 8,
    "reqContractDetails": 9,
    "reqAutoOpenOrders": 15,
    "reqAllOpenOrders": 16,
    "reqScannerSubscription": 22,
    "cancelScannerSubscription": 23,
    "reqCurrentTime": 49,
    "reqMarketDataType": 59,
    "reqPositions": 61,
    "reqAccountSummary": 62,
    "cancelAccountSummary": 63,
    "cancelPositions": 64,
    "startApi": 71,
    "reqAccountUpdatesMulti": 76,
    "cancelAccountUpdatesMulti": 77,
    "reqCompletedOrders": 99,
}
IN_NAMES = {number: name for name, number in IN.items()}

LIVE_TICKS = {"bid": 1, "ask": 2, "last": 4, "close": 9}
DELAYED_TICKS = {"bid": 66, "ask": 67, "last": 68, "close": 75}
LIVE_VOLUME, DELAYED_VOLUME = 8, 74


def contract_fields(symbol: str, con_id: int) -> list:
    """conId, symbol, secType, lastTradeDate, strike, right, multiplier, exchange, currency, localSymbol, tradingClass."""
    return [con_id, symbol, "STK", "", 0.0, "", "", "SMART", "USD", symbol, symbol]


def error(req_id: int, code: int, text: str) -> list:
    return [4, 2, req_id, code, text, ""]


def next_valid_id(order_id: int) -> list:
    return [9, 1, order_id]


def managed_accounts(accounts: list[str]) -> list:
    return [15, 1, ",".join(accounts)]


def current_time(epoch: int) -> list:
    return [49, 1, epoch]


def tick_price(req_id: int, tick_type: int, price, size=0) -> list:
    return [1, 6, req_id, tick_type, price, size, 0]


def tick_size(req_id: int, tick_type: int, size) -> list:
    return [2, 6, req_id, tick_type, size]


def tick_snapshot_end(req_id: int) -> list:
    return [57, 1, req_id]


def market_data_type(req_id: int, data_type: int) -> list:
    return [58, 1, req_id, data_type]


def contract_details(req_id: int, symbol: str, con_id: int) -> list:
    return [
        10,
        req_id,
        symbol,
        "STK",
        "",
        0.0,
        "",
        "SMART",
        "USD",
        symbol,
        "NMS",
        symbol,
        con_id,
        0.01,
        "",
        "ACTIVETIM,LMT,MKT,STP",
        "SMART,NASDAQ,NYSE",
        1,
        0,
        f"{symbol} Inc",
        "NASDAQ",
        "",
        "",
        "",
        "",
        "US/Eastern",
        "",
        "",
        "",
        "",
        0,  # no secIds
        1,
        "",
        "",
        "26",
        "",
        "COMMON",
        "0.0001",
        "0.0001",
        "100",
    ]


def contract_details_end(req_id: int) -> list:
    return [52, 1, req_id]


def scanner_data(req_id: int, rows: list[tuple[str, int]]) -> list:
    fields = [20, 3, req_id, len(rows)]
    for rank, (symbol, con_id) in enumerate(rows):
        fields += [rank, con_id, symbol, "STK", "", 0.0, "", "SMART", "USD", symbol, "NMS", symbol, "", "", "", ""]
    return fields


def order_status(order) -> list:
    return [
        3,
        order.order_id,
        order.status,
        order.filled,
        order.quantity - order.filled,
        order.avg_fill_price,
        order.perm_id,
        order.parent_id,
        order.last_fill_price,
        order.client_id,
        "",
        0.0,
    ]


def open_order(order, account: str, *, echo_ref: bool = True) -> list:
    """openOrder at server version 176: the order, its contract and its state. `echo_ref=False`
    leaves orderRef blank, as a proxy, or an order modified in TWS, may."""
    return [
        5,
        order.order_id,
        order.con_id,
        order.symbol,
        "STK",
        "",
        0.0,
        "",
        "",
        "SMART",
        "USD",
        order.symbol,
        order.symbol,
        order.action,
        order.quantity,
        order.order_type,
        order.limit_price,
        order.stop_price,
        order.tif,
        order.oca_group,
        order.account or account,
        "O",
        0,
        order.order_ref if echo_ref else "",
        order.client_id,
        order.perm_id,
        0,
        0,
        0.0,
        "",
        "",
        "",
        "",
        "",
        "",  # outsideRth .. faPercentage, faProfile
        "",
        "",
        "",
        "",
        "",
        0,
        "",
        "",
        0,
        "",
        "",
        "",
        "",
        "",
        "",
        0,
        0,
        0,
        "",
        3,
        0,
        0,
        0,  # modelCode .. nbboPriceCap
        order.parent_id,
        0,
        "",
        0,
        "",
        "",  # parentId, triggerMethod, volatility, volatilityType, dnOrderType, dnAuxPrice
        0,
        0,
        "",
        "",
        "",
        "",
        "",  # continuousUpdate .. comboLegsDescrip
        0,
        0,
        0,  # combo legs, order combo legs, smart combo params
        "",
        "",
        "",  # scale init, scale subs, scale increment
        "",  # hedgeType
        0,
        "",
        "",
        0,
        0,  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld, no delta-neutral contract
        "",  # algoStrategy
        0,
        0,
        order.status,
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        0,
        0,  # solicited .. randomizePrice
        0,  # conditions
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        0,
        "",
        "",
        "",
        "",
        0,
        0,
        "",
        0,  # adjustedOrderType .. usePriceMgmtAlgo
        "",
        0,
        0,  # duration, postToAts, autoCancelParent
        "",
        "",
        "",
        "",
        "",  # minTradeQty .. midOffsetAtHalf
    ]


def open_order_end() -> list:
    return [53, 1]


def exec_details(req_id: int, execution, *, echo_ref: bool = True) -> list:
    return [
        11,
        req_id,
        execution.order_id,
        execution.con_id,
        execution.symbol,
        "STK",
        "",
        0.0,
        "",
        "",
        "SMART",
        "USD",
        execution.symbol,
        execution.symbol,
        execution.exec_id,
        execution.time_text,
        execution.account,
        "ISLAND",
        execution.side,
        execution.shares,
        execution.price,
        execution.perm_id,
        execution.client_id,
        0,
        execution.cum_qty,
        execution.avg_price,
        execution.order_ref if echo_ref else "",
        "",
        "",
        "",
        1,
    ]


def exec_details_end(req_id: int) -> list:
    return [55, 1, req_id]


def commission_report(execution) -> list:
    return [59, 1, execution.exec_id, execution.commission, "USD", UNSET, UNSET, UNSET]


def position(account: str, symbol: str, con_id: int, quantity, average_cost) -> list:
    return [
        61,
        3,
        account,
        con_id,
        symbol,
        "STK",
        "",
        0.0,
        "",
        "",
        "SMART",
        "USD",
        symbol,
        symbol,
        quantity,
        average_cost,
    ]


def position_end() -> list:
    return [62, 1]


def account_value(key: str, value, currency: str, account: str) -> list:
    return [6, 2, key, value, currency, account]


def portfolio(account: str, symbol: str, con_id: int, quantity, price, average_cost) -> list:
    value = float(quantity) * float(price)
    unrealized = value - float(quantity) * float(average_cost)
    return [
        7,
        8,
        con_id,
        symbol,
        "STK",
        "",
        0.0,
        "",
        "",
        "NASDAQ",
        "USD",
        symbol,
        symbol,
        quantity,
        price,
        value,
        average_cost,
        unrealized,
        0.0,
        account,
    ]


def account_time(text: str) -> list:
    return [8, 1, text]


def account_download_end(account: str) -> list:
    return [54, 1, account]


def account_update_multi(req_id: int, account: str, key: str, value, currency: str) -> list:
    return [73, 1, req_id, account, "", key, value, currency]


def account_update_multi_end(req_id: int) -> list:
    return [74, 1, req_id]


def account_summary(req_id: int, account: str, tag: str, value, currency: str) -> list:
    return [63, 1, req_id, account, tag, value, currency]


def account_summary_end(req_id: int) -> list:
    return [64, 1, req_id]


def completed_orders_end() -> list:
    return [102]

"""A protocol-level fake IB Gateway: an asyncio server on loopback that speaks the TWS API
at server version 176 to the real ib_async / ib_insync clients.

Requests are answered concurrently after `latency` seconds (so N quotes cost about one
round trip, as with IB), except order messages, which a session handles in arrival order
as TWS does. Faults are scripted on the state: answer with an error code, stay silent,
or hang up.
"""

import asyncio
import contextlib
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal

from . import messages as m
from .state import Fault, GatewayOrder, GatewayState, ScriptedQuote, con_id_for
from .wire import SERVER_VERSION, encode, read_fields, read_handshake

ORDER_MESSAGES = {"placeOrder", "cancelOrder"}


def _decimal(text: str) -> Decimal | None:
    if text in ("", None):
        return None
    value = Decimal(text)
    return None if value >= Decimal("1.7976931348623157e308") else value


class Session:
    """One client connection."""

    def __init__(self, gateway: "FakeGateway", reader, writer):
        self.gateway = gateway
        self.reader = reader
        self.writer = writer
        self.client_id: int | None = None
        self.market_data_type = 1
        self.order_queue: asyncio.Queue = asyncio.Queue()
        self.tasks: set[asyncio.Task] = set()

    def send(self, fields) -> None:
        if not self.writer.is_closing():
            self.writer.write(encode(fields))

    def hang_up(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.transport.abort()

    async def run(self) -> None:
        try:
            await read_handshake(self.reader)
            connected = datetime.now(UTC).strftime("%Y%m%d %H:%M:%S UTC")
            self.send([SERVER_VERSION, connected])
            order_worker = asyncio.create_task(self._order_worker())
            self.tasks.add(order_worker)
            while True:
                fields = await read_fields(self.reader)
                self._dispatch(fields)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            for task in self.tasks:
                task.cancel()
            self._discard_untransmitted()
            self.gateway._forget(self)
            with contextlib.suppress(Exception):
                self.writer.close()

    def _discard_untransmitted(self) -> None:
        """TWS drops a session's orders that were never transmitted when its client goes away."""
        state = self.gateway.state
        state.orders = [o for o in state.orders if not (o.client_id == self.client_id and o.status == "PendingSubmit")]

    def _dispatch(self, fields: list[str]) -> None:
        name = m.IN_NAMES.get(int(fields[0]), f"msg{fields[0]}")
        self.gateway.state.requests.append((name, fields))
        if name in ORDER_MESSAGES:
            self.order_queue.put_nowait((name, fields))
            return
        task = asyncio.create_task(self._answer(name, fields))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _order_worker(self) -> None:
        while True:
            name, fields = await self.order_queue.get()
            await self._answer(name, fields)

    async def _answer(self, name: str, fields: list[str]) -> None:
        if name != "startApi" and self.gateway.state.latency:
            await asyncio.sleep(self.gateway.state.latency)
        handler = getattr(self, f"on_{name}", None)
        if handler is not None:
            handler(fields)

    def _fault(self, request: str, req_id: int, symbol: str | None = None) -> bool:
        """Apply a scripted fault for this request; True when the request must not be answered."""
        fault = self.gateway.state.fault_for(request, symbol)
        if fault is None:
            return False
        if fault.drop:
            self.hang_up()
        elif fault.code is not None:
            self.send(m.error(req_id, fault.code, fault.message or f"scripted error {fault.code}"))
        return True

    # -- connection ------------------------------------------------------------------
    def on_startApi(self, fields):
        client_id = int(fields[2])
        state = self.gateway.state
        if self._fault("startApi", -1):
            return
        if client_id in self.gateway.client_ids_in_use():
            self.send(
                m.error(-1, 326, "Unable to connect as the client id is already in use. Retry with a unique client id.")
            )
            self.hang_up()
            return
        self.client_id = client_id
        self.send(m.next_valid_id(state.next_order_id))
        self.send(m.managed_accounts(state.accounts))

    def on_reqIds(self, fields):
        self.send(m.next_valid_id(self.gateway.state.next_order_id))

    def on_reqCurrentTime(self, fields):
        self.send(m.current_time(int(time.time())))

    # -- market data -------------------------------------------------------------------
    def on_reqMarketDataType(self, fields):
        self.market_data_type = int(fields[2])

    def on_reqContractDetails(self, fields):
        req_id, symbol = int(fields[2]), fields[4]
        if self._fault("reqContractDetails", req_id, symbol):
            return
        if symbol in self.gateway.state.unknown_symbols:
            self.send(m.error(req_id, 200, "No security definition has been found for the request"))
            return
        self.send(m.contract_details(req_id, symbol, con_id_for(symbol)))
        self.send(m.contract_details_end(req_id))

    def on_reqMktData(self, fields):
        req_id, symbol, snapshot = int(fields[2]), fields[4], fields[-3] == "1"
        state = self.gateway.state
        if self._fault("reqMktData", req_id, symbol):
            return
        delayed = self.market_data_type in (3, 4)
        if not delayed and not state.live_data_subscribed:
            self.send(
                m.error(
                    req_id,
                    10089,
                    "Requested market data requires additional subscription for API. Delayed market data is available.",
                )
            )
            return
        quote = state.quote(symbol)
        ticks = m.DELAYED_TICKS if delayed else m.LIVE_TICKS
        if delayed:
            self.send(m.market_data_type(req_id, 3))
        for name in ("bid", "ask", "last", "close"):
            self.send(m.tick_price(req_id, ticks[name], getattr(quote, name), 100))
        self.send(m.tick_size(req_id, m.DELAYED_VOLUME if delayed else m.LIVE_VOLUME, quote.volume))
        if snapshot:
            self.send(m.tick_snapshot_end(req_id))

    def on_reqScannerSubscription(self, fields):
        req_id, rows = int(fields[1]), int(fields[2] or 50)
        if self._fault("reqScannerSubscription", req_id):
            return
        state = self.gateway.state
        above_price = _decimal(fields[6])
        above_volume = int(fields[8]) if fields[8] not in ("", "2147483647") else None
        chosen = []
        for symbol in state.scanner_results:
            quote = state.quote(symbol)
            if above_price is not None and quote.last <= above_price:
                continue
            if above_volume is not None and quote.volume <= above_volume:
                continue
            chosen.append((symbol, con_id_for(symbol)))
        self.send(m.scanner_data(req_id, chosen[:rows]))

    # -- orders -----------------------------------------------------------------------------
    def on_placeOrder(self, fields):
        state = self.gateway.state
        order_id, symbol = int(fields[1]), fields[3]
        # fields[2:14] are the contract (12 fields), then secIdType, secId.
        action, quantity, order_type = fields[16], Decimal(fields[17]), fields[18]
        order = GatewayOrder(
            order_id=order_id,
            client_id=self.client_id or 0,
            symbol=symbol,
            action=action,
            quantity=quantity,
            order_type=order_type,
            limit_price=_decimal(fields[19]),
            stop_price=_decimal(fields[20]),
            tif=fields[21],
            oca_group=fields[22],
            account=fields[23] or state.account,
            order_ref=fields[26],
            transmit=fields[27] == "1",
            parent_id=int(fields[28] or 0),
            perm_id=state.new_perm_id(),
        )
        fault = state.fault_for("placeOrder", symbol)
        if fault and fault.drop:
            # IB took the order (and works it if transmitted); the socket dies before any answer.
            self._accept(order)
            if order.transmit:
                for held in self._group(order):
                    self._activate(held)
            self.hang_up()
            return
        if fault and fault.ignore:
            return
        if fault and fault.code is not None:
            self.send(m.error(order_id, fault.code, fault.message or "Order rejected"))
            return
        self._accept(order)
        if order.transmit:
            for held in self._group(order):
                self._activate(held)

    def _accept(self, order: GatewayOrder) -> None:
        state = self.gateway.state
        existing = state.order(order.order_id)
        if existing is not None:
            state.orders.remove(existing)
        state.orders.append(order)
        state.next_order_id = max(state.next_order_id, order.order_id + 1)

    def _group(self, order: GatewayOrder) -> list[GatewayOrder]:
        """A transmitted order releases the bracket held with it (IB sends children transmit=False
        and the last one transmit=True)."""
        root = order.parent_id or order.order_id
        members = [o for o in self.gateway.state.orders if o.order_id == root or o.parent_id == root]
        return sorted((o for o in members if o.status == "PendingSubmit"), key=lambda o: o.order_id)

    def _activate(self, order: GatewayOrder) -> None:
        state = self.gateway.state
        if order.parent_id == 0 and state.fill_mode == "reject":
            order.status = "Inactive"
            self.send(m.error(order.order_id, 201, "Order rejected - reason: scripted rejection"))
            self.send(m.open_order(order, state.account, echo_ref=state.echo_order_ref))
            self.send(m.order_status(order))
            return
        order.status = "PreSubmitted" if order.order_type == "STP" else "Submitted"
        self.send(m.open_order(order, state.account, echo_ref=state.echo_order_ref))
        self.send(m.order_status(order))
        if order.parent_id == 0 and state.fill_mode in ("fill", "partial") and self._marketable(order):
            quote = state.quote(order.symbol)
            price = quote.ask if order.action == "BUY" else quote.bid
            shares = order.quantity if state.fill_mode == "fill" else (order.quantity / 2).to_integral_value()
            execution = state.execute(order, shares, price)
            self.send(m.open_order(order, state.account, echo_ref=state.echo_order_ref))
            self.send(m.order_status(order))
            self.send(m.exec_details(-1, execution, echo_ref=state.echo_order_ref))
            self.send(m.commission_report(execution))

    def _marketable(self, order: GatewayOrder) -> bool:
        if order.order_type == "MKT":
            return True
        quote = self.gateway.state.quote(order.symbol)
        if order.order_type == "LMT" and order.limit_price is not None:
            return order.limit_price >= quote.ask if order.action == "BUY" else order.limit_price <= quote.bid
        return False

    def on_cancelOrder(self, fields):
        order = self.gateway.state.order(int(fields[2]))
        if order is None or not order.is_open:
            self.send(m.error(int(fields[2]), 10148, "OrderId that needs to be cancelled cannot be cancelled"))
            return
        order.status = "Cancelled"
        self.send(m.order_status(order))
        self.send(m.error(order.order_id, 202, "Order Canceled - reason:"))

    def _send_open_orders(self) -> None:
        state = self.gateway.state
        for order in state.orders:
            if order.is_open and order.status != "PendingSubmit":
                self.send(m.open_order(order, state.account, echo_ref=state.echo_order_ref))
                self.send(m.order_status(order))
        self.send(m.open_order_end())

    def on_reqOpenOrders(self, fields):
        if not self._fault("reqOpenOrders", -1):
            self._send_open_orders()

    def on_reqAllOpenOrders(self, fields):
        if not self._fault("reqAllOpenOrders", -1):
            self._send_open_orders()

    def on_reqCompletedOrders(self, fields):
        self.send(m.completed_orders_end())

    def on_reqExecutions(self, fields):
        req_id = int(fields[2])
        if self._fault("reqExecutions", req_id):
            return
        state = self.gateway.state
        for execution in state.executions:
            self.send(m.exec_details(req_id, execution, echo_ref=state.echo_order_ref))
            self.send(m.commission_report(execution))
        self.send(m.exec_details_end(req_id))

    # -- account and positions ------------------------------------------------------------------
    def on_reqPositions(self, fields):
        state = self.gateway.state
        for symbol, (quantity, cost) in state.positions.items():
            self.send(m.position(state.account, symbol, con_id_for(symbol), quantity, cost))
        self.send(m.position_end())

    def _account_values(self) -> list[tuple[str, Decimal]]:
        state = self.gateway.state
        held = sum((q * state.quote(s).last for s, (q, _c) in state.positions.items()), Decimal(0))
        return [("NetLiquidation", state.cash + held), ("TotalCashValue", state.cash), ("GrossPositionValue", held)]

    def on_reqAccountUpdates(self, fields):
        state = self.gateway.state
        if fields[2] != "1":
            return
        for key, value in self._account_values():
            self.send(m.account_value(key, value, "USD", state.account))
        for symbol, (quantity, cost) in state.positions.items():
            if quantity:
                self.send(
                    m.portfolio(state.account, symbol, con_id_for(symbol), quantity, state.quote(symbol).last, cost)
                )
        self.send(m.account_time(datetime.now(UTC).strftime("%H:%M")))
        self.send(m.account_download_end(state.account))

    def on_reqAccountUpdatesMulti(self, fields):
        req_id = int(fields[2])
        for key, value in self._account_values():
            self.send(m.account_update_multi(req_id, self.gateway.state.account, key, value, "USD"))
        self.send(m.account_update_multi_end(req_id))

    def on_reqAccountSummary(self, fields):
        req_id = int(fields[2])
        for key, value in self._account_values():
            self.send(m.account_summary(req_id, self.gateway.state.account, key, value, "USD"))
        self.send(m.account_summary_end(req_id))


class FakeGateway:
    """The fake IB Gateway. Script it through `state` (or the helpers below) and inspect
    `state.orders`, `state.executions`, `state.positions` and `state.requests`."""

    def __init__(self, *, account: str = "DU1234567", latency: float = 0.0):
        self.state = GatewayState(account=account, latency=latency)
        self.host = "127.0.0.1"
        self.port = 0
        self._server: asyncio.base_events.Server | None = None
        self._sessions: set[Session] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- scripting -----------------------------------------------------------------------------
    def set_quote(self, symbol: str, bid, ask, last=None, volume: int = 1_000_000, close=None) -> None:
        bid, ask = Decimal(str(bid)), Decimal(str(ask))
        last = Decimal(str(last)) if last is not None else (bid + ask) / 2
        close = Decimal(str(close)) if close is not None else last
        self.state.quotes[symbol] = ScriptedQuote(bid=bid, ask=ask, last=last, volume=volume, close=close)

    def inject_error(
        self, request: str, code: int, message: str = "", *, symbol: str | None = None, times: int | None = None
    ) -> None:
        self.state.faults.append(Fault(request, symbol, code=code, message=message, times=times))

    def ignore(self, request: str, *, symbol: str | None = None, times: int | None = None) -> None:
        self.state.faults.append(Fault(request, symbol, ignore=True, times=times))

    def drop_after(self, request: str, *, symbol: str | None = None) -> None:
        """Hang up on receiving this request (for placeOrder: after the gateway took the order)."""
        self.state.faults.append(Fault(request, symbol, drop=True, times=1))

    def send_error(self, code: int, message: str, req_id: int = -1) -> None:
        """Push an error to every connected client now (e.g. 1100 connectivity lost)."""
        self._call_soon(lambda: [s.send(m.error(req_id, code, message)) for s in list(self._sessions)])

    def disconnect_all(self) -> None:
        self._call_soon(lambda: [s.hang_up() for s in list(self._sessions)])

    def seed_order(self, **fields) -> GatewayOrder:
        """An order IB already holds (placed before a crash), for recovery tests."""
        order = GatewayOrder(
            order_id=fields.pop("order_id", self.state.next_order_id),
            client_id=fields.pop("client_id", 0),
            perm_id=self.state.new_perm_id(),
            tif=fields.pop("tif", "DAY"),
            oca_group=fields.pop("oca_group", ""),
            account=fields.pop("account", self.state.account),
            transmit=True,
            parent_id=fields.pop("parent_id", 0),
            limit_price=fields.pop("limit_price", None),
            stop_price=fields.pop("stop_price", None),
            status=fields.pop("status", "Submitted"),
            **fields,
        )
        self.state.orders.append(order)
        self.state.next_order_id = max(self.state.next_order_id, order.order_id + 1)
        return order

    def fill(self, order: GatewayOrder, price=None, shares=None):
        quote = self.state.quote(order.symbol)
        price = Decimal(str(price)) if price is not None else (quote.ask if order.action == "BUY" else quote.bid)
        return self.state.execute(order, Decimal(str(shares)) if shares else order.quantity - order.filled, price)

    def orders_with_ref(self, order_ref: str) -> list[GatewayOrder]:
        return [o for o in self.state.orders if o.order_ref == order_ref]

    def requests_named(self, name: str) -> list[list[str]]:
        return [fields for request, fields in self.state.requests if request == name]

    # -- running ---------------------------------------------------------------------------------
    def client_ids_in_use(self) -> set[int]:
        return {s.client_id for s in self._sessions if s.client_id is not None}

    def _forget(self, session: Session) -> None:
        self._sessions.discard(session)

    async def _on_connect(self, reader, writer) -> None:
        session = Session(self, reader, writer)
        self._sessions.add(session)
        await session.run()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> "FakeGateway":
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self._on_connect, host, port)
        self.host, self.port = host, self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for session in list(self._sessions):
                session.hang_up()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def _call_soon(self, callback) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(callback)

    @classmethod
    @contextlib.contextmanager
    def run_in_thread(cls, **options):
        """A running gateway on its own event loop in a background thread (for synchronous clients)."""
        gateway = cls(**options)
        loop = asyncio.new_event_loop()
        started = threading.Event()

        def serve():
            asyncio.set_event_loop(loop)
            loop.run_until_complete(gateway.start())
            started.set()
            loop.run_forever()

        thread = threading.Thread(target=serve, name="fake-ib-gateway", daemon=True)
        thread.start()
        if not started.wait(10):
            raise RuntimeError("fake gateway did not start")
        try:
            yield gateway
        finally:
            asyncio.run_coroutine_threadsafe(gateway.stop(), loop).result(5)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
            loop.close()

"""IB: Interactive Brokers through IB Gateway or TWS, over the TWS API.

The client library (ib_async, or ib_insync 0.9.86) is imported only through
`trading.brokers.ib_compat`. This module turns its asyncio API into the synchronous
`BaseBroker` interface:

- **One event loop per broker.** `connect()` creates a fresh loop and makes it the
  thread's current loop (the library's sync helpers look it up there); `close()`
  disconnects, closes the loop and restores whatever loop the thread had. A management
  command or a django-q2 job therefore owns its connection and its loop, and never
  shares either.
- **Every wait has a deadline**: `timeout` (TRADE_LABS_IB_TIMEOUT seconds) per request,
  per quote, per order acknowledgement. Nothing here waits for IB without one.
- **Callbacks only note facts** (errors, connectivity, "something arrived") in memory;
  the ORM is never touched from an IB event. Callers record what the methods return.
- **clientId**: `client_id` (TRADE_LABS_IB_CLIENT_ID) is tried first; when the gateway
  answers 326 (clientId in use) the next ids are tried, up to `client_id_attempts`, so
  concurrent workers each get their own id. Set the gateway's "Master API client ID" to
  TRADE_LABS_IB_CLIENT_ID so that a later process also sees executions of earlier ones.
- **Safety**: `sends_real_orders = True`, so the pipeline fills locally unless
  TRADE_LABS_ARMED=1, and refuses a live account. Every state-changing method (place,
  cancel, …) passes `BaseBroker`'s gate before anything is written to the socket: PAPER
  mode, armed, and connected to a paper account (ids start with DU).

Errors: unreachable gateway → BrokerUnavailable; a symbol without data → that symbol's
Quote(error=...); an order whose fate is unknown (timeout, socket dropped) →
BrokerError(permanent=False), adopted later by its orderRef; an order IB rejected →
BrokerError(permanent=True).
"""

import asyncio
import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import structlog
from django.conf import settings

from trading.brokers import ib_compat
from trading.brokers.base import (
    AccountInfo,
    BaseBroker,
    BracketRequest,
    BracketResult,
    BrokerError,
    BrokerPosition,
    BrokerUnavailable,
    Execution,
    OrderRequest,
    OrderState,
    Quote,
    ScanResult,
)
from trading.models import Order
from trading.money import to_money, to_price

log = structlog.get_logger(__name__)

PAPER_ACCOUNT_PREFIX = "DU"

# TWS API message codes we act on (https://interactivebrokers.github.io/tws-api/message_codes.html).
CLIENT_ID_IN_USE = 326
CONNECTIVITY_LOST = 1100
CONNECTIVITY_RESTORED = {1101, 1102}
NOT_SUBSCRIBED = {354, 10089, 10090}  # live data not subscribed: ask again for delayed data
PACING = {100, 162, 420}
ORDER_CANCELLED = 202  # a cancellation, not a rejection


def _is_informational(code: int) -> bool:
    """Notices that do not end a request: farm status (21xx), 'displaying delayed data' (10167)."""
    return 2100 <= code < 2200 or code in (10167, 1101, 1102)


DONE_STATUSES = {"Filled", "Cancelled", "ApiCancelled", "Inactive"}
UNACKNOWLEDGED_STATUSES = {"", "PendingSubmit", "ApiPending"}


@dataclass(frozen=True)
class _IBError:
    req_id: int
    code: int
    message: str
    symbol: str

    def __str__(self) -> str:
        return f"{self.message} ({self.code})"


class _ConnectionLost(ConnectionError):
    """The API socket closed while we were waiting."""


class _ClientIdInUse(ConnectionError):
    pass


def _number(value) -> float | None:
    """A usable IB number: None for missing, NaN, IB's 'unset' and its -1/0 'no quote' markers."""
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(value) or math.isinf(value) or value >= ib_compat.UNSET_DOUBLE or value <= 0:
        return None
    return value


def _price(value) -> Decimal | None:
    number = _number(value)
    return None if number is None else to_price(number)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class IBBroker(BaseBroker):
    """Options: host, port, client_id, account, timeout (seconds), client_id_attempts,
    fill_wait (seconds to wait for an entry fill after acknowledgement), location (scanner)."""

    name = "ib"
    sends_real_orders = True

    def __init__(self, alias="default", **options):
        super().__init__(alias, **options)
        self.host = str(options.get("host") or "127.0.0.1")
        self.port = int(options.get("port") or 4002)
        self.base_client_id = int(options.get("client_id", 17))
        self.client_id_attempts = max(1, int(options.get("client_id_attempts", 5)))
        self.configured_account = str(options.get("account") or "").strip()
        self.timeout = float(options.get("timeout") or 10)
        self.fill_wait = float(options.get("fill_wait", min(self.timeout, 5.0)))
        self.location = options.get("location")
        self.client_id: int | None = None
        self.account_id = ""
        self._ib = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous_loop: asyncio.AbstractEventLoop | None = None
        self._activity: asyncio.Event | None = None
        self._errors: list[_IBError] = []
        self._connectivity_lost = False
        self._disconnected = False
        self._delayed_data = False
        self._contracts: dict[str, object] = {}
        # Our refs by what our own placeOrder produced, for reports that come back without one.
        self._refs_by_order_key: dict[tuple[int, int], str] = {}
        self._refs_by_perm_id: dict[int, str] = {}

    # -- lifecycle ------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._ib is not None and not self._disconnected and self._ib.isConnected()

    @property
    def client(self):
        """The connected client; BrokerUnavailable (never AttributeError) once closed or dropped."""
        if not self.connected:
            raise BrokerUnavailable(f"not connected to the IB gateway at {self.host}:{self.port}")
        return self._ib

    def connect(self) -> None:
        if self.connected:
            return
        self._open_loop()
        try:
            self._connect_any_client_id()
            self.account_id = self._resolve_account()
        except BaseException:
            self.close()
            raise
        log.info(
            "ib_connected",
            host=self.host,
            port=self.port,
            client_id=self.client_id,
            account=self.account_id,
            library=f"{ib_compat.LIBRARY} {ib_compat.VERSION}",
        )

    def close(self) -> None:
        ib, self._ib = self._ib, None
        loop, self._loop = self._loop, None
        if ib is not None:
            try:
                ib.disconnect()
            except Exception as exc:  # closing must not fail; the socket is gone either way
                log.warning("ib_disconnect_failed", error=repr(exc))
        if loop is not None and not loop.is_closed():
            try:
                # Let the transport finish closing, then stop anything the library left running.
                loop.run_until_complete(asyncio.sleep(0))
                pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()
                asyncio.set_event_loop(self._previous_loop)
                self._previous_loop = None
        self._activity = None

    def _open_loop(self) -> None:
        # The thread's current loop, read without creating one (get_event_loop() would).
        self._previous_loop = getattr(getattr(asyncio.get_event_loop_policy(), "_local", None), "_loop", None)
        if self._previous_loop is not None and self._previous_loop.is_closed():
            self._previous_loop = None
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._activity = asyncio.Event()
        self._errors = []
        self._connectivity_lost = False
        self._disconnected = False
        self._delayed_data = False
        self._contracts = {}

    def _connect_any_client_id(self) -> None:
        tried = []
        for client_id in range(self.base_client_id, self.base_client_id + self.client_id_attempts):
            tried.append(client_id)
            ib = ib_compat.IB()
            try:
                self._loop.run_until_complete(asyncio.wait_for(self._connect_async(ib, client_id), self.timeout))
            except _ClientIdInUse:
                log.warning("ib_client_id_in_use", client_id=client_id)
                ib.disconnect()
                continue
            except TimeoutError:
                ib.disconnect()
                raise BrokerUnavailable(
                    f"IB gateway at {self.host}:{self.port} did not complete the API handshake within "
                    f"{self.timeout:g} s (is it logged in, and is the API enabled?)"
                ) from None
            except ConnectionRefusedError:
                ib.disconnect()
                raise BrokerUnavailable(
                    f"cannot reach the IB gateway at {self.host}:{self.port}: connection refused "
                    "(is IB Gateway/TWS running with the API port open?)"
                ) from None
            except (OSError, ConnectionError) as exc:
                ib.disconnect()
                raise BrokerUnavailable(
                    f"cannot connect to the IB gateway at {self.host}:{self.port}: {exc or type(exc).__name__}"
                ) from None
            self._ib = ib
            self.client_id = client_id
            self._watch(ib)
            return
        ids = ", ".join(str(i) for i in tried)
        raise BrokerUnavailable(
            f"IB gateway at {self.host}:{self.port} refused clientId {ids}: already in use ({CLIENT_ID_IN_USE}); "
            "close the other API sessions or set TRADE_LABS_IB_CLIENT_ID to a free range"
        )

    async def _connect_async(self, ib, client_id: int) -> None:
        loop = asyncio.get_running_loop()
        refused = loop.create_future()

        def on_error(req_id, code, message, contract=None):
            if code == CLIENT_ID_IN_USE and not refused.done():
                refused.set_exception(_ClientIdInUse(message))

        def on_api_error(message):
            if not refused.done():
                refused.set_exception(ConnectionError(message))

        ib.errorEvent += on_error
        ib.client.apiError += on_api_error
        connecting = asyncio.ensure_future(
            ib.connectAsync(self.host, self.port, client_id, self.timeout, False, self.configured_account)
        )
        try:
            await asyncio.wait({connecting, refused}, return_when=asyncio.FIRST_COMPLETED)
            if refused.done() and isinstance(refused.exception(), _ClientIdInUse):
                refused.result()
            if connecting.done():
                connecting.result()
            else:
                refused.result()
        finally:
            ib.errorEvent -= on_error
            ib.client.apiError -= on_api_error
            if not connecting.done():
                connecting.cancel()
                await asyncio.gather(connecting, return_exceptions=True)
            if not refused.done():
                refused.cancel()
            elif not refused.cancelled():
                refused.exception()  # retrieved: no "exception never retrieved" warning

    def _watch(self, ib) -> None:
        ib.errorEvent += self._on_error
        ib.updateEvent += self._wake
        ib.disconnectedEvent += self._on_disconnected

    def _on_error(self, req_id, code, message, contract=None) -> None:
        symbol = getattr(contract, "symbol", "") if contract is not None else ""
        self._errors.append(_IBError(int(req_id), int(code), str(message), symbol or ""))
        if code == CONNECTIVITY_LOST:
            self._connectivity_lost = True
            log.warning("ib_connectivity_lost", message=message)
        elif code in CONNECTIVITY_RESTORED:
            self._connectivity_lost = False
            log.info("ib_connectivity_restored", code=code, message=message)
        self._wake()

    def _on_disconnected(self) -> None:
        self._disconnected = True
        self._wake()

    def _wake(self, *args) -> None:
        if self._activity is not None:
            self._activity.set()

    def _resolve_account(self) -> str:
        accounts = [a for a in self._ib.managedAccounts() if a]
        if self.configured_account:
            if accounts and self.configured_account not in accounts:
                raise BrokerError(
                    f"TRADE_LABS_IB_ACCOUNT={self.configured_account} is not an account of this IB login "
                    f"(it manages {', '.join(accounts)})",
                    permanent=True,
                )
            return self.configured_account
        if len(accounts) == 1:
            return accounts[0]
        if not accounts:
            raise BrokerUnavailable("the IB gateway reported no managed account")
        raise BrokerError(
            f"this IB login manages several accounts ({', '.join(accounts)}); set TRADE_LABS_IB_ACCOUNT to one",
            permanent=True,
        )

    # -- running coroutines with deadlines ----------------------------------------------
    def _run(self, coroutine, *, what: str, timeout: float | None = None):
        """Run one coroutine on our loop, bounded by `timeout` (default: the configured timeout)."""
        if not self.connected:
            coroutine.close()
            raise BrokerUnavailable(f"not connected to the IB gateway at {self.host}:{self.port} ({what})")
        limit = self.timeout if timeout is None else timeout
        try:
            return self._loop.run_until_complete(asyncio.wait_for(coroutine, limit))
        except TimeoutError:
            raise BrokerError(f"IB gateway did not answer {what} within {limit:g} s", permanent=False) from None
        except ConnectionError as exc:
            raise BrokerUnavailable(f"lost the connection to the IB gateway during {what}: {exc}") from None

    async def _wait(self, condition: Callable[[], object], deadline: float) -> bool:
        """Wait until `condition()` is true (True) or the loop time passes `deadline` (False).
        Raises _ConnectionLost when the socket closes first."""
        loop = asyncio.get_running_loop()
        while True:
            if condition():
                return True
            if self._disconnected:
                raise _ConnectionLost("the IB gateway closed the connection")
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            self._activity.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._activity.wait(), remaining)

    def _error_since(self, mark: int, *, req_ids=(), symbol: str = "") -> _IBError | None:
        """The first error (not a notice) since `mark` for these request/order ids or this symbol."""
        for error in self._errors[mark:]:
            if _is_informational(error.code):
                continue
            if error.req_id in req_ids or (symbol and error.symbol == symbol):
                return error
        return None

    def _connectivity_error(self) -> str:
        return f"the IB gateway lost its connection to IB's servers ({CONNECTIVITY_LOST})"

    # -- clock and market data --------------------------------------------------------
    def market_moment(self, requested: datetime | None, now: datetime) -> tuple[datetime, str]:
        moment = _utc(now).replace(second=0, microsecond=0)
        label = "live: IB market data"
        if requested is not None:
            label += f"; requested moment {requested.isoformat()} ignored: IB trades at the current moment"
        return moment, label

    def scan(self, *, at, scan_code, above_price, above_volume, max_results, spy_only=False) -> list[ScanResult]:
        if spy_only:
            return [ScanResult(symbol="SPY", rank=1)]
        location = self.location or settings.TRADE_LABS_SCANNER.get("location", "STK.US.MAJOR")
        subscription = ib_compat.ScannerSubscription(
            instrument="STK",
            locationCode=location,
            scanCode=scan_code,
            numberOfRows=int(max_results),
            abovePrice=float(above_price),
            aboveVolume=int(above_volume),
        )
        rows = self._run(self._scan_async(subscription), what=f"the {scan_code} scanner", timeout=self.timeout + 1)
        results, seen = [], set()
        for row in sorted(rows, key=lambda r: r.rank):
            contract = row.contractDetails.contract
            symbol = contract.symbol if contract is not None else ""
            if not symbol or symbol in seen:
                continue
            seen.add(symbol)
            if contract.conId:
                self._contracts[symbol] = ib_compat.Stock(
                    symbol,
                    "SMART",
                    contract.currency or "USD",
                    conId=contract.conId,
                    primaryExchange=contract.primaryExchange or "",
                )
            results.append(ScanResult(symbol=symbol, rank=len(results) + 1))
            if len(results) >= max_results:
                break
        return results

    async def _scan_async(self, subscription) -> list:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        mark = len(self._errors)
        finished = []
        rows = self._ib.reqScannerSubscription(subscription, [], [])
        rows.updateEvent += lambda *args: finished.append(True)
        try:
            answered = await self._wait(
                lambda: finished or self._error_since(mark, req_ids={rows.reqId}) or self._connectivity_lost,
                deadline,
            )
            error = self._error_since(mark, req_ids={rows.reqId})
            if error is not None:
                kind = "pacing violation" if error.code in PACING else "error"
                raise BrokerError(f"IB scanner {kind}: {error}", permanent=error.code not in PACING, code=error.code)
            if self._connectivity_lost:
                raise BrokerUnavailable(self._connectivity_error())
            if not answered:
                raise BrokerError(f"IB scanner did not answer within {self.timeout:g} s", permanent=False)
            return list(rows)
        finally:
            if not self._disconnected:
                with contextlib.suppress(ConnectionError):
                    self._ib.cancelScannerSubscription(rows)

    def quotes(self, symbols: list[str], *, at: datetime) -> dict[str, Quote]:
        """All symbols at once, each with its own deadline: the run waits about one round trip
        (plus IB's pacing of ~45 messages a second), and a slow symbol costs only itself."""
        if not symbols:
            return {}
        unique = list(dict.fromkeys(symbols))
        results = self._run(
            self._quotes_async(unique), what=f"quotes for {len(unique)} symbols", timeout=self.timeout + 2
        )
        if self._connectivity_lost and not any(q.bid or q.ask or q.last for q in results):
            raise BrokerUnavailable(self._connectivity_error())
        return {quote.symbol: quote for quote in results}

    async def _quotes_async(self, symbols: list[str]) -> list[Quote]:
        deadline = asyncio.get_running_loop().time() + self.timeout
        return await asyncio.gather(*(self._quote_guarded(symbol, deadline) for symbol in symbols))

    async def _quote_guarded(self, symbol: str, deadline: float) -> Quote:
        try:
            return await self._quote_one(symbol, deadline)
        except _ConnectionLost:
            return Quote(symbol=symbol, error="the IB gateway closed the connection")
        except ConnectionError as exc:
            return Quote(symbol=symbol, error=f"connection to the IB gateway lost: {exc}")
        except TimeoutError:
            return Quote(symbol=symbol, error=f"no answer from IB within {self.timeout:g} s")

    async def _qualified(self, symbol: str, deadline: float):
        """The symbol's contract with IB's conId (from the scanner, or asked for now); None with a reason."""
        contract = self._contracts.get(symbol)
        if contract is not None:
            return contract, ""
        mark = len(self._errors)
        contract = ib_compat.Stock(symbol, "SMART", "USD")
        remaining = deadline - asyncio.get_running_loop().time()
        await asyncio.wait_for(self._ib.qualifyContractsAsync(contract), max(remaining, 0.001))
        if not contract.conId:
            error = self._error_since(mark, symbol=symbol)
            return None, f"IB does not know this stock: {error}" if error else "IB does not know this stock"
        self._contracts[symbol] = contract
        return contract, ""

    async def _quote_one(self, symbol: str, deadline: float) -> Quote:
        contract, problem = await self._qualified(symbol, deadline)
        if contract is None:
            return Quote(symbol=symbol, error=problem)
        sent_delayed = self._delayed_data
        ticker, error = await self._stream_quote(symbol, contract, deadline)
        if error is not None and error.code in NOT_SUBSCRIBED and not sent_delayed:
            self._use_delayed_data(error)
            ticker, error = await self._stream_quote(symbol, contract, deadline)
        if _ticker_complete(ticker):
            return _quote_from(symbol, ticker)
        if error is not None:
            return _quote_from(symbol, ticker, error=f"no market data: {error}")
        if self._connectivity_lost:
            return _quote_from(symbol, ticker, error=self._connectivity_error())
        if ticker.time is None:
            return Quote(symbol=symbol, error=f"no market data within {self.timeout:g} s")
        # Deadline with part of the quote in: returned as it stands, the scorer judges it.
        return _quote_from(symbol, ticker)

    async def _stream_quote(self, symbol: str, contract, deadline: float):
        """Subscribe until bid, ask and last are in, IB reports an error for the symbol, or the
        deadline; then unsubscribe (unless IB ended the request itself with its error)."""
        mark = len(self._errors)
        ticker = self._ib.reqMktData(contract, "", False, False)
        # The library reuses one Ticker per contract: clear what an earlier request left in it,
        # or a second quote on this connection would be the first one again.
        for name in ("bid", "ask", "last", "close", "volume"):
            setattr(ticker, name, math.nan)
        ticker.time = None

        def settled():
            return _ticker_complete(ticker) or self._error_since(mark, symbol=symbol) or self._connectivity_lost

        error = None
        try:
            await self._wait(settled, deadline)
        finally:
            error = self._error_since(mark, symbol=symbol)
            if error is None or _ticker_complete(ticker):
                self._cancel_market_data(contract)
        return ticker, error

    def _use_delayed_data(self, error: _IBError) -> None:
        if not self._delayed_data:
            self._delayed_data = True
            # Type 3: live where subscribed, delayed elsewhere. Applies to this connection's later requests.
            self._ib.reqMarketDataType(3)
            log.warning("ib_delayed_market_data", reason=str(error))

    def _cancel_market_data(self, contract) -> None:
        if self._disconnected:
            return
        with contextlib.suppress(ConnectionError):
            self._ib.cancelMktData(contract)

    # -- account and positions --------------------------------------------------------
    def account(self) -> AccountInfo:
        values = self._account_values()
        return AccountInfo(
            account_id=self.account_id,
            is_paper=self.account_id.startswith(PAPER_ACCOUNT_PREFIX),
            cash=values.get("TotalCashValue"),
            net_liquidation=values.get("NetLiquidation"),
        )

    def _account_values(self) -> dict[str, Decimal]:
        if not self.connected:
            raise BrokerUnavailable(f"not connected to the IB gateway at {self.host}:{self.port} (account)")
        values = _pick_account_values(self._ib.accountValues(self.account_id))
        if {"TotalCashValue", "NetLiquidation"} <= values.keys():
            return values
        try:
            summary = self._run(self._ib.accountSummaryAsync(self.account_id), what="the account summary")
        except BrokerUnavailable:
            raise
        except BrokerError as exc:
            log.warning("ib_account_summary_unavailable", reason=str(exc))
            return values
        return {**values, **_pick_account_values(summary)}

    def positions(self) -> list[BrokerPosition]:
        held = self._run(self.client.reqPositionsAsync(), what="positions")
        positions = []
        for position in held:
            if self.account_id and position.account != self.account_id:
                continue
            if position.contract.secType != "STK" or not position.position:
                continue
            positions.append(
                BrokerPosition(
                    symbol=position.contract.symbol,
                    quantity=int(position.position),
                    average_cost=to_price(position.avgCost),
                )
            )
        return sorted(positions, key=lambda p: p.symbol)

    # -- orders -------------------------------------------------------------------------
    def is_paper_account(self) -> bool:
        """From the account resolved at connect: asks IB nothing."""
        return self.account_id.startswith(PAPER_ACCOUNT_PREFIX)

    def place_bracket(self, bracket: BracketRequest, *, at: datetime) -> BracketResult:
        return self._place(list(bracket.legs), label=f"{bracket.entry.symbol} bracket")

    def place_order(self, order: OrderRequest, *, at: datetime) -> BracketResult:
        return self._place([order], label=f"{order.symbol} {order.leg} order")

    def _place(self, requests: list[OrderRequest], *, label: str) -> BracketResult:
        """Send these orders unless IB already holds one of their refs; then report what IB says."""
        refs = {request.order_ref for request in requests}
        held = self.find_orders(sorted(refs))
        executed = [e for e in self.executions() if e.order_ref in refs]
        if held or executed:
            # Already at IB under our idempotency key: report it, never send it again.
            log.warning("ib_order_already_held", order_ref=requests[0].order_ref, orders=len(held))
            return BracketResult(orders=held, executions=executed)
        return self._run(
            self._send_async(requests, label=label),
            what=f"the {label} (outcome unknown, adopted later by its orderRef)",
            timeout=self.timeout * 2 + self.fill_wait + 1,
        )

    async def _send_async(self, requests: list[OrderRequest], *, label: str) -> BracketResult:
        loop = asyncio.get_running_loop()
        symbol = requests[0].symbol
        try:
            contract, problem = await self._qualified(symbol, loop.time() + self.timeout)
        except TimeoutError:
            raise BrokerError(
                f"{label} not sent: IB did not describe {symbol} within {self.timeout:g} s", permanent=False
            ) from None
        if contract is None:
            raise BrokerError(f"{label} not sent: {problem}", permanent=True)
        orders = self._ib_orders(requests)
        for order, request in zip(orders, requests, strict=True):
            self._refs_by_order_key[(self.client_id, order.orderId)] = request.order_ref
        mark = len(self._errors)
        trades = []
        # Parent first, then its children; only the last order transmits, so IB gets the bracket whole.
        for order in orders:
            try:
                trades.append(self._ib.placeOrder(contract, order))
            except ConnectionError as exc:
                if not trades:
                    raise BrokerUnavailable(f"{label} not sent: no connection to the IB gateway ({exc})") from None
                raise BrokerError(
                    f"connection to the IB gateway lost while sending the {label} ({len(trades)} of "
                    f"{len(orders)} orders written); outcome unknown, adopted later by its orderRef",
                    permanent=False,
                ) from None
        log.info("ib_orders_sent", label=label, order_ref=requests[0].order_ref, order_id=orders[0].orderId)
        primary = trades[0]

        def rejection() -> _IBError | None:
            if _filled(primary) or primary.orderStatus.status not in DONE_STATUSES:
                return None
            error = self._error_since(mark, req_ids={primary.order.orderId})
            if error is not None and error.code != ORDER_CANCELLED:
                return error
            if primary.orderStatus.status == "Inactive":
                return error or _IBError(primary.order.orderId, 0, "IB made the order inactive", symbol)
            return None

        unknown = "outcome unknown, adopted later by its orderRef"
        try:
            acknowledged = await self._wait(
                lambda: rejection() or self._connectivity_lost or all(_acknowledged(t) for t in trades),
                loop.time() + self.timeout,
            )
            refused = rejection()
            if refused is not None:
                raise BrokerError(f"IB rejected the {label}: {refused}", permanent=True, code=refused.code)
            if not acknowledged and self._connectivity_lost:
                raise BrokerError(f"{self._connectivity_error()} while the {label} was sent; {unknown}")
            if not acknowledged:
                raise BrokerError(f"IB did not acknowledge the {label} within {self.timeout:g} s; {unknown}")
            # Done means done and reported: IB's orderStatus "Filled" may arrive before the
            # execDetails that carry the fill, and a fill without its execution is not recorded.
            await self._wait(
                lambda: (
                    primary.orderStatus.status in DONE_STATUSES
                    and sum(int(fill.execution.shares) for fill in primary.fills) >= _filled(primary)
                    and _commissions_in(fill for trade in trades for fill in trade.fills)
                ),
                loop.time() + self.fill_wait,
            )
        except _ConnectionLost:
            raise BrokerError(f"the IB gateway closed the connection after the {label} was sent; {unknown}") from None
        order_ids = {trade.order.orderId for trade in trades}
        errors = {e.req_id: e for e in self._errors[mark:] if e.req_id in order_ids and not _is_informational(e.code)}
        # Our refs from our requests: IB's echo of orderRef may be blank (and the library copies it).
        refs = [request.order_ref for request in requests]
        for trade, ref in zip(trades, refs, strict=True):
            if trade.order.permId:
                self._refs_by_perm_id[trade.order.permId] = ref
        return BracketResult(
            orders=[
                _order_state(trade, errors.get(trade.order.orderId), order_ref=ref)
                for trade, ref in zip(trades, refs, strict=True)
            ],
            executions=[_execution(fill, ref) for trade, ref in zip(trades, refs, strict=True) for fill in trade.fills],
        )

    def _ib_orders(self, requests: list[OrderRequest]) -> list:
        """IB orders for one stand-alone order, or a bracket: the entry as parent, its stop and
        target as children in one OCA group, the last child transmitting all three."""
        parent = self._ib_order(requests[0], transmit=len(requests) == 1)
        # Every order's id is taken before sending, so each report can be traced to our request.
        parent.orderId = self._ib.client.getReqId()
        if len(requests) == 1:
            return [parent]
        oca_group = f"{requests[0].order_ref}-oca"
        children = [
            self._ib_order(
                request,
                parent_id=parent.orderId,
                oca_group=oca_group,
                transmit=index == len(requests) - 1,
            )
            for index, request in enumerate(requests[1:], start=1)
        ]
        for child in children:
            child.orderId = self._ib.client.getReqId()
        return [parent, *children]

    def _ib_order(self, request: OrderRequest, *, parent_id: int = 0, oca_group: str = "", transmit: bool):
        order = ib_compat.Order(
            action=request.side,
            totalQuantity=request.quantity,
            orderType=request.order_type,
            orderRef=request.order_ref,
            account=self.account_id,
            # Entries and exits live for the day; the protective legs stay until one of them fills.
            tif="GTC" if parent_id else "DAY",
            transmit=transmit,
        )
        if request.limit_price is not None:
            order.lmtPrice = float(request.limit_price)
        if request.stop_price is not None:
            order.auxPrice = float(request.stop_price)
        if parent_id:
            order.parentId = parent_id
        if oca_group:
            order.ocaGroup = oca_group
            order.ocaType = 1  # the other leg is cancelled when one fills
        return order

    def cancel_order(self, order_ref: str) -> None:
        """Cancel IB's working order with this ref; an order already done (or never held) is left alone."""
        self._run(self._cancel_async(order_ref), what=f"cancelling {order_ref}", timeout=self.timeout * 2 + 1)

    async def _cancel_async(self, order_ref: str) -> None:
        loop = asyncio.get_running_loop()
        trades = await asyncio.wait_for(self._ib.reqAllOpenOrdersAsync(), self.timeout)
        working = [
            t for t in trades if self._ref_of(t.order) == order_ref and t.orderStatus.status not in DONE_STATUSES
        ]
        if not working:
            log.info("ib_cancel_nothing_open", order_ref=order_ref)
            return
        for trade in working:
            self._ib.cancelOrder(trade.order)
        try:
            done = await self._wait(
                lambda: all(t.orderStatus.status in DONE_STATUSES for t in working), loop.time() + self.timeout
            )
        except _ConnectionLost:
            raise BrokerError(f"the IB gateway closed the connection while cancelling {order_ref}") from None
        if not done:
            raise BrokerError(f"IB did not confirm cancelling {order_ref} within {self.timeout:g} s", permanent=False)

    # -- what IB holds: recovery and sync ----------------------------------------------------
    def _ref_of(self, order, broker_order_ids: dict[str, str] | None = None, *, client_id=None) -> str:
        """Our ref for an IB order or execution: the orderRef IB echoed, else what our own
        placeOrder produced ((clientId, orderId), then permId), else the broker ids the book
        recorded."""
        if order.orderRef:
            return order.orderRef
        client_id = order.clientId if client_id is None else client_id
        ref = self._refs_by_order_key.get((client_id, order.orderId)) or self._refs_by_perm_id.get(order.permId)
        if not ref and broker_order_ids:
            ref = broker_order_ids.get(str(order.permId or order.orderId), "")
        return ref or ""

    def open_orders(self) -> list[OrderState]:
        trades = self._run(self.client.reqAllOpenOrdersAsync(), what="open orders")
        return [
            _order_state(t, order_ref=self._ref_of(t.order))
            for t in trades
            if t.orderStatus.status not in DONE_STATUSES
        ]

    def find_orders(self, order_refs: list[str], *, broker_order_ids=None) -> list[OrderState]:
        if not order_refs:
            return []
        wanted = {ref: index for index, ref in enumerate(order_refs)}
        trades = self._run(self._held_trades_async(), what="open and completed orders")
        found = [(t, ref) for t in trades if (ref := self._ref_of(t.order, broker_order_ids)) in wanted]
        found.sort(key=lambda pair: (wanted[pair[1]], pair[0].order.permId))
        return [_order_state(t, order_ref=ref) for t, ref in found]

    async def _held_trades_async(self) -> list:
        """Every order IB still knows: open (any client), completed today, and this session's."""
        open_trades, completed = await asyncio.gather(
            self._ib.reqAllOpenOrdersAsync(), self._ib.reqCompletedOrdersAsync(False)
        )
        merged: dict = {}
        for trade in [*self._ib.trades(), *open_trades, *completed]:
            key = trade.order.permId or (trade.order.clientId, trade.order.orderId)
            known = merged.get(key)
            # A finished state beats a working one; otherwise the latest report wins.
            if (
                known is None
                or trade.orderStatus.status in DONE_STATUSES
                or known.orderStatus.status not in DONE_STATUSES
            ):
                merged[key] = trade
        return list(merged.values())

    def executions(self, since: datetime | None = None, *, broker_order_ids=None, order_refs=None) -> list[Execution]:
        # IB reports the session's executions as a whole; `order_refs` cannot narrow the request.
        fills = self._run(self._executions_async(broker_order_ids), what="executions", timeout=self.timeout + 1)
        since = _utc(since)
        return [e for e in fills if since is None or e.time >= since]

    async def _executions_async(self, broker_order_ids: dict[str, str] | None) -> list[Execution]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        answered = await self._ib.reqExecutionsAsync(ib_compat.ExecutionFilter())
        # The session's own Fill objects carry the commission reports, which may come a moment later.
        session = {fill.execution.execId: fill for fill in self._ib.fills()}
        fills = [session.get(fill.execution.execId, fill) for fill in answered]
        if self.account_id:
            fills = [f for f in fills if not f.execution.acctNumber or f.execution.acctNumber == self.account_id]
        if not await self._wait(lambda: _commissions_in(fills), deadline):
            missing = [f.execution.execId for f in fills if not f.commissionReport.execId]
            log.warning("ib_commission_reports_missing", exec_ids=missing)
        refs_by_perm = {t.order.permId: self._ref_of(t.order) for t in self._ib.trades() if t.order.permId}
        return [
            _execution(
                f,
                refs_by_perm.get(f.execution.permId)
                or self._ref_of(f.execution, broker_order_ids, client_id=f.execution.clientId),
            )
            for f in fills
        ]

    def advance_to(self, at: datetime) -> None:
        """IB's market moves by itself."""


# -- translation from the library's objects ------------------------------------------------------
def _ticker_complete(ticker) -> bool:
    return all(_number(getattr(ticker, name, None)) is not None for name in ("bid", "ask", "last"))


def _quote_from(symbol: str, ticker, *, error: str = "") -> Quote:
    volume = _number(getattr(ticker, "volume", None))
    return Quote(
        symbol=symbol,
        bid=_price(ticker.bid),
        ask=_price(ticker.ask),
        last=_price(ticker.last),
        volume=int(volume) if volume is not None else None,
        prev_close=_price(ticker.close),
        time=_utc(ticker.time),
        error=error,
    )


def _pick_account_values(values) -> dict[str, Decimal]:
    """TotalCashValue and NetLiquidation in USD (or the account's base currency)."""
    picked: dict[str, tuple[int, Decimal]] = {}
    for value in values:
        if value.tag not in ("TotalCashValue", "NetLiquidation") or value.currency not in ("USD", "BASE"):
            continue
        try:
            amount = to_money(value.value)
        except ValueError:
            continue
        preference = 0 if value.currency == "USD" else 1
        if value.tag not in picked or preference < picked[value.tag][0]:
            picked[value.tag] = (preference, amount)
    return {tag: amount for tag, (_, amount) in picked.items()}


def _acknowledged(trade) -> bool:
    return bool(trade.order.permId) or trade.orderStatus.status not in UNACKNOWLEDGED_STATUSES


def _filled(trade) -> int:
    filled = _number(trade.orderStatus.filled) or 0
    # Completed orders carry their fill in the order itself.
    filled = max(filled, _number(getattr(trade.order, "filledQuantity", None)) or 0)
    return int(filled)


def _commissions_in(fills) -> bool:
    return all(fill.commissionReport.execId for fill in fills)


def _book_status(trade, error: _IBError | None) -> str:
    status = trade.orderStatus.status
    filled = _filled(trade)
    quantity = int(_number(trade.order.totalQuantity) or 0)
    if status == "Filled" or (quantity and filled >= quantity):
        return Order.Status.FILLED
    if status in ("Cancelled", "ApiCancelled"):
        if filled == 0 and error is not None and error.code != ORDER_CANCELLED:
            return Order.Status.REJECTED
        return Order.Status.CANCELLED
    if status == "Inactive":
        return Order.Status.REJECTED
    if filled > 0:
        return Order.Status.PARTIALLY_FILLED
    # Acknowledged as _acknowledged() means it: ib_insync fills in the permId from IB's openOrder
    # but leaves the status at PendingSubmit until the orderStatus message that follows it.
    if not _acknowledged(trade):
        return Order.Status.SUBMITTED
    return Order.Status.WORKING


def _order_state(trade, error: _IBError | None = None, *, order_ref: str | None = None) -> OrderState:
    order = trade.order
    status = trade.orderStatus.status or "PendingSubmit"
    message = f"{error}" if error is not None else f"IB status {status}"
    if trade.orderStatus.whyHeld:
        message += f" (held: {trade.orderStatus.whyHeld})"
    return OrderState(
        order_ref=order.orderRef if order_ref is None else order_ref,
        broker_order_id=str(order.permId or order.orderId),
        symbol=trade.contract.symbol,
        side=order.action,
        order_type=order.orderType,
        quantity=int(_number(order.totalQuantity) or 0),
        status=_book_status(trade, error),
        filled_quantity=_filled(trade),
        limit_price=_price(order.lmtPrice) if order.orderType == "LMT" else None,
        stop_price=_price(order.auxPrice) if order.orderType == "STP" else None,
        message=message[:300],
    )


def _execution(fill, order_ref: str = "") -> Execution:
    execution = fill.execution
    commission = fill.commissionReport.commission if fill.commissionReport.execId else 0
    return Execution(
        exec_id=execution.execId,
        order_ref=order_ref or execution.orderRef,
        broker_order_id=str(execution.permId or execution.orderId),
        symbol=fill.contract.symbol,
        side="BUY" if execution.side in ("BOT", "BUY") else "SELL",
        quantity=int(execution.shares),
        price=to_price(execution.price),
        commission=to_money(abs(commission or 0)),
        time=_utc(execution.time) or datetime.now(UTC),
    )

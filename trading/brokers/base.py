"""What a broker backend is: market data, a scanner and execution behind one small interface.

A backend subclasses `BaseBroker` and implements the methods that raise
`NotImplementedError`. Everything crossing this boundary is a plain dataclass with
Decimal prices and aware UTC datetimes, so the pipeline never sees a broker library's
types. Backends are configured by alias in `settings.BROKERS` (see `trading.brokers`).
"""

import functools
import inspect
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings


class BrokerError(Exception):
    """A broker could not do what was asked.

    `permanent=True` means retrying cannot help (rejected order, refused account);
    `permanent=False` means it might (timeout, connection lost).
    """

    def __init__(self, message: str, *, permanent: bool = False, code: int | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.code = code


class BrokerUnavailable(BrokerError):
    """The broker cannot be reached at all (connection refused, timeout, gateway down)."""


class SafetyError(BrokerError):
    """Refused on safety grounds: not PAPER mode, not armed, or a live account. Never retried."""

    def __init__(self, message: str):
        super().__init__(message, permanent=True)


@dataclass(frozen=True)
class ScanResult:
    symbol: str
    rank: int


@dataclass(frozen=True)
class Quote:
    """A quote as received; any field may be missing or nonsense: the scorer judges it."""

    symbol: str
    bid: Decimal | None = None
    ask: Decimal | None = None
    last: Decimal | None = None
    volume: int | None = None
    prev_close: Decimal | None = None
    time: datetime | None = None
    error: str = ""


def tradable_touch(quote: Quote, side: str) -> Decimal | None:
    """The price a market order on `side` would meet: the ask to buy, the bid to sell; None
    when the quote is one-sided, non-positive or crossed (no order should trade on it)."""
    touch = quote.ask if side == "BUY" else quote.bid
    if touch is None or touch <= 0 or quote.bid is None or quote.ask is None or quote.bid > quote.ask:
        return None
    return touch


def mark_price(quote: Quote) -> Decimal | None:
    """The price a position is marked at: the last trade, else the mid of a sound two-sided quote;
    None when the quote gives neither."""
    if quote.last and quote.last > 0:
        return quote.last
    if quote.bid and quote.ask and 0 < quote.bid <= quote.ask:
        return (quote.bid + quote.ask) / 2
    return None


@dataclass(frozen=True)
class OrderRequest:
    """One leg of a bracket as we want it sent. `order_ref` is our idempotency key."""

    order_ref: str
    leg: str
    symbol: str
    side: str
    order_type: str
    quantity: int
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None


@dataclass(frozen=True)
class BracketRequest:
    entry: OrderRequest
    stop: OrderRequest
    target: OrderRequest

    @property
    def legs(self) -> tuple[OrderRequest, OrderRequest, OrderRequest]:
        return (self.entry, self.stop, self.target)


@dataclass(frozen=True)
class OrderState:
    """What the broker says about one of its orders."""

    order_ref: str
    broker_order_id: str
    symbol: str
    side: str
    order_type: str
    quantity: int
    status: str  # one of trading.models.Order.Status values
    filled_quantity: int = 0
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    message: str = ""


@dataclass(frozen=True)
class Execution:
    exec_id: str
    order_ref: str
    broker_order_id: str
    symbol: str
    side: str
    quantity: int
    price: Decimal
    commission: Decimal
    time: datetime


@dataclass(frozen=True)
class BrokerPosition:
    symbol: str
    quantity: int
    average_cost: Decimal
    market_price: Decimal | None = None


@dataclass(frozen=True)
class AccountInfo:
    account_id: str
    is_paper: bool
    cash: Decimal | None = None
    net_liquidation: Decimal | None = None


@dataclass
class BracketResult:
    """States of the orders after placing (three legs of a bracket, or one exit order),
    and any executions already reported."""

    orders: list[OrderState] = field(default_factory=list)
    executions: list[Execution] = field(default_factory=list)


# Every method that changes what a broker holds (sends, cancels, modifies or closes anything).
# Each passes `check_may_change_orders()` before its body runs, in this class and in every
# subclass, whoever overrides it: the gate is installed by `BaseBroker.__init_subclass__`, so
# a backend cannot forget it. A new state-changing method is added here; a new read-only one
# to READ_ONLY_METHODS (tests/trading/test_broker_gate.py fails on a public method in neither).
STATE_CHANGING_METHODS = frozenset({"place_bracket", "place_brackets", "place_order", "cancel_order"})
READ_ONLY_METHODS = frozenset(
    {
        "connect",
        "close",
        "market_moment",
        "scan",
        "quotes",
        "account",
        "is_paper_account",
        "open_orders",
        "find_orders",
        "executions",
        "positions",
        "advance_to",
        "order_refusal",
        "check_may_change_orders",
        "options_for_book",
        "replaying",
    }
)


def _gated(method):
    """`method`, refused by the safety gate before its body runs (generators included: the
    gate runs when the method is called, before a generator is even created)."""

    @functools.wraps(method)
    def gated(self, *args, **kwargs):
        self.check_may_change_orders(action=method.__name__)
        return method(self, *args, **kwargs)

    gated.safety_gated = True
    return gated


def _install_gate(cls) -> None:
    for name in STATE_CHANGING_METHODS:
        method = cls.__dict__.get(name)
        if method is not None and inspect.isfunction(method) and not getattr(method, "safety_gated", False):
            setattr(cls, name, _gated(method))


_KILL_SWITCH: ContextVar[bool] = ContextVar("trade_labs_kill_switch", default=False)


@contextmanager
def kill_switch_in_progress():
    """While the kill switch runs, the gate lets a real broker cancel working entries and close
    positions without an arm in force: the switch disarms the book first, and what an earlier
    arm sent must still be stopped. The rest of the gate holds: PAPER mode, TRADE_LABS_ARMED=1
    and a paper account."""
    token = _KILL_SWITCH.set(True)
    try:
        yield
    finally:
        _KILL_SWITCH.reset(token)


class BaseBroker:
    """Base class for broker backends. Use as a context manager: `with broker: ...`.

    Subclasses set `sends_real_orders = True` when orders leave this process for a real
    broker. Every state-changing method (STATE_CHANGING_METHODS) then refuses, inside the
    backend and before anything is sent, unless TRADE_LABS_MODE is PAPER, TRADE_LABS_ARMED=1
    and the connected account is a paper account; the pipeline fills locally (a dry run)
    when unarmed. A simulated backend (`sends_real_orders = False`) is refused in any mode
    but PAPER.

    `account_id` is the account this connection trades, known after `connect()`.
    """

    name = "base"
    sends_real_orders = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _install_gate(cls)

    @classmethod
    def options_for_book(cls, book) -> dict:
        """OPTIONS that bind an instance to one book (`trading.models.Book`): its account. A backend
        with more per-book state (SIM: its market) adds it here; nothing else reads a book's fields."""
        return {"account": book.account_id} if book.account_id else {}

    def __init__(self, alias: str = "default", **options):
        self.alias = alias
        self.options = options
        self.account_id = ""
        self.book = None  # set by brokers.create_for(book): whose arm the gate asks for

    # -- the safety gate ----------------------------------------------------------------
    def is_paper_account(self) -> bool:
        """Whether the connected account is a paper account, from what `connect()` learnt:
        must not send anything to the broker (the gate asks it before every state change)."""
        return self.account().is_paper

    def check_may_change_orders(self, *, action: str = "send orders") -> None:
        """Raise SafetyError unless this backend may change broker state now. Sends nothing."""
        mode = str(settings.TRADE_LABS_MODE).strip().upper()
        if mode != "PAPER":
            raise SafetyError(f"TRADE_LABS_MODE={settings.TRADE_LABS_MODE!r}: {action} refused, PAPER mode only")
        if not self.sends_real_orders:
            return
        if not settings.TRADE_LABS_ARMED:
            raise SafetyError(
                f"TRADE_LABS_ARMED is not 1: {action} refused, nothing is sent to {self.name} "
                "(an unarmed run fills locally)"
            )
        if not self.is_paper_account():
            raise SafetyError(
                f"{self.name} account {self.account_id or '(none)'} is not a paper account: {action} refused; "
                "live trading is refused"
            )
        # The second key: a person armed this book, and the arm has not expired. The kill switch
        # (which has just disarmed it) may still cancel and close what an earlier arm sent.
        book = self._gated_book()
        if not _KILL_SWITCH.get() and (book is None or not self._armed(book)):
            name = book.name if book is not None else f"of {self.alias}"
            raise SafetyError(
                f"book {name} is not armed (or its arm expired): {action} refused, nothing is sent to {self.name}; "
                f"arm it with manage.py arm --book {book.name if book is not None else '...'}"
            )

    def _gated_book(self):
        """The book this connection trades for: the one it was created for, else the only book
        on its alias (or the one with its account)."""
        if self.book is not None:
            return self.book
        from trading.brokers import brokers
        from trading.models import Book

        on_alias = list(Book.objects.filter(broker_alias=brokers.canonical_alias(self.alias)))
        if len(on_alias) == 1:
            return on_alias[0]
        return next((book for book in on_alias if book.account_id and book.account_id == self.account_id), None)

    @staticmethod
    def _armed(book) -> bool:
        from trading.services.arming import arm_active

        return arm_active(book=book) is not None

    def order_refusal(self, order: "OrderRequest", *, at: datetime) -> str:
        """Why this stand-alone order would be refused at `at`, found without sending anything
        ('' when nothing stands in its way): the market is closed, or there is no tradable quote.
        Callers that must undo something to send an order (cancel a trade's protective legs to
        close it) ask first, so a refusal leaves everything as it was."""
        from trading import sessions

        if not sessions.is_open(at):
            return f"the market is closed at {sessions.to_new_york(at):%Y-%m-%d %H:%M %Z}"
        quote = self.quotes([order.symbol], at=at).get(order.symbol)
        if quote is None:
            return f"no quote for {order.symbol}"
        if tradable_touch(quote, order.side) is None:
            reason = f": {quote.error}" if quote.error else ""
            return f"no tradable quote for {order.symbol}{reason}"
        return ""

    # -- lifecycle --------------------------------------------------------------
    def connect(self) -> None:
        """Open connections. Raise BrokerUnavailable when the broker cannot be reached."""

    def close(self) -> None:
        """Release connections. Must be safe to call twice and after a failed connect."""

    def __enter__(self):
        self.connect()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- clock and market data ----------------------------------------------------
    def market_moment(self, requested: datetime | None, now: datetime) -> tuple[datetime, str]:
        """The market moment a run trades at, and a label saying why. Real brokers: now."""
        raise NotImplementedError

    def scan(
        self,
        *,
        at: datetime,
        scan_code: str,
        above_price: Decimal,
        above_volume: int,
        max_results: int,
        spy_only: bool = False,
    ) -> list[ScanResult]:
        raise NotImplementedError

    def quotes(self, symbols: list[str], *, at: datetime) -> dict[str, Quote]:
        """A Quote for every symbol asked; a symbol that fails gets Quote(error=...) rather than raising."""
        raise NotImplementedError

    # -- execution ------------------------------------------------------------------
    def account(self) -> AccountInfo:
        raise NotImplementedError

    def place_bracket(self, bracket: BracketRequest, *, at: datetime) -> BracketResult:
        """Send entry, stop and target as one bracket (stop and target one OCA group).

        Must be idempotent by order_ref: a leg whose ref the broker already holds is
        returned as it stands, never sent again.
        """
        raise NotImplementedError

    def place_brackets(self, brackets: list[BracketRequest], *, at: datetime) -> Iterator[BracketResult | BrokerError]:
        """Send several brackets: yields one outcome per bracket, in order, as each is known —
        its BracketResult, or the BrokerError that stopped it (the others still go). A
        SafetyError is raised, not yielded: nothing after it may be sent.

        This one sends them one by one through `place_bracket`. A broker that can accept several
        at once overrides it, and keeps the same outcomes and the same idempotency.
        """
        for bracket in brackets:
            try:
                result = self.place_bracket(bracket, at=at)
            except SafetyError:
                raise
            except BrokerError as exc:
                yield exc
            else:
                yield result

    def place_order(self, order: OrderRequest, *, at: datetime) -> BracketResult:
        """Send one stand-alone order (a market exit). Idempotent by order_ref, like place_bracket."""
        raise NotImplementedError

    def cancel_order(self, order_ref: str) -> None:
        """Cancel a working order by ref; an order already done is left as it is."""
        raise NotImplementedError

    def open_orders(self) -> list[OrderState]:
        raise NotImplementedError

    def find_orders(self, order_refs: list[str], *, broker_order_ids: dict[str, str] | None = None) -> list[OrderState]:
        """Orders (open or done) the broker holds for these refs; used to adopt after a crash.

        `broker_order_ids` maps ids the broker gave our orders (as recorded in the book) to
        our refs: a broker that may report an order without the ref we sent (IB through a
        proxy, or after a change in TWS) uses it to report those orders under our ref. Every
        OrderState returned carries our ref."""
        raise NotImplementedError

    def executions(
        self,
        since: datetime | None = None,
        *,
        broker_order_ids: dict[str, str] | None = None,
        order_refs: Collection[str] | None = None,
    ) -> list[Execution]:
        """Executions on the account; each carries our ref where the broker, or
        `broker_order_ids` (as for find_orders), can tell which of our orders it filled.

        `order_refs`, when given, are the only orders the caller still awaits fills for: a broker
        that can look executions up by order may return only theirs (SIM does, so a sync costs
        what is open, not the account's whole history); one that cannot returns them all."""
        raise NotImplementedError

    def positions(self) -> list[BrokerPosition]:
        raise NotImplementedError

    def advance_to(self, at: datetime) -> None:
        """Work the market up to `at` (stops and targets on the price path). Real brokers: nothing to do."""

    @contextmanager
    def replaying(self, days: list[date]):
        """A replay drives this broker's book through `days` (NYSE sessions, in order) inside this
        block. A simulated broker may prepare them meanwhile (SIM builds its market's next sessions
        in a second process); nothing is sent or recorded. Real brokers are never replayed."""
        yield


_install_gate(BaseBroker)

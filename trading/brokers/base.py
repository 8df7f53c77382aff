"""What a broker backend is: market data, a scanner and execution behind one small interface.

A backend subclasses `BaseBroker` and implements the methods that raise
`NotImplementedError`. Everything crossing this boundary is a plain dataclass with
Decimal prices and aware UTC datetimes, so the pipeline never sees a broker library's
types. Backends are configured by alias in `settings.BROKERS` (see `trading.brokers`).
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


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


class BaseBroker:
    """Base class for broker backends. Use as a context manager: `with broker: ...`.

    Subclasses set `sends_real_orders = True` when orders leave this process for a real
    broker; the pipeline then refuses to send unless TRADE_LABS_ARMED=1 and the account
    is a paper account, and fills locally (a dry run) when unarmed.
    """

    name = "base"
    sends_real_orders = False

    def __init__(self, alias: str = "default", **options):
        self.alias = alias
        self.options = options

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

    def find_orders(self, order_refs: list[str]) -> list[OrderState]:
        """Orders (open or done) the broker holds for these refs; used to adopt after a crash."""
        raise NotImplementedError

    def executions(self, since: datetime | None = None) -> list[Execution]:
        raise NotImplementedError

    def positions(self) -> list[BrokerPosition]:
        raise NotImplementedError

    def advance_to(self, at: datetime) -> None:
        """Work the market up to `at` (stops and targets on the price path). Real brokers: nothing to do."""

"""What the fake gateway knows and remembers: scripted quotes, the account's orders,
executions and positions, and the faults a test asked for. Tests read it to see what
reached "IB"."""

import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal


def con_id_for(symbol: str) -> int:
    return 100_000 + zlib.crc32(symbol.encode()) % 900_000


def ib_commission(shares: Decimal, price: Decimal) -> Decimal:
    """IB fixed pricing: $0.005 a share, $1.00 minimum, at most 1% of the trade value."""
    amount = max(Decimal("0.005") * shares, Decimal("1.00"))
    return min(amount, Decimal("0.01") * shares * price).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass
class ScriptedQuote:
    bid: Decimal
    ask: Decimal
    last: Decimal
    volume: int
    close: Decimal


@dataclass
class GatewayOrder:
    order_id: int
    client_id: int
    symbol: str
    action: str
    quantity: Decimal
    order_type: str
    limit_price: Decimal | None
    stop_price: Decimal | None
    tif: str
    oca_group: str
    account: str
    order_ref: str
    transmit: bool
    parent_id: int
    perm_id: int
    status: str = "PendingSubmit"
    filled: Decimal = Decimal(0)
    avg_fill_price: Decimal = Decimal(0)
    last_fill_price: Decimal = Decimal(0)

    @property
    def con_id(self) -> int:
        return con_id_for(self.symbol)

    @property
    def is_open(self) -> bool:
        return self.status in ("PendingSubmit", "PreSubmitted", "Submitted")


@dataclass
class GatewayExecution:
    exec_id: str
    order_id: int
    client_id: int
    perm_id: int
    symbol: str
    side: str  # BOT / SLD
    shares: Decimal
    price: Decimal
    cum_qty: Decimal
    avg_price: Decimal
    order_ref: str
    account: str
    commission: Decimal
    time: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def con_id(self) -> int:
        return con_id_for(self.symbol)

    @property
    def time_text(self) -> str:
        return str(int(self.time.timestamp()))


@dataclass
class Fault:
    """Answer a request (optionally for one symbol) with an error, with silence, or by hanging up."""

    request: str
    symbol: str | None = None
    code: int | None = None
    message: str = ""
    ignore: bool = False
    drop: bool = False
    times: int | None = None  # None: every time

    def matches(self, request: str, symbol: str | None) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        return self.request == request and (self.symbol is None or self.symbol == symbol)


@dataclass
class GatewayState:
    account: str = "DU1234567"
    extra_accounts: list[str] = field(default_factory=list)
    next_order_id: int = 1
    quotes: dict[str, ScriptedQuote] = field(default_factory=dict)
    scanner_results: list[str] = field(default_factory=list)
    unknown_symbols: set[str] = field(default_factory=set)
    latency: float = 0.0
    live_data_subscribed: bool = True
    fill_mode: str = "fill"  # fill | partial | none | reject
    echo_order_ref: bool = True  # False: openOrder and execDetails carry a blank orderRef
    cash: Decimal = Decimal("100000")
    orders: list[GatewayOrder] = field(default_factory=list)
    executions: list[GatewayExecution] = field(default_factory=list)
    positions: dict[str, list[Decimal]] = field(default_factory=dict)  # symbol -> [quantity, average cost]
    faults: list[Fault] = field(default_factory=list)
    requests: list[tuple[str, list[str]]] = field(default_factory=list)
    _perm_id: int = 9000
    _exec_seq: int = 0

    @property
    def accounts(self) -> list[str]:
        return [self.account, *self.extra_accounts]

    def quote(self, symbol: str) -> ScriptedQuote:
        if symbol not in self.quotes:
            seed = zlib.crc32(symbol.encode())
            mid = Decimal(20 + seed % 180) + Decimal(seed % 100) / 100
            self.quotes[symbol] = ScriptedQuote(
                bid=mid - Decimal("0.01"),
                ask=mid + Decimal("0.01"),
                last=mid,
                volume=500_000 + seed % 1_000_000,
                close=mid * Decimal("0.97"),
            )
        return self.quotes[symbol]

    def fault_for(self, request: str, symbol: str | None = None) -> Fault | None:
        for fault in self.faults:
            if fault.matches(request, symbol):
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None

    def new_perm_id(self) -> int:
        self._perm_id += 1
        return self._perm_id

    def order(self, order_id: int) -> GatewayOrder | None:
        return next((o for o in self.orders if o.order_id == order_id), None)

    def execute(self, order: GatewayOrder, shares: Decimal, price: Decimal) -> GatewayExecution:
        """Fill `shares` of `order` at `price`: the execution, the order's state and the position."""
        self._exec_seq += 1
        order.avg_fill_price = (order.avg_fill_price * order.filled + price * shares) / (order.filled + shares)
        order.filled += shares
        order.last_fill_price = price
        order.status = "Filled" if order.filled >= order.quantity else "Submitted"
        signed = shares if order.action == "BUY" else -shares
        held = self.positions.setdefault(order.symbol, [Decimal(0), Decimal(0)])
        if held[0] == 0 or (held[0] > 0) == (signed > 0):
            held[1] = (held[0] * held[1] + signed * price) / (held[0] + signed)
        held[0] += signed
        if held[0] == 0:
            held[1] = Decimal(0)
        self.cash -= signed * price
        execution = GatewayExecution(
            exec_id=f"0000e0d5.{self._exec_seq:08d}.01.01",
            order_id=order.order_id,
            client_id=order.client_id,
            perm_id=order.perm_id,
            symbol=order.symbol,
            side="BOT" if order.action == "BUY" else "SLD",
            shares=shares,
            price=price,
            cum_qty=order.filled,
            avg_price=order.avg_fill_price,
            order_ref=order.order_ref,
            account=order.account or self.account,
            commission=ib_commission(shares, price),
        )
        self.cash -= execution.commission
        self.executions.append(execution)
        return execution

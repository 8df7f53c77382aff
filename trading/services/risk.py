"""The risk gate: sizing and the limits every new entry must pass."""

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import NamedTuple

import structlog

from trading import sessions
from trading.brokers.base import BrokerError, mark_price
from trading.models import Position, Trade
from trading.money import CENT, ZERO
from trading.prepared import Prepared

HUNDRED = Decimal(100)

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RiskConfig:
    top_n: int
    min_score: Decimal
    sizing: str
    notional_per_trade: Decimal
    risk_per_trade: Decimal
    stop_pct: Decimal
    target_pct: Decimal
    max_open_positions: int
    max_order_notional: Decimal
    max_gross_exposure: Decimal
    daily_loss_limit: Decimal

    @classmethod
    def from_settings(cls, risk: dict, **overrides) -> "RiskConfig":
        values = {
            "top_n": int(risk["top_n"]),
            "min_score": Decimal(str(risk["min_score"])),
            "sizing": risk["sizing"],
            "notional_per_trade": Decimal(str(risk["notional_per_trade"])),
            "risk_per_trade": Decimal(str(risk["risk_per_trade"])),
            "stop_pct": Decimal(str(risk["stop_pct"])),
            "target_pct": Decimal(str(risk["target_pct"])),
            "max_open_positions": int(risk["max_open_positions"]),
            "max_order_notional": Decimal(str(risk["max_order_notional"])),
            "max_gross_exposure": Decimal(str(risk["max_gross_exposure"])),
            "daily_loss_limit": Decimal(str(risk["daily_loss_limit"])),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        config = cls(**values)
        if config.sizing not in ("notional", "risk"):
            raise ValueError(f"sizing must be 'notional' or 'risk', not {config.sizing!r}")
        if config.top_n < 1:
            raise ValueError("top N must be at least 1")
        if not (ZERO < config.stop_pct < HUNDRED) or config.target_pct <= 0:
            raise ValueError("stop_pct must be in (0, 100) and target_pct positive")
        return config


@dataclass(frozen=True)
class EntryPlan:
    quantity: int
    entry: Decimal
    stop: Decimal
    target: Decimal

    @property
    def notional(self) -> Decimal:
        return self.entry * self.quantity


def plan_long_entry(*, ask: Decimal, config: RiskConfig) -> EntryPlan | str:
    """Size a long entry at the ask with a stop and target a fixed % away; a str says why not."""
    stop = (ask * (1 - config.stop_pct / HUNDRED)).quantize(CENT, rounding=ROUND_HALF_UP)
    target = (ask * (1 + config.target_pct / HUNDRED)).quantize(CENT, rounding=ROUND_HALF_UP)
    if stop <= 0 or stop >= ask:
        return f"no room for a stop below {ask}"
    if config.sizing == "risk":
        quantity = int((config.risk_per_trade / (ask - stop)).to_integral_value(rounding=ROUND_DOWN))
    else:
        quantity = int((config.notional_per_trade / ask).to_integral_value(rounding=ROUND_DOWN))
    if quantity < 1:
        return f"size rounds to zero shares at {ask}"
    return EntryPlan(quantity=quantity, entry=ask, stop=stop, target=target)


class RiskGate:
    """One book's limits, measured once at the start of execution and updated as entries are accepted.

    The day's P&L is what closed today plus the open positions' losses at the run's own moment:
    `quotes_for` (symbols -> quotes, from the run's broker) prices them now, not at the last
    mark, which may be minutes old; a position without a usable quote keeps its last mark."""

    def __init__(self, *, book, config: RiskConfig, dry_run: bool, now: datetime, quotes_for=None):
        self.config = config
        self.book = book
        statuses = [Trade.Status.PENDING, Trade.Status.OPEN]
        live = [_Live(*row) for row in _LIVE_TRADES(book=book.pk, statuses=statuses, dry_run=dry_run)]
        self.open_symbols = {trade.symbol for trade in live}
        self.open_count = len(self.open_symbols)
        held = [] if dry_run else _HELD_POSITIONS(book=book.pk)
        self.gross_exposure = self._gross_exposure(live, held, dry_run)
        today = sessions.to_new_york(now).date()
        day_start = datetime.combine(today, datetime.min.time(), tzinfo=sessions.NEW_YORK)
        # Summed here, in Decimal: a day closes a handful of trades (SQLite's SUM would use floats).
        closed_today = _CLOSED_PNL(book=book.pk, dry_run=dry_run, start=day_start, end=now)
        realized = sum((pnl for pnl in closed_today if pnl is not None), ZERO)
        self.day_pnl = realized + min(_unrealized_now(held, quotes_for), ZERO)

    @staticmethod
    def _gross_exposure(live: list, held: list[Position], dry_run: bool) -> Decimal:
        """Pending entries at their price (or stop); then the open ones: a dry run's at their entry
        price (it holds no positions), a real book's positions at their average cost."""
        pending = sum(
            (t.quantity * (t.entry_price or t.stop_price or ZERO) for t in live if t.status == Trade.Status.PENDING),
            ZERO,
        )
        if dry_run:
            return pending + sum(
                (t.quantity * (t.entry_price or ZERO) for t in live if t.status == Trade.Status.OPEN), ZERO
            )
        return pending + sum((abs(p.quantity) * p.average_cost for p in held), ZERO)

    @property
    def halted(self) -> str | None:
        if self.day_pnl <= -self.config.daily_loss_limit:
            return f"daily loss limit reached (P&L today {self.day_pnl.quantize(CENT)}, limit -{self.config.daily_loss_limit})"
        return None

    def refusal(self, *, symbol: str, plan: EntryPlan) -> str | None:
        """Why this entry may not go ahead, or None."""
        if self.halted:
            return f"new entries halted: {self.halted}"
        if symbol in self.open_symbols:
            return f"{symbol} already has an open trade"
        if self.open_count >= self.config.max_open_positions:
            return f"max open positions reached ({self.config.max_open_positions})"
        if plan.notional > self.config.max_order_notional:
            return f"order notional {plan.notional.quantize(CENT)} exceeds max {self.config.max_order_notional}"
        if self.gross_exposure + plan.notional > self.config.max_gross_exposure:
            return (
                f"gross exposure would be {(self.gross_exposure + plan.notional).quantize(CENT)}, "
                f"above max {self.config.max_gross_exposure}"
            )
        return None

    def accept(self, *, symbol: str, plan: EntryPlan) -> None:
        self.open_symbols.add(symbol)
        self.open_count += 1
        self.gross_exposure += plan.notional


class _Live(NamedTuple):
    symbol: str
    status: str
    quantity: int
    entry_price: Decimal | None
    stop_price: Decimal


# What the gate reads at every run, built once (see trading.prepared).
_LIVE_TRADES = Prepared(
    lambda book, statuses, dry_run: (
        Trade.objects.filter(book_id=book, status__in=statuses, dry_run=dry_run).order_by().values_list(*_Live._fields)
    )
)
_HELD_POSITIONS = Prepared(lambda book: Position.objects.filter(book_id=book).exclude(quantity=0))
_CLOSED_PNL = Prepared(
    lambda book, dry_run, start, end: (
        Trade.objects.filter(
            book_id=book, status=Trade.Status.CLOSED, dry_run=dry_run, exit_time__gte=start, exit_time__lte=end
        )
        .order_by()
        .values_list("realized_pnl", flat=True)
    )
)


def _unrealized_now(held: list[Position], quotes_for) -> Decimal:
    """The held positions' unrealized P&L at fresh prices where the broker gives them."""
    prices = {}
    if held and quotes_for is not None:
        try:
            quotes = quotes_for([p.symbol for p in held])
        except BrokerError as exc:
            log.warning("risk_quotes_unavailable", reason=str(exc))
            quotes = {}
        prices = {symbol: mark_price(quote) for symbol, quote in quotes.items() if not quote.error}
    total = ZERO
    for position in held:
        price = prices.get(position.symbol)
        if price is None:
            total += position.unrealized_pnl or ZERO
        else:
            total += (price - position.average_cost) * position.quantity
    return total

"""Marking the book: advance the broker to a moment, take in its fills, and mark positions."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.utils import timezone

from trading import sessions
from trading.brokers import brokers
from trading.brokers.base import mark_price
from trading.models import Book, Order, Position, Trade
from trading.prepared import Prepared

from .book import fill_record_local, order_mark, positions_mark
from .books import book_clock_advance, book_clock_refuse_earlier, book_default
from .sync import book_sync

log = structlog.get_logger(__name__)


@dataclass
class MarkResult:
    moment: datetime
    label: str
    new_fills: int = 0
    closed_trades: list[int] = field(default_factory=list)
    marked: dict[str, str] = field(default_factory=dict)


def book_mark(*, book: Book | None = None, at: datetime | None = None, now: datetime | None = None) -> MarkResult:
    """Advance the book's broker to a moment (default: now, or the latest session's close), take in
    its fills, mark the book's positions; at the session's end, flatten if configured."""
    now = now or timezone.now()
    book = book or book_default()
    open_before = set(_OPEN_TRADE_IDS(book=book.pk))
    with brokers.create_for(book) as broker:
        moment, label = broker.market_moment(at, now)
        book_clock_refuse_earlier(book=book, at=moment)
        broker.advance_to(moment)
        book_clock_advance(book=book, at=moment)
        result = MarkResult(moment=moment, label=label, new_fills=book_sync(broker=broker, book=book))
        held = _HELD_SYMBOLS(book=book.pk)
        marks = {}
        for symbol, quote in broker.quotes(held, at=moment).items():
            price = mark_price(quote)
            if price is None:
                log.warning("mark_skipped", symbol=symbol, reason=quote.error or "no usable price")
                continue
            marks[symbol] = (price, quote.time or moment)
            result.marked[symbol] = str(price)
        positions_mark(book=book, marks=marks)
        if broker.sends_real_orders:
            dry_runs_work_exits(broker=broker, book=book, moment=moment)
    if flatten_due(book=book, moment=result.moment):
        from .closing import trades_flatten_at_close

        trades_flatten_at_close(book=book, at=result.moment)
    still_open = set(_STILL_OPEN(ids=sorted(open_before)))
    result.closed_trades = sorted(open_before - still_open)
    log.info(
        "book_marked",
        book=book.name,
        moment=moment.isoformat(),
        fills=result.new_fills,
        closed=len(result.closed_trades),
    )
    return result


def dry_runs_work_exits(*, broker, book: Book, moment: datetime) -> int:
    """Dry-run brackets never reached the broker, so nobody works their exits: check each
    open dry-run trade's stop and target against the quote now and fill locally."""
    trades = list(Trade.objects.filter(book=book, status=Trade.Status.OPEN, dry_run=True))
    if not trades:
        return 0
    quotes = broker.quotes(sorted({t.symbol for t in trades}), at=moment)
    closed = 0
    for trade in trades:
        quote = quotes.get(trade.symbol)
        if quote is None or quote.error or not quote.bid or quote.bid <= 0:
            continue
        legs = {o.leg: o for o in trade.orders.filter(status__in=Order.OPEN_STATUSES)}
        stop, target = legs.get(Order.Leg.STOP), legs.get(Order.Leg.TARGET)
        if stop is not None and quote.bid <= stop.stop_price:
            winner, loser, price = stop, target, quote.bid
        elif target is not None and quote.bid >= target.limit_price:
            winner, loser, price = target, stop, target.limit_price
        else:
            continue
        fill_record_local(order=winner, price=price, at=quote.time or moment)
        if loser is not None:
            order_mark(order=loser, status=Order.Status.CANCELLED, message=f"OCA: {winner.leg} filled (dry run)")
        closed += 1
    return closed


def flatten_due(*, book: Book, moment: datetime) -> bool:
    """Whether a mark at `moment` closes the book's trades: the book flattens at the end of the
    day (risk setting flatten_minutes_before_close) and `moment` is that close to the close."""
    risk = {**settings.TRADE_LABS_RISK, **(book.parameters or {}).get("risk", {})}
    minutes = int(risk.get("flatten_minutes_before_close", 0))
    if not minutes:
        return False
    current = sessions.session_at_or_before(moment)
    return current.close - timedelta(minutes=minutes) <= moment <= current.close


# What every mark reads, built once (see trading.prepared).
_OPEN_TRADE_IDS = Prepared(
    lambda book: Trade.objects.filter(book_id=book, status=Trade.Status.OPEN).values_list("pk", flat=True)
)
_HELD_SYMBOLS = Prepared(
    lambda book: Position.objects.filter(book_id=book).exclude(quantity=0).values_list("symbol", flat=True)
)
_STILL_OPEN = Prepared(
    lambda ids: Trade.objects.filter(pk__in=ids, status=Trade.Status.OPEN).values_list("pk", flat=True)
)

"""Marking the book: advance the broker to a moment, take in its fills, and mark positions."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.utils import timezone

from trading import sessions
from trading.brokers import brokers
from trading.models import Position, Trade

from .book import position_mark
from .sync import book_sync

log = structlog.get_logger(__name__)


@dataclass
class MarkResult:
    moment: datetime
    label: str
    new_fills: int = 0
    closed_trades: list[int] = field(default_factory=list)
    marked: dict[str, str] = field(default_factory=dict)


def book_mark(*, alias: str = "default", at: datetime | None = None, now: datetime | None = None) -> MarkResult:
    now = now or timezone.now()
    backend = brokers.name_of(alias)
    open_before = set(Trade.objects.filter(status=Trade.Status.OPEN, backend=backend).values_list("pk", flat=True))
    with brokers.create(alias) as broker:
        moment, label = broker.market_moment(at, now)
        broker.advance_to(moment)
        result = MarkResult(moment=moment, label=label, new_fills=book_sync(broker=broker, backend=backend))
        held = list(Position.objects.exclude(quantity=0).values_list("symbol", flat=True))
        for symbol, quote in broker.quotes(held, at=moment).items():
            price = quote.last if quote.last and quote.last > 0 else None
            if price is None and quote.bid and quote.ask and 0 < quote.bid <= quote.ask:
                price = (quote.bid + quote.ask) / 2
            if price is None:
                log.warning("mark_skipped", symbol=symbol, reason=quote.error or "no usable price")
                continue
            position_mark(symbol=symbol, price=price, at=quote.time or moment)
            result.marked[symbol] = str(price)
    flatten = int(settings.TRADE_LABS_RISK.get("flatten_minutes_before_close", 0))
    if flatten and _within_minutes_of_close(result.moment, flatten):
        from .closing import trades_flatten_at_close

        trades_flatten_at_close(alias=alias, at=result.moment)
    still_open = set(Trade.objects.filter(pk__in=open_before, status=Trade.Status.OPEN).values_list("pk", flat=True))
    result.closed_trades = sorted(open_before - still_open)
    log.info("book_marked", moment=moment.isoformat(), fills=result.new_fills, closed=len(result.closed_trades))
    return result


def _within_minutes_of_close(moment: datetime, minutes: int) -> bool:
    current = sessions.session_at_or_before(moment)
    return current.close - timedelta(minutes=minutes) <= moment <= current.close

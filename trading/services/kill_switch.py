"""The kill switch: stop a book at once, whatever the scheduler is doing.

It disarms the book, cancels every working entry order at its broker and, with `flatten`,
closes every open trade at market through the broker that opened it. It needs nothing but the
database and the broker (not the scheduler), is safe to run twice (the second finds nothing to
do), and records what it did and what it could not do.
"""

from dataclasses import dataclass, field

import structlog
from django.utils import timezone

from trading.alerts import alert_raise
from trading.brokers import brokers
from trading.brokers.base import BrokerError, kill_switch_in_progress
from trading.models import Alert, Book, KillSwitchUse, Order, Trade

from .arming import book_disarm
from .closing import CloseRefused, TradeNotOpen, trade_close
from .sync import book_sync

log = structlog.get_logger(__name__)


@dataclass
class KillSwitchResult:
    use: KillSwitchUse
    problems: list[str] = field(default_factory=list)


def kill_switch(*, book: Book, by: str, flatten: bool = False) -> KillSwitchResult:
    now = timezone.now()
    disarmed = book_disarm(book=book, by=by, reason="kill switch", now=now)
    problems: list[str] = []
    with kill_switch_in_progress():
        cancelled = _cancel_working_entries(book, problems)
        closed = _close_open_trades(book, problems) if flatten else 0
    use = KillSwitchUse.objects.create(
        book=book, used_by=by, used_at=now, flatten=flatten, disarmed=len(disarmed), cancelled=cancelled,
        closed=closed, problems="\n".join(problems),
    )  # fmt: skip
    alert_raise(
        event=Alert.Event.KILL_SWITCH, book=book, key=f"kill:{use.pk}", once=True, now=now,
        title=f"kill switch used on book {book.name} by {by}",
        body=f"disarmed {use.disarmed}, cancelled {cancelled} working entries, closed {closed} trades"
        + ("".join(f"\nNOT done: {p}" for p in problems)),
    )  # fmt: skip
    log.warning(
        "kill_switch_used",
        book=book.name,
        by=by,
        flatten=flatten,
        cancelled=cancelled,
        closed=closed,
        problems=problems,
    )
    return KillSwitchResult(use=use, problems=problems)


def _cancel_working_entries(book: Book, problems: list[str]) -> int:
    working = list(
        Order.objects.filter(
            book=book, leg=Order.Leg.ENTRY, dry_run=False,
            status__in=[Order.Status.SUBMITTED, Order.Status.WORKING, Order.Status.PARTIALLY_FILLED],
        ).order_by("id")
    )  # fmt: skip
    if not working:
        return 0
    cancelled = 0
    try:
        with brokers.create_for(book) as broker:
            for order in working:
                try:
                    broker.cancel_order(order.client_order_ref)
                    cancelled += 1
                except BrokerError as exc:
                    problems.append(f"entry {order.client_order_ref}: not cancelled: {exc}")
            book_sync(broker=broker, book=book)
    except BrokerError as exc:
        problems.append(f"broker {book.broker_alias}: {exc}; {len(working) - cancelled} working entries not cancelled")
    return cancelled


def _close_open_trades(book: Book, problems: list[str]) -> int:
    closed = 0
    for trade_id in (
        Trade.objects.filter(book=book, status=Trade.Status.OPEN).order_by("id").values_list("pk", flat=True)
    ):
        try:
            trade = trade_close(trade_id=trade_id, reason=Trade.ExitReason.MANUAL)
        except TradeNotOpen:
            continue  # closed meanwhile (its stop or target filled): nothing to do
        except (CloseRefused, BrokerError) as exc:
            problems.append(f"trade {trade_id}: not closed: {exc}")
            continue
        closed += trade.status == Trade.Status.CLOSED
        if trade.status != Trade.Status.CLOSED:
            problems.append(f"trade {trade_id} ({trade.symbol}): exit sent, not filled yet ({trade.status})")
    return closed

"""Bringing the book in step with what the broker reports: executions, order states, and the
adoption of orders whose acknowledgement we never recorded (a crash, a dropped socket)."""

from datetime import timedelta

import structlog
from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from trading.brokers.base import BaseBroker, BrokerError, Execution
from trading.models import Book, Order, Trade
from trading.prepared import Prepared

from .book import fills_record, order_apply_state, order_apply_states, order_mark
from .runs import runs_alive

log = structlog.get_logger(__name__)

# An order in any of these states may still have fills to take in (one reported filled may
# not have had its executions recorded yet); cancelled, rejected and unsent ones have none.
AWAITING_FILLS = [
    status
    for status in Order.Status
    if status not in (Order.Status.CANCELLED, Order.Status.REJECTED, Order.Status.NOT_SENT)
]


def book_apply_executions(*, executions: list[Execution]) -> int:
    """Record executions that belong to our orders; returns how many were new. A broker's full
    report is replayed at every sync, so it goes 500 at a time, a transaction each."""
    return sum(
        len(fills_record(executions=executions[start : start + 500])) for start in range(0, len(executions), 500)
    )


def book_sync(*, broker: BaseBroker, book: Book) -> int:
    """Pull executions and the states of the book's open orders from its broker into the book.

    The broker ids the book recorded go with the request, so a report that comes back
    without our ref (IB through a proxy) still lands on the order it belongs to."""
    awaiting = _AWAITING_FILLS(book=book.pk, statuses=AWAITING_FILLS)
    # A leg we cancelled to close a trade may have filled at the broker in the same instant
    # (another worker advanced it): its fill must still be taken in, so legs of trades still
    # open or closed within the last day are asked for too (a handful; never the whole history).
    closed_since = (book.clock or timezone.now()) - timedelta(days=1)
    awaiting += _CANCELLED_UNFILLED(book=book.pk, closed_since=closed_since)
    awaiting_fills = {broker_id: ref for broker_id, ref in awaiting if broker_id}
    # Every execution of the awaited orders, however old: a fill the broker made before a crash
    # and a long pause (a weekend) is taken in when the book next syncs, never skipped.
    executions = broker.executions(broker_order_ids=awaiting_fills, order_refs={ref for _, ref in awaiting})
    new_fills = book_apply_executions(executions=executions)
    open_orders = {
        ref: (broker_id, status) for ref, broker_id, status in _OPEN_ORDERS(book=book.pk, statuses=SENT_AND_OPEN)
    }
    open_refs = list(open_orders)
    for start in range(0, len(open_refs), 500):
        refs = open_refs[start : start + 500]
        known_ids = {open_orders[ref][0]: ref for ref in refs if open_orders[ref][0]}
        states = broker.find_orders(refs, broker_order_ids=known_ids)
        order_apply_states(states=[state for state in states if _may_change(state, open_orders.get(state.order_ref))])
    return new_fills


SENT_AND_OPEN = [status for status in Order.OPEN_STATUSES if status != Order.Status.INTENT]


def _cancelled_unfilled(book, closed_since):
    recent_trades = Trade.objects.filter(book_id=book).filter(
        Q(status=Trade.Status.OPEN) | Q(status=Trade.Status.CLOSED, exit_time__gte=closed_since)
    )
    # Found through those trades (an index on trade), not among all the book's cancelled legs,
    # which grow by one with every trade ever closed.
    cancelled = Order.objects.filter(trade__in=recent_trades.values("pk"), dry_run=False, status=Order.Status.CANCELLED)
    return cancelled.filter(filled_quantity__lt=F("quantity")).values_list("broker_order_id", "client_order_ref")


# What every sync reads of the book, built once (see trading.prepared).
_AWAITING_FILLS = Prepared(
    lambda book, statuses: Order.objects.filter(
        book_id=book, dry_run=False, filled_quantity__lt=F("quantity"), status__in=statuses
    ).values_list("broker_order_id", "client_order_ref")
)
_CANCELLED_UNFILLED = Prepared(_cancelled_unfilled)
_OPEN_ORDERS = Prepared(
    lambda book, statuses: Order.objects.filter(book_id=book, dry_run=False, status__in=statuses).values_list(
        "client_order_ref", "broker_order_id", "status"
    )
)


def _intents(book, recent):
    pending = Order.objects.filter(book_id=book, dry_run=False, status=Order.Status.INTENT)
    # A close's exit recorded within the last lease may be between recording and sending.
    return pending.exclude(leg=Order.Leg.EXIT, created_at__gt=recent).values_list("client_order_ref", "run_id")


_INTENTS = Prepared(_intents)
_INTENTS_OF_OTHER_RUNS = Prepared(lambda book, recent, run_id: _intents(book, recent).exclude(run__run_id=run_id))


def _may_change(state, known: tuple[str, str] | None) -> bool:
    """Whether the broker's word on an order can move it: a state with the broker id and status
    the book holds changes nothing (see `order_apply_states`), and most syncs find every working
    order as it was; those are not read again and locked for nothing."""
    if known is None:
        return True
    broker_id, status = known
    return state.status != status or bool(state.broker_order_id and state.broker_order_id != broker_id)


def orders_recover(*, broker: BaseBroker, book: Book, exclude_run_id=None) -> dict:
    """Resolve intents never acknowledged: adopt what the broker holds, release what it never got.

    This is what makes a crash between "intent recorded" and "acknowledgement recorded"
    safe: the order is found by its ref and adopted, never sent a second time.

    Only an intent whose sender is gone is resolved: a live run's intents (and a close's exit
    recorded within the last lease, whose sender may be between recording and sending) are
    left to their sender, who may still send them.
    """
    now = timezone.now()
    lease = timedelta(seconds=settings.TRADE_LABS_RUN_LEASE_SECONDS)
    if exclude_run_id is None:
        intents = _INTENTS(book=book.pk, recent=now - lease)
    else:
        intents = _INTENTS_OF_OTHER_RUNS(book=book.pk, recent=now - lease, run_id=exclude_run_id)
    if not intents:  # the usual case: nothing to resolve, and no need to ask which runs live
        return {"adopted": 0, "released": 0}
    alive = {run.pk for run in runs_alive(book=book, now=now)}
    refs = [ref for ref, run_id in intents if run_id is None or run_id not in alive]
    if not refs:
        return {"adopted": 0, "released": 0}
    try:
        held = {state.order_ref: state for state in broker.find_orders(refs)}
        # An execution under our ref proves the order reached the broker, even one the broker
        # no longer lists among its open or completed orders.
        executed = [e for e in broker.executions() if e.order_ref in set(refs)]
    except BrokerError as exc:
        log.warning("recovery_deferred", reason=str(exc), intents=len(refs))
        return {"adopted": 0, "released": 0, "deferred": len(refs)}
    book_apply_executions(executions=executed)
    reached = set(held) | {e.order_ref for e in executed}
    adopted = released = 0
    for order in Order.objects.filter(client_order_ref__in=refs).order_by("id"):
        state = held.get(order.client_order_ref)
        if state is not None:
            order_apply_state(state=state)
        if order.client_order_ref in reached:
            adopted += 1
            log.info("order_adopted", order_ref=order.client_order_ref)
            continue
        order.refresh_from_db(fields=["status"])
        if order.status != Order.Status.INTENT:
            continue
        order_mark(order=order, status=Order.Status.NOT_SENT, message="never reached the broker; released on recovery")
        released += 1
    return {"adopted": adopted, "released": released}

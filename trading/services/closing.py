"""Closing a trade before its stop or target: by hand (manual) or at the session's end (eod).

The protective legs are cancelled first, then one market exit is sent with its own
idempotency key, so a retried close never sells twice.
"""

from datetime import datetime

import structlog
from django.db import transaction
from django.utils import timezone

from trading.brokers import brokers
from trading.brokers.base import BrokerError, OrderRequest
from trading.models import Order, OrderEvent, Side, Trade

from .book import fill_record_local, order_apply_state, order_mark
from .sync import book_apply_executions, book_sync

log = structlog.get_logger(__name__)


class TradeNotOpen(Exception):
    """Only an open trade can be closed."""


def _exit_request(trade: Trade, reason: str) -> OrderRequest:
    entry_filled = trade.orders.filter(leg=Order.Leg.ENTRY).values_list("filled_quantity", flat=True).first() or 0
    exited = sum(trade.orders.exclude(leg=Order.Leg.ENTRY).values_list("filled_quantity", flat=True))
    return OrderRequest(
        order_ref=f"TL-close-{trade.pk}-{trade.symbol}-{reason}",
        leg=Order.Leg.EXIT,
        symbol=trade.symbol,
        side=Side.SELL if trade.side == Side.BUY else Side.BUY,
        order_type=Order.Type.MARKET,
        quantity=entry_filled - exited,
    )


@transaction.atomic
def _record_exit_intent(trade: Trade, request: OrderRequest, reason: str) -> Order:
    order, created = Order.objects.get_or_create(
        client_order_ref=request.order_ref,
        defaults={
            "run": trade.run,
            "trade": trade,
            "backend": trade.backend,
            "dry_run": trade.dry_run,
            "symbol": request.symbol,
            "leg": request.leg,
            "order_type": request.order_type,
            "side": request.side,
            "quantity": request.quantity,
            "exit_reason": reason,
        },
    )
    if created:
        OrderEvent.objects.create(
            order=order, status=Order.Status.INTENT, message=f"{reason} close recorded before sending"
        )
    return order


def trade_close(
    *,
    trade_id: int,
    reason: str = Trade.ExitReason.MANUAL,
    alias: str = "default",
    at: datetime | None = None,
    now=None,
) -> Trade:
    """Close an open trade at market. Raises TradeNotOpen, BrokerError."""
    now = now or timezone.now()
    with brokers.create(alias) as broker:
        moment, _ = broker.market_moment(at, now)
        broker.advance_to(moment)
        book_sync(broker=broker, backend=broker.name)
        trade = Trade.objects.get(pk=trade_id)
        if trade.status != Trade.Status.OPEN:
            raise TradeNotOpen(f"trade {trade.pk} ({trade.symbol}) is {trade.status}, not open")
        for leg in trade.orders.filter(leg__in=[Order.Leg.STOP, Order.Leg.TARGET], status__in=Order.OPEN_STATUSES):
            if not trade.dry_run:
                broker.cancel_order(leg.client_order_ref)
            order_mark(order=leg, status=Order.Status.CANCELLED, message=f"cancelled to close the trade ({reason})")
        request = _exit_request(trade, reason)
        exit_order = _record_exit_intent(trade, request, reason)
        if trade.dry_run:
            _fill_exit_locally(broker, exit_order, moment)
        else:
            try:
                result = broker.place_order(request, at=moment)
            except BrokerError as exc:
                if exc.permanent:
                    order_mark(order=exit_order, status=Order.Status.REJECTED, message=str(exc))
                raise
            for state in result.orders:
                order_apply_state(state=state)
            book_apply_executions(executions=result.executions)
    trade.refresh_from_db()
    log.info("trade_closed", trade_id=trade.pk, symbol=trade.symbol, reason=reason, status=trade.status)
    return trade


def _fill_exit_locally(broker, order: Order, moment) -> None:
    quote = broker.quotes([order.symbol], at=moment)[order.symbol]
    price = quote.bid if order.side == Side.SELL else quote.ask
    if price is None or price <= 0:
        raise BrokerError(f"no usable quote to close {order.symbol} locally", permanent=False)
    fill_record_local(order=order, price=price, at=quote.time or moment)


def trades_flatten_at_close(*, alias: str = "default", at: datetime) -> list[Trade]:
    """Close every open trade on this backend at market (reason: end of day)."""
    backend = brokers.name_of(alias)
    closed = []
    for trade_id in Trade.objects.filter(status=Trade.Status.OPEN, backend=backend).values_list("pk", flat=True):
        try:
            closed.append(trade_close(trade_id=trade_id, reason=Trade.ExitReason.END_OF_DAY, alias=alias, at=at))
        except (TradeNotOpen, BrokerError) as exc:
            log.warning("eod_close_failed", trade_id=trade_id, reason=str(exc))
    return closed

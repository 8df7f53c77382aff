"""Closing a trade before its stop or target: by hand (manual) or at the session's end (eod).

A trade is closed through the broker alias and account that opened it, never a default.
Everything that could refuse the exit (the safety gate, a closed market, no tradable quote)
is checked before the protective legs are touched: a refused close changes nothing. Then
the legs are cancelled and one market exit is sent with its own idempotency key, so a
retried close never sells twice.
"""

from datetime import datetime

import structlog
from django.db import transaction
from django.utils import timezone

from trading.brokers import InvalidBrokerError, brokers
from trading.brokers.base import BaseBroker, BrokerError, OrderRequest, SafetyError
from trading.models import Order, OrderEvent, Side, Trade

from .book import fill_record_local, order_apply_state, order_mark
from .books import book_clock_advance, book_clock_refuse_earlier
from .sync import book_apply_executions, book_sync

log = structlog.get_logger(__name__)


class TradeNotOpen(Exception):
    """Only an open trade can be closed."""


class CloseRefused(Exception):
    """The exit could not be sent; the trade and its protective legs were left as they were."""


def trade_broker_alias(trade: Trade) -> str:
    """The alias that opened the trade (see `brokers.alias_of_record`); never the default backend."""
    try:
        return brokers.alias_of_record(trade.broker_alias, trade.backend)
    except InvalidBrokerError as exc:
        raise CloseRefused(f"trade {trade.pk}: {exc}; nothing was changed") from None


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
            "book_id": trade.book_id,
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


def _check_same_account(trade: Trade, broker: BaseBroker) -> None:
    if trade.account_id and broker.account_id and trade.account_id != broker.account_id:
        raise CloseRefused(
            f"trade {trade.pk} is held in account {trade.account_id}, but broker alias {broker.alias!r} "
            f"is connected to account {broker.account_id}; nothing was changed"
        )


def _exit_refusal(broker: BaseBroker, trade: Trade, request: OrderRequest, moment: datetime) -> str:
    """Why the exit cannot be sent now ('' when it can), found without changing anything."""
    if request.quantity <= 0:
        return f"nothing to sell: the entry of trade {trade.pk} has no filled shares left"
    if not trade.dry_run:
        try:
            broker.check_may_change_orders(action=f"closing trade {trade.pk}")
        except SafetyError as exc:
            return str(exc)
    return broker.order_refusal(request, at=moment)


def trade_close(
    *,
    trade_id: int,
    reason: str = Trade.ExitReason.MANUAL,
    at: datetime | None = None,
    now: datetime | None = None,
) -> Trade:
    """Close an open trade at market through the broker that opened it.

    Raises Trade.DoesNotExist, TradeNotOpen, CloseRefused (nothing changed) and BrokerError."""
    now = now or timezone.now()
    trade = Trade.objects.select_related("book").get(pk=trade_id)
    trade_broker_alias(trade)
    with brokers.create_for(trade.book) as broker:
        _check_same_account(trade, broker)
        moment, _ = broker.market_moment(at, now)
        try:
            book_clock_refuse_earlier(book=trade.book, at=moment)
        except BrokerError as exc:
            raise CloseRefused(f"{exc}; nothing was changed") from None
        broker.advance_to(moment)
        book_clock_advance(book=trade.book, at=moment)
        book_sync(broker=broker, book=trade.book)
        trade.refresh_from_db()
        if trade.status != Trade.Status.OPEN:
            raise TradeNotOpen(f"trade {trade.pk} ({trade.symbol}) is {trade.status}, not open")
        request = _exit_request(trade, reason)
        refusal = _exit_refusal(broker, trade, request, moment)
        if refusal:
            raise CloseRefused(f"{refusal}; the stop and target stay working, nothing was changed")
        _cancel_protective_legs(broker, trade, reason)
        _send_exit(broker, trade, request, reason, moment)
    trade.refresh_from_db()
    log.info("trade_closed", trade_id=trade.pk, symbol=trade.symbol, reason=reason, status=trade.status)
    return trade


def _cancel_protective_legs(broker: BaseBroker, trade: Trade, reason: str) -> None:
    for leg in trade.orders.filter(leg__in=[Order.Leg.STOP, Order.Leg.TARGET], status__in=Order.OPEN_STATUSES):
        if not trade.dry_run:
            broker.cancel_order(leg.client_order_ref)
        order_mark(order=leg, status=Order.Status.CANCELLED, message=f"cancelled to close the trade ({reason})")


def _send_exit(broker: BaseBroker, trade: Trade, request: OrderRequest, reason: str, moment: datetime) -> None:
    exit_order = _record_exit_intent(trade, request, reason)
    if trade.dry_run:
        _fill_exit_locally(broker, exit_order, moment)
        return
    try:
        result = broker.place_order(request, at=moment)
    except BrokerError as exc:
        if exc.permanent:
            order_mark(order=exit_order, status=Order.Status.REJECTED, message=str(exc))
        log.error("exit_failed_after_legs_cancelled", trade_id=trade.pk, symbol=trade.symbol, error=str(exc))
        raise BrokerError(
            f"the stop and target were cancelled but the exit failed ({exc}): trade {trade.pk} "
            f"({trade.symbol}) is UNPROTECTED; close it again or protect it at the broker",
            permanent=exc.permanent,
        ) from exc
    for state in result.orders:
        order_apply_state(state=state)
    book_apply_executions(executions=result.executions)


def _fill_exit_locally(broker: BaseBroker, order: Order, moment: datetime) -> None:
    quote = broker.quotes([order.symbol], at=moment)[order.symbol]
    price = quote.bid if order.side == Side.SELL else quote.ask
    if price is None or price <= 0:
        raise BrokerError(f"no usable quote to close {order.symbol} locally", permanent=False)
    fill_record_local(order=order, price=price, at=quote.time or moment)


def trades_flatten_at_close(*, book, at: datetime) -> list[Trade]:
    """Close every open trade of the book at market (reason: end of day)."""
    opened_here = Trade.objects.filter(book=book, status=Trade.Status.OPEN)
    closed = []
    for trade_id in opened_here.values_list("pk", flat=True):
        try:
            closed.append(trade_close(trade_id=trade_id, reason=Trade.ExitReason.END_OF_DAY, at=at))
        except (TradeNotOpen, CloseRefused, BrokerError) as exc:
            log.warning("eod_close_failed", trade_id=trade_id, reason=str(exc))
    return closed

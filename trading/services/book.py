"""Keeping the book of record: order intents, broker order states, fills, trades, positions.

Every function that writes is atomic, and every fill is keyed by the broker's exec_id,
so replaying the same broker report any number of times changes nothing after the first.
"""

from datetime import datetime
from decimal import Decimal

import structlog
from django.db import IntegrityError, transaction

from trading.brokers.base import BracketRequest, Execution, OrderState
from trading.bulk import objects_create, rows_update
from trading.models import Candidate, Fill, Order, OrderEvent, PipelineRun, Position, Side, Trade
from trading.money import ZERO, to_money, to_price
from trading.prepared import Prepared
from trading.signals import trades_closed

log = structlog.get_logger(__name__)

EXIT_LEGS = {
    Order.Leg.STOP: Trade.ExitReason.STOP,
    Order.Leg.TARGET: Trade.ExitReason.TARGET,
    Order.Leg.EXIT: Trade.ExitReason.MANUAL,
}


def order_ref_for(*, run: PipelineRun, symbol: str, leg: str) -> str:
    """The idempotency key: the same run, symbol and leg always give the same ref."""
    return f"TL-{run.run_id.hex[:16]}-{symbol}-{leg}"


def _new_event(order: Order, status: str, message: str = "") -> OrderEvent:
    return OrderEvent(order=order, status=status, message=message[:300])


def _event(order: Order, status: str, message: str = "") -> None:
    _new_event(order, status, message).save(force_insert=True)


def trade_record_intent(
    *, run: PipelineRun, candidate: Candidate | None, bracket: BracketRequest, backend: str, dry_run: bool
) -> Trade:
    """Store the trade and its three orders as intents: this commits before anything is sent."""
    return trades_record_intents(run=run, brackets=[(candidate, bracket)], backend=backend, dry_run=dry_run)[0]


@transaction.atomic
def trades_record_intents(
    *, run: PipelineRun, brackets: list[tuple[Candidate | None, BracketRequest]], backend: str, dry_run: bool
) -> list[Trade]:
    """`trade_record_intent` for several brackets in one transaction: all or none is stored.
    Four inserts whatever the count (the entries first: the stops and targets need their ids)."""
    trades = objects_create(
        Trade(
            book_id=run.book_id,
            run=run,
            candidate=candidate,
            backend=backend,
            broker_alias=run.broker_alias,
            account_id=run.account_id,
            dry_run=dry_run,
            symbol=bracket.entry.symbol,
            side=bracket.entry.side,
            quantity=bracket.entry.quantity,
            stop_price=bracket.stop.stop_price,
            target_price=bracket.target.limit_price,
            status=Trade.Status.PENDING,
        )
        for candidate, bracket in brackets
    )

    def intent(trade: Trade, request, parent=None) -> Order:
        return Order(
            book_id=run.book_id,
            run=run,
            trade=trade,
            parent=parent,
            client_order_ref=request.order_ref,
            backend=backend,
            dry_run=dry_run,
            symbol=request.symbol,
            leg=request.leg,
            order_type=request.order_type,
            side=request.side,
            quantity=request.quantity,
            limit_price=request.limit_price,
            stop_price=request.stop_price,
        )

    pairs = [(trade, bracket) for trade, (_, bracket) in zip(trades, brackets, strict=True)]
    entries = objects_create(intent(trade, bracket.entry) for trade, bracket in pairs)
    children = objects_create(
        intent(trade, leg, entry)
        for (trade, bracket), entry in zip(pairs, entries, strict=True)
        for leg in (bracket.stop, bracket.target)
    )
    objects_create(
        _new_event(order, Order.Status.INTENT, "intent recorded before sending") for order in [*entries, *children]
    )
    return trades


def _status_rank(status: str) -> int:
    """Order statuses only move forward; a late 'submitted' never undoes a 'filled'."""
    order = [
        Order.Status.INTENT,
        Order.Status.SUBMITTED,
        Order.Status.WORKING,
        Order.Status.PARTIALLY_FILLED,
    ]
    return order.index(status) if status in order else 10


def order_apply_state(*, state: OrderState) -> Order | None:
    """Record what the broker says about one of our orders (by ref). Unknown refs are ignored here;
    reconciliation reports them."""
    return order_apply_states(states=[state]).get(state.order_ref)


def order_apply_states(*, states: list[OrderState]) -> dict[str, Order]:
    """`order_apply_state` for several orders (brackets' legs) in one transaction: one read of
    the orders, a write of each that changed, their events in one insert. Then an entry that
    ended unfilled ends its trade and releases its children, as it would have one by one (a
    child can only move forward, so the order of the states does not change the outcome)."""
    if not states:
        return {}
    with transaction.atomic():
        orders = {order.client_order_ref: order for order in _ORDERS_LOCKED(refs=sorted({s.order_ref for s in states}))}
        events: list[OrderEvent] = []
        changed: dict[int, Order] = {}
        for state in states:
            order = orders.get(state.order_ref)
            if order is not None and _apply_one_state(order, state, events):
                changed[order.pk] = order
        _save_each(changed.values(), ["broker_order_id", "status", "error"])
        objects_create(events)
        for order in changed.values():
            for child in _settle_trade_after_order_change(order):
                orders[child.client_order_ref] = child
    return orders


def _apply_one_state(order: Order, state: OrderState, events: list[OrderEvent]) -> bool:
    """Move `order` (in memory) as far as the broker's state allows; True if it changed."""
    changed = False
    if state.broker_order_id and order.broker_order_id != state.broker_order_id:
        order.broker_order_id = state.broker_order_id
        changed = True
    # Fills move filled quantities (fills_record); the state may only advance the status.
    new_status = state.status
    if (
        new_status in (Order.Status.FILLED, Order.Status.PARTIALLY_FILLED)
        and order.filled_quantity < state.filled_quantity
    ):
        new_status = (
            order.status if order.status not in (Order.Status.INTENT, Order.Status.SUBMITTED) else Order.Status.WORKING
        )
    if new_status != order.status and _status_rank(new_status) > _status_rank(order.status):
        order.status = new_status
        order.error = state.message[:300] if new_status in (Order.Status.REJECTED, Order.Status.ERROR) else order.error
        events.append(_new_event(order, new_status, state.message))
        changed = True
    return changed


def _settle_trade_after_order_change(order: Order) -> list[Order]:
    """A rejected or cancelled unfilled entry ends the trade and releases its children (returned)."""
    if order.trade_id is None or order.leg != Order.Leg.ENTRY or order.filled_quantity > 0:
        return []
    if order.status not in (Order.Status.REJECTED, Order.Status.CANCELLED, Order.Status.NOT_SENT, Order.Status.ERROR):
        return []
    trade = order.trade
    trade.status = Trade.Status.REJECTED if order.status == Order.Status.REJECTED else Trade.Status.CANCELLED
    trade.status_reason = order.error or f"entry {order.get_status_display().lower()}"
    trade.save(update_fields=["status", "status_reason", "updated_at"])
    children = list(order.children.filter(status__in=Order.OPEN_STATUSES))
    for child in children:
        child.status = Order.Status.CANCELLED
        child.save(update_fields=["status", "updated_at"])
        _event(child, Order.Status.CANCELLED, "parent entry did not fill")
    return children


def order_mark(*, order: Order, status: str, message: str = "") -> None:
    with transaction.atomic():
        order.status = status
        order.error = message[:300]
        order.save(update_fields=["status", "error", "updated_at"])
        _event(order, status, message)
        _settle_trade_after_order_change(order)


def fill_record(*, execution: Execution) -> Fill | None:
    """Record one execution against our order, its trade and our position, exactly once."""
    fills = fills_record(executions=[execution])
    return fills[0] if fills else None


def fills_record(*, executions: list[Execution]) -> list[Fill]:
    """Record executions (a run's brackets, a broker's report) in one transaction, in the order
    given, exactly as one by one would: each counts once by its exec_id, moves its order, its
    trade and our position. A fixed dozen statements however many fills, not fifteen each."""
    if not executions:
        return []
    try:
        with transaction.atomic():
            return _FillBatch(executions).record()
    except IntegrityError:
        # Another worker recorded one of these fills, or opened one of these positions, while we
        # read: start again from what is stored now, one execution at a time.
        if len(executions) > 1:
            return [fill for execution in executions for fill in fills_record(executions=[execution])]
        with transaction.atomic():
            return _FillBatch(executions).record()


class _FillBatch:
    """Reads every row the executions touch once, locked; applies them in memory; writes each
    changed row once."""

    def __init__(self, executions: list[Execution]):
        self.executions = executions
        self.orders = {o.client_order_ref: o for o in _ORDERS_LOCKED(refs=sorted({e.order_ref for e in executions}))}
        self.recorded = set(_FILLS_RECORDED(exec_ids=[e.exec_id for e in executions]))
        self.trades = {
            t.pk: t for t in _TRADES_LOCKED(ids=sorted({o.trade_id for o in self.orders.values() if o.trade_id}))
        }
        held = {(o.book_id, o.symbol) for o in self.orders.values() if not o.dry_run}
        self.positions = {
            (p.book_id, p.symbol): p
            for p in _POSITIONS_LOCKED(books=sorted({book for book, _ in held}), symbols=sorted({s for _, s in held}))
        }
        self.exit_fills: dict[int, list[tuple[int, Decimal]]] = {}  # trade id → (quantity, price)
        self.stored_entry_filled: dict[int, int] | None = None
        self.fills: list[Fill] = []
        self.events: list[OrderEvent] = []
        self.closed: list[Trade] = []  # closed by this batch
        self.reclosed: dict[int, datetime] = {}  # closed before, moved again: id → exit time then

    def record(self) -> list[Fill]:
        for execution in self.executions:
            self._apply(execution)
        if not self.fills:
            return []
        objects_create(self.fills)
        objects_create(self.events)
        _save_each({f.order.pk: f.order for f in self.fills}.values(), ORDER_FILL_FIELDS)
        _save_each({t.pk: t for t in self._touched_trades()}.values(), TRADE_FILL_FIELDS)
        if self.closed or self.reclosed:
            trades_closed.send(sender=Trade, trades=self.closed, reclosed=self._reclosed())
        moved = {(f.order.book_id, f.symbol) for f in self.fills if not f.order.dry_run}
        positions = [p for key, p in self.positions.items() if key in moved]
        _save_each([p for p in positions if p.pk is not None], POSITION_FILL_FIELDS)
        objects_create([p for p in positions if p.pk is None])
        for fill in self.fills:
            log.info(
                "fill_recorded",
                symbol=fill.symbol,
                side=fill.side,
                qty=fill.quantity,
                price=str(fill.price),
                exec_id=fill.exec_id,
            )
        return self.fills

    def _reclosed(self) -> list[tuple[Trade, datetime]]:
        return [(self.trades[pk], exit_time) for pk, exit_time in self.reclosed.items()]

    def _touched_trades(self) -> list[Trade]:
        return [self.trades[f.order.trade_id] for f in self.fills if f.order.trade_id]

    def _apply(self, execution: Execution) -> None:
        order = self.orders.get(execution.order_ref)
        if order is None or execution.exec_id in self.recorded:
            return
        quantity = min(execution.quantity, order.quantity - order.filled_quantity)
        if quantity <= 0:
            log.warning("fill_beyond_order_quantity", exec_id=execution.exec_id, order_ref=order.client_order_ref)
            return
        self.recorded.add(execution.exec_id)
        fill = Fill(
            book_id=order.book_id,
            order=order,
            exec_id=execution.exec_id,
            symbol=execution.symbol,
            side=execution.side,
            quantity=quantity,
            price=to_price(execution.price),
            commission=to_money(execution.commission),
            filled_at=execution.time,
        )
        self.fills.append(fill)
        previous_value = (order.average_fill_price or ZERO) * order.filled_quantity
        order.filled_quantity += quantity
        order.average_fill_price = to_price((previous_value + fill.price * quantity) / order.filled_quantity)
        order.status = Order.Status.FILLED if order.filled_quantity == order.quantity else Order.Status.PARTIALLY_FILLED
        self.events.append(_new_event(order, order.status, f"fill {quantity} @ {fill.price} ({execution.exec_id})"))
        trade = self.trades.get(order.trade_id)
        if trade is not None:
            self._move_trade(trade, order, fill)
        if not order.dry_run:
            position = self.positions.setdefault(
                (order.book_id, fill.symbol), Position(book_id=order.book_id, symbol=fill.symbol)
            )
            _position_move(position, fill, trade.stop_price if trade is not None else None, order.leg)

    def _move_trade(self, trade: Trade, order: Order, fill: Fill) -> None:
        if trade.status == Trade.Status.CLOSED and trade not in self.closed:
            # Counted in the summaries already: they are summed again for what this fill changes.
            self.reclosed.setdefault(trade.pk, trade.exit_time)
        trade.commission = to_money(trade.commission + fill.commission)
        if order.leg == Order.Leg.ENTRY:
            trade.entry_price = order.average_fill_price
            trade.entry_time = trade.entry_time or fill.filled_at
            if trade.status == Trade.Status.PENDING:
                trade.status = Trade.Status.OPEN
            return
        exits = self._exit_fills(trade)
        exits.append((fill.quantity, fill.price))
        entry_filled = self._entry_filled(trade)
        exit_quantity = sum(quantity for quantity, _ in exits)
        if entry_filled == 0 or exit_quantity < entry_filled:
            return
        trade.exit_price = to_price(sum(price * quantity for quantity, price in exits) / exit_quantity)
        trade.exit_time = fill.filled_at
        trade.exit_reason = order.exit_reason or EXIT_LEGS.get(order.leg, Trade.ExitReason.MANUAL)
        gross = (trade.exit_price - trade.entry_price) * entry_filled * trade.direction
        trade.realized_pnl = to_money(gross - trade.commission)
        if trade.pk not in self.reclosed and trade not in self.closed:
            self.closed.append(trade)
        trade.status = Trade.Status.CLOSED

    def _exit_fills(self, trade: Trade) -> list[tuple[int, Decimal]]:
        """The trade's exit fills: those stored before this batch, then this batch's so far."""
        self._load_stored_exits()
        return self.exit_fills.setdefault(trade.pk, [])

    def _entry_filled(self, trade: Trade) -> int:
        for order in self.orders.values():
            if order.trade_id == trade.pk and order.leg == Order.Leg.ENTRY:
                return order.filled_quantity
        self._load_stored_exits()
        return self.stored_entry_filled.get(trade.pk, 0)

    def _load_stored_exits(self) -> None:
        """What closing any of the batch's trades needs from before the batch, for all of them in
        two reads (the first exit fill asks): their stored exit fills and entries' filled quantities."""
        if self.stored_entry_filled is not None:
            return
        trade_ids = sorted(self.trades)
        for trade_id, quantity, price in _STORED_EXIT_FILLS(trade_ids=trade_ids):
            self.exit_fills.setdefault(trade_id, []).append((quantity, price))
        self.stored_entry_filled = dict(_ENTRIES_FILLED(trade_ids=trade_ids))


# What a batch of fills reads, built once (see trading.prepared): a replay records fills at
# nearly every job.
_ORDERS_LOCKED = Prepared(
    lambda refs: Order.objects.select_for_update().filter(client_order_ref__in=refs).order_by("pk")
)
_FILLS_RECORDED = Prepared(lambda exec_ids: Fill.objects.filter(exec_id__in=exec_ids).values_list("exec_id", flat=True))
_TRADES_LOCKED = Prepared(lambda ids: Trade.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
_POSITIONS_LOCKED = Prepared(
    lambda books, symbols: (
        Position.objects.select_for_update().filter(book_id__in=books, symbol__in=symbols).order_by("pk")
    )
)
_STORED_EXIT_FILLS = Prepared(
    lambda trade_ids: (
        Fill.objects.filter(order__trade_id__in=trade_ids)
        .exclude(order__leg=Order.Leg.ENTRY)
        .order_by("pk")
        .values_list("order__trade_id", "quantity", "price")
    )
)
_ENTRIES_FILLED = Prepared(
    lambda trade_ids: Order.objects.filter(trade_id__in=trade_ids, leg=Order.Leg.ENTRY).values_list(
        "trade_id", "filled_quantity"
    )
)


def _save_each(rows, fields: list[str]) -> None:
    """Write these fields (and updated_at) of each row, as `rows_update` does."""
    rows_update(list(rows), [*fields, "updated_at"])


ORDER_FILL_FIELDS = ["filled_quantity", "average_fill_price", "status"]
TRADE_FILL_FIELDS = [
    "commission",
    "entry_price",
    "entry_time",
    "status",
    "exit_price",
    "exit_time",
    "exit_reason",
    "realized_pnl",
]
POSITION_FILL_FIELDS = ["quantity", "average_cost", "realized_pnl", "protective_stop", "unrealized_pnl"]


def fill_record_local(*, order: Order, price: Decimal, at: datetime) -> Fill | None:
    """A dry-run fill made here, not by a broker: IB-style commission, exec id `DRY-<ref>`."""
    from trading.commissions import commission_for, day_of

    return fill_record(
        execution=Execution(
            exec_id=f"DRY-{order.client_order_ref}",
            order_ref=order.client_order_ref,
            broker_order_id="",
            symbol=order.symbol,
            side=order.side,
            quantity=order.quantity - order.filled_quantity,
            price=price,
            commission=commission_for(order.quantity - order.filled_quantity, price, side=order.side, on=day_of(at)),
            time=at,
        )
    )


def _position_move(position: Position, fill: Fill, protective_stop: Decimal | None, leg: str) -> None:
    """Move our position by one fill (average cost, realized P&L net of its commission)."""
    signed = fill.quantity if fill.side == Side.BUY else -fill.quantity
    old = position.quantity
    new = old + signed
    realized = -fill.commission
    if old == 0 or (old > 0) == (signed > 0):
        position.average_cost = to_price((abs(old) * position.average_cost + fill.quantity * fill.price) / abs(new))
    else:
        closed = min(abs(signed), abs(old))
        realized += (fill.price - position.average_cost) * closed * (1 if old > 0 else -1)
        if new == 0:
            position.average_cost = ZERO
        elif (new > 0) != (old > 0):
            position.average_cost = fill.price
    position.quantity = new
    position.realized_pnl = to_money(position.realized_pnl + realized)
    if leg == Order.Leg.ENTRY and protective_stop is not None:
        position.protective_stop = protective_stop
    if new == 0:
        position.protective_stop = None
        position.unrealized_pnl = ZERO
    elif position.mark_price is not None:
        position.unrealized_pnl = to_money((position.mark_price - position.average_cost) * new)


@transaction.atomic
def positions_mark(*, book, marks: dict[str, tuple[Decimal, datetime]]) -> list[Position]:
    """Mark the book's positions, symbol -> (price, moment), in one read and one write
    (Decimal arithmetic here, not in SQL: SQLite would use floats)."""
    positions = _POSITIONS_LOCKED(books=[book.pk], symbols=sorted(marks))
    for position in positions:
        price, at = marks[position.symbol]
        position.mark_price = to_price(price)
        position.marked_at = at
        position.unrealized_pnl = to_money((position.mark_price - position.average_cost) * position.quantity)
    _save_each(positions, ["mark_price", "marked_at", "unrealized_pnl"])
    return positions

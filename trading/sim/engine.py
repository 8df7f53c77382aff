"""The simulated broker: accepts brackets, fills market orders at the touch plus slippage,
and works stops and targets along the market's minute path as its clock advances.

It writes only its own tables (`trading.sim.models`), never the book of record.
"""

from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import numpy as np
from django.db import IntegrityError, connection, transaction

from trading import sessions
from trading.brokers.base import BracketRequest, BrokerError, OrderRequest, tradable_touch
from trading.bulk import objects_create, rows_update
from trading.commissions import commission_for, day_of
from trading.money import CENT, to_price
from trading.prepared import Prepared

from .models import SimAccount, SimExecution, SimOrder, SimPosition

BPS = Decimal(10_000)


class SimClockPassed(BrokerError):
    """A moment earlier than the SIM broker's clock. The market up to the clock has been worked
    (stops and targets filled along it), so going back would trade or mark a past that already
    happened differently; every entry point of this engine refuses it, and nothing is written."""

    def __init__(self, *, clock: datetime, requested: datetime):
        super().__init__(
            f"the SIM broker's clock is at {sessions.to_new_york(clock):%Y-%m-%d %H:%M} New York; "
            f"an earlier moment ({sessions.to_new_york(requested):%Y-%m-%d %H:%M} New York) cannot be traded "
            "or marked — replay into a new book (another SIM account)",
            permanent=True,
        )
        self.clock = clock
        self.requested = requested


def sim_clock_refuse_earlier(*, clock: datetime | None, at: datetime) -> None:
    """Time runs only forward on a SIM account: raise SimClockPassed when `at` is before `clock`."""
    if clock is not None and at < clock:
        raise SimClockPassed(clock=clock, requested=at)


def sim_account_get(*, account_id: str, starting_cash: Decimal) -> SimAccount:
    for account in _ACCOUNT_BY_ID(account_id=account_id):
        return account
    account, _ = SimAccount.objects.get_or_create(account_id=account_id, defaults={"cash": starting_cash})
    return account


def _account_locked(account: SimAccount) -> SimAccount:
    return _ACCOUNT_LOCKED(pk=account.pk)[0]


def _slipped(price: Decimal, side: str, slippage_bps: Decimal) -> Decimal:
    """Slippage always against us, rounded to the cent against us."""
    if side == "BUY":
        return (price * (1 + slippage_bps / BPS)).quantize(CENT, rounding=ROUND_CEILING)
    return (price * (1 - slippage_bps / BPS)).quantize(CENT, rounding=ROUND_FLOOR)


def _apply_to_positions(account: SimAccount, fills: list[tuple[str, str, int, Decimal]]) -> None:
    """Move the account's positions by these fills (symbol, side, quantity, price), in order:
    one read for all their symbols, and each changed position written once."""
    # The caller holds the account's row lock, so no other writer can create a position meanwhile.
    symbols = {symbol for symbol, *_ in fills}
    positions = {p.symbol: p for p in _POSITIONS(account=account.pk, symbols=sorted(symbols))}
    new = {}
    for symbol, side, quantity, price in fills:
        position = positions.get(symbol)
        if position is None:
            position = positions[symbol] = new[symbol] = SimPosition(account=account, symbol=symbol)
        _move(position, side, quantity, price)
    objects_create(new.values())
    rows_update([positions[symbol] for symbol in sorted(symbols - new.keys())], ["quantity", "average_cost"])


def _move(position: SimPosition, side: str, quantity: int, price: Decimal) -> None:
    signed = quantity if side == "BUY" else -quantity
    old = position.quantity
    new = old + signed
    if old == 0 or (old > 0) == (signed > 0):
        position.average_cost = to_price((abs(old) * position.average_cost + quantity * price) / abs(new))
    elif new != 0 and (new > 0) != (old > 0):
        position.average_cost = price  # crossed through zero: the remainder is a new position
    elif new == 0:
        position.average_cost = Decimal(0)
    position.quantity = new


def _execute(
    account: SimAccount, order: SimOrder, *, price: Decimal, at: datetime, commission_schedule
) -> SimExecution:
    """Fill `order` whole at `price`. An order not yet stored is inserted filled. The account's
    cash moves in memory: the caller, holding its row lock, saves it once at the end."""
    order.status = SimOrder.Status.FILLED
    order.filled_quantity = order.quantity
    if order.pk is None:
        order.save(force_insert=True)
    else:
        order.save(update_fields=["status", "filled_quantity"])
    return _record_executions(account, [(order, price, at)], commission_schedule)[0]


def _record_executions(
    account: SimAccount, fills: list[tuple[SimOrder, Decimal, datetime]], commission_schedule
) -> list[SimExecution]:
    """Store the executions of these stored, filled orders (order, price, time) and move the
    account's positions and, in memory, its cash."""
    executions = [
        SimExecution(
            account=account,
            # A SIM order fills whole, once (only working orders execute), so one exec id per order;
            # the id is unique, so a second execution of the same order could never be stored.
            exec_id=f"SIM-{account.pk}-{order.pk}-1",
            order=order,
            symbol=order.symbol,
            side=order.side,
            quantity=order.quantity,
            price=price,
            commission=commission_for(order.quantity, price, commission_schedule, side=order.side, on=day_of(at)),
            executed_at=at,
        )
        for order, price, at in fills
    ]
    if not executions:
        return []
    objects_create(executions)
    for execution in executions:
        value = execution.price * execution.quantity
        account.cash += (-value if execution.side == "BUY" else value) - execution.commission
    _apply_to_positions(account, [(e.symbol, e.side, e.quantity, e.price) for e in executions])
    return executions


def _create(account, request: OrderRequest, *, parent, oca_group, at) -> SimOrder:
    """The order, unsaved."""
    return SimOrder(
        account=account,
        order_ref=request.order_ref,
        parent=parent,
        oca_group=oca_group,
        symbol=request.symbol,
        side=request.side,
        order_type=request.order_type,
        quantity=request.quantity,
        limit_price=request.limit_price,
        stop_price=request.stop_price,
        active_from=at,
    )


def _advance_clock(account: SimAccount, at: datetime) -> None:
    if account.clock is None or account.clock < at:
        account.clock = at


def sim_place_bracket(
    *,
    account: SimAccount,
    bracket: BracketRequest,
    at: datetime,
    market,
    slippage_bps: Decimal,
    commission_schedule: dict | None = None,
) -> tuple[list[SimOrder], list[SimExecution]]:
    """Accept a bracket: its orders and the entry's execution (if it filled); see sim_place_brackets."""
    return sim_place_brackets(
        account=account,
        brackets=[bracket],
        at=at,
        market=market,
        slippage_bps=slippage_bps,
        commission_schedule=commission_schedule,
    )[0]


def orders_by_ref(account_id, refs):
    """The account's orders with these refs. A ref is never empty: saying so lets the database seek
    on the unique (account, ref) index (a partial one) instead of walking the account's orders."""
    return SimOrder.objects.filter(account_id=account_id, order_ref__in=refs).exclude(order_ref="")


def _by_ref(account: SimAccount, *refs: str):
    return orders_by_ref(account.pk, refs)


# What every job reads of the SIM broker, built once (see trading.prepared).
_ACCOUNT_BY_ID = Prepared(lambda account_id: SimAccount.objects.filter(account_id=account_id))
_ACCOUNT_LOCKED = Prepared(lambda pk: SimAccount.objects.select_for_update().filter(pk=pk))
_POSITIONS = Prepared(lambda account, symbols: SimPosition.objects.filter(account_id=account, symbol__in=symbols))
_ORDERS_BY_REF = Prepared(orders_by_ref)
_WORKING_EXITS = Prepared(
    lambda account: SimOrder.objects.filter(
        account_id=account, status=SimOrder.Status.WORKING, parent__status=SimOrder.Status.FILLED
    ).order_by("id")
)


def sim_place_brackets(
    *,
    account: SimAccount,
    brackets: list[BracketRequest],
    at: datetime,
    market,
    slippage_bps: Decimal,
    commission_schedule: dict | None = None,
) -> list[tuple[list[SimOrder], list[SimExecution]]]:
    """Accept brackets, all in one transaction: for each, its orders and its entry's execution
    (if it filled). Idempotent by order ref: a bracket already held is returned as it stands,
    never placed again."""
    refs = [leg.order_ref for bracket in brackets for leg in bracket.legs]
    existing = {o.order_ref: o for o in _ORDERS_BY_REF(account_id=account.pk, refs=refs)}
    held = {}
    for bracket in brackets:
        known = [existing[leg.order_ref] for leg in bracket.legs if leg.order_ref in existing]
        if len(known) == len(bracket.legs):
            held[bracket.entry.order_ref] = known
        elif known:
            # A half-accepted bracket cannot happen inside one transaction; refuse rather than guess.
            raise IntegrityError(f"bracket partly known to the SIM broker: {sorted(o.order_ref for o in known)}")
    fresh = [bracket for bracket in brackets if bracket.entry.order_ref not in held]
    accepted = _accept(account, fresh, at=at, market=market, slippage_bps=slippage_bps, schedule=commission_schedule)
    results = []
    for bracket in brackets:
        orders = held.get(bracket.entry.order_ref)
        if orders is None:
            results.append(accepted[bracket.entry.order_ref])
        else:
            executions = SimExecution.objects.filter(order__in=orders).select_related("order").order_by("id")
            results.append((orders, list(executions)))
    return results


def _accept(account: SimAccount, brackets: list[BracketRequest], *, at, market, slippage_bps, schedule) -> dict:
    """Place new brackets: each entry fills at the touch plus slippage, or is rejected (its
    exits cancelled) when there is no tradable quote. Keyed by entry ref."""
    if not brackets:
        return {}
    with transaction.atomic():
        account = _account_locked(account)
        sim_clock_refuse_earlier(clock=account.clock, at=at)
        parents, children, fills = [], [], []
        for bracket in brackets:
            quote = market.quote(bracket.entry.symbol, at)
            touch = tradable_touch(quote, bracket.entry.side)
            parent = _create(account, bracket.entry, parent=None, oca_group="", at=at)
            oca = f"OCA-{bracket.entry.order_ref}"
            exits = [_create(account, leg, parent=None, oca_group=oca, at=at) for leg in (bracket.stop, bracket.target)]
            if touch is None:
                reason = f"no tradable quote for {bracket.entry.symbol} at {at:%Y-%m-%d %H:%M} UTC"
                parent.status, parent.reason = SimOrder.Status.REJECTED, reason
                for child in exits:
                    child.status, child.reason = SimOrder.Status.CANCELLED, reason
            else:
                parent.status, parent.filled_quantity = SimOrder.Status.FILLED, parent.quantity
                fills.append((parent, _slipped(touch, parent.side, slippage_bps), quote.time or at))
            parents.append(parent)
            children.append(exits)
        _insert_with_keys(parents)
        for parent, exits in zip(parents, children, strict=True):
            for child in exits:
                child.parent = parent
        objects_create([child for exits in children for child in exits])
        executions = {e.order_id: e for e in _record_executions(account, fills, schedule)}
        _advance_clock(account, at)
        rows_update([account], ["cash", "clock"])
    return {
        parent.order_ref: ([parent, *exits], [executions[parent.pk]] if parent.pk in executions else [])
        for parent, exits in zip(parents, children, strict=True)
    }


def _insert_with_keys(orders: list[SimOrder]) -> None:
    """Insert orders and learn their keys (the executions' ids and the exits' parent need them)."""
    if connection.features.can_return_rows_from_bulk_insert:
        objects_create(orders)
    else:
        for order in orders:
            order.save(force_insert=True)


def sim_place_order(
    *,
    account: SimAccount,
    request: OrderRequest,
    at: datetime,
    market,
    slippage_bps: Decimal,
    commission_schedule: dict | None = None,
) -> SimOrder:
    """Accept one market order and fill it at the touch; idempotent by order ref."""
    existing = _by_ref(account, request.order_ref).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        account = _account_locked(account)
        sim_clock_refuse_earlier(clock=account.clock, at=at)
        order = _create(account, request, parent=None, oca_group="", at=at)
        quote = market.quote(request.symbol, at)
        touch = tradable_touch(quote, request.side)
        if request.order_type != "MKT":
            order.status, order.reason = SimOrder.Status.REJECTED, "SIM accepts stand-alone market orders only"
            order.save(force_insert=True)
        elif touch is None:
            order.status, order.reason = SimOrder.Status.REJECTED, f"no tradable quote for {request.symbol}"
            order.save(force_insert=True)
        else:
            price = _slipped(touch, order.side, slippage_bps)
            _execute(account, order, price=price, at=quote.time or at, commission_schedule=commission_schedule)
            account.save(update_fields=["cash"])
    return order


def _first_trigger(order: SimOrder, bids: np.ndarray, asks: np.ndarray) -> int | None:
    """Index of the first minute at which this exit order would trade, or None."""
    prices = bids if order.side == "SELL" else asks
    if order.order_type == "STP":
        level = float(order.stop_price)
        hits = prices <= level if order.side == "SELL" else prices >= level
    else:
        level = float(order.limit_price)
        hits = prices >= level if order.side == "SELL" else prices <= level
    found = np.flatnonzero(hits)
    return int(found[0]) if found.size else None


def _exit_fill_price(order: SimOrder, touch: Decimal, slippage_bps: Decimal, *, at_open: bool) -> Decimal:
    """`at_open`: the order was working before the session opened and trades at its first minute."""
    if order.order_type == "STP":
        # A stop becomes a market order: it fills at the touch (worse than the stop on a gap).
        worse = min(order.stop_price, touch) if order.side == "SELL" else max(order.stop_price, touch)
        return _slipped(worse, order.side, slippage_bps)
    if not at_open:
        # During the session the price passes through the limit, where the resting order is taken.
        return to_price(order.limit_price)
    # The market opened through the limit: the opening cross fills it at the better price.
    better = max(order.limit_price, touch) if order.side == "SELL" else min(order.limit_price, touch)
    return to_price(better)


def _first_fill(orders: list[SimOrder], *, start: datetime, end: datetime, market):
    """The first exit of one OCA group to trade after `start`, up to `end`: (moment, order,
    touch, at the open?), or None. One vectorised pass over each session's minute path."""
    symbol = orders[0].symbol
    first_day = start.astimezone(sessions.NEW_YORK).date()
    last_day = end.astimezone(sessions.NEW_YORK).date()
    for current in sessions.sessions_between(first_day, last_day):
        if current.close <= start or current.open > end:
            continue
        path = market.day_path(symbol, current.day)
        lo = path.index_at(start) + (1 if start >= current.open else 0)
        hi = path.index_at(end)
        if lo > hi:
            continue
        bids, asks = path.touches(lo, hi)
        triggers = [(idx, order) for order in orders if (idx := _first_trigger(order, bids, asks)) is not None]
        if not triggers:
            continue
        # Same minute for stop and target: assume the stop traded first (the conservative reading).
        index, winner = min(triggers, key=lambda t: (t[0], t[1].order_type != "STP"))
        touch = Decimal(str(bids[index] if winner.side == "SELL" else asks[index]))
        return current.open + timedelta(minutes=lo + index), winner, touch, lo + index == 0
    return None


def _work_groups(account, groups: list[list[SimOrder]], *, end: datetime, market, slippage_bps, schedule) -> None:
    """Work OCA groups of exits up to `end`: in each, the first to trade fills and cancels the
    rest. The groups' orders, executions and positions are written together."""
    fills, filled, cancelled = [], [], []
    for orders in groups:
        found = _first_fill(orders, start=_group_start(orders, account.clock), end=end, market=market)
        if found is None:
            continue
        at, winner, touch, at_open = found
        winner.status, winner.filled_quantity = SimOrder.Status.FILLED, winner.quantity
        fills.append((winner, _exit_fill_price(winner, touch, slippage_bps, at_open=at_open), at))
        filled.append(winner)
        for other in orders:
            if other is not winner:
                other.status, other.reason = SimOrder.Status.CANCELLED, f"OCA: {winner.order_type} filled"
                cancelled.append(other)
    rows_update(filled, ["status", "filled_quantity"])
    rows_update(cancelled, ["status", "reason"])
    _record_executions(account, fills, schedule)


def _working_groups(account: SimAccount) -> dict[str, list[SimOrder]]:
    """The account's working exits (their entry filled), by OCA group."""
    working = _WORKING_EXITS(account=account.pk)
    groups: dict[str, list[SimOrder]] = {}
    for order in working:
        groups.setdefault(order.oca_group or f"solo-{order.pk}", []).append(order)
    return groups


def _group_start(orders: list[SimOrder], clock: datetime | None) -> datetime:
    return max(max(o.active_from for o in orders), clock or orders[0].active_from)


def sim_advance(*, account: SimAccount, at: datetime, market, slippage_bps: Decimal, commission_schedule=None) -> None:
    """Move the broker's clock to `at`, filling any stop or target the price path reaches.
    Raises SimClockPassed when `at` is before the clock."""
    with transaction.atomic():
        account = _account_locked(account)
        sim_clock_refuse_earlier(clock=account.clock, at=at)
        groups = [
            orders
            for orders in _working_groups(account).values()
            if _group_start(orders, account.clock) < at and orders[0].symbol in market
        ]
        _work_groups(account, groups, end=at, market=market, slippage_bps=slippage_bps, schedule=commission_schedule)
        before = (account.cash, account.clock)
        _advance_clock(account, at)
        if (account.cash, account.clock) != before:
            rows_update([account], ["cash", "clock"])


def sim_cancel(*, account: SimAccount, order_ref: str) -> SimOrder | None:
    with transaction.atomic():
        order = _by_ref(account, order_ref).select_for_update().first()
        if order and order.status == SimOrder.Status.WORKING:
            order.status = SimOrder.Status.CANCELLED
            order.reason = "cancelled on request"
            order.save(update_fields=["status", "reason"])
        return order

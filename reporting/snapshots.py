"""A book at each session's close: the daily snapshot, and the equity curve it makes.

What was open at a close is read from the trades themselves (entered by the close, not exited
before it), so a snapshot can be taken after the fact; its marks are that close's prices. A
simulated market can price any past close; a real broker only the present, so an IB book's past
days without a snapshot show their open trades unmarked rather than at today's prices.

    cash       = starting equity + realized P&L (net) - cost of what is held - its commissions so far
    equity     = cash + market value of what is held
               = starting equity + realized + unrealized - commissions of the open trades
    unrealized = Σ (mark - entry) × quantity × direction over the trades open at the close
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Q, Sum

from trading import sessions
from trading.brokers import brokers
from trading.brokers.base import mark_price
from trading.bulk import row_upsert
from trading.models import Book, Trade
from trading.money import ZERO, to_cents, to_money, to_price
from trading.prepared import Prepared

from .models import DailySnapshot

TRADING_DAYS_PER_YEAR = 252


def session_close_moment(day: date) -> datetime:
    """The moment a close is marked at: the session's last minute, as every mark of the book is."""
    return sessions.session(day).close - timedelta(minutes=1)


def trades_open_at(*, book: Book, at: datetime):
    """The book's trades entered by `at` and not exited by it (dry runs excluded, as in metrics)."""
    return (
        Trade.objects.filter(book=book, dry_run=False, entry_time__lte=at)
        .filter(status__in=[Trade.Status.OPEN, Trade.Status.CLOSED])
        .filter(Q(exit_time__isnull=True) | Q(exit_time__gt=at))
        .order_by("entry_time", "id")
    )


def _close_marks(book: Book, symbols: list[str], moment: datetime) -> dict[str, Decimal]:
    """Each symbol's price at `moment`: from the SIM market for any moment; from a real broker's
    book only when `moment` is its latest mark (a real broker cannot quote the past)."""
    if not symbols:
        return {}
    broker = brokers.create_for(book)
    if not broker.sends_real_orders:
        marks = {}
        for symbol, quote in broker.quotes(symbols, at=moment).items():
            price = mark_price(quote)
            if price is not None:
                marks[symbol] = to_price(price)
        return marks
    held = book.positions.filter(symbol__in=symbols, marked_at__gte=moment, mark_price__isnull=False)
    return dict(held.values_list("symbol", "mark_price"))


@transaction.atomic
def snapshot_take(*, book: Book, day: date) -> DailySnapshot:
    """Store (or replace) the book's snapshot at the close of session `day`."""
    moment = session_close_moment(day)
    close = sessions.session(day).close
    open_trades = _TRADES_OPEN_AT(book=book.pk, at=close)
    marks = _close_marks(book, sorted({t.symbol for t in open_trades}), moment)
    realized = (
        Trade.objects.filter(book=book, dry_run=False, status=Trade.Status.CLOSED, exit_time__lte=close).aggregate(
            total=Sum("realized_pnl")
        )["total"]
        or ZERO
    )
    rows, unrealized, cost, commissions = [], ZERO, ZERO, ZERO
    for trade in open_trades:
        mark = marks.get(trade.symbol)
        pnl = None if mark is None else to_money((mark - trade.entry_price) * trade.quantity * trade.direction)
        unrealized += pnl or ZERO
        cost += trade.entry_price * trade.quantity * trade.direction
        commissions += trade.commission
        rows.append(_open_row(trade, mark, moment if mark is not None else None, pnl))
    cash = book.starting_equity + realized - cost - commissions
    snapshot = DailySnapshot(
        book=book,
        day=day,
        marked_at=moment,
        positions=rows,
        open_trade_ids=[t.pk for t in open_trades],
        cash=to_money(cash),
        realized_pnl=to_money(realized),
        unrealized_pnl=to_money(unrealized),
        equity=to_money(book.starting_equity + realized + unrealized - commissions),
    )
    return row_upsert(snapshot, unique=["book", "day"])


def _open_row(trade: Trade, mark: Decimal | None, marked_at: datetime | None, pnl: Decimal | None) -> dict:
    """One open trade at a close, in the shape of `metrics.open_trade_rows` (money in cents)."""
    return {
        "id": trade.pk,
        "symbol": trade.symbol,
        "side": trade.side,
        "quantity": trade.quantity,
        "entry_price": str(trade.entry_price),
        "entry_time": sessions.to_new_york(trade.entry_time).isoformat(),
        "stop_price": None if trade.stop_price is None else str(trade.stop_price),
        "target_price": None if trade.target_price is None else str(trade.target_price),
        "commission": str(to_cents(trade.commission)),
        "mark_price": None if mark is None else str(mark),
        "marked_at": None if marked_at is None else sessions.to_new_york(marked_at).isoformat(),
        "unrealized_pnl": None if pnl is None else str(to_cents(pnl)),
    }


def snapshot_for(*, book: Book, day: date) -> DailySnapshot:
    """The stored snapshot of that close, taken now if there is none."""
    stored = _SNAPSHOT(book=book.pk, day=day)
    return stored[0] if stored else snapshot_take(book=book, day=day)


def equity_curve(*, book: Book, start: date | None = None, end: date | None = None) -> list[tuple[date, Decimal]]:
    """(session, equity at its close) for every snapshot of the book in the range, in date order."""
    if start is None and end is None:
        return _EQUITY_CURVE(book=book.pk)
    rows = DailySnapshot.objects.filter(book=book)
    if start is not None:
        rows = rows.filter(day__gte=start)
    if end is not None:
        rows = rows.filter(day__lte=end)
    return list(rows.order_by("day").values_list("day", "equity"))


def equity_metrics(curve: list[tuple[date, Decimal]], *, starting_equity: Decimal) -> dict:
    """Max drawdown and Sharpe of the daily mark-to-market equity curve, as empyrical and
    quantstats define them: returns r_t = E_t / E_{t-1} - 1 (the first against the starting
    equity); drawdown = the deepest fall of equity below its running peak, as a % of that peak;
    Sharpe = mean(r) / std(r, sample) × √252, risk-free rate 0."""
    if not curve:
        return {"equity_days": 0, "equity_end": None, "equity_max_drawdown_pct": None, "equity_sharpe_ratio": None}
    equities = [Decimal(starting_equity)] + [Decimal(e) for _, e in curve]
    peak, deepest = equities[0], Decimal(0)
    for equity in equities:
        peak = max(peak, equity)
        if peak > 0:
            deepest = max(deepest, (peak - equity) / peak)
    returns = [b / a - 1 for a, b in zip(equities, equities[1:], strict=False) if a > 0]
    sharpe = None
    if len(returns) >= 2:
        mean = sum(returns) / len(returns)
        variance = sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
        if variance > 0:
            sharpe = float(mean / variance.sqrt() * Decimal(TRADING_DAYS_PER_YEAR).sqrt())
    return {
        "equity_days": len(curve),
        "equity_end": str(to_cents(equities[-1])),
        "equity_max_drawdown_pct": float(round(deepest * 100, 4)),
        "equity_sharpe_ratio": None if sharpe is None else round(sharpe, 4),
    }


# What every evening's report reads, built once (see trading.prepared).
_TRADES_OPEN_AT = Prepared(lambda book, at: trades_open_at(book=book, at=at))
_SNAPSHOT = Prepared(lambda book, day: DailySnapshot.objects.filter(book_id=book, day=day).order_by("pk")[:1])
_EQUITY_CURVE = Prepared(
    lambda book: DailySnapshot.objects.filter(book_id=book).order_by("day").values_list("day", "equity")
)

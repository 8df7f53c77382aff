"""Read-side queries over the book, shared by commands, admin and API."""

from decimal import Decimal

from django.db.models import Count, Q, Sum

from trading.models import Order, PipelineRun, Position, Trade
from trading.money import ZERO, to_cents


def run_summary(run: PipelineRun) -> dict:
    """One JSON-ready object describing a run and the brackets it placed."""
    trades = run.trades.prefetch_related("orders").order_by("id")
    placed = []
    for trade in trades:
        entry = next((o for o in trade.orders.all() if o.leg == Order.Leg.ENTRY), None)
        placed.append(
            {
                "symbol": trade.symbol,
                "side": trade.side,
                "qty": trade.quantity,
                "entry": str(trade.entry_price) if trade.entry_price is not None else None,
                "stop": str(trade.stop_price) if trade.stop_price is not None else None,
                "target": str(trade.target_price) if trade.target_price is not None else None,
                "status": trade.status,
                "order_status": entry.status if entry else None,
                "order_ref": entry.client_order_ref if entry else None,
                "dry_run": trade.dry_run,
            }
        )
    return {
        "run_id": str(run.run_id),
        "book": run.book.name,
        "status": run.status,
        "backend": run.backend,
        "mode": run.mode,
        "armed": run.armed,
        "dry_run": run.dry_run,
        "trigger": run.trigger,
        "market_time": run.market_time.isoformat() if run.market_time else None,
        "market_time_label": run.market_time_label,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "counts": {
            "scanned": run.scanned_count,
            "scored": run.scored_count,
            "rejected": run.rejected_count,
            "executed": run.executed_count,
        },
        "orders": placed,
        "error": run.error or None,
    }


def book_totals(*, book) -> dict:
    """One book's overall counts and P&L, computed in the database."""
    trades = Trade.objects.filter(book=book, dry_run=False).aggregate(
        total=Count("id"),
        open=Count("id", filter=Q(status=Trade.Status.OPEN)),
        pending=Count("id", filter=Q(status=Trade.Status.PENDING)),
        closed=Count("id", filter=Q(status=Trade.Status.CLOSED)),
        wins=Count("id", filter=Q(status=Trade.Status.CLOSED, realized_pnl__gt=0)),
        losses=Count("id", filter=Q(status=Trade.Status.CLOSED, realized_pnl__lt=0)),
        realized=Sum("realized_pnl", filter=Q(status=Trade.Status.CLOSED)),
        commissions=Sum("commission"),
    )
    unrealized = Position.objects.filter(book=book).aggregate(total=Sum("unrealized_pnl"))["total"] or ZERO
    realized: Decimal = trades["realized"] or ZERO
    return {
        "runs": PipelineRun.objects.filter(book=book).count(),
        "trades": trades["total"],
        "open_trades": trades["open"],
        "pending_trades": trades["pending"],
        "closed_trades": trades["closed"],
        "wins": trades["wins"],
        "losses": trades["losses"],
        "realized_pnl": str(to_cents(realized)),
        "unrealized_pnl": str(to_cents(unrealized)),
        "commissions": str(to_cents(trades["commissions"] or ZERO)),
    }

"""Read-side queries for reporting: statistics of a period, shared by commands, admin and API."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, Sum
from django.utils import timezone

from trading.models import Book, PipelineRun, Position, Trade
from trading.money import ZERO, to_cents

from .metrics import NEW_YORK, Period, metrics_compute
from .snapshots import equity_curve, equity_metrics


def period_from_month(text: str | None) -> Period:
    """'YYYY-MM' → that New York calendar month; None or '' → all time. ValueError on anything else."""
    if not text:
        return Period.all_time()
    try:
        year, month = (int(part) for part in text.split("-"))
        return Period.month(year, month)
    except ValueError:
        raise ValueError(f"{text!r} is not a month (YYYY-MM)") from None


def today_new_york():
    return timezone.now().astimezone(NEW_YORK).date()


def stats_summary(*, book: Book, period: Period) -> dict:
    """Counts and P&L of one book plus every metric of `period`, as one JSON-ready dict.

    Everything is dated by market time: runs by the moment they traded, trades by their exit.
    For all time the counts match `trading.selectors.book_totals`; for a month, runs and closed
    trades are those of the month, while open/pending trades and unrealized P&L are as of the
    book's clock. The equity figures come from the daily snapshots up to the period's end.
    """
    metrics = metrics_compute(book=book, period=period)
    runs = PipelineRun.objects.filter(book=book)
    if period.starts_at is not None:
        runs = runs.filter(market_time__gte=period.starts_at)
    if period.ends_before is not None:
        runs = runs.filter(market_time__lt=period.ends_before)
    # Grouped over the two live statuses only: an index range each, not a pass over every trade.
    live = dict(
        Trade.objects.filter(book=book, dry_run=False, status__in=[Trade.Status.OPEN, Trade.Status.PENDING])
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
    )
    unrealized: Decimal = Position.objects.filter(book=book).aggregate(total=Sum("unrealized_pnl"))["total"] or ZERO
    scope = "all" if period.start is None else f"{period.start:%Y-%m}"
    curve = equity_curve(book=book, start=period.start, end=period.end)
    start_equity = book.starting_equity
    if period.start is not None:
        before = equity_curve(book=book, end=period.start - timedelta(days=1))
        start_equity = before[-1][1] if before else start_equity
    return {
        "scope": scope,
        **metrics,
        **equity_metrics(curve, starting_equity=start_equity),
        "clock": book.clock.astimezone(NEW_YORK).isoformat() if book.clock else None,
        "runs": runs.count(),
        "open_trades": live.get(Trade.Status.OPEN, 0),
        "pending_trades": live.get(Trade.Status.PENDING, 0),
        "closed_trades": metrics["trade_count"],
        "realized_pnl": metrics["net_pnl"],
        # The book's figure: every position marked, whether or not a trade of ours opened it.
        "unrealized_pnl": str(to_cents(unrealized)),
    }

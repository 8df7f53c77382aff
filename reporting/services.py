"""Writing reports and review annotations. Reads live in `reporting.metrics` and `reporting.selectors`."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from trading import sessions
from trading.bulk import row_upsert
from trading.files import write_atomically
from trading.models import Book
from trading.money import to_cents
from trading.services.books import book_default

from .metrics import Period, closed_trades, metrics_compute, pnl_curve_by_trade
from .models import DailyReport
from .rendering import report_csv, report_markdown, report_trade_rows
from .snapshots import equity_curve, equity_metrics, session_close_moment, snapshot_for

log = structlog.get_logger(__name__)


@transaction.atomic
def report_generate(*, book: Book | None = None, day: date) -> DailyReport:
    """Compute, render, store and write one book's report of one New York trading date.

    The trades closed that day, and what was open at that day's close with that close's marks
    (the day's snapshot, taken now if missing), beside the equity curve up to that close.
    Idempotent: the row and its two files are replaced in place; with unchanged trades the
    Markdown and CSV come out byte for byte the same.
    """
    book = book or book_default()
    period = Period.day(day)
    # A close the book has not reached yet (today, mid-session) has no snapshot: the report then
    # shows what is open now, at the latest marks.
    reached = sessions.is_session(day) and book.clock is not None and book.clock >= session_close_moment(day)
    snapshot = snapshot_for(book=book, day=day) if reached else None
    metrics = metrics_compute(book=book, period=period, with_open=snapshot is None)
    if snapshot is not None:
        open_rows = snapshot.positions
        metrics.update(
            open_trades=len(open_rows),
            open_trade_list=open_rows,
            unrealized_pnl=str(to_cents(snapshot.unrealized_pnl)),
            equity=str(to_cents(snapshot.equity)),
            cash=str(to_cents(snapshot.cash)),
            **equity_metrics(equity_curve(book=book, end=day), starting_equity=book.starting_equity),
        )
    metrics = {"date": day.isoformat(), **metrics}
    rows = report_trade_rows(closed_trades(book=book, period=period))
    markdown = report_markdown(day=day, metrics=metrics, rows=rows)
    csv_text = report_csv(rows)
    curve = [
        [sessions.to_new_york(moment).isoformat(), str(to_cents(cum))]
        for moment, cum in pnl_curve_by_trade(book=book, period=period)
    ]

    directory = Path(settings.TRADE_LABS_REPORTS_DIR)
    stem = DailyReport(book=book, day=day).file_stem
    markdown_path, csv_path = directory / f"{stem}.md", directory / f"{stem}.csv"
    write_atomically(markdown_path, markdown)
    write_atomically(csv_path, csv_text)

    report = DailyReport(
        book=book,
        day=day,
        trade_count=metrics["trade_count"],
        net_pnl=Decimal(metrics["net_pnl"]),
        metrics=metrics,
        curve=curve,
        markdown=markdown,
        csv=csv_text,
        markdown_path=str(markdown_path),
        csv_path=str(csv_path),
        generated_at=timezone.now(),
    )
    row_upsert(report, unique=["book", "day"])
    log.info(
        "report_generated",
        book=book.name,
        day=day.isoformat(),
        trades=metrics["trade_count"],
        net_pnl=metrics["net_pnl"],
        path=str(markdown_path),
    )
    return report

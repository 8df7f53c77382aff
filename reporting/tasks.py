"""django-q2 entry points: thin callers of the reporting services."""

from datetime import date

from trading.services.books import book_named

from .selectors import today_new_york
from .services import report_generate


def daily_report_task(day_iso: str | None = None, book: str | None = None) -> dict:
    """Generate the daily report of `day_iso` (YYYY-MM-DD), by default today's New York date.

    Returns a small summary, which django-q2 stores as the task's result.
    """
    day = date.fromisoformat(day_iso) if day_iso else today_new_york()
    report = report_generate(book=book_named(book), day=day)
    return {
        "day": report.day.isoformat(),
        "trade_count": report.trade_count,
        "net_pnl": report.metrics["net_pnl"],
        "markdown_path": report.markdown_path,
        "csv_path": report.csv_path,
    }

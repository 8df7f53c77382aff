"""python manage.py stats [--json] [--month YYYY-MM] [--book NAME [--book OTHER ...]]"""

import json

from django.core.management.base import BaseCommand, CommandError

from reporting.rendering import books_comparison_table, metrics_markdown
from reporting.selectors import period_from_month, stats_summary
from trading.cli import book_from_options
from trading.money import format_money


class Command(BaseCommand):
    help = "Print overall (or one month's) counts, P&L and trading statistics of the book."

    def add_arguments(self, parser):
        parser.add_argument("--month", help="A New York calendar month YYYY-MM (default: all time).")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")
        parser.add_argument(
            "--book",
            action="append",
            help="The book (default: the default book). Twice or more: the books' metrics side by side.",
        )

    def handle(self, *args, **options):
        try:
            period = period_from_month(options["month"])
        except ValueError as exc:
            raise CommandError(f"--month: {exc}") from None
        books = [book_from_options({"book": name}) for name in options["book"] or [None]]
        if len(books) > 1:
            self._compare(books, period, as_json=options["json"])
            return
        summary = stats_summary(book=books[0], period=period)
        if options["json"]:
            self.stdout.write(json.dumps(summary, indent=2))
            return
        scope = "all time" if summary["scope"] == "all" else summary["scope"]
        self.stdout.write(
            f"Runs: {summary['runs']}  open trades: {summary['open_trades']}  pending: {summary['pending_trades']}  "
            f"closed: {summary['closed_trades']}"
        )
        self.stdout.write(
            f"Realized P&L: {format_money(summary['realized_pnl'])}  "
            f"unrealized P&L: {format_money(summary['unrealized_pnl'])}"
        )
        self.stdout.write("")
        self.stdout.write(metrics_markdown(summary, title=f"Trade Labs statistics, book {books[0].name}, {scope}"))

    def _compare(self, books, period, *, as_json: bool) -> None:
        summaries = [stats_summary(book=book, period=period) for book in books]
        if as_json:
            self.stdout.write(json.dumps({"books": summaries}, indent=2))
            return
        self.stdout.write(books_comparison_table(summaries))

"""python manage.py stats [--json] [--month YYYY-MM]"""

import json

from django.core.management.base import BaseCommand, CommandError

from reporting.rendering import metrics_markdown
from reporting.selectors import period_from_month, stats_summary


class Command(BaseCommand):
    help = "Print overall (or one month's) counts, P&L and trading statistics of the book."

    def add_arguments(self, parser):
        parser.add_argument("--month", help="A New York calendar month YYYY-MM (default: all time).")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args, **options):
        try:
            period = period_from_month(options["month"])
        except ValueError as exc:
            raise CommandError(f"--month: {exc}") from None
        summary = stats_summary(period=period)
        if options["json"]:
            self.stdout.write(json.dumps(summary, indent=2))
            return
        scope = "all time" if summary["scope"] == "all" else summary["scope"]
        self.stdout.write(
            f"Runs: {summary['runs']}  open trades: {summary['open_trades']}  pending: {summary['pending_trades']}  "
            f"closed: {summary['closed_trades']}"
        )
        self.stdout.write(f"Realized P&L: {summary['realized_pnl']}  unrealized P&L: {summary['unrealized_pnl']}")
        self.stdout.write("")
        self.stdout.write(metrics_markdown(summary, title=f"Trade Labs statistics, {scope}"))

"""python manage.py reconcile [--json] [--book NAME | --backend ALIAS]

Exit code 0 when clean, 1 when discrepancies are found, 2 when the broker could not be
reached, so cron or the scheduler can alert on it.
"""

import json
import sys

from django.core.management.base import BaseCommand

from reconciliation.models import ReconciliationRun
from reconciliation.services import reconciliation_run, reconciliation_summary
from trading.cli import add_book_arguments, book_from_options, table
from trading.money import format_money

EXIT_CODES = {
    ReconciliationRun.Status.CLEAN: 0,
    ReconciliationRun.Status.DISCREPANCIES: 1,
    ReconciliationRun.Status.ERROR: 2,
}


class Command(BaseCommand):
    help = "Compare the book with the broker's positions and open orders; flag every difference."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")
        add_book_arguments(parser)

    def handle(self, *args, **options):
        run = reconciliation_run(book=book_from_options(options))
        summary = reconciliation_summary(run)
        if options["json"]:
            self.stdout.write(json.dumps(summary, indent=2))
        else:
            self.stdout.write(self._render(summary))
        code = EXIT_CODES[run.status]
        if code:
            sys.exit(code)

    def _render(self, summary: dict) -> str:
        lines = [
            f"Reconciliation {summary['run_id']}  book={summary['book']}  backend={summary['backend']}  "
            f"status={summary['status']}"
        ]
        if summary["error"]:
            return "\n".join([*lines, summary["error"]]) + "\n"
        positions = summary["positions"]
        if positions:
            lines += [
                "",
                table(
                    ["symbol", "expected", "actual", "our avg cost", "broker avg cost", "mark", "unrealized P&L"],
                    [
                        [
                            p["symbol"],
                            p["expected_qty"],
                            p["actual_qty"],
                            p["expected_avg_cost"],
                            p["actual_avg_cost"],
                            p["mark_price"],
                            p["unrealized_pnl"],
                        ]
                        for p in positions
                    ],
                ),
            ]
        lines.append(f"\nUnrealized P&L total: {format_money(summary['unrealized_pnl_total'])}")
        if summary["discrepancies"]:
            lines += [
                "",
                "Discrepancies:",
                table(
                    ["severity", "kind", "symbol", "order", "expected", "actual", "detail", "review", "seen"],
                    [
                        [
                            d["severity"],
                            d["kind"],
                            d["symbol"],
                            d["order_ref"],
                            d["expected"],
                            d["actual"],
                            d["detail"],
                            d["review_status"],
                            d["times_seen"],
                        ]
                        for d in summary["discrepancies"]
                    ],
                ),
            ]
        else:
            lines.append("No discrepancies: the book matches the broker.")
        return "\n".join(lines) + "\n"

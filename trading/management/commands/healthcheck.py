"""`manage.py healthcheck [--json] [--book NAME ...]`: exit 0 when healthy, 1 when not."""

import json

from django.core.management.base import BaseCommand

from trading.cli import book_from_options
from trading.health import health_alert, health_check, health_record


class Command(BaseCommand):
    help = (
        "Check the database, each book's broker (connect, account), the scheduler (the last due job "
        "was claimed) and the calendar's horizon. Exit 0 when all pass, 1 otherwise."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--book", action="append", help="Check this book's broker only (repeatable; default: every book)."
        )
        parser.add_argument("--json", action="store_true", help="One JSON object.")

    def handle(self, *args, **options):
        books = [book_from_options({"book": name}) for name in options["book"]] if options.get("book") else None
        health = health_check(books=books)
        if health.checks[0].ok:
            health_record(health)
            health_alert(health)
        if options["json"]:
            self.stdout.write(json.dumps(health.as_dict(), indent=2))
        else:
            for check in health.checks:
                self.stdout.write(f"{'ok  ' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
            self.stdout.write("healthy" if health.healthy else "NOT healthy")
        if not health.healthy:
            raise SystemExit(1)

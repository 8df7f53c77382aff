"""python manage.py mark [--at ISO-TIME] [--book NAME | --backend ALIAS] [--json]"""

import json

from django.core.management.base import BaseCommand, CommandError

from trading.brokers.base import BrokerError
from trading.cli import add_book_arguments, book_from_options, ny, parse_moment
from trading.services.marking import book_mark


class Command(BaseCommand):
    help = "Advance the broker to a moment: work stops and targets, record fills, mark positions."

    def add_arguments(self, parser):
        parser.add_argument("--at", help="Market moment (ISO time; without offset read as New York time).")
        add_book_arguments(parser)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        try:
            result = book_mark(book=book_from_options(options), at=parse_moment(options["at"]))
        except BrokerError as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            payload = {
                "moment": result.moment.isoformat(),
                "label": result.label,
                "new_fills": result.new_fills,
                "closed_trades": result.closed_trades,
                "marked": result.marked,
            }
            self.stdout.write(json.dumps(payload, indent=2))
            return
        self.stdout.write(f"Marked at {ny(result.moment)} ({result.label})")
        self.stdout.write(
            f"New fills: {result.new_fills}; trades closed: {len(result.closed_trades)}; positions marked: {len(result.marked)}"
        )

"""`manage.py disarm [--book NAME] [--reason TEXT]`: end the book's arm now (safe to run twice)."""

from django.core.management.base import BaseCommand

from trading.cli import add_book_arguments, book_from_options
from trading.management.commands.arm import who
from trading.services.arming import book_disarm


class Command(BaseCommand):
    help = "Disarm a book now: nothing more is sent to its broker until it is armed again."

    def add_arguments(self, parser):
        add_book_arguments(parser)
        parser.add_argument("--reason", default="", help="Why (kept in the audit trail).")

    def handle(self, *args, **options):
        book = book_from_options(options)
        ended = book_disarm(book=book, by=who(), reason=options["reason"])
        self.stdout.write(f"Book {book.name} disarmed" if ended else f"Book {book.name} was not armed; nothing to do")

"""`manage.py kill_switch [--book NAME] [--flatten]`: disarm, cancel working entries, optionally flatten."""

from django.core.management.base import BaseCommand, CommandError

from trading.cli import add_book_arguments, book_from_options
from trading.management.commands.arm import who
from trading.services.kill_switch import kill_switch


class Command(BaseCommand):
    help = (
        "Stop a book now: disarm it, cancel every working entry order at its broker and, with --flatten, "
        "close every open trade at market. Safe to run twice; needs no scheduler. Exit 1 if anything failed."
    )

    def add_arguments(self, parser):
        add_book_arguments(parser)
        parser.add_argument("--flatten", action="store_true", help="Also close every open trade at market.")

    def handle(self, *args, **options):
        book = book_from_options(options)
        result = kill_switch(book=book, by=who(), flatten=options["flatten"])
        use = result.use
        self.stdout.write(
            f"Kill switch on book {book.name}: {'disarmed' if use.disarmed else 'was not armed'}, "
            f"{use.cancelled} working entries cancelled"
            + (f", {use.closed} open trades closed at market" if use.flatten else "")
        )
        if result.problems:
            raise CommandError("not everything was done:\n" + "\n".join(result.problems))

"""python manage.py summaries_rebuild [--book NAME] [--check]"""

from django.core.management.base import BaseCommand, CommandError

from reporting.summaries import summaries_differences, summaries_rebuild
from trading.cli import book_from_options
from trading.models import Book


class Command(BaseCommand):
    help = (
        "Sum every closed trade again into the summaries statistics read (after trades were written "
        "around the app: a bulk load, a hand edit in the database). --check only compares."
    )

    def add_arguments(self, parser):
        parser.add_argument("--book", help="Only this book (default: every book).")
        parser.add_argument(
            "--check", action="store_true", help="Write nothing; list where the summaries differ and exit 1 if any."
        )

    def handle(self, *args, **options):
        books = [book_from_options(options)] if options["book"] else list(Book.objects.order_by("name"))
        differing = 0
        for book in books:
            if options["check"]:
                differences = summaries_differences(book=book)
                differing += bool(differences)
                for line in differences:
                    self.stdout.write(f"book {book.name}: {line}")
                if not differences:
                    self.stdout.write(f"book {book.name}: summaries match the trades")
                continue
            counted = summaries_rebuild(book=book)
            self.stdout.write(f"book {book.name}: {counted:,} closed trades summed")
        if differing:
            raise CommandError(
                f"{differing} book(s) with summaries that differ from their trades: run summaries_rebuild"
            )

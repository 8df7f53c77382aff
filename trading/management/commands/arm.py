"""`manage.py arm [--book NAME] [--minutes N | --until HH:MM] [--reason TEXT]`: the second key."""

import getpass
from datetime import datetime, time, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from trading import sessions
from trading.cli import add_book_arguments, book_from_options
from trading.services.arming import ArmingRefused, book_arm, default_arm_until


def who() -> str:
    """The person at the terminal, as the audit trail names them."""
    try:
        return f"{getpass.getuser()} (command line)"
    except (KeyError, OSError):
        return "unknown (command line)"


class Command(BaseCommand):
    help = (
        "Arm a book that trades a real (paper) broker: orders reach it only while TRADE_LABS_ARMED=1 "
        "and an unexpired arm exists. Default: until today's session close (New York)."
    )

    def add_arguments(self, parser):
        add_book_arguments(parser)
        until = parser.add_mutually_exclusive_group()
        until.add_argument("--minutes", type=int, help="Arm for this many minutes from now.")
        until.add_argument("--until", help="Arm until this New York time today, HH:MM.")
        parser.add_argument("--reason", default="", help="Why (kept in the audit trail).")

    def handle(self, *args, **options):
        book = book_from_options(options)
        now = timezone.now()
        try:
            until = self._until(options, now)
            record = book_arm(book=book, by=who(), until=until, reason=options["reason"], now=now)
        except ArmingRefused as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Book {book.name} armed until {sessions.to_new_york(record.until):%Y-%m-%d %H:%M %Z} by {record.armed_by}"
        )

    @staticmethod
    def _until(options, now: datetime) -> datetime:
        if options.get("minutes") is not None:
            if options["minutes"] <= 0:
                raise ArmingRefused("--minutes must be positive")
            return now + timedelta(minutes=options["minutes"])
        if options.get("until"):
            try:
                wall = time.fromisoformat(options["until"])
            except ValueError:
                raise ArmingRefused(f"--until {options['until']!r}: use HH:MM (New York time)") from None
            today = sessions.to_new_york(now).date()
            return datetime.combine(today, wall, tzinfo=sessions.NEW_YORK)
        return default_arm_until(now=now)

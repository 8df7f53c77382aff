"""Arming a book in tests, both keys: TRADE_LABS_ARMED=1 and an arm record for each named book."""

from datetime import timedelta

from django.utils import timezone

from trading.services.arming import book_arm
from trading.services.books import book_named


def arm_books(settings, *names: str, minutes: int = 120) -> None:
    settings.TRADE_LABS_ARMED = True
    for name in names:
        book_arm(book=book_named(name), by="test", until=timezone.now() + timedelta(minutes=minutes), reason="test")

"""factory_boy factories for the schedule's tables."""

from datetime import UTC, date, datetime

import factory

from trading.schedule.models import ExtraClosure, Job, JobSlot
from trading.services.books import book_default


class JobSlotFactory(factory.django.DjangoModelFactory):
    """A finished opening scan of Friday 2026-11-20 (09:30 New York) by default."""

    class Meta:
        model = JobSlot

    book = factory.LazyFunction(lambda: book_default())

    job = Job.OPENING_SCAN
    session_date = date(2026, 11, 20)
    scheduled_for = factory.LazyFunction(lambda: datetime(2026, 11, 20, 14, 30, tzinfo=UTC))
    status = JobSlot.Status.DONE
    claimed_at = factory.LazyAttribute(lambda slot: slot.scheduled_for)
    finished_at = factory.LazyAttribute(lambda slot: slot.scheduled_for)
    message = "run abcd1234 succeeded: executed 5 of 50 scanned"
    worker = "host:1"


class ExtraClosureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExtraClosure
        django_get_or_create = ("day",)

    day = date(2026, 11, 23)
    reason = "National Day of Mourning"

"""Writing many rows at once: the same rows Django would write, in fewer statements."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import BookFactory
from trading.bulk import rows_insert_new
from trading.schedule.models import JobSlot

pytestmark = pytest.mark.django_db

FIELDS = ["book", "job", "session_date", "scheduled_for", "status", "claimed_at", "message", "details", "worker"]
START = datetime(2026, 11, 16, 14, 35, tzinfo=UTC)


def _rows(book, count: int, *, details: dict) -> list[tuple]:
    return [
        (book.pk, "mark", date(2026, 11, 16), START + timedelta(minutes=5 * i), "done", START, "quiet", details, "w")
        for i in range(count)
    ]


def test_new_rows_are_stored_as_given_and_their_keys_returned():
    book = BookFactory()
    details = {"quiet": True, "worked_by": "midday_scan"}
    inserted = rows_insert_new(JobSlot, FIELDS, _rows(book, 3, details=details), returning="scheduled_for")
    assert sorted(inserted) == [START, START + timedelta(minutes=5), START + timedelta(minutes=10)]
    stored = JobSlot.objects.filter(book=book).order_by("scheduled_for")
    assert [s.scheduled_for for s in stored] == sorted(inserted)
    assert {(s.status, s.message, s.worker, s.claimed_at) for s in stored} == {("done", "quiet", "w", START)}
    assert [s.details for s in stored] == [details] * 3


def test_rows_whose_key_is_taken_are_left_out_and_not_returned():
    book = BookFactory()
    rows = _rows(book, 4, details={})
    rows_insert_new(JobSlot, FIELDS, rows[1:2])
    JobSlot.objects.filter(book=book).update(message="first")
    inserted = rows_insert_new(JobSlot, FIELDS, rows, returning="scheduled_for")
    assert sorted(inserted) == [rows[0][3], rows[2][3], rows[3][3]]
    assert JobSlot.objects.filter(book=book).count() == 4
    assert JobSlot.objects.get(book=book, scheduled_for=rows[1][3]).message == "first"


def test_rows_beyond_the_parameter_limit_go_in_several_statements(monkeypatch):
    book = BookFactory()
    monkeypatch.setattr(connection.features, "max_query_params", len(FIELDS) * 10)
    with CaptureQueriesContext(connection) as queries:
        inserted = rows_insert_new(JobSlot, FIELDS, _rows(book, 25, details={}))
    assert len([q for q in queries.captured_queries if q["sql"].startswith("INSERT")]) == 3
    assert len(inserted) == 25 == JobSlot.objects.filter(book=book).count()


def test_nothing_to_insert_sends_nothing():
    with CaptureQueriesContext(connection) as queries:
        assert rows_insert_new(JobSlot, FIELDS, []) == []
    assert queries.captured_queries == []

"""Whether a day is closed by hand: asked by every job, believed open for a second at most."""

from datetime import date

import pytest
from django.db import connection

from tests.schedule.factories import ExtraClosureFactory
from trading.schedule import selectors
from trading.schedule.models import ExtraClosure

pytestmark = pytest.mark.django_db

FRIDAY = date(2026, 11, 20)


def _closed_elsewhere(day: date) -> None:
    """A closure written by another process: no signal reaches this one."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ExtraClosure._meta.db_table} (day, reason, created_at) VALUES (%s, %s, CURRENT_TIMESTAMP)",
            [day, "closed elsewhere"],
        )


def test_a_closure_added_here_is_seen_at_once():
    assert selectors.trading_session(day=FRIDAY) is not None
    ExtraClosureFactory(day=FRIDAY)
    assert selectors.trading_session(day=FRIDAY) is None


def test_a_closure_removed_here_is_seen_at_once():
    closure = ExtraClosureFactory(day=FRIDAY)
    assert selectors.trading_session(day=FRIDAY) is None
    closure.delete()
    assert selectors.trading_session(day=FRIDAY) is not None


def test_a_closure_added_by_another_process_is_seen_within_the_second(monkeypatch):
    assert selectors.trading_session(day=FRIDAY) is not None
    _closed_elsewhere(FRIDAY)
    assert selectors.trading_session(day=FRIDAY) is not None  # believed open, for a second
    monkeypatch.setattr(selectors, "OPEN_DAY_BELIEVED_SECONDS", 0.0)
    assert selectors.trading_session(day=FRIDAY) is None

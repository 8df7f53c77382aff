from datetime import UTC, datetime

import pytest

from trading.sessions import NEW_YORK


def new_york(*args) -> datetime:
    """An instant given as New York wall-clock time: new_york(2026, 11, 20, 9, 30)."""
    return datetime(*args, tzinfo=NEW_YORK).astimezone(UTC)


@pytest.fixture
def schedule_settings(settings):
    """The default trading day, whatever the environment says; tests change keys on the returned dict."""
    settings.TRADE_LABS_SCHEDULE = {
        "opening_scan": "09:30",
        "midday_scan": "12:00",
        "reconcile": "16:00",
        "report": "17:00",
        "mark_every_minutes": 5,
        "scan_grace_minutes": 10,
    }
    return settings.TRADE_LABS_SCHEDULE

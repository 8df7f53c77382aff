"""Start-up checks: unreadable times and a django-q2 set-up that could run a job twice are caught."""

import pytest

from trading.schedule.checks import schedule_settings_check


def ids(settings) -> set[str]:
    return {message.id for message in schedule_settings_check()}


def test_the_shipped_settings_pass(schedule_settings, settings):
    assert ids(settings) == set()


def test_an_unreadable_time_is_an_error(schedule_settings, settings):
    schedule_settings["reconcile"] = "four pm"
    assert ids(settings) == {"schedule.E001"}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"retry": 600}, "schedule.E002"),
        ({"max_attempts": 3}, "schedule.W003"),
        ({"catch_up": True}, "schedule.W003"),
        ({"time_zone": "UTC"}, "schedule.E004"),
    ],
)
def test_a_risky_django_q_setup_is_reported(schedule_settings, settings, change, expected):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, **change}
    assert ids(settings) == {expected}

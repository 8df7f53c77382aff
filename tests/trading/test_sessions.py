"""The NYSE calendar's window: rebuilt with the day, wide enough to plan a year ahead and more,
and clear about the dates it cannot know."""

from datetime import date, timedelta

import pytest

from trading import sessions


def test_a_date_beyond_exchange_calendars_default_horizon_is_known():
    """exchange_calendars alone looks one year ahead; the window reaches YEARS_AHEAD."""
    two_years_on = date.today() + timedelta(days=2 * 365)
    week = sessions.sessions_between(two_years_on, two_years_on + timedelta(days=7))
    assert len(week) >= 3
    assert sessions.known_range()[1] >= date.today() + timedelta(days=3 * 365 - 1)


def test_a_date_too_far_ahead_is_refused_naming_the_range():
    too_far = sessions.known_range()[1] + timedelta(days=1)
    with pytest.raises(sessions.OutsideCalendar, match=r"known from .* \(20 years back, 3 ahead"):
        sessions.is_session(too_far)


def test_an_unknown_date_is_never_read_as_a_day_without_a_session():
    with pytest.raises(sessions.OutsideCalendar):
        sessions.sessions_between(date(1900, 1, 1), date(2026, 11, 20))


def test_the_calendar_is_rebuilt_when_the_day_changes():
    monday, tuesday = date(2031, 3, 3), date(2031, 3, 4)
    assert sessions._xnys(today=monday) is sessions._xnys(today=monday)
    assert sessions._xnys(today=tuesday) is not sessions._xnys(today=monday)
    assert sessions.known_range(today=tuesday) == (date(2011, 3, 4), date(2034, 3, 4))
    # Built on that day, the calendar knows sessions three years on, past today's window.
    assert sessions._xnys(today=tuesday).is_session(pd_day(date(2034, 3, 3)))
    sessions.check_known(date(2034, 3, 4), today=tuesday)
    with pytest.raises(sessions.OutsideCalendar):
        sessions.check_known(date(2034, 3, 4), today=monday)


def pd_day(day: date):
    import pandas as pd

    return pd.Timestamp(day)

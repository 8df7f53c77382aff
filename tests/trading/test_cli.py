"""One parser for every command's moments and dates: only days the NYSE calendar knows, refused
in one line before anything is written."""

from datetime import UTC, date, datetime, timedelta, timezone
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from reporting.models import DailyReport
from trading import sessions
from trading.cli import parse_day, parse_moment
from trading.models import PipelineRun
from trading.sim.models import SimAccount

pytestmark = pytest.mark.django_db

OUTSIDE = "is outside the NYSE calendar, which is known from"


@pytest.mark.parametrize(
    "args",
    [
        ["run_pipeline", "--at", "9999-12-31T23:59"],  # OverflowError moving it to UTC
        ["run_pipeline", "--at", "0001-01-01T10:00"],
        ["run_pipeline", "--at", "0001-01-01T00:00+05:00"],
        ["run_pipeline", "--at", "1900-01-02T10:00"],
        ["run_pipeline", "--at", "2099-06-01T10:00"],
        ["mark", "--at", "9999-12-31T23:59"],
        ["mark", "--at", "1900-01-01"],
        ["report", "--date", "9999-12-31"],
        ["report", "--date", "1900-01-02"],
        ["schedule_plan", "--from", "2026-11-20", "--to", "9999-12-31"],
    ],
    ids=lambda args: " ".join(args),
)
def test_a_moment_outside_the_calendar_is_one_line_naming_the_range_and_writes_nothing(args):
    with pytest.raises(CommandError) as refused:
        call_command(*args, stdout=StringIO())
    message = str(refused.value)
    assert OUTSIDE in message and args[-1] in message
    assert "\n" not in message
    assert not PipelineRun.objects.exists()
    assert not SimAccount.objects.exists()
    assert not DailyReport.objects.exists()


def test_a_moment_inside_the_calendar_still_runs(morning):
    call_command("run_pipeline", "--at", "2026-11-20T10:30", "--spy-only", stdout=StringIO())
    assert PipelineRun.objects.get().market_time == morning


def test_the_day_after_the_calendars_horizon_is_refused_naming_the_range():
    too_far = sessions.known_range()[1] + timedelta(days=1)
    with pytest.raises(CommandError, match=f"--to {too_far.isoformat()}: {too_far.isoformat()} is outside"):
        call_command("schedule_plan", "--from", "2026-11-20", "--to", too_far.isoformat(), stdout=StringIO())
    with pytest.raises(CommandError, match=f"--at {too_far.isoformat()}T10:00: .* known from .* 3 ahead"):
        call_command("mark", "--at", f"{too_far.isoformat()}T10:00", stdout=StringIO())


OFFSETS = st.one_of(
    st.none(),
    st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m))),
)


# Anywhere in the datetime range, and often around the calendar's window, where both answers occur.
MOMENTS = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59)),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2035, 12, 31)),
)


@hsettings(max_examples=300, deadline=None)
@given(moment=MOMENTS, tz=OFFSETS)
def test_any_iso_moment_is_either_one_line_refused_or_a_utc_moment_on_a_known_day(moment, tz):
    """The rule, not the instances: whatever year or offset, the parser raises nothing but one
    CommandError line, and what it accepts is on a day the calendar can answer for."""
    text = moment.replace(tzinfo=tz).isoformat()
    try:
        parsed = parse_moment(text)
    except CommandError as refused:
        assert OUTSIDE in str(refused) and "\n" not in str(refused)
        return
    assert parsed.tzinfo is UTC
    sessions.check_known(sessions.to_new_york(parsed).date())
    sessions.is_session(sessions.to_new_york(parsed).date())


@hsettings(max_examples=200, deadline=None)
@given(day=st.one_of(st.dates(), st.dates(min_value=date(2000, 1, 1), max_value=date(2035, 12, 31))))
def test_any_iso_date_is_either_one_line_refused_or_a_day_the_calendar_answers_for(day):
    try:
        parsed = parse_day(day.isoformat(), option="--date")
    except CommandError as refused:
        assert OUTSIDE in str(refused) and "\n" not in str(refused)
        return
    assert parsed == day
    sessions.is_session(parsed)

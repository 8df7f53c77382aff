"""One parser for every command's moments and dates: only days the NYSE calendar knows, refused
in one line before anything is written."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from reporting.models import DailyReport
from trading import sessions
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

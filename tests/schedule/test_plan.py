"""The plan over known dates: holidays, early closes, DST both ways, weekends and extra closures."""

import json
from collections import Counter
from datetime import date
from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from tests.schedule.factories import ExtraClosureFactory
from trading import sessions
from trading.schedule.plan import ScheduleConfig, session_plan

pytestmark = pytest.mark.django_db


def plan(start: str, end: str, *extra: str) -> list[dict]:
    out = StringIO()
    call_command("schedule_plan", "--from", start, "--to", end, "--json", *extra, stdout=out)
    return json.loads(out.getvalue())


def daily(rows: list[dict]) -> list[tuple[str, str, str]]:
    """The scans, reconciliation and report (the marks and pre-flights have tests of their own)."""
    return [(r["job"], r["new_york"], r["utc"]) for r in rows if r["job"] != "mark" and "preflight" not in r["job"]]


def test_each_scan_has_a_preflight_five_minutes_before_it(schedule_settings):
    rows = plan("2026-11-20", "2026-11-20")
    preflights = [(r["job"], r["new_york"]) for r in rows if "preflight" in r["job"]]
    assert preflights == [
        ("opening_preflight", "2026-11-20T09:25:00-05:00"),
        ("midday_preflight", "2026-11-20T11:55:00-05:00"),
    ]
    schedule_settings["preflight_minutes"] = 15
    assert [r["new_york"] for r in plan("2026-11-20", "2026-11-20") if r["job"] == "opening_preflight"] == [
        "2026-11-20T09:15:00-05:00"
    ]


def test_a_normal_winter_session_has_four_daily_jobs_and_78_marks(schedule_settings):
    rows = plan("2026-11-20", "2026-11-20")
    assert daily(rows) == [
        ("opening_scan", "2026-11-20T09:30:00-05:00", "2026-11-20T14:30:00Z"),
        ("midday_scan", "2026-11-20T12:00:00-05:00", "2026-11-20T17:00:00Z"),
        ("reconcile", "2026-11-20T16:00:00-05:00", "2026-11-20T21:00:00Z"),
        ("report", "2026-11-20T17:00:00-05:00", "2026-11-20T22:00:00Z"),
    ]
    marks = [r["new_york"] for r in rows if r["job"] == "mark"]
    assert len(marks) == 78
    assert marks[0] == "2026-11-20T09:35:00-05:00" and marks[-1] == "2026-11-20T16:00:00-05:00"
    assert all(r["session"] == "2026-11-20" for r in rows)


def test_good_friday_is_closed(schedule_settings):
    assert plan("2026-04-03", "2026-04-03") == []
    days = {r["session"] for r in plan("2026-04-02", "2026-04-06")}
    assert days == {"2026-04-02", "2026-04-06"}


def test_juneteenth_is_closed(schedule_settings):
    assert plan("2026-06-19", "2026-06-19") == []
    assert {r["session"] for r in plan("2026-06-18", "2026-06-22")} == {"2026-06-18", "2026-06-22"}


def test_a_weekend_is_closed(schedule_settings):
    assert plan("2026-03-07", "2026-03-08") == []
    assert plan("2026-11-21", "2026-11-22") == []


def test_the_day_after_thanksgiving_closes_at_13_and_marking_stops_there(schedule_settings):
    rows = plan("2026-11-27", "2026-11-27")
    marks = [r["new_york"] for r in rows if r["job"] == "mark"]
    assert marks[-1] == "2026-11-27T13:00:00-05:00"
    assert len(marks) == 42
    # Both scans fall inside the short session; reconcile and report still run at their times.
    assert [job for job, _, _ in daily(rows)] == ["opening_scan", "midday_scan", "reconcile", "report"]
    assert daily(rows)[2][1] == "2026-11-27T16:00:00-05:00"


def test_a_scan_set_after_an_early_close_is_not_planned(schedule_settings):
    schedule_settings["midday_scan"] = "13:30"
    assert "midday_scan" not in {r["job"] for r in plan("2026-11-27", "2026-11-27")}
    assert "midday_scan" in {r["job"] for r in plan("2026-11-30", "2026-11-30")}


def test_the_week_after_dst_starts_keeps_new_york_times_and_moves_utc(schedule_settings):
    before = daily(plan("2026-03-06", "2026-03-06"))
    after = daily(plan("2026-03-09", "2026-03-13"))
    assert before[0] == ("opening_scan", "2026-03-06T09:30:00-05:00", "2026-03-06T14:30:00Z")
    assert after[0] == ("opening_scan", "2026-03-09T09:30:00-04:00", "2026-03-09T13:30:00Z")
    assert ("report", "2026-03-13T17:00:00-04:00", "2026-03-13T21:00:00Z") in after
    assert len([r for r in after if r[0] == "opening_scan"]) == 5
    marks = [r for r in plan("2026-03-09", "2026-03-09") if r["job"] == "mark"]
    assert (marks[0]["utc"], marks[-1]["utc"], len(marks)) == ("2026-03-09T13:35:00Z", "2026-03-09T20:00:00Z", 78)


def test_the_week_after_dst_ends_keeps_new_york_times_and_moves_utc(schedule_settings):
    before = daily(plan("2026-10-30", "2026-10-30"))
    after = daily(plan("2026-11-02", "2026-11-06"))
    assert before[0] == ("opening_scan", "2026-10-30T09:30:00-04:00", "2026-10-30T13:30:00Z")
    assert after[0] == ("opening_scan", "2026-11-02T09:30:00-05:00", "2026-11-02T14:30:00Z")
    assert ("reconcile", "2026-11-06T16:00:00-05:00", "2026-11-06T21:00:00Z") in after


def test_an_extra_closure_removes_the_whole_day(schedule_settings):
    ExtraClosureFactory(day="2026-11-23", reason="surprise closing")
    assert {r["session"] for r in plan("2026-11-20", "2026-11-24")} == {"2026-11-20", "2026-11-24"}


def test_times_follow_the_settings(schedule_settings):
    schedule_settings.update(opening_scan="09:45", mark_every_minutes=15)
    rows = plan("2026-11-20", "2026-11-20")
    assert daily(rows)[0] == ("opening_scan", "2026-11-20T09:45:00-05:00", "2026-11-20T14:45:00Z")
    assert Counter(r["job"] for r in rows)["mark"] == 26


def test_job_filter_and_table_output(schedule_settings):
    assert {r["job"] for r in plan("2026-11-16", "2026-11-20", "--job", "report")} == {"report"}
    out = StringIO()
    call_command("schedule_plan", "--from", "2026-11-27", "--to", "2026-11-27", "--job", "mark", stdout=out)
    text = out.getvalue()
    assert "Fri 2026-11-27 13:00 EST  2026-11-27 18:00Z" in text
    assert "13:05" not in text
    assert "42 occurrences in 1 sessions" in text


@pytest.mark.parametrize(
    ("start", "end", "error"),
    [
        ("2026-11-30", "2026-11-20", "before"),
        ("2026-13-01", "2026-12-01", "not a date"),
        ("1990-01-01", "1990-01-05", "known from"),
    ],
)
def test_bad_ranges_are_refused(schedule_settings, start, end, error):
    with pytest.raises(CommandError, match=error):
        call_command("schedule_plan", "--from", start, "--to", end, stdout=StringIO())


def test_the_plan_reaches_past_exchange_calendars_one_year_horizon(schedule_settings):
    """exchange_calendars alone stopped at a year from today; the calendar's window reaches three."""
    out = StringIO()
    call_command("schedule_plan", "--from", "2027-12-27", "--to", "2027-12-31", "--job", "report", stdout=out)
    assert "5 occurrences in 5 sessions" in out.getvalue()


@pytest.mark.parametrize(
    "change",
    [{"opening_scan": "9h30"}, {"mark_every_minutes": 0}, {"scan_grace_minutes": "ten"}, {"report": "25:00"}],
)
def test_unreadable_schedule_settings_fail_loudly(schedule_settings, change):
    schedule_settings.update(change)
    with pytest.raises(ImproperlyConfigured, match="TRADE_LABS_SCHEDULE"):
        ScheduleConfig.from_settings()


def test_the_default_output_is_one_line_per_session_naming_closures(schedule_settings):
    from trading.schedule.models import ExtraClosure

    ExtraClosure.objects.create(day=date(2026, 12, 29), reason="hurricane")
    out = StringIO()
    call_command("schedule_plan", "--from", "2026-12-21", "--to", "2026-12-31", stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 11  # nine weekdays, a blank line, the total
    assert "Fri 2026-12-25  closed: NYSE holiday" in lines
    assert "Tue 2026-12-29  closed: extra closure (hurricane)" in lines
    christmas_eve = next(line for line in lines if line.startswith("Thu 2026-12-24"))
    assert christmas_eve.startswith("Thu 2026-12-24  early close 13:00:") and "09:35–13:00 (42)" in christmas_eve
    monday = next(line for line in lines if line.startswith("Mon 2026-12-21"))
    assert "marks every 5 min 09:35–16:00 (78)" in monday and "09:30 opening scan" in monday
    verbose = StringIO()
    call_command("schedule_plan", "--from", "2026-12-21", "--to", "2026-12-21", "--verbose", stdout=verbose)
    assert verbose.getvalue().count("mark") >= 78


def test_a_session_plan_is_worked_out_once_and_each_caller_gets_its_own_list(schedule_settings):
    session = sessions.session(date(2026, 11, 20))
    config = ScheduleConfig.from_settings()
    first = session_plan(session, config)
    first.clear()
    assert session_plan(session, config) == session_plan(session, ScheduleConfig.from_settings()) != []
    every_15 = ScheduleConfig.from_settings({**schedule_settings, "mark_every_minutes": 15})
    assert Counter(o.job for o in session_plan(session, every_15))["mark"] == 26

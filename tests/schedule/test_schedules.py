"""setup_schedules: one django-q2 schedule per job, idempotent, in step with settings; django-q2 fires them."""

import pydoc
from datetime import UTC, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Schedule
from django_q.scheduler import scheduler
from django_q.signing import SignedPackage

from tests.schedule.conftest import new_york
from trading import sessions
from trading.schedule.models import Job, JobSlot
from trading.schedule.selectors import SCHEDULE_FUNC, schedule_name, schedules_out_of_step
from trading.schedule.services import schedules_pause, schedules_resume, schedules_sync

pytestmark = pytest.mark.django_db

THURSDAY_EVENING = new_york(2026, 11, 19, 18, 2)


def ours() -> dict[str, Schedule]:
    return {s.name: s for s in Schedule.objects.filter(func=SCHEDULE_FUNC)}


def local(moment) -> str:
    return f"{sessions.to_new_york(moment):%Y-%m-%d %H:%M %Z}"


def setup(now=THURSDAY_EVENING):
    return {c.job: c.action for c in schedules_sync(now=now)}


def test_one_schedule_per_job_at_its_new_york_time(schedule_settings):
    assert setup() == {job: "created" for job in Job.values}

    schedules = ours()
    opening = schedules[schedule_name(Job.OPENING_SCAN)]
    assert (opening.schedule_type, opening.repeats, opening.intended_date_kwarg) == (Schedule.DAILY, -1, "intended")
    assert opening.args == "'opening_scan'" and opening.cluster is None
    assert local(opening.next_run) == "2026-11-20 09:30 EST"
    assert local(schedules[schedule_name(Job.REPORT)].next_run) == "2026-11-20 17:00 EST"
    mark = schedules[schedule_name(Job.MARK)]
    assert (mark.schedule_type, mark.minutes) == (Schedule.MINUTES, 5)
    assert local(mark.next_run) == "2026-11-19 18:05 EST"
    assert schedules_out_of_step() == []


def test_running_it_again_changes_nothing(schedule_settings):
    setup()
    before = {name: (s.pk, s.next_run) for name, s in ours().items()}
    assert setup(now=THURSDAY_EVENING + timedelta(hours=30)) == {job: "unchanged" for job in Job.values}
    assert {name: (s.pk, s.next_run) for name, s in ours().items()} == before


def test_changed_times_in_settings_move_the_schedules(schedule_settings):
    setup()
    schedule_settings.update(opening_scan="09:45", mark_every_minutes=10)
    assert len(schedules_out_of_step()) == 3  # the scan, its pre-flight (5 minutes before it) and the mark

    actions = setup()

    assert actions[Job.OPENING_SCAN] == actions[Job.OPENING_PREFLIGHT] == actions[Job.MARK] == "updated"
    assert actions[Job.REPORT] == "unchanged"
    schedules = ours()
    assert local(schedules[schedule_name(Job.OPENING_SCAN)].next_run) == "2026-11-20 09:45 EST"
    assert schedules[schedule_name(Job.MARK)].minutes == 10
    assert local(schedules[schedule_name(Job.MARK)].next_run) == "2026-11-19 18:10 EST"
    assert local(schedules[schedule_name(Job.OPENING_PREFLIGHT)].next_run) == "2026-11-20 09:40 EST"
    assert len(schedules) == 7 and schedules_out_of_step() == []


def test_a_paused_schedule_stays_paused_when_its_time_changes(schedule_settings):
    setup()
    schedules_pause(schedules=[ours()[schedule_name(Job.MIDDAY_SCAN)]])
    schedule_settings["midday_scan"] = "12:30"
    setup()
    midday = ours()[schedule_name(Job.MIDDAY_SCAN)]
    assert midday.repeats == 0 and local(midday.next_run) == "2026-11-20 12:30 EST"


def test_duplicates_and_renamed_schedules_of_ours_are_removed_and_others_kept(schedule_settings):
    setup()
    Schedule.objects.create(name=schedule_name(Job.REPORT), func=SCHEDULE_FUNC, args="'report'")
    Schedule.objects.create(name="old name", func=SCHEDULE_FUNC, args="'report'")
    Schedule.objects.create(name="someone else's", func="math.floor", args="1.5")

    changes = schedules_sync(now=THURSDAY_EVENING)

    assert [c.name for c in changes if c.action == "removed"] == ["old name"]
    assert Schedule.objects.filter(func=SCHEDULE_FUNC).count() == 7
    assert Schedule.objects.filter(name="someone else's").exists()


def test_the_command_prints_what_it_did(schedule_settings):
    out = StringIO()
    call_command("setup_schedules", stdout=out)
    assert out.getvalue().count("created") == 7 and "qcluster" in out.getvalue()
    out = StringIO()
    call_command("setup_schedules", stdout=out)
    assert out.getvalue().count("unchanged") == 7


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        # Spring forward on Sunday 2026-03-08: 09:30 stays 09:30 in New York, an hour earlier in UTC.
        (new_york(2026, 3, 6, 9, 30), ["2026-03-07 14:30", "2026-03-08 13:30", "2026-03-09 13:30"]),
        # Fall back on Sunday 2026-11-01.
        (new_york(2026, 10, 30, 9, 30), ["2026-10-31 13:30", "2026-11-01 14:30", "2026-11-02 14:30"]),
    ],
)
def test_django_q_keeps_daily_schedules_on_new_york_time_across_dst(schedule_settings, start, expected):
    schedule = Schedule(schedule_type=Schedule.DAILY, next_run=start)
    runs, moment = [], start
    for _ in range(3):
        moment = schedule.calculate_next_run(moment)
        runs.append(f"{moment.astimezone(UTC):%Y-%m-%d %H:%M}")
    assert runs == expected


def only_these(*jobs: str) -> None:
    """Pause every other schedule, so the real clock cannot make one of them due mid-test."""
    schedules_pause(schedules=Schedule.objects.exclude(name__in=[schedule_name(job) for job in jobs]))


def _deliver_all(broker) -> list[str]:
    results = []
    while packages := broker.dequeue():
        for ack_id, payload in packages:
            task = SignedPackage.loads(payload)
            results.append(pydoc.locate(task["func"])(*task["args"], **task["kwargs"]))
            broker.acknowledge(ack_id)
    return results


# django-q2's scheduler closes connections it finds inside a transaction: commit for real.
@pytest.mark.django_db(transaction=True)
def test_django_q_fires_a_late_schedule_for_its_own_slot_and_moves_on(schedule_settings):
    """The cluster was down over Friday's close: reconcile still runs for Friday, the scan is recorded missed."""
    setup()
    Schedule.objects.filter(name=schedule_name(Job.RECONCILE)).update(next_run=new_york(2026, 11, 20, 16, 0))
    Schedule.objects.filter(name=schedule_name(Job.MIDDAY_SCAN)).update(next_run=new_york(2026, 11, 20, 12, 0))
    only_these(Job.RECONCILE, Job.MIDDAY_SCAN)
    broker = get_broker()

    scheduler(broker=broker)
    results = sorted(_deliver_all(broker))

    assert results[0].startswith("midday_scan: missed") and results[1].startswith("reconcile: done")
    slots = {s.job: s for s in JobSlot.objects.all()}
    assert slots[Job.RECONCILE].session_date.isoformat() == "2026-11-20"
    assert slots[Job.MIDDAY_SCAN].status == JobSlot.Status.MISSED
    reconcile = Schedule.objects.get(name=schedule_name(Job.RECONCILE))
    assert reconcile.next_run > timezone.now() and sessions.to_new_york(reconcile.next_run).strftime("%H:%M") == "16:00"


# django-q2's scheduler closes connections it finds inside a transaction: commit for real.
@pytest.mark.django_db(transaction=True)
def test_a_paused_schedule_does_not_fire_and_resumes_from_its_next_time(schedule_settings):
    setup()
    report = Schedule.objects.get(name=schedule_name(Job.REPORT))
    Schedule.objects.filter(pk=report.pk).update(next_run=new_york(2026, 11, 20, 17, 0))
    only_these()
    broker = get_broker()

    scheduler(broker=broker)
    assert _deliver_all(broker) == []

    schedules_resume(schedules=[report])
    report.refresh_from_db()
    assert report.repeats == -1 and report.next_run > timezone.now()
    assert sessions.to_new_york(report.next_run).strftime("%H:%M") == "17:00"


def test_resuming_a_schedule_that_is_not_ours_moves_it_past_now(schedule_settings):
    other = Schedule.objects.create(
        name="cleanup",
        func="math.floor",
        args="1.5",
        schedule_type=Schedule.HOURLY,
        repeats=0,
        next_run=timezone.now() - timedelta(days=3, minutes=20),
    )
    schedules_resume(schedules=[other])
    other.refresh_from_db()
    assert other.repeats == -1 and timezone.now() < other.next_run <= timezone.now() + timedelta(hours=1)

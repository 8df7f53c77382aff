"""Each job runs at most once per slot: claims, retries, late and missed slots, and what each job records."""

import pydoc
from datetime import date, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.brokers.orm import ORM
from django_q.models import OrmQ
from django_q.signing import SignedPackage
from django_q.tasks import async_task

from reconciliation.models import ReconciliationRun
from reporting.models import DailyReport
from tests.factories import PipelineRunFactory
from tests.schedule.conftest import new_york
from tests.schedule.factories import ExtraClosureFactory, JobSlotFactory
from trading.brokers.base import BrokerUnavailable, SafetyError
from trading.brokers.sim import SimBroker
from trading.models import PipelineRun, Trade
from trading.schedule.models import Job, JobSlot
from trading.schedule.services import job_run
from trading.schedule.tasks import run_job

pytestmark = pytest.mark.django_db

FRIDAY = date(2026, 11, 20)


class UnreachableBroker(SimBroker):
    def connect(self):
        raise BrokerUnavailable("connection refused (127.0.0.1:4002)")


def test_the_opening_scan_claims_its_slot_runs_the_pipeline_and_records_the_run(schedule_settings):
    outcome = job_run(job=Job.OPENING_SCAN, intended=new_york(2026, 11, 20, 9, 30), now=new_york(2026, 11, 20, 9, 31))

    assert outcome.status == JobSlot.Status.DONE, outcome.message
    slot = JobSlot.objects.get()
    run = PipelineRun.objects.get()
    assert (slot.job, slot.session_date, slot.scheduled_for) == ("opening_scan", FRIDAY, new_york(2026, 11, 20, 9, 30))
    assert slot.pipeline_run == run and slot.finished_at is not None and slot.worker
    assert run.trigger == PipelineRun.Trigger.SCHEDULE and run.slot == "opening_scan:2026-11-20"
    assert run.executed_count == 5 and f"run {run.short_id} succeeded" in slot.message


def test_a_second_firing_for_the_same_slot_does_nothing(schedule_settings):
    job_run(job=Job.OPENING_SCAN, intended=new_york(2026, 11, 20, 9, 30), now=new_york(2026, 11, 20, 9, 31))
    again = job_run(job=Job.OPENING_SCAN, intended=new_york(2026, 11, 20, 9, 30), now=new_york(2026, 11, 20, 9, 33))

    assert again.status == "taken" and "already claimed (done" in again.message
    assert PipelineRun.objects.count() == 1 and JobSlot.objects.count() == 1
    assert Trade.objects.count() == 5


def test_moving_a_job_time_during_the_day_does_not_run_it_twice(schedule_settings):
    job_run(job=Job.OPENING_SCAN, intended=new_york(2026, 11, 20, 9, 30), now=new_york(2026, 11, 20, 9, 31))
    schedule_settings["opening_scan"] = "09:45"

    moved = job_run(job=Job.OPENING_SCAN, intended=new_york(2026, 11, 20, 9, 45), now=new_york(2026, 11, 20, 9, 45))

    assert moved.status == "taken" and "(done by" in moved.message
    assert PipelineRun.objects.count() == 1


def test_a_retried_task_does_not_run_twice(schedule_settings):
    """django-q2 hands the same task out again when its acknowledgement is lost (worker killed, retry passed)."""
    schedule_settings["scan_grace_minutes"] = 10**8  # the task judges lateness by the real clock
    broker = ORM(list_key="tradelabs")  # the embedded broker: it redelivers unacknowledged tasks
    async_task(
        "trading.schedule.tasks.run_job",
        "opening_scan",
        intended=new_york(2026, 11, 20, 9, 30).isoformat(),
        broker=broker,
    )
    results = []
    for _delivery in range(2):
        [(_ack_id, payload)] = broker.dequeue()
        task = SignedPackage.loads(payload)
        results.append(pydoc.locate(task["func"])(*task["args"], **task["kwargs"]))
        # No acknowledgement arrives; once the retry period has passed the broker offers it again.
        OrmQ.objects.update(lock=timezone.now() - timedelta(seconds=1))

    assert results[0].startswith("opening_scan: done")
    assert results[1].startswith("opening_scan: taken")
    assert PipelineRun.objects.count() == 1 and JobSlot.objects.count() == 1


def test_a_scan_later_than_the_grace_period_is_recorded_missed_and_never_run(schedule_settings):
    outcome = job_run(job=Job.MIDDAY_SCAN, intended=new_york(2026, 11, 20, 12, 0), now=new_york(2026, 11, 20, 12, 11))

    assert outcome.status == JobSlot.Status.MISSED
    slot = JobSlot.objects.get()
    assert slot.status == JobSlot.Status.MISSED and "11 min after its slot" in slot.message
    assert PipelineRun.objects.count() == 0
    # The cluster's next firing, or a duplicate, finds the slot settled.
    assert job_run(job=Job.MIDDAY_SCAN, now=new_york(2026, 11, 20, 12, 15)).status == "taken"
    assert PipelineRun.objects.count() == 0


def test_a_scan_within_the_grace_period_still_runs(schedule_settings):
    outcome = job_run(job=Job.MIDDAY_SCAN, intended=new_york(2026, 11, 20, 12, 0), now=new_york(2026, 11, 20, 12, 10))
    assert outcome.status == JobSlot.Status.DONE
    assert PipelineRun.objects.count() == 1


def test_the_grace_period_comes_from_settings(schedule_settings):
    schedule_settings["scan_grace_minutes"] = 30
    outcome = job_run(job=Job.OPENING_SCAN, intended=new_york(2026, 11, 20, 9, 30), now=new_york(2026, 11, 20, 9, 55))
    assert outcome.status == JobSlot.Status.DONE


def test_a_scan_while_another_pipeline_runs_is_skipped(schedule_settings):
    # A manual run still holds its lease (leases are judged by the real clock).
    PipelineRunFactory(status=PipelineRun.Status.RUNNING, lease_expires_at=timezone.now() + timedelta(hours=1))

    outcome = job_run(job=Job.OPENING_SCAN, intended=new_york(2026, 11, 20, 9, 30), now=new_york(2026, 11, 20, 9, 30))

    assert outcome.status == JobSlot.Status.SKIPPED and "already running" in outcome.message
    assert JobSlot.objects.get().status == JobSlot.Status.SKIPPED
    assert PipelineRun.objects.count() == 1


def test_a_failing_job_is_recorded_failed_and_its_retry_does_not_run_it(schedule_settings, settings):
    settings.TRADE_LABS_MODE = "LIVE"
    with pytest.raises(SafetyError):
        job_run(job=Job.OPENING_SCAN, intended=new_york(2026, 11, 20, 9, 30), now=new_york(2026, 11, 20, 9, 30))
    slot = JobSlot.objects.get()
    assert slot.status == JobSlot.Status.FAILED and "SafetyError" in slot.message

    settings.TRADE_LABS_MODE = "PAPER"
    retry = job_run(job=Job.OPENING_SCAN, intended=new_york(2026, 11, 20, 9, 30), now=new_york(2026, 11, 20, 9, 31))
    assert retry.status == "taken"
    assert PipelineRun.objects.count() == 0


def test_a_slot_whose_worker_died_is_marked_failed_not_run_again(schedule_settings):
    JobSlotFactory(status=JobSlot.Status.RUNNING, finished_at=None)  # claimed at 09:30, the worker then vanished

    later = job_run(job=Job.MIDDAY_SCAN, intended=new_york(2026, 11, 20, 12, 0), now=new_york(2026, 11, 20, 12, 0))

    assert later.status == JobSlot.Status.DONE
    dead = JobSlot.objects.get(job=Job.OPENING_SCAN)
    assert dead.status == JobSlot.Status.FAILED and dead.message.startswith("abandoned")
    assert PipelineRun.objects.count() == 1


@pytest.mark.parametrize(
    ("intended", "why"),
    [
        (new_york(2026, 4, 3, 9, 30), "Good Friday"),
        (new_york(2026, 6, 19, 9, 30), "Juneteenth"),
        (new_york(2026, 11, 21, 9, 30), "Saturday"),
        (new_york(2026, 11, 20, 9, 0), "before its time"),
    ],
)
def test_nothing_is_claimed_when_nothing_is_planned(schedule_settings, intended, why):
    outcome = job_run(job=Job.OPENING_SCAN, intended=intended, now=intended)
    assert outcome.status == "not_due", why
    assert not JobSlot.objects.exists() and not PipelineRun.objects.exists()


def test_no_job_runs_on_an_extra_closure(schedule_settings):
    ExtraClosureFactory(day=FRIDAY)
    for job, at in [(Job.OPENING_SCAN, (9, 30)), (Job.MARK, (10, 0)), (Job.REPORT, (17, 0))]:
        moment = new_york(2026, 11, 20, *at)
        assert job_run(job=job, intended=moment, now=moment).status == "not_due"
    assert not JobSlot.objects.exists()


def test_marks_work_exits_and_stop_at_the_actual_close(schedule_settings):
    # (SIM ranks gainers since the open, so it has none at 09:30:00: the scan runs a minute in.)
    job_run(job=Job.OPENING_SCAN, intended=new_york(2026, 11, 27, 9, 30), now=new_york(2026, 11, 27, 9, 31))

    first = job_run(job=Job.MARK, intended=new_york(2026, 11, 27, 9, 35), now=new_york(2026, 11, 27, 9, 35))
    last = job_run(job=Job.MARK, intended=new_york(2026, 11, 27, 13, 0), now=new_york(2026, 11, 27, 13, 0))
    after_close = job_run(job=Job.MARK, intended=new_york(2026, 11, 27, 13, 5), now=new_york(2026, 11, 27, 13, 5))

    assert first.status == last.status == JobSlot.Status.DONE
    assert after_close.status == "not_due"
    assert first.slot.details["marked"] == 5
    assert JobSlot.objects.filter(job=Job.MARK).count() == 2


def test_a_mark_a_whole_interval_late_is_missed(schedule_settings):
    outcome = job_run(job=Job.MARK, intended=new_york(2026, 11, 20, 10, 5), now=new_york(2026, 11, 20, 10, 11))
    assert outcome.status == JobSlot.Status.MISSED and "the next mark takes over" in outcome.message
    on_time = job_run(job=Job.MARK, intended=new_york(2026, 11, 20, 10, 10), now=new_york(2026, 11, 20, 10, 11))
    assert on_time.status == JobSlot.Status.DONE


def test_reconcile_runs_late_for_its_session(schedule_settings):
    # The cluster was down from Friday afternoon until Saturday morning.
    outcome = job_run(job=Job.RECONCILE, intended=new_york(2026, 11, 20, 16, 0), now=new_york(2026, 11, 21, 10, 0))

    assert outcome.status == JobSlot.Status.DONE, outcome.message
    reconciliation = ReconciliationRun.objects.get()
    assert reconciliation.trigger == "schedule"
    slot = JobSlot.objects.get()
    assert slot.session_date == FRIDAY and slot.details["reconciliation_run"] == str(reconciliation.run_id)


def test_an_unreachable_broker_makes_the_reconcile_slot_failed(schedule_settings, settings):
    settings.BROKERS = {**settings.BROKERS, "sim": {"BACKEND": f"{__name__}.UnreachableBroker", "OPTIONS": {}}}

    outcome = job_run(job=Job.RECONCILE, intended=new_york(2026, 11, 20, 16, 0), now=new_york(2026, 11, 20, 16, 0))

    assert outcome.status == JobSlot.Status.FAILED
    assert ReconciliationRun.objects.get().status == ReconciliationRun.Status.ERROR


def test_the_report_runs_late_for_its_session_day(schedule_settings):
    outcome = job_run(job=Job.REPORT, intended=new_york(2026, 11, 20, 17, 0), now=new_york(2026, 11, 23, 8, 0))

    assert outcome.status == JobSlot.Status.DONE, outcome.message
    report = DailyReport.objects.get()
    assert report.day == FRIDAY
    assert JobSlot.objects.get().details["daily_report"] == report.pk
    assert job_run(job=Job.REPORT, intended=new_york(2026, 11, 20, 17, 0)).status == "taken"
    assert DailyReport.objects.count() == 1


def test_the_task_function_takes_the_intended_time_as_iso_text(schedule_settings):
    result = run_job("report", intended=new_york(2026, 11, 20, 17, 0).isoformat())
    assert result.startswith("report: done: daily report for 2026-11-20")
    assert run_job("report", intended=new_york(2026, 11, 21, 17, 0).isoformat()).startswith("report: not_due")


def test_an_unknown_job_is_refused(schedule_settings):
    with pytest.raises(ValueError, match="unknown job"):
        job_run(job="lunch", now=new_york(2026, 11, 20, 12, 0))


def test_the_table_allows_one_slot_per_daily_job_and_session(schedule_settings):
    JobSlotFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        JobSlotFactory(scheduled_for=new_york(2026, 11, 20, 9, 45))  # same job and session, another time
    JobSlotFactory(job=Job.MARK, scheduled_for=new_york(2026, 11, 20, 9, 35))
    JobSlotFactory(job=Job.MARK, scheduled_for=new_york(2026, 11, 20, 9, 40))
    with pytest.raises(IntegrityError), transaction.atomic():
        JobSlotFactory(job=Job.MARK, scheduled_for=new_york(2026, 11, 20, 9, 40))
    with pytest.raises(IntegrityError), transaction.atomic():
        JobSlotFactory(job=Job.MARK, scheduled_for=new_york(2026, 11, 20, 9, 45), status="maybe")

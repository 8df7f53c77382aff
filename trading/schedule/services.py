"""Running the trading day's jobs exactly once per slot, and keeping django-q2's schedules in step.

Whatever fires a job (a django-q2 schedule on any cluster, a retry, a duplicate delivery)
ends in `job_run`, which decides: is this a session, which slot is due, is it too late,
and has someone already claimed it. Only the worker whose INSERT of the slot succeeds acts.
"""

import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.models import Schedule

from trading import sessions
from trading.alerts import alert_raise
from trading.bulk import objects_create, rows_update
from trading.models import Alert, Book, PipelineRun
from trading.prepared import Param, PreparedUpdate
from trading.services.arming import alert_expired_arms
from trading.services.books import book_default

from .models import Job, JobSlot
from .plan import ALL_JOBS, PREFLIGHT_OF, Occurrence, ScheduleConfig
from .selectors import (
    SCHEDULE_FUNC,
    next_fire_time,
    occurrence_due,
    schedule_in_step,
    schedule_name,
    schedule_spec,
)

log = structlog.get_logger(__name__)

# A claimed slot whose worker has been silent this long past django-q2's timeout was killed or crashed.
ABANDON_MARGIN = timedelta(minutes=1)


@dataclass
class JobOutcome:
    """What one firing of a job came to. `status` is a JobSlot status, or "not_due" / "taken" (nothing done)."""

    job: str
    status: str
    message: str
    slot: JobSlot | None = None

    def __str__(self) -> str:
        return f"{self.job}: {self.status}: {self.message}"


@dataclass
class _Result:
    status: str
    message: str
    details: dict = field(default_factory=dict)
    pipeline_run: PipelineRun | None = None


def _worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _ny(moment: datetime) -> str:
    return f"{sessions.to_new_york(moment):%Y-%m-%d %H:%M %Z}"


def slot_claim(
    *, book: Book, occurrence: Occurrence, now: datetime, status: str = JobSlot.Status.RUNNING, message: str = ""
) -> JobSlot | None:
    """Insert the slot for `occurrence`; None when another worker already holds it.

    The INSERT commits on its own before the job acts, so the unique constraint decides
    between concurrent claimers (on PostgreSQL the loser waits for the winner's commit,
    then fails; on SQLite writers queue on the database lock).
    """
    finished = now if status != JobSlot.Status.RUNNING else None
    try:
        with transaction.atomic():
            slot = JobSlot(
                book=book,
                job=occurrence.job,
                session_date=occurrence.session_date,
                scheduled_for=occurrence.at,
                status=status,
                claimed_at=now,
                finished_at=finished,
                message=message,
                worker=_worker(),
            )
            return objects_create([slot])[0]
    except IntegrityError:
        return None


@transaction.atomic
def slot_finish(
    *,
    slot: JobSlot,
    status: str,
    message: str = "",
    details: dict | None = None,
    pipeline_run: PipelineRun | None = None,
    now: datetime | None = None,
) -> JobSlot:
    slot.status = status
    slot.message = message[:5000]
    slot.details = details or {}
    slot.pipeline_run = pipeline_run
    slot.finished_at = now or timezone.now()
    # Written as rows_update writes: one UPDATE, without save()'s signals (a slot has no receivers).
    rows_update([slot], ["status", "message", "details", "pipeline_run", "finished_at"])
    return slot


def slots_expire_abandoned(*, book: Book, now: datetime) -> int:
    """Mark the book's slots whose worker died mid-job (django-q2 timeout, killed machine) as failed; never re-run them."""
    limit = timedelta(seconds=int(settings.Q_CLUSTER.get("timeout") or 0)) + ABANDON_MARGIN
    return _EXPIRE_ABANDONED(book=book.pk, claimed_before=now - limit, now=now)


# Every job runs this first: built once (see trading.prepared).
_EXPIRE_ABANDONED = PreparedUpdate(
    lambda book, claimed_before: JobSlot.objects.filter(
        book_id=book, status=JobSlot.Status.RUNNING, claimed_at__lt=claimed_before
    ),
    status=JobSlot.Status.FAILED,
    finished_at=Param("now"),
    message="abandoned: the worker stopped (timeout or crash) before recording an outcome; not re-run",
)


def job_run(
    *,
    job: str,
    book: Book | None = None,
    intended: datetime | None = None,
    now: datetime | None = None,
    config: ScheduleConfig | None = None,
) -> JobOutcome:
    """Run `job` in `book` (default: the default book) for the slot that a firing meant for
    `intended` (default: now) stands for, at most once. A replay calls this with `now` on the
    book's simulated clock: the same decisions, the same services, on that clock.

    Scans that would start more than the grace period late, and marks a whole interval
    late, are recorded as missed instead of run. Reconcile and report run however late.
    Unexpected errors are recorded on the slot as failed and re-raised (django-q2 keeps
    the failure; with max_attempts=1 and the slot taken, nothing runs it again).
    """
    if job not in ALL_JOBS:
        raise ValueError(f"unknown job {job!r}; known: {', '.join(ALL_JOBS)}")
    now = now or timezone.now()
    book = book or book_default()
    config = config or ScheduleConfig.from_settings()
    slots_expire_abandoned(book=book, now=now)
    fired_for = intended or now
    occurrence = occurrence_due(job=job, moment=fired_for, config=config)
    if occurrence is None:
        return JobOutcome(job, "not_due", f"nothing planned for {_ny(fired_for)} (not a session, or not its time)")

    late = now - occurrence.at
    limit = config.lateness_limit(job)
    if limit is not None and late > limit:
        message = (
            f"started {_ny(now)}, {int(late.total_seconds() // 60)} min after its slot at {_ny(occurrence.at)} "
            f"(allowed {int(limit.total_seconds() // 60)} min): "
            + ("the next mark takes over" if job == Job.MARK else "not run on a stale market")
        )
        slot = slot_claim(book=book, occurrence=occurrence, now=now, status=JobSlot.Status.MISSED, message=message)
        if slot is None:
            return _taken(book, occurrence)
        log.warning(
            "schedule_slot_missed", job=job, slot=occurrence.at.isoformat(), late_seconds=int(late.total_seconds())
        )
        if job in (Job.OPENING_SCAN, Job.MIDDAY_SCAN):
            alert_raise(
                event=Alert.Event.SCAN_MISSED, book=book, title=f"{occurrence.label} of {occurrence.session_date} missed",
                body=message, key=f"slot:{book.pk}:{job}:{occurrence.at.isoformat()}", once=True,
            )  # fmt: skip
        return JobOutcome(job, JobSlot.Status.MISSED, message, slot)

    slot = slot_claim(book=book, occurrence=occurrence, now=now)
    if slot is None:
        return _taken(book, occurrence)
    log.info("schedule_slot_claimed", job=job, slot=occurrence.at.isoformat())
    alert_expired_arms(book=book, now=now)
    try:
        result = _ACTIONS[job](slot=slot, now=now)
    except Exception as exc:
        slot_finish(slot=slot, status=JobSlot.Status.FAILED, message=f"{type(exc).__name__}: {exc}")
        log.exception("schedule_slot_failed", job=job, slot=occurrence.at.isoformat())
        _alert_job_failed(book, occurrence, f"{type(exc).__name__}: {exc}")
        raise
    if result.status == JobSlot.Status.FAILED and result.pipeline_run is None and job not in PREFLIGHT_OF:
        _alert_job_failed(book, occurrence, result.message)  # a failed run or pre-flight alerts on its own
    slot_finish(
        slot=slot,
        status=result.status,
        message=result.message,
        details=result.details,
        pipeline_run=result.pipeline_run,
    )
    log.info("schedule_slot_finished", job=job, slot=occurrence.at.isoformat(), status=result.status)
    return JobOutcome(job, result.status, result.message, slot)


def _alert_job_failed(book: Book, occurrence: Occurrence, message: str) -> None:
    alert_raise(
        event=Alert.Event.JOB_FAILED, book=book, title=f"{occurrence.label} at {_ny(occurrence.at)} failed",
        body=message, key=f"slot:{book.pk}:{occurrence.job}:{occurrence.at.isoformat()}", once=True,
    )  # fmt: skip


def _taken(book: Book, occurrence: Occurrence) -> JobOutcome:
    holders = JobSlot.objects.filter(book=book, job=occurrence.job, session_date=occurrence.session_date)
    if occurrence.job == Job.MARK:
        holders = holders.filter(scheduled_for=occurrence.at)
    holder = holders.first()
    state = f" ({holder.status} by {holder.worker})" if holder else ""
    log.info("schedule_slot_taken", job=occurrence.job, slot=occurrence.at.isoformat())
    return JobOutcome(occurrence.job, "taken", f"slot {_ny(occurrence.at)} already claimed{state}; did nothing", holder)


def _scan(*, slot: JobSlot, now: datetime) -> _Result:
    from trading.services.pipeline import AlreadyRunning, RunOptions, pipeline_run

    # The run claims the same (job, session) on its own table too: a second line of defence.
    options = RunOptions(trigger=PipelineRun.Trigger.SCHEDULE, slot=f"{slot.job}:{slot.session_date.isoformat()}")
    try:
        run = pipeline_run(options, book=slot.book, now=now)
    except AlreadyRunning as exc:
        return _Result(JobSlot.Status.SKIPPED, str(exc))
    details = {"run_id": str(run.run_id), "run_status": run.status, "executed": run.executed_count}
    if run.status == PipelineRun.Status.FAILED:
        return _Result(JobSlot.Status.FAILED, f"run {run.short_id} failed: {run.error}", details, run)
    message = f"run {run.short_id} {run.status}: executed {run.executed_count} of {run.scanned_count} scanned"
    if run.error:
        message += f"; problems: {run.error}"
    return _Result(JobSlot.Status.DONE, message, details, run)


def _preflight(*, slot: JobSlot, now: datetime) -> _Result:
    """Before a scan: can the book reach its broker (connect, account, a paper one)? Alerts if not."""
    from trading.health import broker_check

    check = broker_check(slot.book)
    if check.ok:
        return _Result(JobSlot.Status.DONE, f"broker ready: {check.detail}", {"broker": check.detail})
    scan = Job(PREFLIGHT_OF[slot.job]).label
    alert_raise(
        event=Alert.Event.BROKER_DOWN, book=slot.book, key=f"preflight:{slot.book.pk}:{slot.job}:{slot.session_date}",
        title=f"book {slot.book.name}: broker not ready {_ny(slot.scheduled_for)}, before the {scan.lower()}",
        body=check.detail, once=True,
    )  # fmt: skip
    return _Result(JobSlot.Status.FAILED, f"broker not ready: {check.detail}", {"broker": check.detail})


def _mark(*, slot: JobSlot, now: datetime) -> _Result:
    from trading.services.marking import book_mark

    result = book_mark(book=slot.book, now=now)
    return _Result(
        JobSlot.Status.DONE,
        f"marked {len(result.marked)} positions at {_ny(result.moment)}; "
        f"{result.new_fills} new fills, {len(result.closed_trades)} trades closed",
        {
            "moment": result.moment.isoformat(),
            "new_fills": result.new_fills,
            "closed_trades": result.closed_trades,
            "marked": len(result.marked),
        },
    )


def _reconcile(*, slot: JobSlot, now: datetime) -> _Result:
    from reconciliation.services import reconciliation_run

    run = reconciliation_run(book=slot.book, trigger="schedule")
    details = {"reconciliation_run": str(run.run_id), "status": run.status, "discrepancies": run.discrepancy_count}
    if run.status == "error":
        return _Result(JobSlot.Status.FAILED, f"reconciliation {str(run.run_id)[:8]}: {run.error}", details)
    return _Result(
        JobSlot.Status.DONE,
        f"reconciliation {str(run.run_id)[:8]}: {run.status}, {run.discrepancy_count} discrepancies",
        details,
    )


def _report(*, slot: JobSlot, now: datetime) -> _Result:
    from reporting.services import report_generate

    report = report_generate(book=slot.book, day=slot.session_date)
    if settings.TRADE_LABS_ALERT_DAILY_REPORT:
        alert_raise(
            event=Alert.Event.REPORT_READY, book=slot.book, title=f"daily report {report.day} ready: {report.trade_count} trades",
            body=report.markdown, key=f"report:{slot.book.pk}:{report.day.isoformat()}", once=True,
        )  # fmt: skip
    return _Result(
        JobSlot.Status.DONE,
        f"daily report for {report.day.isoformat()}: {report.trade_count} closed trades",
        {"daily_report": report.pk, "day": report.day.isoformat(), "markdown_path": report.markdown_path},
    )


_ACTIONS = {
    Job.OPENING_PREFLIGHT: _preflight,
    Job.MIDDAY_PREFLIGHT: _preflight,
    Job.OPENING_SCAN: _scan,
    Job.MIDDAY_SCAN: _scan,
    Job.MARK: _mark,
    Job.RECONCILE: _reconcile,
    Job.REPORT: _report,
}


# ---------------------------------------------------------------------------
# django-q2 schedules
# ---------------------------------------------------------------------------


@dataclass
class ScheduleChange:
    job: str
    name: str
    action: str  # created, updated, unchanged, removed
    schedule: Schedule | None

    @property
    def paused(self) -> bool:
        return self.schedule is not None and self.schedule.repeats == 0


@transaction.atomic
def schedules_sync(*, now: datetime | None = None) -> list[ScheduleChange]:
    """Create or correct one django-q2 Schedule per job, idempotently.

    A schedule already as the settings say is left alone (its next run too); one whose time
    or interval changed gets the new next run. A paused schedule (repeats=0) stays paused.
    Duplicates of ours, and schedules of our task under names we no longer use, are removed.
    """
    now = now or timezone.now()
    config = ScheduleConfig.from_settings()
    changes = []
    names = {schedule_name(job) for job in ALL_JOBS}
    for stale in Schedule.objects.select_for_update().filter(func=SCHEDULE_FUNC).exclude(name__in=names):
        changes.append(ScheduleChange(job="", name=stale.name or str(stale.pk), action="removed", schedule=None))
        stale.delete()
    for job in ALL_JOBS:
        name = schedule_name(job)
        existing = list(Schedule.objects.select_for_update().filter(name=name).order_by("pk"))
        for duplicate in existing[1:]:
            duplicate.delete()
        schedule = existing[0] if existing else None
        if schedule is not None and schedule_in_step(schedule, job=job, config=config):
            changes.append(ScheduleChange(job, name, "unchanged", schedule))
            continue
        schedule_type, minutes = schedule_spec(job, config)
        fields = {
            "func": SCHEDULE_FUNC,
            "args": repr(str(job)),
            "kwargs": None,
            "schedule_type": schedule_type,
            "minutes": minutes,
            "next_run": next_fire_time(job, now=now, config=config),
            "intended_date_kwarg": "intended",
            "cluster": None,
        }
        if schedule is None:
            schedule = Schedule.objects.create(name=name, repeats=-1, **fields)
            changes.append(ScheduleChange(job, name, "created", schedule))
        else:
            for key, value in fields.items():
                setattr(schedule, key, value)
            if schedule.repeats != 0:
                schedule.repeats = -1
            schedule.save()
            changes.append(ScheduleChange(job, name, "updated", schedule))
    return changes


def schedules_pause(*, schedules) -> int:
    """Stop schedules from firing (django-q2 skips repeats=0) until resumed."""
    return Schedule.objects.filter(pk__in=[s.pk for s in schedules]).update(repeats=0)


@transaction.atomic
def schedules_resume(*, schedules, now: datetime | None = None) -> int:
    """Let paused schedules fire again, from their next time after now (what fell due while paused is not run)."""
    now = now or timezone.now()
    config = ScheduleConfig.from_settings()
    jobs_by_name = {schedule_name(job): job for job in ALL_JOBS}
    count = 0
    for schedule in Schedule.objects.select_for_update().filter(pk__in=[s.pk for s in schedules]):
        schedule.repeats = -1
        job = jobs_by_name.get(schedule.name)
        if job is not None and schedule.func == SCHEDULE_FUNC:
            schedule.next_run = next_fire_time(job, now=now, config=config)
        elif schedule.next_run is not None and schedule.next_run <= now and schedule.schedule_type != Schedule.ONCE:
            next_run = schedule.next_run
            for _ in range(100_000):
                next_run = schedule.calculate_next_run(next_run)
                if next_run > now:
                    break
            schedule.next_run = max(next_run, now)
        schedule.save()
        count += 1
    return count

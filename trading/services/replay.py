"""Replay: drive a book through past NYSE sessions with the scheduler's own plan and jobs.

Every occurrence of the schedule (09:30 and 12:00 scans, marks every N minutes, 16:00
reconciliation, 17:00 report) goes through `job_run`, the function django-q2's tasks call, with
`now` set to the occurrence's moment on the book's simulated clock. So a replay decides, trades,
records and reports exactly as the scheduler would have on those days, and each slot is claimed
once: a replay stopped at any point (Ctrl-C, SIGKILL) is continued by the next one from where the
slots say it got to, with nothing done twice.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import structlog
from django.db import transaction

from trading import sessions
from trading.alerts import alerts_muted
from trading.brokers import brokers
from trading.bulk import rows_insert_new
from trading.models import Book, PipelineRun
from trading.schedule.models import Job, JobSlot
from trading.schedule.plan import PREFLIGHT_OF, SCAN_JOBS, Occurrence, ScheduleConfig
from trading.schedule.selectors import plan_between
from trading.schedule.services import JobOutcome, job_run

from .marking import flatten_due
from .runs import process_is_gone

log = structlog.get_logger(__name__)


class ReplayRefused(Exception):
    """The range cannot be replayed into this book."""


@dataclass
class ReplayResult:
    book: Book
    sessions: int = 0
    jobs_run: int = 0
    jobs_already_done: int = 0
    interrupted_recovered: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def replay_check_range(*, start: date, end: date) -> None:
    """A replay needs a range holding at least one session (checked before any book is made)."""
    if end < start:
        raise ReplayRefused(f"--to {end} is before --from {start}")
    if not sessions.sessions_between(start, end):
        raise ReplayRefused(f"no NYSE session from {start} to {end}")


def replay_check(*, book: Book, start: date, end: date) -> None:
    """A replay needs a simulated book and a range of sessions."""
    if brokers.backend_class(book.broker_alias).sends_real_orders:
        raise ReplayRefused(f"book {book.name!r} trades a real broker ({book.broker_alias}); only a SIM book replays")
    replay_check_range(start=start, end=end)


def replay_run(
    *,
    book: Book,
    start: date,
    end: date,
    config: ScheduleConfig | None = None,
    on_occurrence: Callable[[JobOutcome], None] | None = None,
) -> ReplayResult:
    """Run every scheduled job of every session from `start` to `end` in `book`, in order.
    Marks that would change nothing the book keeps are recorded without being worked (see
    `_quiet_marks`)."""
    replay_check(book=book, start=start, end=end)
    config = config or ScheduleConfig.from_settings()
    result = ReplayResult(book=book)
    result.interrupted_recovered = _recover_interrupted(book)
    plan = plan_between(start=start, end=end, config=config)
    days = sorted({occurrence.session_date for occurrence in plan})
    result.sessions = len(days)
    # Alerts: history needs nobody now; the replay reports its failures itself.
    with alerts_muted("replay"), brokers.create_for(book).replaying(days):
        _replay_plan(plan, book=book, config=config, result=result, on_occurrence=on_occurrence)
    log.info("replay_finished", book=book.name, sessions=result.sessions, jobs=result.jobs_run)
    return result


def _replay_plan(plan: list[Occurrence], *, book: Book, config, result: ReplayResult, on_occurrence) -> None:
    index = 0
    while index < len(plan):
        quiet = _quiet_marks(plan, index, book=book)
        index += len(quiet)
        occurrence = plan[index]
        # A pre-flight only checks the broker: the scan after it works the marks.
        worked_by = next((o for o in plan[index:] if o.job not in PREFLIGHT_OF), occurrence)
        for outcome in _record_quiet(quiet, book=book, worked_by=worked_by):
            _count(result, outcome, on_occurrence)
        outcome = job_run(job=occurrence.job, book=book, intended=occurrence.at, now=occurrence.at, config=config)
        _count(result, outcome, on_occurrence, label=occurrence.label)
        index += 1


def _count(result: ReplayResult, outcome: JobOutcome, on_occurrence, *, label: str = "") -> None:
    if outcome.status == "taken":
        result.jobs_already_done += 1
    else:
        result.jobs_run += 1
    if outcome.status == JobSlot.Status.FAILED:
        result.failed.append(f"{label or outcome.job}: {outcome.message}")
    if on_occurrence is not None:
        on_occurrence(outcome)


def _quiet_marks(plan: list[Occurrence], index: int, *, book: Book) -> list[Occurrence]:
    """The marks from `index` on that the replay records without working: a whole stretch of
    marks before a scan, all but the last before any other job (the reconciliation and the
    report read the positions' marks; a scan prices what it holds itself), and never those in
    the end-of-day flatten window (which close trades).

    Working them would change nothing the book keeps: a SIM broker finds each stop's and
    target's first touch over the whole interval in one vectorised pass whenever it is
    advanced, so every fill keeps its own minute and price, and the scans, the
    reconciliation and the report see the same book. Only marks' own records differ, and
    each quiet one names the job that did its work."""
    stretch = []
    while index + len(stretch) < len(plan) and plan[index + len(stretch)].job == Job.MARK:
        stretch.append(plan[index + len(stretch)])
    following = plan[index + len(stretch)] if index + len(stretch) < len(plan) else None
    # A scan and its pre-flight read no marks.
    scan_follows = following is not None and following.job in SCAN_JOBS | set(PREFLIGHT_OF)
    quiet = []
    for occurrence in stretch if scan_follows else stretch[:-1]:
        if flatten_due(book=book, moment=occurrence.at):
            break
        quiet.append(occurrence)
    return quiet


def _record_quiet(quiet: list[Occurrence], *, book: Book, worked_by: Occurrence) -> list[JobOutcome]:
    """Record quiet marks as done, in one statement; a slot already held (a replay continued)
    is left as it is, and reported taken."""
    if not quiet:
        return []
    job = worked_by.label.lower()
    message = (
        f"replay: worked in one pass by the {job} at {sessions.to_new_york(worked_by.at):%H:%M %Z} "
        "(fills keep their own minutes)"
    )
    details = {"quiet": True, "worked_at": worked_by.at.isoformat(), "worked_by": worked_by.job}
    recorded = rows_insert_new(
        JobSlot,
        QUIET_SLOT_FIELDS,
        [
            (book.pk, o.job, o.session_date, o.at, JobSlot.Status.DONE, o.at, o.at, message, details, "replay")
            for o in quiet
        ],
        returning="scheduled_for",
    )
    held = {o.at for o in quiet} - set(recorded)
    return [
        JobOutcome(occurrence.job, "taken" if occurrence.at in held else JobSlot.Status.DONE, message)
        for occurrence in quiet
    ]


QUIET_SLOT_FIELDS = [
    "book", "job", "session_date", "scheduled_for", "status", "claimed_at", "finished_at", "message", "details",
    "worker",
]  # fmt: skip


def _recover_interrupted(book: Book) -> list[str]:
    """Slots a killed replay left running. A mark, reconciliation or report is simply done again
    (each is idempotent): its slot is released. An interrupted scan's run is retried (its orders
    adopted or released by their keys, never resent) and its slot stays, recorded as failed: a
    scan is never sent twice."""
    from trading.services.pipeline import pipeline_retry

    recovered = []
    for slot in JobSlot.objects.filter(book=book, status=JobSlot.Status.RUNNING).order_by("scheduled_for"):
        if not process_is_gone(_worker_of(slot.worker)):
            continue
        if slot.job in ("opening_scan", "midday_scan"):
            run = PipelineRun.objects.filter(book=book, slot=f"{slot.job}:{slot.session_date.isoformat()}").first()
            if run is not None and run.status == PipelineRun.Status.RUNNING:
                pipeline_retry(run_id=run.run_id)
                with transaction.atomic():
                    run.status, run.error = PipelineRun.Status.FAILED, "interrupted: its orders were recovered"
                    run.finished_at = slot.scheduled_for
                    run.save(update_fields=["status", "error", "finished_at"])
            slot.status, slot.message = JobSlot.Status.FAILED, "interrupted; its orders were recovered, not resent"
            slot.finished_at = slot.scheduled_for
            slot.save(update_fields=["status", "message", "finished_at"])
        else:
            slot.delete()
        recovered.append(f"{slot.job} {sessions.to_new_york(slot.scheduled_for):%Y-%m-%d %H:%M}")
    return recovered


def _worker_of(text: str) -> dict:
    host, _, pid = (text or "").rpartition(":")
    return {"host": host, "pid": int(pid)} if pid.isdigit() else {}

"""Read-only questions about the trading day: is it a session, what is planned, what came of it."""

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django_q.models import Schedule

from trading import sessions
from trading.sessions import Session

from .models import ExtraClosure, Job, JobSlot
from .plan import (
    ALL_JOBS,
    DAILY_JOBS,
    MARK_ANCHOR,
    Occurrence,
    ScheduleConfig,
    new_york_moment,
    occurrence_at_or_before,
    session_plan,
)

SCHEDULE_FUNC = "trading.schedule.tasks.run_job"


def schedule_name(job: str) -> str:
    """The django-q2 Schedule that fires `job`; setup_schedules owns every schedule with this name."""
    return f"Trade Labs: {Job(job).label}"


def trading_session(*, day: date) -> Session | None:
    """The NYSE session on `day`, or None on weekends, holidays and extra closures."""
    if not sessions.is_session(day) or _extra_closure_on(day):
        return None
    return sessions.session(day)


# Every job asks whether its day was closed by hand, seven times a session. A day found open is
# believed for a second: a closure added meanwhile by another process is seen a second later, as
# if it had been added then. One added or removed in this process is seen at once (signals).
OPEN_DAY_BELIEVED_SECONDS = 1.0
_days_found_open: dict[date, float] = {}


def _extra_closure_on(day: date) -> bool:
    found = _days_found_open.get(day)
    if found is not None and time.monotonic() - found < OPEN_DAY_BELIEVED_SECONDS:
        return False
    closed = ExtraClosure.objects.filter(day=day).exists()
    if closed:
        _days_found_open.pop(day, None)
    else:
        if len(_days_found_open) >= 64:
            _days_found_open.clear()
        _days_found_open[day] = time.monotonic()
    return closed


def closures_changed(**kwargs) -> None:
    """An extra closure was saved or deleted here: ask the database again for every day."""
    _days_found_open.clear()


def plan_between(*, start: date, end: date, config: ScheduleConfig | None = None) -> list[Occurrence]:
    """Every job occurrence the schedule will produce from `start` to `end` (both included)."""
    config = config or ScheduleConfig.from_settings()
    closed = set(ExtraClosure.objects.filter(day__range=(start, end)).values_list("day", flat=True))
    plan = []
    for session in sessions.sessions_between(start, end):
        if session.day not in closed:
            plan += session_plan(session, config)
    return plan


def occurrence_due(*, job: str, moment: datetime, config: ScheduleConfig | None = None) -> Occurrence | None:
    """The occurrence of `job` that a firing meant for `moment` stands for; None when there is none.

    Only the New York day of `moment` is considered: a daily schedule that fires on a
    Saturday is not Friday's job.
    """
    config = config or ScheduleConfig.from_settings()
    session = trading_session(day=sessions.to_new_york(moment).date())
    if session is None:
        return None
    return occurrence_at_or_before(session, job, moment, config)


@dataclass
class PlanRow:
    """A line of a day's plan in the admin: one occurrence (or, for marks, all of them) and its outcome."""

    job: str
    at: datetime
    outcome: str
    message: str = ""
    slot: JobSlot | None = None
    counts: dict[str, int] = field(default_factory=dict)
    last_at: datetime | None = None

    @property
    def label(self) -> str:
        return Job(self.job).label


@dataclass
class DayPlan:
    day: date
    session: Session | None
    closure: ExtraClosure | None
    rows: list[PlanRow]


def _pending_outcome(occurrence: Occurrence, *, now: datetime, config: ScheduleConfig) -> str:
    if occurrence.at > now:
        return "pending"
    # Reconcile and report would still run late, but not once the next day's run has come round.
    limit = config.lateness_limit(occurrence.job) or timedelta(days=1)
    if now - occurrence.at > limit:
        return "not run"
    return "due"


def day_plan(*, day: date, now: datetime, config: ScheduleConfig | None = None) -> DayPlan:
    """The day's occurrences with what came of each: done, skipped, missed, failed, running, pending, not run.

    Marks are folded into one row that counts their outcomes.
    """
    config = config or ScheduleConfig.from_settings()
    closure = ExtraClosure.objects.filter(day=day).first()
    session = sessions.session(day) if sessions.is_session(day) else None
    if session is None or closure is not None:
        return DayPlan(day=day, session=session, closure=closure, rows=[])
    slots = {(s.job, s.scheduled_for): s for s in JobSlot.objects.filter(session_date=day)}
    daily_slots = {s.job: s for s in slots.values() if s.job != Job.MARK}
    rows = []
    marks = []
    for occurrence in session_plan(session, config):
        if occurrence.job == Job.MARK:
            marks.append(occurrence)
            continue
        slot = daily_slots.get(occurrence.job)
        if slot is None:
            rows.append(PlanRow(occurrence.job, occurrence.at, _pending_outcome(occurrence, now=now, config=config)))
        else:
            rows.append(PlanRow(occurrence.job, occurrence.at, slot.status, slot.message, slot))
    if marks:
        counts = Counter()
        last = None
        for occurrence in marks:
            slot = slots.get((Job.MARK, occurrence.at))
            counts[slot.status if slot else _pending_outcome(occurrence, now=now, config=config)] += 1
            if slot is not None:
                last = slot
        rows.append(
            PlanRow(
                Job.MARK,
                marks[0].at,
                outcome=", ".join(f"{count} {outcome}" for outcome, count in sorted(counts.items())),
                message=f"last: {last.status} {last.message}" if last else "",
                slot=last,
                counts=dict(counts),
                last_at=marks[-1].at,
            )
        )
    rows.sort(key=lambda r: (r.at, DAILY_JOBS.index(r.job) if r.job in DAILY_JOBS else 99))
    return DayPlan(day=day, session=session, closure=closure, rows=rows)


def schedule_spec(job: str, config: ScheduleConfig) -> tuple[str, int | None]:
    """(django-q2 schedule type, minutes) that fires `job`: daily at its time, or every mark interval."""
    if job == Job.MARK:
        return Schedule.MINUTES, int(config.mark_every.total_seconds() // 60)
    return Schedule.DAILY, None


def next_fire_time(job: str, *, now: datetime, config: ScheduleConfig) -> datetime:
    """The first moment after `now` at which `job`'s schedule should fire (any day: the task checks sessions).

    Daily jobs fire at their New York time; the mark job on a grid of its interval counted
    from 09:30 New York, so each firing falls on a mark time.
    """
    today = sessions.to_new_york(now).date()
    if job == Job.MARK:
        every = config.mark_every
        anchor = new_york_moment(today, MARK_ANCHOR)
        steps = (now - anchor) // every + 1
        return anchor + steps * every
    for day in (today, today + timedelta(days=1), today + timedelta(days=2)):
        moment = new_york_moment(day, config.times[job])
        if moment > now:
            return moment
    raise AssertionError("unreachable: a wall time recurs within two days")


def schedule_in_step(schedule: Schedule, *, job: str, config: ScheduleConfig) -> bool:
    """True when `schedule` fires `job` the way the settings say (its next run may be past or future)."""
    schedule_type, minutes = schedule_spec(job, config)
    if (
        schedule.func != SCHEDULE_FUNC
        or schedule.args != repr(str(job))
        or schedule.schedule_type != schedule_type
        or schedule.intended_date_kwarg != "intended"
        or schedule.cluster
        or schedule.next_run is None
    ):
        return False
    local = sessions.to_new_york(schedule.next_run)
    if job == Job.MARK:
        if schedule.minutes != minutes:
            return False
        anchor = new_york_moment(local.date(), MARK_ANCHOR)
        return (schedule.next_run - anchor) % config.mark_every == timedelta(0)
    return local.time() == config.times[job]


def schedules_out_of_step(*, config: ScheduleConfig | None = None) -> list[str]:
    """Jobs whose django-q2 Schedule is missing or not as the settings say (setup_schedules fixes them)."""
    config = config or ScheduleConfig.from_settings()
    problems = []
    for job in ALL_JOBS:
        schedule = Schedule.objects.filter(name=schedule_name(job)).order_by("pk").first()
        if schedule is None:
            problems.append(f"{Job(job).label}: no schedule")
        elif not schedule_in_step(schedule, job=job, config=config):
            problems.append(f"{Job(job).label}: not as TRADE_LABS_SCHEDULE says")
    return problems

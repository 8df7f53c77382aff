"""The trading day's plan: which job occurs when in one NYSE session. Pure calendar arithmetic, no database.

Times in TRADE_LABS_SCHEDULE are New York wall-clock times, so 09:30 stays 09:30 in New York
across both DST changes while its UTC time moves by an hour. Sessions, holidays and early
closes come from `trading.sessions` (exchange_calendars, XNYS); extra closures are layered
on by `trading.schedule.selectors`.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from trading.sessions import NEW_YORK, Session, to_new_york

from .models import Job

# The jobs that run once per session at a fixed New York time, in the order of the day.
DAILY_JOBS = (
    Job.OPENING_PREFLIGHT, Job.OPENING_SCAN, Job.MIDDAY_PREFLIGHT, Job.MIDDAY_SCAN, Job.RECONCILE, Job.REPORT,
)  # fmt: skip
# Scans trade on the live market: they only run while it is open, and never late.
SCAN_JOBS = frozenset({Job.OPENING_SCAN, Job.MIDDAY_SCAN})
# A pre-flight checks the book's broker a few minutes before each scan (and alerts when it is down).
PREFLIGHT_OF = {Job.OPENING_PREFLIGHT: Job.OPENING_SCAN, Job.MIDDAY_PREFLIGHT: Job.MIDDAY_SCAN}
CONFIGURED_JOBS = tuple(job for job in DAILY_JOBS if job not in PREFLIGHT_OF)
ALL_JOBS = (*DAILY_JOBS, Job.MARK)
# The NYSE regular open: the mark job's schedule counts its interval from here.
MARK_ANCHOR = time(9, 30)


def _parse_wall_time(key: str, raw) -> time:
    try:
        hours, minutes = str(raw).strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise ImproperlyConfigured(f"TRADE_LABS_SCHEDULE[{key!r}]={raw!r} is not a New York time like 09:30.") from None


def _positive_minutes(key: str, raw) -> timedelta:
    try:
        minutes = int(raw)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"TRADE_LABS_SCHEDULE[{key!r}]={raw!r} is not a whole number of minutes.") from None
    if minutes < 1:
        raise ImproperlyConfigured(f"TRADE_LABS_SCHEDULE[{key!r}]={raw!r} must be at least 1 minute.")
    return timedelta(minutes=minutes)


@dataclass(frozen=True)
class ScheduleConfig:
    """TRADE_LABS_SCHEDULE, parsed once and checked loudly."""

    times: dict[str, time]
    mark_every: timedelta
    scan_grace: timedelta
    preflight_lead: timedelta = timedelta(minutes=5)

    @classmethod
    def from_settings(cls, raw: dict | None = None) -> "ScheduleConfig":
        raw = settings.TRADE_LABS_SCHEDULE if raw is None else raw
        missing = [key for key in (*CONFIGURED_JOBS, "mark_every_minutes", "scan_grace_minutes") if key not in raw]
        if missing:
            raise ImproperlyConfigured(f"TRADE_LABS_SCHEDULE lacks {', '.join(missing)}.")
        times = {job: _parse_wall_time(job, raw[job]) for job in CONFIGURED_JOBS}
        lead = _positive_minutes("preflight_minutes", raw.get("preflight_minutes", 5))
        for preflight, scan in PREFLIGHT_OF.items():
            times[preflight] = (datetime.combine(date(2000, 1, 3), times[scan]) - lead).time()
        return cls(
            times=times,
            mark_every=_positive_minutes("mark_every_minutes", raw["mark_every_minutes"]),
            scan_grace=_positive_minutes("scan_grace_minutes", raw["scan_grace_minutes"]),
            preflight_lead=lead,
        )

    def lateness_limit(self, job: str) -> timedelta | None:
        """How late a job may start before it is recorded as missed instead; None: it always runs.

        A scan must not trade a market it was not meant for; a mark that is a full interval
        late has been overtaken by the next one; reconcile and report are still right late.
        """
        if job in SCAN_JOBS or job in PREFLIGHT_OF:
            return self.scan_grace
        if job == Job.MARK:
            return self.mark_every
        return None


@dataclass(frozen=True)
class Occurrence:
    """One planned run of one job: what the schedule will produce for a session."""

    job: str
    session_date: date
    at: datetime  # aware, UTC

    @property
    def at_new_york(self) -> datetime:
        return to_new_york(self.at)

    @property
    def label(self) -> str:
        return Job(self.job).label


def new_york_moment(day: date, wall: time) -> datetime:
    """The instant (UTC) when New York's clocks show `wall` on `day`."""
    return datetime.combine(day, wall, tzinfo=NEW_YORK).astimezone(UTC)


def mark_times(session: Session, every: timedelta) -> list[datetime]:
    """One mark each interval after the open, the last one at the session's actual close.

    The final mark works the last interval's exits and leaves fresh unrealized P&L for the
    close; on an early-close day (13:00) there is none after 13:00.
    """
    moments = []
    moment = session.open + every
    while moment < session.close:
        moments.append(moment)
        moment += every
    moments.append(session.close)
    return moments


def session_plan(session: Session, config: ScheduleConfig) -> list[Occurrence]:
    """Every occurrence of every job in one session, in time order."""
    # Every job a scheduler or a replay runs asks for its session's plan: worked out once.
    return list(_session_plan(session, tuple(sorted(config.times.items())), config.mark_every))


@lru_cache(maxsize=16)
def _session_plan(
    session: Session, times: tuple[tuple[str, time], ...], mark_every: timedelta
) -> tuple[Occurrence, ...]:
    wall = dict(times)
    occurrences = []
    for job in DAILY_JOBS:
        at = new_york_moment(session.day, wall[job])
        scan_at = new_york_moment(session.day, wall[PREFLIGHT_OF.get(job, job)])
        if (job in SCAN_JOBS or job in PREFLIGHT_OF) and not (session.open <= scan_at < session.close):
            continue  # a scan set after an early close has no market to scan, nor its pre-flight
        occurrences.append(Occurrence(job=job, session_date=session.day, at=at))
    occurrences += [Occurrence(job=Job.MARK, session_date=session.day, at=at) for at in mark_times(session, mark_every)]
    # At one moment a mark goes first: a scan, the reconciliation and the report then see the book
    # brought up to that moment (the 16:00 mark takes in the day's last fills before reconciling).
    return tuple(sorted(occurrences, key=lambda o: (o.at, -1 if o.job == Job.MARK else DAILY_JOBS.index(o.job))))


def occurrence_at_or_before(session: Session, job: str, moment: datetime, config: ScheduleConfig) -> Occurrence | None:
    """The occurrence of `job` in `session` that a firing at `moment` stands for, if any.

    Daily jobs: the session's one occurrence, once its time has come. Marks: the latest mark
    at or before `moment`, unless a whole interval has passed since it (then it is no
    firing's business: the schedule is not in step, or the session is over).
    """
    candidates = [o for o in session_plan(session, config) if o.job == job and o.at <= moment]
    if not candidates:
        return None
    latest = candidates[-1]
    if job == Job.MARK and moment - latest.at >= config.mark_every:
        return None
    return latest

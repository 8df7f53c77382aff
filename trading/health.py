"""Is the app fit to trade? The database, each book's broker, the scheduler and the calendar.

`health_check` runs every check and never raises: each check gives ok or a one-line problem.
`manage.py healthcheck` prints it (exit 0 healthy, 1 not) for monitors and cron, and stores the
result, which the admin's dashboard shows. `/healthz` asks only whether the web process reaches
its database (for load balancers), never a broker, and shows nothing secret.
"""

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

import structlog
from django.db import DatabaseError, connections
from django.utils import timezone

from trading import sessions

log = structlog.get_logger(__name__)

# The calendar must answer for at least this far ahead (the NYSE publishes about three years).
CALENDAR_HORIZON_DAYS = 365
# A job is overdue once its slot has stayed unclaimed this long after its time.
SCHEDULER_GRACE = timedelta(minutes=10)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Health:
    checked_at: datetime
    checks: list[Check] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return all(check.ok for check in self.checks)

    def as_dict(self) -> dict:
        return {
            "healthy": self.healthy,
            "checked_at": self.checked_at.isoformat(),
            "checks": [asdict(check) for check in self.checks],
        }


def database_reachable(using: str = "default") -> str:
    """'' when the database answers a query; otherwise why not (one line)."""
    try:
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return ""


def health_check(*, books=None, now: datetime | None = None) -> Health:
    now = now or timezone.now()
    health = Health(checked_at=now)
    problem = database_reachable()
    health.checks.append(Check("database", not problem, problem or "answers"))
    if problem:
        return health  # nothing else can be read
    from trading.models import Book

    for book in books if books is not None else Book.objects.order_by("name"):
        health.checks.append(broker_check(book))
    health.checks.append(_scheduler_check(now))
    health.checks.append(_calendar_check(now))
    return health


def broker_check(book) -> Check:
    from trading.brokers import brokers
    from trading.brokers.base import BrokerError

    name = f"broker {book.name} ({book.broker_alias})"
    try:
        with brokers.create_for(book) as broker:
            account = broker.account()
    except (BrokerError, OSError, TimeoutError) as exc:
        return Check(name, False, f"unreachable: {exc}")
    except Exception as exc:  # a check reports; the monitor reading it must get an answer
        log.exception("health_broker_check_crashed", book=book.name)
        return Check(name, False, f"{type(exc).__name__}: {exc}")
    kind = "paper" if account.is_paper else "NOT a paper account"
    return Check(name, account.is_paper, f"account {account.account_id} ({kind})")


def _scheduler_check(now: datetime) -> Check:
    """The last job the plan says was due (more than the grace ago, in the last day) has a slot:
    some worker claimed it. Nothing due in the last day (a weekend) says nothing about the
    scheduler, and is reported as such."""
    from trading.schedule.models import JobSlot
    from trading.schedule.selectors import plan_between
    from trading.services.books import book_default

    today = sessions.to_new_york(now).date()
    due = [o for o in plan_between(start=today - timedelta(days=1), end=today) if o.at <= now - SCHEDULER_GRACE]
    if not due:
        return Check("scheduler", True, "no job was due in the last day")
    last = due[-1]
    claimed = JobSlot.objects.filter(
        book=book_default(), job=last.job, session_date=last.session_date, scheduled_for=last.at
    ).first()
    when = f"{last.label} at {sessions.to_new_york(last.at):%Y-%m-%d %H:%M %Z}"
    if claimed is None:
        return Check("scheduler", False, f"{when} was never claimed: is qcluster running?")
    return Check("scheduler", True, f"{when}: {claimed.status}")


def _calendar_check(now: datetime) -> Check:
    _, last = sessions.known_range()
    ahead = (last - sessions.to_new_york(now).date()).days
    ok = ahead >= CALENDAR_HORIZON_DAYS
    return Check("calendar", ok, f"NYSE sessions known to {last.isoformat()} ({ahead} days ahead)")


def health_record(health: Health):
    """Store the result (the dashboard shows the last one); keep the last 1,000."""
    from trading.models import HealthResult

    row = HealthResult.objects.create(checked_at=health.checked_at, healthy=health.healthy, report=health.as_dict())
    stale = HealthResult.objects.order_by("-checked_at").values_list("pk", flat=True)[1000:1001]
    if stale:
        HealthResult.objects.filter(pk__lte=stale[0]).delete()
    return row


def health_alert(health: Health) -> None:
    """Alert each failing check (a broker down, the scheduler silent), at most once an alert window."""
    from trading.alerts import alert_raise
    from trading.models import Alert

    for check in health.checks:
        if check.ok:
            continue
        event = Alert.Event.BROKER_DOWN if check.name.startswith("broker") else Alert.Event.JOB_FAILED
        alert_raise(
            event=event, title=f"health check: {check.name} failing", body=check.detail, key=f"health:{check.name}"
        )

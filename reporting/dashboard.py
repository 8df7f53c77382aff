"""The admin's first page: one book's day at a glance, and what needs a person.

Everything here is read-only and computed from the book of record on each request: the armed
state, the last contact with the broker, today's session and its jobs, today's runs, the open
positions, realized P&L against the daily loss limit, open discrepancies and failed or missed
jobs. `attention` lists, in words, each thing a person should look at; empty means all clear.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Max, Sum
from django.utils import timezone

from reconciliation.models import Discrepancy, ReconciliationRun
from trading import sessions
from trading.models import Book, HealthResult, PipelineRun, Position, Trade
from trading.money import ZERO, format_money
from trading.schedule.models import Job, JobSlot
from trading.schedule.selectors import plan_between
from trading.services.arming import arm_active

RECENT_PROBLEMS_DAYS = 7
LOSS_WARNING_SHARE = Decimal("0.8")  # of the daily loss limit: flagged before the halt itself


@dataclass
class SlotLine:
    job: str
    at: datetime
    status: str  # a slot status, or "planned" when nothing has claimed it yet
    message: str = ""


@dataclass
class Dashboard:
    book: Book
    today: date
    armed: bool
    arm: object  # the arm record in force, if any
    arming_possible: bool
    mode: str
    sends_real_orders: bool
    session: str
    last_contact: datetime | None
    slots: list[SlotLine]
    marks_summary: str
    runs: list[PipelineRun]
    positions: list[Position]
    unrealized: Decimal
    realized_today: Decimal
    daily_loss_limit: Decimal
    discrepancies: list[Discrepancy]
    problems: list[JobSlot]
    failed_runs: list[PipelineRun]
    health: object = None  # the last `manage.py healthcheck` result, if any
    last_claim: object = None  # the last slot a scheduler worker claimed
    attention: list[str] = field(default_factory=list)

    @property
    def loss_used_pct(self) -> Decimal | None:
        if self.daily_loss_limit <= 0 or self.realized_today >= 0:
            return None
        return (-self.realized_today / self.daily_loss_limit * 100).quantize(Decimal("1"))


def dashboard_today(*, book: Book, now: datetime | None = None) -> Dashboard:
    from trading.brokers import brokers
    from trading.services.pipeline import run_configs

    now = now or timezone.now()
    today = sessions.to_new_york(now).date()
    risk, _ = run_configs(book)
    day_start = datetime.combine(today, datetime.min.time(), tzinfo=sessions.NEW_YORK)
    day_end = day_start + timedelta(days=1)
    slots, marks_summary = _today_slots(book, today, now)
    positions = list(Position.objects.filter(book=book).exclude(quantity=0).order_by("symbol"))
    realized_today = (
        Trade.objects.filter(
            book=book, status=Trade.Status.CLOSED, dry_run=False, exit_time__gte=day_start, exit_time__lt=day_end
        ).aggregate(total=Sum("realized_pnl"))["total"]
        or ZERO
    )
    since = now - timedelta(days=RECENT_PROBLEMS_DAYS)
    arm = arm_active(book=book, now=now) if settings.TRADE_LABS_ARMED else None
    board = Dashboard(
        book=book,
        today=today,
        armed=arm is not None,
        arm=arm,
        arming_possible=bool(settings.TRADE_LABS_ARMED),
        mode=settings.TRADE_LABS_MODE,
        sends_real_orders=brokers.backend_class(book.broker_alias).sends_real_orders,
        session=_session_line(today),
        last_contact=_last_contact(book),
        slots=slots,
        marks_summary=marks_summary,
        runs=list(
            PipelineRun.objects.filter(book=book, market_time__gte=day_start, market_time__lt=day_end).order_by(
                "market_time"
            )
        ),
        positions=positions,
        unrealized=sum((p.unrealized_pnl for p in positions if p.mark_price is not None), ZERO),
        realized_today=realized_today,
        daily_loss_limit=risk.daily_loss_limit,
        discrepancies=list(Discrepancy.objects.filter(book=book, cleared_at__isnull=True).order_by("-id")[:20]),
        problems=list(
            JobSlot.objects.filter(
                book=book, status__in=[JobSlot.Status.FAILED, JobSlot.Status.MISSED], scheduled_for__gte=since
            ).order_by("-scheduled_for")[:20]
        ),
        failed_runs=list(
            PipelineRun.objects.filter(book=book, status=PipelineRun.Status.FAILED, started_at__gte=since).order_by(
                "-started_at"
            )[:10]
        ),
    )
    board.health = HealthResult.objects.order_by("-checked_at").first()
    # The scheduler's heartbeat: the last slot any worker claimed for this book.
    board.last_claim = JobSlot.objects.filter(book=book).exclude(worker="replay").order_by("-claimed_at").first()
    board.attention = _attention(board)
    return board


def _session_line(today: date) -> str:
    from trading.schedule.models import ExtraClosure

    closure = ExtraClosure.objects.filter(day=today).first()
    if closure is not None:
        return f"closed today ({closure.reason})"
    if not sessions.is_session(today):
        following = sessions.sessions_between(today, today + timedelta(days=14))
        after = f"; next session {following[0].day:%a %Y-%m-%d}" if following else ""
        return f"no session today (weekend or holiday){after}"
    session = sessions.session(today)
    close = sessions.to_new_york(session.close)
    early = " — early close" if close.hour < 16 else ""
    return f"session {sessions.to_new_york(session.open):%H:%M}–{close:%H:%M} New York{early}"


def _today_slots(book: Book, today: date, now: datetime) -> tuple[list[SlotLine], str]:
    """Each of today's planned jobs but the marks with its slot's outcome; the marks in one line."""
    plan = plan_between(start=today, end=today)
    held = {(s.job, s.scheduled_for): s for s in JobSlot.objects.filter(book=book, session_date=today)}
    lines, marks_done, marks_total, next_mark = [], 0, 0, None
    for occurrence in plan:
        slot = held.get((occurrence.job, occurrence.at))
        if occurrence.job == Job.MARK:
            marks_total += 1
            marks_done += slot is not None and slot.status == JobSlot.Status.DONE
            if slot is None and occurrence.at > now and next_mark is None:
                next_mark = occurrence.at
            continue
        lines.append(
            SlotLine(
                job=occurrence.label,
                at=occurrence.at,
                status=slot.status if slot else "planned",
                message=slot.message if slot else "",
            )
        )
    if not marks_total:
        return lines, ""
    summary = f"marks: {marks_done} of {marks_total} done"
    if next_mark is not None:
        summary += f", next {sessions.to_new_york(next_mark):%H:%M}"
    return lines, summary


def _last_contact(book: Book) -> datetime | None:
    """When the book last heard from its broker: a run or a reconciliation that got its answers."""
    run = PipelineRun.objects.filter(
        book=book, status__in=[PipelineRun.Status.SUCCEEDED, PipelineRun.Status.PARTIAL]
    ).aggregate(at=Max("finished_at"))["at"]
    reconciled = (
        ReconciliationRun.objects.filter(book=book).exclude(status="error").aggregate(at=Max("finished_at"))["at"]
    )
    return max((at for at in (run, reconciled) if at is not None), default=None)


def _attention(board: Dashboard) -> list[str]:
    items = []
    if board.failed_runs:
        items.append(f"{len(board.failed_runs)} failed run(s) in the last {RECENT_PROBLEMS_DAYS} days")
    failed = sum(1 for s in board.problems if s.status == JobSlot.Status.FAILED)
    missed = len(board.problems) - failed
    if failed:
        items.append(f"{failed} failed scheduled job(s) in the last {RECENT_PROBLEMS_DAYS} days")
    if missed:
        items.append(f"{missed} missed scheduled job(s) in the last {RECENT_PROBLEMS_DAYS} days")
    if board.discrepancies:
        items.append(f"{len(board.discrepancies)} open reconciliation discrepancy(ies)")
    limit = board.daily_loss_limit
    if limit > 0 and board.realized_today <= -limit:
        items.append(f"daily loss limit reached: {format_money(board.realized_today)} of -{format_money(limit)}")
    elif limit > 0 and board.realized_today <= -limit * LOSS_WARNING_SHARE:
        items.append(f"near the daily loss limit: {format_money(board.realized_today)} of -{format_money(limit)}")
    if board.health is not None and not board.health.healthy:
        failing = [c["name"] for c in board.health.report.get("checks", []) if not c["ok"]]
        items.append(f"last health check failing: {', '.join(failing)}")
    unmarked = [p.symbol for p in board.positions if p.mark_price is None]
    if unmarked:
        items.append(f"{len(unmarked)} open position(s) never marked: {', '.join(unmarked[:5])}")
    return items

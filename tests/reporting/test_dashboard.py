"""The admin's first page: one book's day, and what needs a person."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from reconciliation.services import reconciliation_run
from reporting.dashboard import dashboard_today
from tests.factories import FillFactory, PositionFactory, TradeFactory
from tests.schedule.factories import JobSlotFactory
from trading.models import Trade
from trading.schedule.models import Job, JobSlot
from trading.services.books import book_default

pytestmark = pytest.mark.django_db


def _loss_today(amount: str) -> None:
    TradeFactory(
        realized_pnl=Decimal(amount), exit_price=Decimal("41.00"), exit_reason=Trade.ExitReason.STOP,
        exit_time=datetime(2026, 11, 20, 15, 10, tzinfo=UTC),
    )  # fmt: skip


def test_a_quiet_day_needs_nobody(morning):
    board = dashboard_today(book=book_default(), now=morning)
    assert board.attention == []
    assert board.session == "session 09:30–16:00 New York"
    assert [(line.job, line.status) for line in board.slots] == [
        ("Opening pre-flight", "planned"), ("Opening scan", "planned"), ("Mid-day pre-flight", "planned"),
        ("Mid-day scan", "planned"), ("Reconciliation", "planned"), ("Daily report", "planned"),
    ]  # fmt: skip
    assert board.marks_summary == "marks: 0 of 78 done, next 10:35"


def test_each_problem_is_named_with_its_figures(morning):
    book = book_default()
    _loss_today("-900.00")
    JobSlotFactory(status=JobSlot.Status.FAILED, message="BrokerError: gateway down")
    JobSlotFactory(job=Job.MARK, scheduled_for=datetime(2026, 11, 20, 14, 35, tzinfo=UTC), status=JobSlot.Status.MISSED)
    # The book bought GHOST; the SIM account holds none of it.
    FillFactory(
        order__trade__symbol="GHOST", order__trade__status=Trade.Status.OPEN, order__trade__exit_time=None,
        order__trade__exit_price=None, order__trade__realized_pnl=None, quantity=10,
    )  # fmt: skip
    PositionFactory(symbol="GHOST", quantity=10, average_cost=Decimal("20.00"))
    assert reconciliation_run(book=book).discrepancy_count >= 1

    board = dashboard_today(book=book, now=morning)
    assert board.realized_today == Decimal("-900.00") and board.loss_used_pct == Decimal("90")
    assert board.slots[1].job == "Opening scan" and board.slots[1].status == JobSlot.Status.FAILED
    assert board.attention == [
        "1 failed scheduled job(s) in the last 7 days",
        "1 missed scheduled job(s) in the last 7 days",
        f"{len(board.discrepancies)} open reconciliation discrepancy(ies)",
        "near the daily loss limit: -$900.00 of -$1,000.00",
        "1 open position(s) never marked: GHOST",
    ]


def test_the_loss_limit_reached_says_so(morning):
    _loss_today("-1000.00")
    board = dashboard_today(book=book_default(), now=morning)
    assert board.attention == ["daily loss limit reached: -$1,000.00 of -$1,000.00"]


def test_a_holiday_and_the_next_session(morning):
    thanksgiving = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
    board = dashboard_today(book=book_default(), now=thanksgiving)
    assert board.session == "no session today (weekend or holiday); next session Fri 2026-11-27"
    assert board.slots == [] and board.marks_summary == ""


def test_an_early_close_is_named():
    board = dashboard_today(book=book_default(), now=datetime(2026, 11, 27, 15, 0, tzinfo=UTC))
    assert board.session == "session 09:30–13:00 New York — early close"


def test_the_admin_index_is_the_dashboard_for_staff(staff_client):
    _loss_today("-1000.00")
    page = staff_client.get("/admin/")
    assert page.status_code == 200
    assert b'id="tl-dashboard"' in page.content and b"Trading" in page.content
    other = staff_client.get("/admin/?book=nosuchbook")
    assert b"no book named" in other.content and b'id="tl-dashboard"' in other.content


@pytest.mark.parametrize("who", ["plain_client", "anonymous"])
def test_the_dashboard_is_for_staff_only(who, request, client):
    viewer = client if who == "anonymous" else request.getfixturevalue(who)
    page = viewer.get("/admin/")
    assert page.status_code == 302 and "/admin/login/" in page["Location"]

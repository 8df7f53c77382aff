"""Time runs only forward on a SIM account: a moment before its clock is refused by every caller,
with the clock's value, before anything is written."""

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.schedule.conftest import new_york, schedule_settings  # noqa: F401 (a fixture)
from trading.brokers import brokers
from trading.models import Fill, PipelineRun, Trade
from trading.schedule.models import Job, JobSlot
from trading.schedule.services import job_run
from trading.services.books import book_named
from trading.services.closing import trade_close
from trading.services.marking import book_mark
from trading.services.pipeline import RunOptions, pipeline_run
from trading.sim.engine import SimClockPassed, sim_advance
from trading.sim.models import SimAccount, SimExecution, SimOrder

pytestmark = pytest.mark.django_db

TUESDAY_CLOSE = datetime(2026, 11, 24, 20, 59, tzinfo=UTC)  # 15:59 New York
CLOCK_LINE = "the SIM broker's clock is at 2026-11-24 15:59 New York"


@pytest.fixture
def book_marked_to_tuesday(morning):
    """Friday's run, then the book marked to Tuesday's close: stops and targets worked up to it."""
    pipeline_run(RunOptions(at=morning))
    book_mark(at=TUESDAY_CLOSE)
    assert SimAccount.objects.get().clock == TUESDAY_CLOSE


def _sim_state():
    account = SimAccount.objects.get()
    return (
        account.clock,
        account.cash,
        SimOrder.objects.count(),
        SimExecution.objects.count(),
        PipelineRun.objects.count(),
        Fill.objects.count(),
    )


def test_run_pipeline_before_the_clock_is_refused_before_any_run_row(book_marked_to_tuesday):
    before = _sim_state()
    with pytest.raises(CommandError) as refused:
        call_command("run_pipeline", "--at", "2026-11-23T10:30", stdout=StringIO())
    message = str(refused.value)
    assert CLOCK_LINE in message and "2026-11-23 10:30 New York" in message
    assert "replay into a new book" in message
    assert "\n" not in message
    assert _sim_state() == before


def test_mark_before_the_clock_is_refused_and_fills_nothing(book_marked_to_tuesday):
    before = _sim_state()
    with pytest.raises(CommandError, match=CLOCK_LINE):
        call_command("mark", "--at", "2026-11-20T11:00", stdout=StringIO())
    assert _sim_state() == before


def test_closing_before_the_clock_is_refused(morning):
    pipeline_run(RunOptions(at=morning))
    book_mark(at=datetime(2026, 11, 20, 16, 30, tzinfo=UTC))  # 11:30 New York
    trade = Trade.objects.filter(status=Trade.Status.OPEN).first()
    before = _sim_state()
    with pytest.raises(CommandError, match="clock is at 2026-11-20 11:30 New York"):
        call_command("close_trade", str(trade.pk), "--at", "2026-11-20T10:45", stdout=StringIO())
    with pytest.raises(SimClockPassed):
        trade_close(trade_id=trade.pk, at=morning)
    assert _sim_state() == before
    assert Trade.objects.get(pk=trade.pk).status == Trade.Status.OPEN


def test_the_service_refusal_is_a_permanent_broker_error(book_marked_to_tuesday, morning):
    with pytest.raises(SimClockPassed) as refused:
        pipeline_run(RunOptions(at=morning))
    assert refused.value.permanent is True
    assert refused.value.clock == TUESDAY_CLOSE
    with pytest.raises(SimClockPassed):
        book_mark(at=morning)


@pytest.mark.usefixtures("schedule_settings")
@pytest.mark.parametrize(("job", "at"), [(Job.OPENING_SCAN, (9, 30)), (Job.MARK, (10, 0))])
def test_the_schedules_jobs_are_refused_too_and_say_why_on_their_slot(book_marked_to_tuesday, job, at):
    """A scheduled scan or mark at a moment the clock has passed (the book was marked ahead by hand)
    fails its slot with the clock's line, and runs or fills nothing."""
    before = _sim_state()
    monday = new_york(2026, 11, 23, *at)
    with pytest.raises(SimClockPassed):
        job_run(job=job, intended=monday, now=monday)
    slot = JobSlot.objects.get(job=job)
    assert slot.status == JobSlot.Status.FAILED and CLOCK_LINE in slot.message
    assert _sim_state() == before


def test_the_engine_itself_refuses_to_go_back(book_marked_to_tuesday, morning):
    """The rule lives in the engine, so a caller that skips market_moment is refused too."""
    market = brokers.create("sim").market
    account = SimAccount.objects.get()
    with pytest.raises(SimClockPassed, match=CLOCK_LINE):
        sim_advance(account=account, at=morning, market=market, slippage_bps=2)
    assert SimAccount.objects.get().clock == TUESDAY_CLOSE


def test_the_same_moment_or_a_later_one_is_accepted(book_marked_to_tuesday):
    call_command("mark", "--at", "2026-11-24T15:59", stdout=StringIO())
    call_command("mark", "--at", "2026-11-25T10:00", stdout=StringIO())
    assert SimAccount.objects.get().clock == datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


def test_another_book_keeps_its_own_clock(book_marked_to_tuesday, settings, morning):
    """Replaying an earlier moment goes into a new book: another SIM account starts with no clock."""
    settings.BROKERS = {
        **settings.BROKERS,
        "replay": {**settings.BROKERS["sim"], "OPTIONS": {**settings.BROKERS["sim"]["OPTIONS"], "account": "SIM-2"}},
    }
    run = pipeline_run(book=book_named("replay"), options=RunOptions(at=morning))
    assert run.status == PipelineRun.Status.SUCCEEDED, run.error


@pytest.mark.django_db
def test_asking_a_new_sim_account_for_a_moment_writes_nothing(morning):
    from trading.brokers import brokers
    from trading.sim.models import SimAccount

    brokers.create("sim").market_moment(morning, morning)
    assert not SimAccount.objects.exists()

"""A replay killed mid-session (SIGKILL, Ctrl-C) leaves a consistent book, and running the same
command again continues it from its clock: no order twice, no fill lost, no job left out."""

import signal
import time
from collections import Counter
from datetime import date

import pytest

from reporting.summaries import summaries_differences
from trading.models import Book, Fill, Order, Position, Trade
from trading.schedule.models import JobSlot
from trading.schedule.selectors import plan_between
from trading.services.books import book_create
from trading.services.replay import replay_run
from trading.sim.models import SimExecution, SimOrder, SimPosition

# Nine sessions, Thanksgiving's closure and the next day's early close among them: a replay of
# one takes a few hundred milliseconds, so a stop in the second leaves most of the range to do.
START, SECOND, END = date(2026, 11, 16), date(2026, 11, 17), date(2026, 11, 27)
REPLAY = ("replay", "--from", START.isoformat(), "--to", END.isoformat(), "--book", "killed", "--json")


def _fingerprint(book: Book) -> list:
    return list(
        Trade.objects.filter(book=book)
        .order_by("entry_time", "symbol")
        .values_list("symbol", "quantity", "entry_price", "entry_time", "exit_price", "exit_time", "realized_pnl")
    )


def _uninterrupted() -> list:
    book = book_create(name="whole", broker_alias="sim")
    replay_run(book=book, start=START, end=END)
    return _fingerprint(book)


def _assert_consistent(book: Book) -> None:
    account = book.account_id
    broker_refs = list(SimOrder.objects.filter(account__account_id=account).values_list("order_ref", flat=True))
    assert not [ref for ref, n in Counter(broker_refs).items() if n > 1], "an order was sent twice"
    assert set(broker_refs) <= set(Order.objects.filter(book=book).values_list("client_order_ref", flat=True))
    executions = set(SimExecution.objects.filter(account__account_id=account).values_list("exec_id", flat=True))
    assert executions == set(Fill.objects.filter(book=book).values_list("exec_id", flat=True)), "a fill was lost"
    held = dict(
        SimPosition.objects.filter(account__account_id=account).exclude(quantity=0).values_list("symbol", "quantity")
    )
    assert held == dict(Position.objects.filter(book=book).exclude(quantity=0).values_list("symbol", "quantity"))
    assert not Order.objects.filter(book=book, status=Order.Status.INTENT).exists(), "an intent was left unresolved"
    slots = JobSlot.objects.filter(book=book)
    assert not slots.filter(status=JobSlot.Status.RUNNING).exists()
    assert slots.count() == len(plan_between(start=START, end=END)), "a scheduled job was left out"
    book.refresh_from_db()
    assert book.clock is not None and book.clock.date() == END
    assert summaries_differences(book=book) == [], "the statistics' summaries disagree with the trades"


def test_a_replay_killed_between_sending_and_recording_continues_as_if_never_stopped(manage):
    killed = manage(*REPLAY, env={"TRADE_LABS_FAILPOINT": "after_send"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    book = Book.objects.get(name="killed")
    assert JobSlot.objects.filter(book=book, status=JobSlot.Status.RUNNING).count() == 1  # the scan it died in

    again = manage(*REPLAY)
    assert again.returncode == 0, again.stderr[-2000:]
    _assert_consistent(book)
    assert _fingerprint(book) == _uninterrupted(), "the brackets it had sent were adopted, nothing else changed"


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT])
def test_a_replay_stopped_at_any_moment_continues_with_nothing_twice_and_nothing_lost(manage, how):
    running = manage(*REPLAY, background=True)
    deadline = time.monotonic() + 60
    # Mid-way through the second session: past its opening scan.
    while not JobSlot.objects.filter(book__name="killed", session_date=SECOND, job="mark").exists():
        assert running.poll() is None and time.monotonic() < deadline, running.stderr.read()[-2000:]
        time.sleep(0.01)
    running.send_signal(how)
    running.communicate(timeout=60)
    book = Book.objects.get(name="killed")
    assert not JobSlot.objects.filter(book=book, session_date=END).exists(), "stopped too late"

    again = manage(*REPLAY)
    assert again.returncode == 0, again.stderr[-2000:]
    _assert_consistent(book)
    interrupted_scans = JobSlot.objects.filter(
        book=book, job__in=["opening_scan", "midday_scan"], status=JobSlot.Status.FAILED
    )
    if not interrupted_scans.exists():
        assert _fingerprint(book) == _uninterrupted()

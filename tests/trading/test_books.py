"""Books side by side: their own positions, P&L, clocks and markets; replay through the real schedule."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from reporting.metrics import Period
from reporting.models import DailyReport, DailySnapshot
from reporting.selectors import stats_summary
from trading.brokers import brokers
from trading.brokers.base import BrokerError
from trading.models import Book, Fill, Order, Position, Trade
from trading.schedule.models import JobSlot
from trading.schedule.selectors import plan_between
from trading.schedule.services import job_run
from trading.services.book import order_mark
from trading.services.books import book_create, book_default
from trading.services.marking import book_mark
from trading.services.pipeline import RunOptions, pipeline_run
from trading.services.replay import replay_run
from trading.services.sync import book_sync
from trading.sim.models import SimOrder

pytestmark = pytest.mark.django_db


def test_migrate_leaves_a_book_per_configured_backend():
    books = {b.name: b for b in Book.objects.all()}
    assert {"sim", "ib"} <= set(books), "0008 makes one book per configured alias"
    assert books["sim"].broker_alias == "sim" and books["sim"].account_id == "SIM-PAPER-1"
    assert book_default() == books["sim"]


def test_two_sim_books_trade_the_same_symbols_without_sharing_positions(morning):
    other = book_create(name="other", broker_alias="sim")
    first = pipeline_run(RunOptions(at=morning))
    second = pipeline_run(RunOptions(at=morning), book=other)
    ours = set(first.trades.values_list("symbol", flat=True))
    theirs = set(second.trades.values_list("symbol", flat=True))
    assert ours and ours == theirs, "the same market and settings choose the same names in both books"
    for symbol in ours:
        assert Position.objects.filter(symbol=symbol).count() == 2
        assert (
            Position.objects.get(book=other, symbol=symbol).quantity
            == Trade.objects.get(book=other, symbol=symbol).quantity
        )
    assert stats_summary(book=other, period=Period.all_time())["open_trades"] == len(theirs)
    assert stats_summary(book=book_default(), period=Period.all_time())["open_trades"] == len(ours)


def test_a_leg_cancelled_by_us_that_filled_at_the_broker_meanwhile_still_has_its_fill_taken_in(morning):
    """A close cancels a trade's stop while another worker's mark advances the SIM broker past
    it: the broker filled the stop, the book calls it cancelled. The next sync records the fill."""
    run = pipeline_run(RunOptions(at=morning))
    trade = run.trades.filter(status=Trade.Status.OPEN).first()
    stop = trade.orders.get(leg=Order.Leg.STOP)
    with brokers.create_for(trade.book) as broker:
        sim_order = SimOrder.objects.get(order_ref=stop.client_order_ref)
        SimOrder.objects.filter(pk=sim_order.pk).update(stop_price=Decimal("100000"))  # triggers at once
        broker.advance_to(morning + timedelta(minutes=1))
        order_mark(order=stop, status=Order.Status.CANCELLED, message="cancelled to close the trade (test)")
        book_sync(broker=broker, book=trade.book)
    assert Fill.objects.filter(order=stop).count() == 1
    trade.refresh_from_db()
    assert trade.status == Trade.Status.CLOSED


def test_a_fill_the_broker_made_before_a_crash_is_taken_in_days_later(morning):
    """The SIM broker filled a stop on Friday; the process died before the book heard of it. The
    next mark, on Monday, takes the Friday fill in at its own minute and price."""
    run = pipeline_run(RunOptions(at=morning))
    trade = run.trades.filter(status=Trade.Status.OPEN).first()
    stop = trade.orders.get(leg=Order.Leg.STOP)
    with brokers.create_for(trade.book) as broker:
        SimOrder.objects.filter(order_ref=stop.client_order_ref).update(stop_price=Decimal("100000"))
        broker.advance_to(morning + timedelta(minutes=1))  # the broker fills it; no book sync follows
    monday = morning + timedelta(days=3)
    book_mark(at=monday)
    fill = Fill.objects.get(order=stop)
    assert fill.filled_at == morning + timedelta(minutes=1)
    trade.refresh_from_db()
    assert trade.status == Trade.Status.CLOSED and trade.exit_time == fill.filled_at


def test_a_moment_before_the_books_clock_is_refused_with_the_hint(morning, close_of_day):
    book_mark(at=close_of_day)
    with pytest.raises(BrokerError, match="replay into a new book"):
        pipeline_run(RunOptions(at=morning))
    with pytest.raises(CommandError, match="replay into a new book"):
        call_command("mark", "--at", "2026-11-20T10:00", stdout=StringIO())
    fresh = book_create(name="fresh", broker_alias="sim")
    assert pipeline_run(RunOptions(at=morning), book=fresh).status != "failed"


def test_stats_month_counts_runs_by_market_time(morning):
    pipeline_run(RunOptions(at=morning))  # 2026-11-20 market time, whatever the wall clock says
    assert stats_summary(book=book_default(), period=Period.month(2026, 11))["runs"] == 1
    assert stats_summary(book=book_default(), period=Period.month(2026, 12))["runs"] == 0


def _replay(name: str, start: date, end: date) -> Book:
    book = Book.objects.filter(name=name).first() or book_create(name=name, broker_alias="sim")
    replay_run(book=book, start=start, end=end)
    return book


def _fingerprint(book: Book) -> list:
    return list(
        Trade.objects.filter(book=book)
        .order_by("entry_time", "symbol")
        .values_list("symbol", "quantity", "entry_price", "entry_time", "exit_price", "exit_time", "realized_pnl")
    )


@pytest.mark.slow
def test_replay_is_deterministic_and_runs_every_scheduled_job():
    one = _replay("one", date(2026, 11, 16), date(2026, 11, 17))
    two = _replay("two", date(2026, 11, 16), date(2026, 11, 17))
    assert _fingerprint(one) and _fingerprint(one) == _fingerprint(two)
    slots = JobSlot.objects.filter(book=one)
    assert set(slots.values_list("job", flat=True)) == {
        "opening_preflight", "opening_scan", "midday_preflight", "midday_scan", "mark", "reconcile", "report",
    }  # fmt: skip
    assert not slots.exclude(status=JobSlot.Status.DONE).exists()
    # Quiet marks name the job that worked them: the mid-day scan (never the pre-flight before it,
    # which only checks the broker) or the last mark before the 16:00 jobs.
    assert set(slots.filter(details__quiet=True).values_list("details__worked_by", flat=True)) == {
        "midday_scan",
        "mark",
    }
    assert DailyReport.objects.filter(book=one).count() == 2
    assert DailySnapshot.objects.filter(book=one).count() == 2
    same = ("net_pnl", "trade_count", "win_rate", "max_drawdown", "sharpe_ratio", "equity_end",
            "equity_max_drawdown_pct", "equity_sharpe_ratio", "unrealized_pnl", "open_trades", "runs")  # fmt: skip
    first, second = (stats_summary(book=b, period=Period.all_time()) for b in (one, two))
    assert {k: first[k] for k in same} == {k: second[k] for k in same}


@pytest.mark.slow
def test_a_replay_trades_the_same_whether_its_sessions_are_built_ahead_or_here(monkeypatch):
    from trading.sim import ahead, market

    monkeypatch.setattr(market, "_MARKETS", {})  # nothing cached: every session is built
    here = _replay("built-here", date(2026, 11, 16), date(2026, 11, 17))
    monkeypatch.setattr(market, "_MARKETS", {})
    monkeypatch.setattr(ahead, "MIN_SESSIONS", 1)
    monkeypatch.setattr(ahead, "BUILT_HERE_FIRST", 0)
    monkeypatch.setattr(ahead, "second_core_available", lambda: True)
    received = []
    close = ahead.PathsAhead.close
    monkeypatch.setattr(ahead.PathsAhead, "close", lambda builder: received.append(builder.received) or close(builder))
    there = _replay("built-ahead", date(2026, 11, 16), date(2026, 11, 17))
    assert received == [2], "both sessions came from the builder"
    assert _fingerprint(here) and _fingerprint(here) == _fingerprint(there)


@pytest.mark.slow
@pytest.mark.parametrize("flatten_minutes", [0, 10])
def test_a_replay_keeps_what_working_every_mark_would_keep(flatten_minutes):
    """Replay works only the marks that change the book; the trades must be those of a book in
    which the scheduler's job_run works every single occurrence."""
    parameters = {"risk": {"flatten_minutes_before_close": flatten_minutes}}
    replayed = book_create(name="coalesced", broker_alias="sim", parameters=parameters)
    replay_run(book=replayed, start=date(2026, 11, 16), end=date(2026, 11, 17))
    every = book_create(name="every", broker_alias="sim", parameters=parameters)
    for occurrence in plan_between(start=date(2026, 11, 16), end=date(2026, 11, 17)):
        job_run(job=occurrence.job, book=every, intended=occurrence.at, now=occurrence.at)
    assert _fingerprint(replayed) and _fingerprint(replayed) == _fingerprint(every)
    closes = [
        list(DailySnapshot.objects.filter(book=b).order_by("day").values_list("day", "equity", "unrealized_pnl"))
        for b in (replayed, every)
    ]
    assert closes[0] and closes[0] == closes[1], "the same marks at every close"
    if flatten_minutes:
        assert Trade.objects.filter(book=replayed, exit_reason=Trade.ExitReason.END_OF_DAY).exists()
    assert JobSlot.objects.filter(book=replayed).count() == JobSlot.objects.filter(book=every).count()
    assert JobSlot.objects.filter(book=replayed, job="mark", details__quiet=True).count() > 100


@pytest.mark.slow
def test_a_replay_continued_over_a_longer_range_does_nothing_twice():
    book = _replay("resume", date(2026, 11, 16), date(2026, 11, 16))
    done = JobSlot.objects.filter(book=book).count()
    result = replay_run(book=book, start=date(2026, 11, 16), end=date(2026, 11, 17))
    assert result.jobs_already_done == done
    whole = _replay("whole", date(2026, 11, 16), date(2026, 11, 17))
    assert _fingerprint(book) == _fingerprint(whole), "stopping and continuing changes nothing"


@pytest.mark.slow
def test_a_past_days_report_shows_what_was_open_at_that_close_with_that_close_marks():
    book = _replay("asof", date(2026, 11, 16), date(2026, 11, 18))
    close = datetime(2026, 11, 16, 21, 0, tzinfo=UTC)  # 16:00 New York
    open_then = set(
        Trade.objects.filter(book=book, entry_time__lte=close)
        .exclude(exit_time__lte=close)
        .values_list("pk", flat=True)
    )
    report = DailyReport.objects.get(book=book, day=date(2026, 11, 16))
    listed = {row["id"] for row in report.metrics["open_trade_list"]}
    assert listed == open_then
    snapshot = DailySnapshot.objects.get(book=book, day=date(2026, 11, 16))
    assert all(row["marked_at"].startswith("2026-11-16T15:59") for row in snapshot.positions if row["mark_price"])


@pytest.mark.slow
def test_replay_command_makes_the_book_and_prints_its_stats_as_json():
    import json

    out = StringIO()
    call_command(
        "replay", "--from", "2026-11-16", "--to", "2026-11-16", "--book", "cli", "--top", "2", "--json", stdout=out
    )
    payload = json.loads(out.getvalue())
    assert payload["book"] == "cli" and payload["sessions"] == 1 and payload["stats"]["book"] == "cli"
    assert Book.objects.get(name="cli").parameters == {"top_n": 2}
    with pytest.raises(CommandError, match="only a SIM book replays"):
        call_command("replay", "--from", "2026-11-16", "--to", "2026-11-16", "--book", "ib", stdout=StringIO())
    with pytest.raises(CommandError, match="no NYSE session"):
        call_command("replay", "--from", "2026-11-21", "--to", "2026-11-22", "--book", "cli", stdout=StringIO())


@pytest.mark.parametrize(
    "args, message",
    [
        (["--from", "2026-11-20", "--to", "2026-11-16"], "before --from"),
        (["--from", "2026-11-21", "--to", "2026-11-22"], "no NYSE session"),
        (["--from", "2026-11-16", "--to", "2026-11-16", "--market", "nosuchset"], "holds no bars"),
    ],
)
def test_a_refused_replay_makes_no_book(db, args, message):
    before = set(Book.objects.values_list("name", flat=True))
    with pytest.raises(CommandError, match=message):
        call_command("replay", *args, "--book", "never", stdout=StringIO())
    assert set(Book.objects.values_list("name", flat=True)) == before


def test_stats_compares_two_books_side_by_side(morning):
    book_create(name="other", broker_alias="sim")
    pipeline_run(RunOptions(at=morning))
    out = StringIO()
    call_command("stats", "--book", "sim", "--book", "other", stdout=out)
    header = out.getvalue().splitlines()[0]
    assert "sim" in header and "other" in header
    with pytest.raises(CommandError, match="no book named 'nope'"):
        call_command("stats", "--book", "nope", stdout=StringIO())

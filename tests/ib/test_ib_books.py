"""An IB paper book (the fake gateway), the default SIM book and a replay book trade the same
symbols: each keeps its own positions, P&L, statistics and reconciliation.

IB trades only at the present moment (its quotes carry the time they arrive), so the SIM books
trade the opening of the latest session: the same day as IB's whenever the suite runs while
the market is open, the session before otherwise."""

from decimal import Decimal

import pytest
from django.utils import timezone

from reconciliation.services import reconciliation_run
from reporting.metrics import Period
from reporting.selectors import stats_summary
from tests.arming import arm_books
from trading import sessions
from trading.models import Position, Trade
from trading.services.books import book_create, book_default, book_named
from trading.services.pipeline import RunOptions, pipeline_run
from trading.services.replay import replay_run
from trading.sim.market import market_for

pytestmark = [pytest.mark.ib, pytest.mark.django_db]


@pytest.fixture
def three_books(ib_settings, gateway):
    arm_books(ib_settings, "ib")
    latest = sessions.session_at_or_before(timezone.now())
    sim = book_default()
    run = pipeline_run(RunOptions(), book=sim, now=latest.open)
    symbols = sorted(run.trades.filter(status=Trade.Status.OPEN).values_list("symbol", flat=True))
    assert len(symbols) == 3, run.error
    replay = book_create(name="history", broker_alias="sim")
    replay_run(book=replay, start=latest.day, end=latest.day)
    # IB's scanner returns the names SIM picked, quoted a little apart from SIM's prices.
    market = market_for(seed=20240101, universe_size=500, bar_set="synthetic")
    gateway.state.scanner_results = symbols
    for symbol in symbols:
        quote = market.quote(symbol, latest.open)
        gateway.set_quote(
            symbol, str(quote.bid + 1), str(quote.ask + 1), str(quote.last + 1), volume=5_000_000,
            close=str(quote.prev_close),
        )  # fmt: skip
    ib = book_named("ib")
    ib_run = pipeline_run(RunOptions(), book=ib)
    assert ib_run.executed_count == 3, ib_run.error
    return sim, replay, ib, symbols


def test_each_book_holds_its_own_position_in_the_same_symbol(three_books):
    sim, replay, ib, symbols = three_books
    for symbol in symbols:
        rows = Position.objects.filter(symbol=symbol).exclude(quantity=0)
        assert {row.book.name for row in rows} >= {sim.name, ib.name}, symbol
        ib_position = rows.get(book=ib)
        ib_entry = Trade.objects.get(book=ib, symbol=symbol).entry_price
        assert ib_position.average_cost == ib_entry
        assert ib_position.average_cost != rows.get(book=sim).average_cost, "IB filled at its own quotes"
    traded_by_replay = set(Trade.objects.filter(book=replay).values_list("symbol", flat=True))
    assert traded_by_replay & set(symbols), "the replay's 09:30 scan picked the same names"


def test_p_and_l_and_statistics_never_add_two_books_together(three_books):
    sim, replay, ib, _ = three_books
    period = Period.all_time()
    ib_stats = stats_summary(book=ib, period=period)
    assert ib_stats["runs"] == 1 and ib_stats["open_trades"] == 3
    assert stats_summary(book=sim, period=period)["runs"] == 1
    assert stats_summary(book=replay, period=period)["runs"] == 2
    for book in (sim, replay, ib):
        own = sum((t.realized_pnl or Decimal(0)) for t in Trade.objects.filter(book=book, status=Trade.Status.CLOSED))
        assert Decimal(stats_summary(book=book, period=period)["net_pnl"]) == own


def test_the_ib_books_reconciliation_expects_only_its_own_fills(three_books):
    _, _, ib, _ = three_books
    run = reconciliation_run(book=ib, trigger="manual")
    assert run.status == "clean", [d.detail for d in run.discrepancies.all()]
    assert run.discrepancy_count == 0

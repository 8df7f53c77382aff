"""The SIM market: plausible, reproducible, and a pure function of (seed, symbol, time)."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from trading import sessions
from trading.brokers.sim import SimBroker
from trading.sim.market import SyntheticMarket

MORNING = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
MARKET = SyntheticMarket(seed=20240101, universe_size=500)


def test_the_universe_has_500_unique_symbols_with_spy_first():
    assert len(MARKET.symbols) == 500 == len(set(MARKET.symbols))
    assert MARKET.symbols[0] == "SPY"


def test_quotes_are_a_pure_function_of_seed_symbol_and_time():
    fresh = SyntheticMarket(seed=20240101, universe_size=5000)  # a bigger universe, same symbols first
    for symbol in MARKET.symbols[:50]:
        assert fresh.quote(symbol, MORNING) == MARKET.quote(symbol, MORNING)


def test_another_seed_is_another_market():
    other = SyntheticMarket(seed=1, universe_size=500)
    assert other.quote("SPY", MORNING) != MARKET.quote("SPY", MORNING)


def test_prices_spreads_and_volumes_are_plausible():
    quotes = [MARKET.quote(symbol, MORNING) for symbol in MARKET.symbols]
    clean = [q for q in quotes if q.bid and q.ask and q.last and q.bid < q.ask]
    assert len(clean) >= 0.98 * len(quotes)  # a few deliberately bad ticks, as in a real feed
    for q in clean:
        assert Decimal("0.5") < q.last < Decimal("5000")
        assert q.ask - q.bid >= Decimal("0.01")
        assert (q.ask - q.bid) / q.last < Decimal("0.05")
        assert q.volume > 0
        assert q.time == MORNING
    median_price = sorted(q.last for q in clean)[len(clean) // 2]
    assert Decimal("10") < median_price < Decimal("200")


def test_volume_accumulates_through_the_day():
    early = MARKET.quote("SPY", datetime(2026, 11, 20, 14, 35, tzinfo=UTC))
    late = MARKET.quote("SPY", datetime(2026, 11, 20, 20, 55, tzinfo=UTC))
    assert late.volume > early.volume > 0


def test_the_open_follows_the_previous_close():
    path = MARKET.day_path("SPY", date(2026, 11, 20))
    previous = MARKET.day_path("SPY", date(2026, 11, 19))
    assert path.prev_close == pytest.approx(previous.mid[-1])
    assert abs(path.mid[0] / path.prev_close - 1) < 0.05


def test_an_early_close_session_has_a_shorter_path():
    assert len(MARKET.day_path("SPY", date(2026, 11, 27)).mid) == 211  # 09:30–13:00
    assert len(MARKET.day_path("SPY", date(2026, 11, 20)).mid) == 391


@hsettings(max_examples=40, deadline=None)
@given(minutes=st.integers(min_value=0, max_value=60 * 24 * 30), symbol_index=st.integers(min_value=0, max_value=499))
def test_any_moment_gives_a_quote_or_a_stated_defect(minutes, symbol_index):
    moment = datetime(2026, 10, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    quote = MARKET.quote(MARKET.symbols[symbol_index], moment)
    assert quote.time is not None and quote.time <= moment
    assert quote.ask is not None and quote.ask > 0


class TestSimClock:
    broker = SimBroker(seed=20240101, universe_size=500)

    def test_now_when_the_nyse_is_open(self, db):
        now = datetime(2026, 11, 20, 16, 0, 30, tzinfo=UTC)
        moment, label = self.broker.market_moment(None, now)
        assert moment == datetime(2026, 11, 20, 16, 0, tzinfo=UTC) and label.startswith("live")

    @pytest.mark.parametrize(
        ("now", "session_close"),
        [
            (datetime(2026, 11, 21, 18, 0, tzinfo=UTC), datetime(2026, 11, 20, 21, 0, tzinfo=UTC)),  # Saturday
            (datetime(2026, 11, 23, 13, 0, tzinfo=UTC), datetime(2026, 11, 20, 21, 0, tzinfo=UTC)),  # Monday pre-open
            (
                datetime(2026, 11, 27, 20, 0, tzinfo=UTC),
                datetime(2026, 11, 27, 18, 0, tzinfo=UTC),
            ),  # after an early close
            (datetime(2026, 4, 3, 15, 0, tzinfo=UTC), datetime(2026, 4, 2, 20, 0, tzinfo=UTC)),  # Good Friday
        ],
    )
    def test_a_closed_market_uses_the_last_minute_of_the_latest_session(self, db, now, session_close):
        moment, label = self.broker.market_moment(None, now)
        assert moment == session_close - timedelta(minutes=1)
        assert "market closed now" in label

    def test_a_requested_moment_inside_a_session_is_used_as_is(self, db):
        moment, label = self.broker.market_moment(MORNING, datetime(2026, 11, 23, tzinfo=UTC))
        assert moment == MORNING and "requested moment" in label


@pytest.mark.django_db
class TestSimScanner:
    @pytest.fixture
    def broker(self):
        with SimBroker(seed=20240101, universe_size=500) as broker:
            yield broker

    def test_top_percent_gainers_are_ordered_by_change(self, broker):
        results = broker.scan(
            at=MORNING, scan_code="TOP_PERC_GAIN", above_price=Decimal(5), above_volume=100_000, max_results=20
        )
        changes = []
        for result in results:
            path = broker.market.day_path(result.symbol, date(2026, 11, 20))
            changes.append(path.mid[path.index_at(MORNING)] / path.prev_close)
        assert changes == sorted(changes, reverse=True)
        assert [r.rank for r in results] == list(range(1, 21))

    @pytest.mark.parametrize("scan_code, sign", [("TOP_PERC_GAIN", 1), ("TOP_PERC_LOSE", -1)])
    def test_a_small_universe_lists_only_gainers_or_only_losers(self, db, scan_code, sign):
        with SimBroker(seed=20240101, universe_size=12) as small:
            results = small.scan(at=MORNING, scan_code=scan_code, above_price=Decimal(0), above_volume=0,
                                 max_results=50)  # fmt: skip
            changes = [
                (path := small.market.day_path(r.symbol, date(2026, 11, 20))).mid[path.index_at(MORNING)]
                / path.prev_close
                - 1
                for r in results
            ]
        assert results and len(results) < 12, "some of the twelve went the other way"
        assert all(change * sign > 0 for change in changes)

    def test_most_active_is_ordered_by_volume_and_filters_apply(self, broker):
        results = broker.scan(
            at=MORNING, scan_code="MOST_ACTIVE", above_price=Decimal(20), above_volume=1_000_000, max_results=50
        )
        quotes = broker.quotes([r.symbol for r in results], at=MORNING)
        volumes = [quotes[r.symbol].volume for r in results]
        assert volumes == sorted(volumes, reverse=True)
        assert all(v > 1_000_000 for v in volumes)
        assert all(quotes[r.symbol].last > 19 for r in results)

    def test_spy_only(self, broker):
        assert [
            r.symbol
            for r in broker.scan(
                at=MORNING,
                scan_code="TOP_PERC_GAIN",
                above_price=Decimal(5),
                above_volume=0,
                max_results=50,
                spy_only=True,
            )
        ] == ["SPY"]

    def test_unknown_scan_code_is_refused(self, broker):
        with pytest.raises(ValueError, match="unknown scan code"):
            broker.scan(at=MORNING, scan_code="HOT_BY_VOLUME_X", above_price=Decimal(5), above_volume=0, max_results=5)


def test_sessions_follow_the_nyse_calendar():
    assert not sessions.is_session(date(2026, 4, 3))  # Good Friday
    assert not sessions.is_session(date(2026, 6, 19))  # Juneteenth
    assert sessions.session(date(2026, 11, 27)).is_early_close
    # DST: 09:30 New York is 13:30 UTC in summer and 14:30 UTC in winter.
    assert sessions.session(date(2026, 3, 9)).open.hour == 13
    assert sessions.session(date(2026, 11, 2)).open.hour == 14


def test_the_opening_cross_prints_volume_at_0930():
    at_open = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)  # 09:30 New York
    volumes = [MARKET.quote(symbol, at_open).volume for symbol in MARKET.symbols[:50]]
    assert all(v > 0 for v in volumes)


@pytest.mark.django_db
def test_a_scan_at_the_open_finds_candidates():
    with SimBroker(seed=20240101, universe_size=500) as broker:
        results = broker.scan(
            at=datetime(2026, 11, 27, 14, 30, tzinfo=UTC),
            scan_code="TOP_PERC_GAIN",
            above_price=Decimal(5),
            above_volume=100_000,
            max_results=50,
        )
    assert len(results) >= 10


@pytest.mark.parametrize("keys", [(20240101, 0), (0, 2**32 - 1, 739_000, 2), (2**32, 5), (2**40 + 3, 1, 2)])
def test_generators_are_seeded_exactly_as_from_the_plain_key_list(keys):
    import numpy as np

    from trading.sim.market import _rng

    plain = np.random.Generator(np.random.PCG64(list(keys)))
    assert _rng(*keys).bit_generator.state == plain.bit_generator.state


def test_asking_for_many_paths_when_the_cache_is_full_returns_every_one():
    from trading.sim.market import SyntheticMarket

    market = SyntheticMarket(seed=7, universe_size=30)
    market._cache_limit = 40
    early = date(2026, 11, 19)
    market.day_paths(list(market.symbols), early)  # cached first: the oldest entries
    market.day_paths(list(market.symbols), date(2026, 11, 20))
    again = market.day_paths(list(market.symbols), early)  # some evicted, some still cached
    assert list(again) == list(market.symbols) and all(path.session.day == early for path in again.values())


@hsettings(max_examples=40, deadline=None)
@given(
    day=st.sampled_from([date(2026, 11, 20), date(2026, 11, 27), date(2025, 3, 10)]),
    minute=st.integers(min_value=-30, max_value=420),
    scan_code=st.sampled_from(["TOP_PERC_GAIN", "TOP_PERC_LOSE", "MOST_ACTIVE"]),
    above_price=st.sampled_from([Decimal(0), Decimal(5), Decimal("20.5"), Decimal(300)]),
    above_volume=st.sampled_from([0, 100_000, 5_000_000]),
    max_results=st.integers(min_value=1, max_value=60),
)
def test_a_scan_of_whole_session_arrays_lists_what_the_scan_path_by_path_lists(
    day, minute, scan_code, above_price, above_volume, max_results
):
    broker = SimBroker(seed=20240101, universe_size=500)  # a scan reads the market only: no account
    at = sessions.session(day).open + timedelta(minutes=minute)
    asked = dict(at=at, scan_code=scan_code, above_price=above_price, above_volume=above_volume, max_results=max_results)  # fmt: skip
    assert broker.market.session_columns(day) is not None
    by_arrays = broker.scan(**asked)
    broker.market.session_columns = lambda day: None  # the same paths, read one by one
    try:
        assert broker.scan(**asked) == by_arrays
    finally:
        del broker.market.session_columns  # the market is shared by every broker of its seed


@hsettings(max_examples=25, deadline=None)
@given(
    day=st.sampled_from([date(2026, 11, 20), date(2026, 11, 27), date(2025, 3, 10)]),
    minute=st.integers(min_value=-30, max_value=420),
    extra=st.sampled_from([[], ["NOPE"], ["SPY"]]),
)
def test_quotes_read_together_are_the_quotes_read_one_by_one(day, minute, extra):
    market = SimBroker(seed=20240101, universe_size=500).market
    at = sessions.session(day).open + timedelta(minutes=minute)
    market.session_columns(sessions.session_at_or_before(at).day)  # held whole: read together
    symbols = [*market.symbols, *extra]
    together = market.quotes(symbols, at)
    assert list(together) == list(dict.fromkeys(symbols))
    assert together == {symbol: market.quote(symbol, at) for symbol in symbols}


MARKET_7 = SyntheticMarket(seed=7, universe_size=500)


def test_quoting_a_few_names_never_builds_the_whole_session():
    market = SyntheticMarket(seed=7, universe_size=500)
    at = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
    names = ["SPY", market.symbols[1], market.symbols[2]]
    assert market.quotes(names, at) == {name: MARKET_7.quote(name, at) for name in names}
    assert market._columns == {} and len(market._paths) == 3  # three paths built, not 500

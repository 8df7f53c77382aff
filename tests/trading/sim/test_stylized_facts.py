"""The synthetic market shows the stylized facts of real equity prices (see README, "The SIM
market"). A fast variant runs in `make test`; the thorough one (more symbols and years) under
the `thorough` marker, which `.ci/run` runs too."""

from datetime import date

import pytest

from trading.sim.facts import measure
from trading.sim.market import SyntheticMarket

SEED = 20240101


def _facts(*, years: int, symbols: int, intraday_days: int):
    market = SyntheticMarket(seed=SEED, universe_size=500)
    return measure(
        market, start=date(2026 - years, 1, 1), end=date(2025, 12, 31), symbols=symbols, intraday_days=intraday_days
    )


def _assert_stylized(facts) -> None:
    assert abs(facts.lag1_autocorrelation) <= 0.05, "daily returns are a random walk, with no built-in reversion"
    assert facts.excess_kurtosis >= 1, "fat tails"
    assert facts.volatility_clustering >= 0.1, "volatility clusters"
    assert 0.15 <= facts.pairwise_correlation <= 0.5, "stocks co-move through market and sector factors"
    assert 0.01 <= facts.liquid_daily_range <= 0.03, "the most liquid fifth ranges 1-3 % a day"
    assert facts.active_spread_bps <= 5, "the most active names quote a few basis points wide"
    assert facts.spy_spread_cents <= 2
    assert facts.volume_u_shape > 1.5, "volume is U-shaped through the session"
    assert abs(facts.gainers_t) < 2, "the 10:00 top gainers neither revert nor run on by the close"


def test_the_synthetic_market_has_the_stylized_facts_of_real_prices():
    facts = _facts(years=5, symbols=150, intraday_days=20)
    assert facts.symbols == 150 and facts.sessions >= 1250
    _assert_stylized(facts)


@pytest.mark.thorough
def test_the_stylized_facts_hold_over_more_symbols_and_years():
    _assert_stylized(_facts(years=10, symbols=300, intraday_days=60))

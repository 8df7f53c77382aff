"""The scorer: every kind of bad quote rejected with a reason, every good one scored 0–100."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from hypothesis import given
from hypothesis import strategies as st

from trading.brokers.base import Quote
from trading.scoring import Rejection, Score, ScoringConfig, score_quote

NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
CONFIG = ScoringConfig.from_settings(settings.TRADE_LABS_SCORING)


def quote(**fields):
    base = {
        "symbol": "ABC",
        "bid": Decimal("49.99"),
        "ask": Decimal("50.01"),
        "last": Decimal("50.00"),
        "volume": 10_000,
        "time": NOW,
    }
    base.update(fields)
    return Quote(**base)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"bid": None}, "missing bid"),
        ({"ask": None}, "missing ask"),
        ({"last": None}, "missing last"),
        ({"bid": Decimal("NaN")}, "bid is NaN"),
        ({"ask": Decimal("Infinity")}, "ask is infinite"),
        ({"last": Decimal("-Infinity")}, "last is infinite"),
        ({"bid": Decimal("0")}, "bid is zero"),
        ({"ask": Decimal("-1")}, "ask is negative"),
        ({"bid": Decimal("50.02")}, "crossed quote"),
        ({"bid": Decimal("50.01")}, "locked quote"),
        ({"time": NOW - timedelta(minutes=10)}, "stale quote"),
        ({"time": NOW + timedelta(minutes=10)}, "in the future"),
        ({"time": None}, "no timestamp"),
        ({"volume": -5}, "negative volume"),
        ({"bid": "abc"}, "not a number"),
        ({"bid": float("nan")}, "bid is NaN"),
        ({"error": "no market data permissions (354)"}, "no quote: no market data"),
    ],
)
def test_bad_quotes_are_rejected_with_a_reason(fields, reason):
    outcome = score_quote(quote(**fields), rank=1, now=NOW, config=CONFIG)
    assert isinstance(outcome, Rejection)
    assert reason in outcome.reason


def test_a_tight_mid_priced_top_ranked_quote_scores_near_100():
    outcome = score_quote(quote(), rank=1, now=NOW, config=CONFIG)
    assert isinstance(outcome, Score)
    assert outcome.price == Decimal("30.00") and outcome.rank == Decimal("30.00")
    assert outcome.spread == Decimal("40.00")  # 4 bps, inside the best band
    assert outcome.total == Decimal("100.00")


def test_breakdown_adds_up_and_rank_decays():
    first = score_quote(quote(), rank=1, now=NOW, config=CONFIG)
    tenth = score_quote(quote(), rank=10, now=NOW, config=CONFIG)
    assert tenth.rank < first.rank
    assert tenth.total == tenth.price + tenth.spread + tenth.rank
    assert tenth.rank == (Decimal(30) * Decimal("0.93") ** 9).quantize(Decimal("0.01"))


def test_price_outside_the_hard_band_scores_zero_for_price():
    outcome = score_quote(
        quote(bid=Decimal("0.50"), ask=Decimal("0.51"), last=Decimal("0.50")), rank=1, now=NOW, config=CONFIG
    )
    assert outcome.price == 0


def test_wide_spread_scores_zero_for_spread():
    outcome = score_quote(quote(bid=Decimal("45"), ask=Decimal("55")), rank=1, now=NOW, config=CONFIG)
    assert outcome.spread == 0


def test_weights_must_add_up_to_100():
    bad = {**settings.TRADE_LABS_SCORING, "weights": {"price": "50", "spread": "40", "rank": "30"}}
    with pytest.raises(ValueError, match="add up to 100"):
        ScoringConfig.from_settings(bad)


numbers = st.one_of(
    st.none(),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.text(max_size=8),
)


@given(
    bid=numbers,
    ask=numbers,
    last=numbers,
    volume=st.one_of(st.none(), st.integers(min_value=-(10**15), max_value=10**15)),
    age=st.integers(min_value=-(10**6), max_value=10**6),
    rank=st.integers(min_value=1, max_value=10**6),
)
def test_any_quote_is_either_rejected_or_scored_within_0_to_100(bid, ask, last, volume, age, rank):
    outcome = score_quote(
        Quote(symbol="X", bid=bid, ask=ask, last=last, volume=volume, time=NOW - timedelta(seconds=age)),
        rank=rank,
        now=NOW,
        config=CONFIG,
    )
    if isinstance(outcome, Rejection):
        assert outcome.reason
    else:
        assert Decimal(0) <= outcome.total <= Decimal(100)
        assert outcome.total == min(Decimal(100), outcome.price + outcome.spread + outcome.rank)


@given(
    mid=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100000"), places=2),
    spread=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100"), places=2),
)
def test_a_valid_quote_is_always_scored(mid, spread):
    outcome = score_quote(quote(bid=mid, ask=mid + spread, last=mid), rank=1, now=NOW, config=CONFIG)
    assert isinstance(outcome, Score)

"""The risk gate: sizing, and every limit that stops a new entry."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.factories import PositionFactory, TradeFactory
from trading.models import Candidate, Trade
from trading.services.pipeline import RunOptions, pipeline_run
from trading.services.risk import RiskConfig, plan_long_entry

pytestmark = pytest.mark.django_db


def _risk(settings, **changes):
    settings.TRADE_LABS_RISK = {**settings.TRADE_LABS_RISK, **changes}


def _skips(run):
    return list(run.candidates.filter(status=Candidate.Status.SKIPPED).values_list("reason", flat=True))


def test_notional_sizing_rounds_down_to_whole_shares(settings):
    config = RiskConfig.from_settings({**settings.TRADE_LABS_RISK, "notional_per_trade": "1000"})
    plan = plan_long_entry(ask=Decimal("33.00"), config=config)
    assert plan.quantity == 30
    assert plan.stop == Decimal("32.34") and plan.target == Decimal("34.32")


def test_risk_sizing_uses_distance_to_stop(settings):
    config = RiskConfig.from_settings(
        {**settings.TRADE_LABS_RISK, "sizing": "risk", "risk_per_trade": "100", "stop_pct": "2"}
    )
    plan = plan_long_entry(ask=Decimal("50.00"), config=config)
    assert plan.stop == Decimal("49.00") and plan.quantity == 100


def test_a_price_too_high_for_one_share_is_refused(settings):
    config = RiskConfig.from_settings({**settings.TRADE_LABS_RISK, "notional_per_trade": "10"})
    assert "zero shares" in plan_long_entry(ask=Decimal("50"), config=config)


def test_max_open_positions(settings, morning):
    _risk(settings, max_open_positions=2)
    run = pipeline_run(RunOptions(at=morning))
    assert run.trades.count() == 2
    assert _skips(run).count("max open positions reached (2)") == 3


def test_max_notional_per_order(settings, morning):
    _risk(settings, notional_per_trade="5000", max_order_notional="100")
    run = pipeline_run(RunOptions(at=morning))
    assert run.trades.count() == 0
    skips = _skips(run)
    assert len(skips) == 5 and all("exceeds max 100" in reason for reason in skips)


def test_max_gross_exposure_counts_what_is_already_held(settings, morning):
    PositionFactory(symbol="HELD", quantity=1000, average_cost=Decimal("40.00"))  # 40,000 held
    _risk(settings, max_gross_exposure="50000", notional_per_trade="5000")
    run = pipeline_run(RunOptions(at=morning))
    assert run.trades.count() == 2  # 40k + 2 x ~5k fits under 50k, the third would not
    assert any("gross exposure would be" in reason for reason in _skips(run))


def test_daily_loss_limit_halts_new_entries(settings, morning):
    TradeFactory(
        status=Trade.Status.CLOSED,
        realized_pnl=Decimal("-1200.00"),
        exit_time=datetime(2026, 11, 20, 15, 0, tzinfo=UTC),
    )
    _risk(settings, daily_loss_limit="1000")
    run = pipeline_run(RunOptions(at=morning))
    assert run.trades.count() == 0
    assert all(reason.startswith("new entries halted: daily loss limit reached") for reason in _skips(run))
    assert len(_skips(run)) == 5


def test_yesterdays_loss_does_not_count_today(settings, morning):
    TradeFactory(
        status=Trade.Status.CLOSED,
        realized_pnl=Decimal("-5000.00"),
        exit_time=datetime(2026, 11, 19, 20, 0, tzinfo=UTC),
    )
    _risk(settings, daily_loss_limit="1000")
    assert pipeline_run(RunOptions(at=morning)).trades.count() == 5


def test_min_score_leaves_candidates_unexecuted(settings, morning):
    _risk(settings, min_score="99.5")
    run = pipeline_run(RunOptions(at=morning))
    assert run.trades.count() == 0
    accepted = run.candidates.filter(status=Candidate.Status.ACCEPTED)
    assert accepted.exists() and all("below minimum 99.5" in c.reason for c in accepted)


def test_the_database_refuses_two_live_trades_in_one_symbol():
    from django.db import IntegrityError, transaction

    TradeFactory(symbol="DUP", status=Trade.Status.OPEN, exit_price=None, exit_time=None, realized_pnl=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        TradeFactory(symbol="DUP", status=Trade.Status.PENDING, exit_price=None, exit_time=None, realized_pnl=None)


def test_the_daily_loss_counts_held_positions_at_the_runs_own_prices(settings, morning):
    # Marked flat a while ago, but SPY trades far below this cost now: the loss is real at once.
    PositionFactory(symbol="SPY", quantity=10, average_cost=Decimal("1000.00"), unrealized_pnl=Decimal("0.00"))
    _risk(settings, daily_loss_limit="1000", max_gross_exposure="1000000")
    run = pipeline_run(RunOptions(at=morning))
    assert run.trades.count() == 0
    assert all(reason.startswith("new entries halted: daily loss limit reached") for reason in _skips(run))


def test_a_held_position_without_a_quote_keeps_its_last_mark(settings, morning):
    PositionFactory(symbol="NOQUOTE", quantity=10, average_cost=Decimal("50.00"), unrealized_pnl=Decimal("-1500.00"))
    _risk(settings, daily_loss_limit="1000", max_gross_exposure="1000000")
    run = pipeline_run(RunOptions(at=morning))
    assert run.trades.count() == 0
    assert all("daily loss limit reached" in reason for reason in _skips(run))

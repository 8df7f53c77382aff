"""Nothing is sent twice: retries, crashes and re-runs adopt what the broker holds."""

import pytest

from trading.brokers import brokers
from trading.brokers.base import BrokerError
from trading.models import Candidate, Order, PipelineRun, Trade
from trading.services.books import book_default, book_named
from trading.services.pipeline import (
    RunOptions,
    _Bracket,
    _bracket_for,
    _execute_brackets,
    pipeline_retry,
    pipeline_run,
)
from trading.services.risk import RiskConfig, plan_long_entry
from trading.sim.models import SimExecution, SimOrder

pytestmark = pytest.mark.django_db


def test_executing_the_same_candidate_again_sends_nothing_new(morning, settings):
    run = pipeline_run(RunOptions(at=morning, top_n=1))
    candidate = run.candidates.get(status=Candidate.Status.EXECUTED)
    plan = plan_long_entry(ask=candidate.ask, config=RiskConfig.from_settings(settings.TRADE_LABS_RISK))
    before = SimOrder.objects.count()
    again = [_Bracket(candidate, _bracket_for(run, candidate, plan))]
    with brokers.create("default") as broker:
        assert _execute_brackets(run, broker, again, dry_run=False, moment=morning) == []
    assert SimOrder.objects.count() == before
    assert Trade.objects.count() == 1


def _crash_after_send(run, candidate, settings, morning):
    """Record the intent and send it, then 'crash' before the acknowledgement is recorded."""
    from trading.services.book import trade_record_intent

    plan = plan_long_entry(ask=candidate.ask, config=RiskConfig.from_settings(settings.TRADE_LABS_RISK))
    bracket = _bracket_for(run, candidate, plan)
    trade = trade_record_intent(run=run, candidate=candidate, bracket=bracket, backend="sim", dry_run=False)
    with brokers.create("default") as broker:
        broker.place_bracket(bracket, at=morning)
    return trade


def test_a_crash_between_send_and_record_is_adopted_by_the_next_run(morning, settings):
    crashed = pipeline_run(RunOptions(at=morning, top_n=1))
    candidate = crashed.candidates.filter(status=Candidate.Status.ACCEPTED).order_by("-score").first()
    trade = _crash_after_send(crashed, candidate, settings, morning)
    assert set(trade.orders.values_list("status", flat=True)) == {Order.Status.INTENT}
    sent = SimOrder.objects.filter(symbol=candidate.symbol).count()

    follow_up = pipeline_run(RunOptions(at=morning))

    trade.refresh_from_db()
    assert trade.status == Trade.Status.OPEN, "the order the broker holds is adopted"
    assert trade.orders.get(leg="entry").status == Order.Status.FILLED
    assert SimOrder.objects.filter(symbol=candidate.symbol).count() == sent == 3
    assert SimExecution.objects.filter(symbol=candidate.symbol).count() == 1
    assert not follow_up.trades.filter(symbol=candidate.symbol).exists()


def test_an_intent_that_never_left_is_released_not_sent(morning, settings):
    from trading.services.book import trade_record_intent

    run = pipeline_run(RunOptions(at=morning, top_n=1))
    candidate = run.candidates.filter(status=Candidate.Status.ACCEPTED).order_by("-score").first()
    plan = plan_long_entry(ask=candidate.ask, config=RiskConfig.from_settings(settings.TRADE_LABS_RISK))
    trade = trade_record_intent(
        run=run, candidate=candidate, bracket=_bracket_for(run, candidate, plan), backend="sim", dry_run=False
    )

    pipeline_retry(run_id=run.run_id)

    trade.refresh_from_db()
    assert trade.status == Trade.Status.CANCELLED
    assert set(trade.orders.values_list("status", flat=True)) <= {Order.Status.NOT_SENT, Order.Status.CANCELLED}
    assert not SimOrder.objects.filter(symbol=candidate.symbol).exists()


def test_retrying_a_run_sends_no_duplicate_orders(morning):
    run = pipeline_run(RunOptions(at=morning))
    before = SimOrder.objects.count()
    pipeline_retry(run_id=run.run_id)
    pipeline_retry(run_id=run.run_id)
    assert SimOrder.objects.count() == before
    assert Order.objects.count() == before


def test_the_broker_refuses_a_second_order_with_the_same_ref(morning):
    run = pipeline_run(RunOptions(at=morning, top_n=1))
    entry = Order.objects.get(leg="entry")
    trade = entry.trade
    from trading.brokers.base import BracketRequest, OrderRequest

    legs = [
        OrderRequest(o.client_order_ref, o.leg, o.symbol, o.side, o.order_type, o.quantity, o.limit_price, o.stop_price)
        for o in trade.orders.order_by("id")
    ]
    with brokers.create("default") as broker:
        result = broker.place_bracket(BracketRequest(*legs), at=morning)
    assert [s.order_ref for s in result.orders] == [leg.order_ref for leg in legs]
    assert SimOrder.objects.count() == 3
    assert run.status == PipelineRun.Status.SUCCEEDED


def test_a_send_with_unknown_outcome_keeps_the_intent_for_recovery(morning, settings):
    from trading.brokers.sim import SimBroker

    class TimesOutAfterSending(SimBroker):
        def place_bracket(self, bracket, *, at):
            super().place_bracket(bracket, at=at)
            raise BrokerError("timed out waiting for acknowledgement")

    import sys

    module = sys.modules[__name__]
    module.TimesOutAfterSending = TimesOutAfterSending
    settings.BROKERS = {
        **settings.BROKERS,
        "flaky": {
            "BACKEND": f"{__name__}.TimesOutAfterSending",
            "OPTIONS": {**settings.BROKERS["sim"]["OPTIONS"], "account": "SIM-T-" + __name__[-20:]},
        },
    }

    run = pipeline_run(book=book_named("flaky"), options=RunOptions(at=morning, top_n=1))
    assert run.status == PipelineRun.Status.PARTIAL
    assert "outcome unknown" in run.error
    candidate = run.candidates.get(status=Candidate.Status.FAILED)
    assert "adopts or releases" in candidate.reason
    assert set(Order.objects.values_list("status", flat=True)) == {Order.Status.INTENT}

    pipeline_run(RunOptions(at=morning, top_n=1), book=run.book)  # the next run, on the same SIM broker, adopts it
    trade = Trade.objects.get(symbol=candidate.symbol)
    assert trade.status == Trade.Status.OPEN
    assert SimOrder.objects.filter(symbol=candidate.symbol).count() == 3


def test_run_pipeline_retry_command_resolves_intents_and_sends_nothing(morning, settings):
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from trading.services.book import trade_record_intent

    run = pipeline_run(RunOptions(at=morning, top_n=1))
    candidate = run.candidates.filter(status=Candidate.Status.ACCEPTED).order_by("-score").first()
    plan = plan_long_entry(ask=candidate.ask, config=RiskConfig.from_settings(settings.TRADE_LABS_RISK))
    trade_record_intent(
        run=run, candidate=candidate, bracket=_bracket_for(run, candidate, plan), backend="sim", dry_run=False
    )
    before = SimOrder.objects.count()
    out = StringIO()
    call_command("run_pipeline", "--retry", str(run.run_id), "--json", stdout=out)
    assert SimOrder.objects.count() == before
    assert not Order.objects.filter(status=Order.Status.INTENT).exists()
    with pytest.raises(CommandError, match="no run"):
        call_command("run_pipeline", "--retry", "not-a-uuid", stdout=StringIO())


def _intents_of_a_run_alive_in_this_process(morning, settings):
    """A run that is still running here (this process, a current lease) with a recorded intent."""
    from datetime import timedelta

    from django.utils import timezone

    from trading.services.book import trade_record_intent
    from trading.services.runs import current_worker

    finished = pipeline_run(RunOptions(at=morning, top_n=1))
    candidate = finished.candidates.filter(status=Candidate.Status.ACCEPTED).order_by("-score").first()
    live = PipelineRun.objects.create(
        book=book_default(),
        backend="sim",
        broker_alias="sim",
        status=PipelineRun.Status.RUNNING,
        lease_expires_at=timezone.now() + timedelta(minutes=5),
        parameters={"worker": current_worker()},
    )
    plan = plan_long_entry(ask=candidate.ask, config=RiskConfig.from_settings(settings.TRADE_LABS_RISK))
    bracket = _bracket_for(live, candidate, plan)
    trade_record_intent(run=live, candidate=None, bracket=bracket, backend="sim", dry_run=False)
    return live


def test_retry_of_a_run_that_is_alive_is_refused_and_releases_nothing(morning, settings):
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    live = _intents_of_a_run_alive_in_this_process(morning, settings)
    with pytest.raises(CommandError, match=f"run {live.short_id} is still running .*process .* is alive"):
        call_command("run_pipeline", "--retry", str(live.run_id), stdout=StringIO())
    assert set(live.orders.values_list("status", flat=True)) == {Order.Status.INTENT}


def test_recovery_for_another_run_leaves_a_live_run_s_intents_alone(morning, settings):
    live = _intents_of_a_run_alive_in_this_process(morning, settings)
    earlier = PipelineRun.objects.exclude(pk=live.pk).get()
    pipeline_retry(run_id=earlier.run_id)
    assert set(live.orders.values_list("status", flat=True)) == {Order.Status.INTENT}


def test_retry_goes_to_the_run_s_own_broker_alias(morning):
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    run = pipeline_run(RunOptions(at=morning, top_n=1))
    assert run.broker_alias == "sim"
    with pytest.raises(CommandError, match="retried there, not on 'ib'"):
        call_command("run_pipeline", "--retry", str(run.run_id), "--backend", "ib", stdout=StringIO())

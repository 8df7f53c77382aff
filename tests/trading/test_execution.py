"""Executing the chosen brackets together: every intent before the first send, then the
broker's answers recorded at once; one bracket's trouble stays with its own candidate."""

import pytest

from trading.brokers.base import BrokerError, SafetyError
from trading.brokers.sim import SimBroker
from trading.models import Candidate, Fill, Order, PipelineRun, Trade
from trading.services.books import book_default, book_named
from trading.services.pipeline import RunOptions, pipeline_run
from trading.sim.models import SimExecution, SimOrder

pytestmark = pytest.mark.django_db


class RejectsTheThird(SimBroker):
    """The broker refuses the third bracket it is sent, for good."""

    sent = 0

    def place_bracket(self, bracket, *, at):
        type(self).sent += 1
        if type(self).sent == 3:
            raise BrokerError("order rejected: no shares to borrow", permanent=True)
        return super().place_bracket(bracket, at=at)


class RefusesTheThird(RejectsTheThird):
    """A safety refusal at the third bracket: nothing after it may be sent."""

    def place_bracket(self, bracket, *, at):
        if type(self).sent == 2:
            type(self).sent += 1
            raise SafetyError("the account turned out not to be a paper account")
        return super().place_bracket(bracket, at=at)


@pytest.fixture
def broker_alias(settings):
    def install(cls):
        cls.sent = 0
        settings.BROKERS = {
            **settings.BROKERS,
            "odd": {
                "BACKEND": f"{__name__}.{cls.__name__}",
                "OPTIONS": {**settings.BROKERS["sim"]["OPTIONS"], "account": "SIM-T-" + __name__[-20:]},
            },
        }
        return "odd"

    return install


def test_every_intent_is_recorded_before_the_first_order_leaves(morning, settings):
    seen = []

    class Watching(SimBroker):
        def place_bracket(self, bracket, *, at):
            seen.append(Order.objects.filter(leg=Order.Leg.ENTRY).count())
            return super().place_bracket(bracket, at=at)

    globals()["Watching"] = Watching
    settings.BROKERS = {
        **settings.BROKERS,
        "watching": {
            "BACKEND": f"{__name__}.Watching",
            "OPTIONS": {**settings.BROKERS["sim"]["OPTIONS"], "account": "SIM-T-" + __name__[-20:]},
        },
    }
    run = pipeline_run(book=book_named("watching"), options=RunOptions(at=morning))
    assert run.status == PipelineRun.Status.SUCCEEDED, run.error
    assert seen == [5, 5, 5, 5, 5]


def test_a_rejected_bracket_fails_its_candidate_and_the_others_execute(morning, broker_alias):
    run = pipeline_run(book=book_named(broker_alias(RejectsTheThird)), options=RunOptions(at=morning))

    assert run.status == PipelineRun.Status.PARTIAL and "no shares to borrow" in run.error
    failed = run.candidates.get(status=Candidate.Status.FAILED)
    assert failed.reason.startswith("rejected by broker")
    assert run.candidates.filter(status=Candidate.Status.EXECUTED).count() == run.executed_count == 4
    assert Trade.objects.get(symbol=failed.symbol).status == Trade.Status.REJECTED
    assert Trade.objects.filter(status=Trade.Status.OPEN).count() == 4
    assert not Order.objects.filter(status=Order.Status.INTENT).exists()
    assert Fill.objects.count() == SimExecution.objects.count() == 4


def test_a_safety_refusal_stops_sending_but_what_was_sent_is_recorded(morning, broker_alias):
    run = pipeline_run(book=book_named(broker_alias(RefusesTheThird)), options=RunOptions(at=morning))

    assert run.status == PipelineRun.Status.FAILED and "refused" in run.error
    assert Trade.objects.filter(status=Trade.Status.OPEN).count() == 2, "the two sent are in the book"
    assert Fill.objects.count() == SimExecution.objects.count() == 2
    assert SimOrder.objects.filter(parent=None).count() == 2, "nothing after the refusal was sent"
    unsent = Order.objects.filter(status=Order.Status.INTENT)
    assert unsent.count() == 9  # three brackets' intents, never sent

    pipeline_run(RunOptions(at=morning), book=run.book)  # the next run releases them, and sends nothing twice
    assert not Order.objects.filter(status=Order.Status.INTENT).exists()
    refs = list(SimOrder.objects.values_list("order_ref", flat=True))
    assert len(refs) == len(set(refs))


def test_an_intent_that_clashes_with_the_book_skips_only_its_candidate(morning, settings):
    from trading.brokers import brokers
    from trading.services.pipeline import _Bracket, _bracket_for, _execute_brackets, run_start
    from trading.services.risk import RiskConfig, plan_long_entry

    first = pipeline_run(RunOptions(at=morning, top_n=1))
    chosen = list(first.candidates.filter(status=Candidate.Status.ACCEPTED).order_by("-score")[:2])
    run = run_start(book=book_default(), backend="sim", armed=False, trigger="manual", parameters={})
    config = RiskConfig.from_settings(settings.TRADE_LABS_RISK)
    planned = [_Bracket(c, _bracket_for(run, c, plan_long_entry(ask=c.ask, config=config))) for c in chosen]
    # Something already holds the second bracket's stop ref (not its entry's): its intent cannot be stored.
    Order.objects.create(
        book=book_default(),
        client_order_ref=planned[1].request.stop.order_ref,
        backend="sim",
        symbol="ZZZ",
        leg="exit",
        quantity=1,
    )

    with brokers.create("default") as broker:
        assert _execute_brackets(run, broker, planned, dry_run=False, moment=morning) == []

    chosen[0].refresh_from_db()
    chosen[1].refresh_from_db()
    assert chosen[0].status == Candidate.Status.EXECUTED
    assert chosen[1].status == Candidate.Status.SKIPPED and chosen[1].reason.startswith("not recorded")
    assert run.trades.count() == 1 and not SimOrder.objects.filter(symbol=chosen[1].symbol).exists()

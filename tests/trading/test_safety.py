"""PAPER only, ARMED before anything reaches a real broker, live accounts refused."""

from io import StringIO

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.arming import arm_books
from trading.brokers.base import SafetyError
from trading.models import Order, PipelineRun, Trade
from trading.services.books import book_named
from trading.services.pipeline import RunOptions, pipeline_run

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("mode", ["LIVE", "live", "", "PAPERX"])
def test_any_mode_but_paper_is_refused_before_anything_is_recorded(settings, mode):
    settings.TRADE_LABS_MODE = mode
    with pytest.raises(CommandError, match="only"):
        call_command("run_pipeline", "--at", "2026-11-20T10:30", stdout=StringIO())
    assert not PipelineRun.objects.exists()


def test_live_mode_fails_the_system_check(settings):
    settings.TRADE_LABS_MODE = "LIVE"
    errors = [e for e in checks.run_checks() if e.id == "trading.E002"]
    assert errors and "only PAPER" in errors[0].msg


def test_unarmed_real_broker_sends_nothing_and_fills_locally(real_broker, settings, morning):
    settings.TRADE_LABS_ARMED = False
    run = pipeline_run(book=book_named("real"), options=RunOptions(at=morning))
    assert run.status == PipelineRun.Status.SUCCEEDED, run.error
    assert run.dry_run is True and run.armed is False
    assert real_broker.placed == []
    trades = run.trades.all()
    assert trades.count() == 5 and all(t.dry_run and t.status == Trade.Status.OPEN for t in trades)
    assert all(f.exec_id.startswith("DRY-") for o in Order.objects.filter(leg="entry") for f in o.fills.all())


def test_armed_real_broker_on_a_paper_account_sends(real_broker, settings, morning):
    arm_books(settings, "real")
    run = pipeline_run(book=book_named("real"), options=RunOptions(at=morning))
    assert run.armed is True and run.dry_run is False
    assert len(real_broker.placed) == 5


@pytest.mark.parametrize("armed", [True, False])
def test_a_live_account_is_refused_armed_or_not(real_broker, settings, morning, armed):
    settings.TRADE_LABS_ARMED = armed
    run = pipeline_run(book=book_named("live"), options=RunOptions(at=morning))
    assert run.status == PipelineRun.Status.FAILED
    assert "not a paper account" in run.error and "refused" in run.error
    assert real_broker.placed == [] and not Trade.objects.exists()


def test_sim_needs_no_arming(settings, morning):
    settings.TRADE_LABS_ARMED = False
    run = pipeline_run(RunOptions(at=morning))
    assert run.dry_run is False and run.trades.filter(dry_run=False).count() == 5


def test_safety_error_is_never_retryable():
    assert SafetyError("no").permanent is True


def test_unknown_backend_alias_is_a_clear_configuration_error():
    from trading.brokers import InvalidBrokerError, brokers

    with pytest.raises(InvalidBrokerError, match="nope"):
        brokers.create("nope")

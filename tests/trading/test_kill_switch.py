"""The kill switch: disarm, cancel working entries, optionally flatten; safe twice, recorded."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.arming import arm_books
from tests.trading.test_closing import _bracket_out_of_reach, armed_real_trade  # noqa: F401 - a fixture
from trading.brokers import brokers
from trading.brokers.base import SafetyError, kill_switch_in_progress
from trading.models import KillSwitchUse, Trade
from trading.services.arming import arm_active
from trading.services.books import book_named
from trading.services.kill_switch import kill_switch
from trading.sim.models import SimOrder

pytestmark = pytest.mark.django_db


def test_it_disarms_and_flattens_through_the_broker_that_opened_each_trade(armed_real_trade, real_broker):  # noqa: F811
    _bracket_out_of_reach(armed_real_trade)
    book = book_named("real")
    result = kill_switch(book=book, by="tester", flatten=True)
    armed_real_trade.refresh_from_db()
    assert result.problems == []
    assert arm_active(book=book) is None, "disarmed first"
    assert armed_real_trade.status == Trade.Status.CLOSED and armed_real_trade.exit_reason == Trade.ExitReason.MANUAL
    assert SimOrder.objects.filter(account__account_id="DU111", order_ref__startswith="TL-close-").count() == 1
    assert (result.use.disarmed, result.use.closed) == (1, 1)

    again = kill_switch(book=book, by="tester", flatten=True)
    assert (again.use.disarmed, again.use.cancelled, again.use.closed, again.problems) == (0, 0, 0, [])
    assert KillSwitchUse.objects.filter(book=book).count() == 2


def test_without_the_master_switch_it_says_what_it_could_not_do(armed_real_trade, settings):  # noqa: F811
    _bracket_out_of_reach(armed_real_trade)
    settings.TRADE_LABS_ARMED = False
    out = StringIO()
    with pytest.raises(CommandError, match=f"trade {armed_real_trade.pk}: not closed: .*TRADE_LABS_ARMED is not 1"):
        call_command("kill_switch", "--book", "real", "--flatten", stdout=out)
    assert "Kill switch on book real: disarmed, 0 working entries cancelled, 0 open trades closed" in out.getvalue()
    armed_real_trade.refresh_from_db()
    assert armed_real_trade.status == Trade.Status.OPEN
    assert KillSwitchUse.objects.get().problems.startswith(f"trade {armed_real_trade.pk}: not closed")


def test_only_the_kill_switch_passes_the_gate_without_an_arm(real_broker, settings):
    arm_books(settings, "real")
    book = book_named("real")
    kill_switch(book=book, by="tester")
    with brokers.create_for(book) as broker:
        with pytest.raises(SafetyError, match="not armed"):
            broker.cancel_order("TL-none")
        with kill_switch_in_progress():
            broker.cancel_order("TL-none")  # the gate lets it through; SIM has no such order


def test_a_sim_book_needs_no_arm_and_without_flatten_keeps_its_trades(morning):
    from trading.services.pipeline import RunOptions, pipeline_run

    run = pipeline_run(RunOptions(at=morning, top_n=2))
    out = StringIO()
    call_command("kill_switch", stdout=out)
    assert out.getvalue().startswith("Kill switch on book sim: was not armed, 0 working entries cancelled")
    assert run.trades.filter(status=Trade.Status.OPEN).count() == 2


def test_the_admin_asks_before_it_acts(real_broker, settings, staff_client):
    arm_books(settings, "real")
    book = book_named("real")
    page = staff_client.post("/admin/trading/book/", {"action": "kill_switch", "_selected_action": [book.pk]})
    assert page.status_code == 200 and b"Use the kill switch" in page.content
    assert arm_active(book=book) is not None, "nothing done before the confirmation"
    staff_client.post("/admin/trading/book/", {"action": "kill_switch", "_selected_action": [book.pk], "confirm": "1"})
    assert arm_active(book=book) is None and KillSwitchUse.objects.get().used_by == "reviewer (admin)"

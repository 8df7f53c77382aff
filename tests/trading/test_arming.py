"""Two-key arming: the environment makes it possible, a person arms a book until a moment."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.arming import arm_books
from tests.trading.conftest import RealLookingBroker
from tests.trading.test_closing import _bracket_out_of_reach, armed_real_trade  # noqa: F401 - a fixture
from trading.models import ArmRecord, Trade
from trading.services.arming import ArmingRefused, arm_active, book_arm, book_disarm, default_arm_until
from trading.services.books import book_named
from trading.services.pipeline import RunOptions, pipeline_run

pytestmark = pytest.mark.django_db


def _call(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_the_environment_alone_no_longer_arms(real_broker, settings, morning):
    settings.TRADE_LABS_ARMED = True  # the master switch, but nobody armed the book
    run = pipeline_run(book=book_named("real"), options=RunOptions(at=morning))
    assert run.armed is False and run.dry_run is True and run.arm is None
    assert real_broker.placed == []


def test_both_keys_send_and_the_run_names_its_arm(real_broker, settings, morning):
    arm_books(settings, "real")
    run = pipeline_run(book=book_named("real"), options=RunOptions(at=morning, top_n=2))
    assert run.armed is True and run.dry_run is False
    assert run.arm.armed_by == "test" and run.arm.book.name == "real"
    assert len(real_broker.placed) == 2


def test_an_arm_that_ends_mid_run_stops_the_rest_of_its_orders(real_broker, settings, morning, monkeypatch):
    arm_books(settings, "real")
    place = RealLookingBroker.place_bracket

    def place_then_disarm(self, bracket, *, at):
        result = place(self, bracket, at=at)
        book_disarm(book=book_named("real"), by="the clock", reason="expired")
        return result

    monkeypatch.setattr(RealLookingBroker, "place_bracket", place_then_disarm)
    run = pipeline_run(book=book_named("real"), options=RunOptions(at=morning, top_n=3))
    assert len(real_broker.placed) == 1
    assert "is not armed" in run.error and run.trades.filter(dry_run=False).exclude(status="pending").count() == 1


def test_arm_and_disarm_commands_keep_an_audit_trail(real_broker, settings):
    settings.TRADE_LABS_ARMED = True
    text = _call("arm", "--book", "real", "--minutes", "30", "--reason", "trying the new scoring")
    assert text.startswith("Book real armed until ")
    record = ArmRecord.objects.get()
    assert record.reason == "trying the new scoring" and "(command line)" in record.armed_by
    assert timedelta(minutes=29) < record.until - record.armed_at <= timedelta(minutes=30)
    assert arm_active(book=book_named("real")) == record
    assert _call("disarm", "--book", "real", "--reason", "done") == "Book real disarmed\n"
    assert _call("disarm", "--book", "real") == "Book real was not armed; nothing to do\n"
    record.refresh_from_db()
    assert record.disarmed_at is not None and record.disarm_reason == "done"
    assert arm_active(book=book_named("real")) is None


@pytest.mark.parametrize(
    ("environment", "book", "args", "refusal"),
    [
        (False, "real", ["--minutes", "5"], "TRADE_LABS_ARMED is not 1"),
        (True, "sim", ["--minutes", "5"], "simulated"),
        (True, "real", ["--minutes", "0"], "must be positive"),
        (True, "real", ["--until", "25:99"], "use HH:MM"),
        (True, "real", ["--minutes", str(8 * 24 * 60)], "at most 7 days"),
    ],
)
def test_arming_refusals_are_one_clear_line(real_broker, settings, environment, book, args, refusal):
    settings.TRADE_LABS_ARMED = environment
    with pytest.raises(CommandError, match=refusal):
        _call("arm", "--book", book, *args)
    assert not ArmRecord.objects.exists()


def test_the_default_arm_lasts_until_todays_close():
    morning = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
    assert default_arm_until(now=morning) == datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
    with pytest.raises(ArmingRefused, match="no NYSE session left today"):
        default_arm_until(now=datetime(2026, 11, 20, 21, 30, tzinfo=UTC))


def test_an_expired_arm_is_not_in_force(real_broker, settings):
    settings.TRADE_LABS_ARMED = True
    now = timezone.now()
    book_arm(book=book_named("real"), by="test", until=now + timedelta(minutes=5), now=now)
    assert arm_active(book=book_named("real"), now=now + timedelta(minutes=4)) is not None
    assert arm_active(book=book_named("real"), now=now + timedelta(minutes=5)) is None


def test_a_superuser_disarms_in_the_admin_and_the_trail_says_who(real_broker, settings, staff_client):
    arm_books(settings, "real")
    book = book_named("real")
    response = staff_client.post(
        "/admin/trading/book/", {"action": "disarm", "_selected_action": [book.pk]}, follow=True
    )
    assert response.status_code == 200 and arm_active(book=book) is None
    assert ArmRecord.objects.get().disarmed_by == "reviewer (admin)"
    assert b"ARMED" not in staff_client.get("/admin/").content


def test_a_trade_sent_while_armed_is_not_closed_after_disarming_and_nothing_changes(armed_real_trade):  # noqa: F811
    _bracket_out_of_reach(armed_real_trade)
    book_disarm(book=book_named("real"), by="tester")
    with pytest.raises(CommandError, match="book real is not armed .*the stop and target stay working"):
        call_command("close_trade", str(armed_real_trade.pk), "--at", "2026-11-20T10:35", stdout=StringIO())
    armed_real_trade.refresh_from_db()
    assert armed_real_trade.status == Trade.Status.OPEN
    assert set(armed_real_trade.orders.exclude(leg="entry").values_list("status", flat=True)) == {"working"}

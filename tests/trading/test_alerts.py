"""Alerts: delivered to a local SMTP server and a local webhook, recorded whatever happens,
never breaking the job that raised them, sent once per thing that happened."""

import json
import socket
import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from reconciliation.services import reconciliation_run
from tests.arming import arm_books
from tests.factories import FillFactory, TradeFactory
from tests.schedule.conftest import new_york, schedule_settings  # noqa: F401 - a fixture
from trading.alerts import alert_raise
from trading.models import Alert, PipelineRun, Trade
from trading.schedule.models import Job
from trading.schedule.services import job_run
from trading.services.books import book_create, book_named
from trading.services.kill_switch import kill_switch
from trading.services.pipeline import RunOptions, pipeline_run
from trading.services.replay import replay_run

pytestmark = pytest.mark.django_db


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append((envelope.rcpt_tos, envelope.content.decode()))
        return "250 OK"


@pytest.fixture
def smtp(settings):
    """A real SMTP server on 127.0.0.1; Django's SMTP backend delivers to it."""
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.TRADE_LABS_ALERT_EMAILS = ["trader@example.com"]
    yield inbox
    controller.stop()


@pytest.fixture
def webhook(settings):
    """A local HTTP receiver for apprise's json:// webhook."""
    received = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.TRADE_LABS_ALERT_URLS = [f"json://127.0.0.1:{server.server_address[1]}/alerts"]
    yield received
    server.shutdown()
    server.server_close()


def test_an_alert_reaches_the_mail_server_and_the_webhook_and_says_so(smtp, webhook):
    alert = alert_raise(event=Alert.Event.SCAN_MISSED, title="Opening scan of 2026-11-20 missed", body="late")
    assert alert.delivered is True
    assert alert.outcome.splitlines() == ["json://… sent", "email to trader@example.com sent"]
    assert webhook[0]["title"] == "[Trade Labs] Opening scan of 2026-11-20 missed" and webhook[0]["message"] == "late"
    recipients, content = smtp.messages[0]
    assert recipients == ["trader@example.com"] and "Subject: [Trade Labs] Opening scan of 2026-11-20 missed" in content


def test_a_place_that_fails_is_recorded_and_the_caller_goes_on(settings):
    settings.TRADE_LABS_ALERT_URLS = [f"json://127.0.0.1:{_free_port()}/nobody", "nonsense://x"]
    settings.TRADE_LABS_ALERT_EMAILS = ["trader@example.com"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", _free_port()
    alert = alert_raise(event=Alert.Event.JOB_FAILED, title="Reconciliation failed")
    assert alert.delivered is False
    lines = alert.outcome.splitlines()
    assert lines[0] == "json://… not accepted (see the log)"
    assert lines[1] == "nonsense://… not a URL apprise understands"
    assert lines[2].startswith("email to trader@example.com failed: ConnectionRefusedError")


def test_a_repeat_inside_the_window_is_counted_not_resent(webhook):
    first = alert_raise(event=Alert.Event.BROKER_DOWN, title="broker ib unreachable", key="broker-down:ib")
    assert alert_raise(event=Alert.Event.BROKER_DOWN, title="broker ib unreachable", key="broker-down:ib") is None
    first.refresh_from_db()
    assert first.repeats == 1 and len(webhook) == 1 and Alert.objects.count() == 1


def test_a_discrepancy_alerts_once_not_at_every_reconciliation():
    FillFactory(
        order__trade__symbol="GHOST", order__trade__status=Trade.Status.OPEN, order__trade__exit_time=None,
        order__trade__exit_price=None, order__trade__realized_pnl=None, quantity=10,
    )  # fmt: skip
    reconciliation_run()
    reconciliation_run()
    alerts = Alert.objects.filter(event=Alert.Event.DISCREPANCY)
    assert alerts.count() == 1 and "GHOST" in alerts.get().title


def test_a_failed_run_and_a_loss_halt_alert(settings, morning):
    TradeFactory(realized_pnl=Decimal("-1200.00"), exit_time=datetime(2026, 11, 20, 15, 0, tzinfo=UTC))
    settings.TRADE_LABS_RISK = {**settings.TRADE_LABS_RISK, "daily_loss_limit": "1000"}
    pipeline_run(RunOptions(at=morning))
    pipeline_run(RunOptions(at=morning))
    halts = Alert.objects.filter(event=Alert.Event.LOSS_HALT)
    assert halts.count() == 1 and "halted on 2026-11-20" in halts.get().title
    settings.TRADE_LABS_SCANNER = {**settings.TRADE_LABS_SCANNER, "scan_code": "BOGUS"}
    failed = pipeline_run(RunOptions(at=morning))
    assert Alert.objects.get(event=Alert.Event.RUN_FAILED).key == f"run:{failed.run_id}"


def test_a_missed_scan_alerts(schedule_settings):  # noqa: F811 - the fixture imported above
    job_run(job=Job.MIDDAY_SCAN, intended=new_york(2026, 11, 20, 12, 0), now=new_york(2026, 11, 20, 12, 11))
    assert Alert.objects.get(event=Alert.Event.SCAN_MISSED).title == "Mid-day scan of 2026-11-20 missed"


def test_arming_disarming_and_the_kill_switch_alert(real_broker, settings):
    arm_books(settings, "real")
    kill_switch(book=book_named("real"), by="tester")
    assert list(Alert.objects.order_by("id").values_list("event", flat=True)) == ["armed", "disarmed", "kill_switch"]


def test_a_replay_alerts_nobody(settings, morning):
    settings.TRADE_LABS_SCANNER = {**settings.TRADE_LABS_SCANNER, "scan_code": "BOGUS"}  # every scan fails
    book = book_create(name="quiet", broker_alias="sim")
    replay_run(book=book, start=date(2026, 11, 16), end=date(2026, 11, 16))
    assert PipelineRun.objects.filter(book=book, status=PipelineRun.Status.FAILED).count() == 2
    assert not Alert.objects.exists()
    pipeline_run(RunOptions(at=morning))  # the same failure outside a replay does alert
    assert Alert.objects.filter(event=Alert.Event.RUN_FAILED).count() == 1


def test_the_preflight_before_a_scan_alerts_when_the_broker_is_down(schedule_settings):  # noqa: F811
    ready = job_run(
        job=Job.OPENING_PREFLIGHT, intended=new_york(2026, 11, 20, 9, 25), now=new_york(2026, 11, 20, 9, 25)
    )
    assert ready.status == "done" and ready.message.startswith("broker ready: account SIM-PAPER-1")
    down = job_run(
        job=Job.OPENING_PREFLIGHT, book=book_named("ib"),
        intended=new_york(2026, 11, 20, 9, 25), now=new_york(2026, 11, 20, 9, 25),
    )  # fmt: skip
    assert down.status == "failed" and "unreachable" in down.message
    alert = Alert.objects.get()
    assert alert.event == Alert.Event.BROKER_DOWN and alert.title.startswith("book ib: broker not ready")


def test_an_arm_that_runs_out_alerts_once(real_broker, settings):
    from datetime import timedelta

    from django.utils import timezone

    from trading.services.arming import alert_expired_arms, book_arm

    settings.TRADE_LABS_ARMED = True
    armed_at = timezone.now() - timedelta(minutes=30)
    book_arm(book=book_named("real"), by="tester", until=armed_at + timedelta(minutes=10), now=armed_at)
    alert_expired_arms(book=book_named("real"))
    alert_expired_arms(book=book_named("real"))
    expired = Alert.objects.filter(event=Alert.Event.ARM_EXPIRED)
    assert expired.count() == 1 and "the arm by tester expired" in expired.get().title

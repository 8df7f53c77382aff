"""healthcheck and /healthz: what a monitor, cron or a load balancer asks."""

import json
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command

from tests.schedule.factories import JobSlotFactory
from trading.health import health_check
from trading.models import HealthResult
from trading.schedule.models import Job
from trading.services.books import book_named

pytestmark = pytest.mark.django_db


def _run(*args) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("healthcheck", *args, stdout=out)
    except SystemExit as exit_:
        return int(exit_.code), out.getvalue()
    return 0, out.getvalue()


def test_a_sim_book_is_healthy_and_the_result_is_kept():
    code, text = _run("--book", "sim")
    assert "ok    database: answers" in text and "ok    broker sim (sim): account SIM-PAPER-1 (paper)" in text
    assert "ok    calendar: NYSE sessions known to" in text
    last = HealthResult.objects.get()
    assert [c["name"] for c in last.report["checks"]][:2] == ["database", "broker sim (sim)"]
    assert code == (0 if last.healthy else 1)


def test_an_unreachable_gateway_fails_the_check_with_its_reason():
    code, text = _run("--book", "ib", "--json")
    report = json.loads(text)
    broker = next(c for c in report["checks"] if c["name"].startswith("broker ib"))
    assert code == 1 and report["healthy"] is False
    assert broker["ok"] is False and broker["detail"].startswith("unreachable")


def test_the_scheduler_check_reads_whether_the_last_due_job_was_claimed():
    morning = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)  # 10:30 New York: the 10:20 mark is the last one due
    scheduler = next(c for c in health_check(books=[], now=morning).checks if c.name == "scheduler")
    assert not scheduler.ok and "Mark at 2026-11-20 10:20 EST was never claimed" in scheduler.detail
    JobSlotFactory(job=Job.MARK, scheduled_for=datetime(2026, 11, 20, 15, 20, tzinfo=UTC))
    scheduler = next(c for c in health_check(books=[], now=morning).checks if c.name == "scheduler")
    assert scheduler.ok and scheduler.detail.endswith("done")


def test_a_weekend_says_nothing_was_due():
    sunday = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)
    checks = health_check(books=[book_named("sim")], now=sunday).checks
    assert next(c for c in checks if c.name == "scheduler").detail == "no job was due in the last day"


def test_healthz_answers_anyone_with_nothing_secret(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_healthz_is_503_when_the_database_is_gone(client, monkeypatch):
    monkeypatch.setattr("tradelabs_site.urls.database_reachable", lambda: "connection refused")
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json() == {"status": "unavailable"}

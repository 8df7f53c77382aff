"""Reconciliation results through the API: read-only, filtered, exported as CSV like every other list."""

import csv
import io
import json
from decimal import Decimal

import pytest
from django.utils import timezone

from reconciliation.models import Discrepancy, ReconciliationRun
from tests.factories import TradeFactory
from trading.services.books import book_default

from .factories import ny

pytestmark = pytest.mark.django_db


@pytest.fixture
def reconciliations():
    clean = ReconciliationRun.objects.create(
        book=book_default(), backend="sim", status="clean", finished_at=timezone.now()
    )
    dirty = ReconciliationRun.objects.create(
        book=book_default(),
        backend="ib",
        trigger="schedule",
        status="discrepancies",
        discrepancy_count=2,
        unrealized_pnl_total=Decimal("12.5000"),
        positions=[{"symbol": "AAPL", "expected": 100, "actual": 90}],
        finished_at=timezone.now(),
    )
    trade = TradeFactory(symbol="AAPL")
    qty = Discrepancy.objects.create(
        book=book_default(),
        backend="ib", kind="quantity_mismatch", symbol="AAPL", severity="critical", expected="100", actual="90",
        first_seen_run=dirty, last_seen_run=dirty, last_seen_at=ny(2026, 11, 20, 16, 0),
    )  # fmt: skip
    qty.trades.add(trade)
    Discrepancy.objects.create(
        book=book_default(),
        backend="ib", kind="order_unknown_to_us", symbol="MSFT", order_ref="broker:77", severity="warning",
        first_seen_run=dirty, last_seen_run=dirty, last_seen_at=ny(2026, 11, 19, 16, 0), cleared_at=timezone.now(),
        review_status="acknowledged", notes="=1+1",
    )  # fmt: skip
    return {"clean": clean, "dirty": dirty, "trade": trade}


def _rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_anonymous_sees_no_reconciliation_data(client, reconciliations):
    for url in ("/api/v1/reconciliation-runs/", "/api/v1/discrepancies/", "/api/v1/discrepancies/?format=csv"):
        response = client.get(url)
        assert response.status_code in (401, 403) and b"AAPL" not in response.content


def test_runs_list_filter_and_detail(plain_client, reconciliations):
    body = plain_client.get("/api/v1/reconciliation-runs/?status=discrepancies").json()
    assert body["count"] == 1
    run = body["results"][0]
    assert (run["backend"], run["discrepancy_count"], run["unrealized_pnl_total"]) == ("ib", 2, "12.5000")
    assert run["positions"] == [{"symbol": "AAPL", "expected": 100, "actual": 90}]
    assert plain_client.get("/api/v1/reconciliation-runs/?backend=sim").json()["count"] == 1
    detail = plain_client.get(f"/api/v1/reconciliation-runs/{reconciliations['dirty'].run_id}/").json()
    assert detail["status"] == "discrepancies"


def test_discrepancies_filters(plain_client, reconciliations):
    get = lambda query: [d["symbol"] for d in plain_client.get(f"/api/v1/discrepancies/?{query}").json()["results"]]  # noqa: E731
    assert get("severity=critical") == ["AAPL"]
    assert get("cleared=false") == ["AAPL"] and get("cleared=true") == ["MSFT"]
    assert get("review_status=acknowledged") == ["MSFT"]
    assert get("kind=order_unknown_to_us&symbol=msft") == ["MSFT"]
    assert get("last_seen_from=2026-11-20") == ["AAPL"]
    assert sorted(get(f"run={reconciliations['dirty'].run_id}")) == ["AAPL", "MSFT"]
    first = plain_client.get("/api/v1/discrepancies/?symbol=AAPL").json()["results"][0]
    assert first["trades"] == [reconciliations["trade"].pk]
    assert first["first_seen_run"] == str(reconciliations["dirty"].run_id)


def test_reconciliation_csv_exports(plain_client, reconciliations):
    runs = _rows(plain_client.get("/api/v1/reconciliation-runs/?format=csv&ordering=status"))
    assert [r["status"] for r in runs] == ["clean", "discrepancies"]
    assert json.loads(runs[1]["positions"]) == [{"symbol": "AAPL", "expected": 100, "actual": 90}]
    rows = _rows(plain_client.get("/api/v1/discrepancies/?format=csv&ordering=symbol"))
    assert [(r["symbol"], r["kind"]) for r in rows] == [("AAPL", "quantity_mismatch"), ("MSFT", "order_unknown_to_us")]
    assert rows[1]["notes"] == "'=1+1" and rows[1]["last_seen_at"] == "2026-11-19T16:00:00-05:00"


def test_reconciliation_results_are_read_only(staff_client, reconciliations):
    discrepancy = Discrepancy.objects.first()
    url = f"/api/v1/discrepancies/{discrepancy.pk}/"
    assert staff_client.patch(url, {"review_status": "resolved"}, content_type="application/json").status_code == 405
    assert staff_client.delete(url).status_code == 405
    assert staff_client.post("/api/v1/reconciliation-runs/", {}, content_type="application/json").status_code == 405

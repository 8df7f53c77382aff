"""The REST API as its users meet it: signed in or refused, filters, CSV exports, review-only writes, a valid schema."""

import csv
import io
import json
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import call_command
from django.test import Client
from drf_spectacular.validation import validate_schema
from rest_framework.authtoken.models import Token

from reporting.exports import TRADE_COLUMNS
from reporting.services import report_generate
from tests.factories import (
    CandidateFactory,
    OrderFactory,
    PipelineRunFactory,
    PositionFactory,
    TradeFactory,
    UserFactory,
)
from trading.models import Trade
from trading.services.books import book_default

from .factories import closed_trade, ny, open_trade

pytestmark = pytest.mark.django_db

LISTS = ["runs", "candidates", "orders", "trades", "positions", "reports"]
RECONCILIATION_LISTS = ["reconciliation-runs", "discrepancies"]


@pytest.fixture
def book():
    """Two runs; three closed trades on two New York dates, one open, one dry run; orders, positions, a report."""
    run = PipelineRunFactory(backend="sim")
    other = PipelineRunFactory(backend="ib", status="failed")
    CandidateFactory(run=run, symbol="AAPL", status="executed")
    CandidateFactory(run=other, symbol="MSFT", status="rejected", score=None)
    trades = {
        "aapl": closed_trade(run=run, symbol="AAPL", pnl="120.00", entry=ny(2026, 11, 19, 10, 0), exit=ny(2026, 11, 19, 23, 30)),
        "msft": closed_trade(run=run, symbol="MSFT", pnl="-40.00", entry=ny(2026, 11, 20, 10, 0), exit=ny(2026, 11, 20, 0, 30), reason="stop"),
        "tsla": closed_trade(run=other, symbol="TSLA", pnl="15.50", entry=ny(2026, 11, 20, 11, 0), exit=ny(2026, 11, 20, 15, 0), backend="ib"),
        "open": open_trade(run=run, symbol="NVDA", entry_price="100.00", mark="101.00", entry_time=ny(2026, 11, 20, 10, 0)),
        "dry": closed_trade(run=other, symbol="AMZN", pnl="5.00", entry=ny(2026, 11, 20, 10, 0), exit=ny(2026, 11, 20, 12, 0), dry_run=True),
    }  # fmt: skip
    for trade in trades.values():
        OrderFactory(trade=trade, run=trade.run, symbol=trade.symbol, backend=trade.backend)
    PositionFactory(symbol="FLAT", quantity=0, average_cost=Decimal(0))
    report_generate(day=ny(2026, 11, 20).date())
    return trades


def _rows(response) -> list[dict]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.DictReader(io.StringIO(body.decode())))


def _symbols(response) -> list[str]:
    return sorted(item["symbol"] for item in response.json()["results"])


# --- who may read -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", LISTS)
def test_anonymous_is_refused_and_sees_no_data(client, book, name):
    for suffix in ("", "?format=csv"):
        response = client.get(f"/api/v1/{name}/{suffix}")
        assert response.status_code in (401, 403)
        assert b"AAPL" not in response.content and b"NVDA" not in response.content


def test_anonymous_is_refused_details_the_root_and_the_schema(client, book):
    for url in (f"/api/v1/trades/{book['aapl'].pk}/", "/api/v1/", "/api/schema/", "/api/docs/"):
        assert client.get(url).status_code in (401, 403), url


def test_a_wrong_token_is_refused(book):
    response = Client().get("/api/v1/trades/", HTTP_AUTHORIZATION="Token not-a-token")
    assert response.status_code in (401, 403)


def test_token_authentication_reads_the_api(plain_user, book):
    token = Token.objects.create(user=plain_user)
    response = Client().get("/api/v1/trades/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200 and response.json()["count"] == 5


@pytest.mark.parametrize("name", LISTS)
def test_signed_in_users_read_every_list_as_json_pages(plain_client, book, name):
    response = plain_client.get(f"/api/v1/{name}/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"} and body["count"] == len(body["results"]) > 0


def test_api_root_lists_the_endpoints(plain_client):
    assert set(plain_client.get("/api/v1/").json()) == set(LISTS + RECONCILIATION_LISTS)


# --- filters, ordering, pagination ------------------------------------------------------------


def test_trade_filters(plain_client, book):
    get = lambda **params: plain_client.get("/api/v1/trades/", params)  # noqa: E731
    assert _symbols(get(symbol="aapl")) == ["AAPL"]
    assert _symbols(get(symbol="AAPL, tsla")) == ["AAPL", "TSLA"]
    assert _symbols(get(status="open")) == ["NVDA"]
    assert _symbols(get(backend="ib")) == ["TSLA"]
    assert _symbols(get(dry_run="true")) == ["AMZN"]
    assert _symbols(get(exit_reason="stop")) == ["MSFT"]
    assert _symbols(get(run=str(book["aapl"].run.run_id), status="closed")) == ["AAPL", "MSFT"]
    assert _symbols(get(min_pnl="15.5", dry_run="false")) == ["AAPL", "TSLA"]
    # New York dates: AAPL left at 23:30 on the 19th (04:30 UTC on the 20th); MSFT at 00:30 on the 20th.
    assert _symbols(get(exit_from="2026-11-20", exit_to="2026-11-20", dry_run="false")) == ["MSFT", "TSLA"]
    assert _symbols(get(exit_to="2026-11-19")) == ["AAPL"]
    assert _symbols(get(entry_from="2026-11-20", status="open")) == ["NVDA"]
    response = get(status="sideways")
    assert response.status_code == 400 and "status" in response.json()


def test_trade_ordering_and_pagination(plain_client, book):
    url = "/api/v1/trades/?status=closed&dry_run=false&ordering="
    assert [t["symbol"] for t in plain_client.get(url + "realized_pnl").json()["results"]] == ["MSFT", "TSLA", "AAPL"]
    assert [t["symbol"] for t in plain_client.get(url + "-realized_pnl").json()["results"]] == ["AAPL", "TSLA", "MSFT"]
    page = plain_client.get(url + "realized_pnl&limit=1&offset=1").json()
    assert page["count"] == 3 and [t["symbol"] for t in page["results"]] == ["TSLA"]
    assert page["next"] and page["previous"] is not None


def test_other_list_filters(plain_client, book):
    assert [r["backend"] for r in plain_client.get("/api/v1/runs/?backend=ib").json()["results"]] == ["ib"]
    assert [r["status"] for r in plain_client.get("/api/v1/runs/?status=failed").json()["results"]] == ["failed"]
    assert _symbols(plain_client.get("/api/v1/candidates/?status=rejected")) == ["MSFT"]
    assert _symbols(plain_client.get("/api/v1/candidates/?backend=sim")) == ["AAPL"]
    assert _symbols(plain_client.get("/api/v1/orders/?symbol=tsla")) == ["TSLA"]
    assert _symbols(plain_client.get(f"/api/v1/orders/?trade={book['msft'].pk}")) == ["MSFT"]
    assert _symbols(plain_client.get("/api/v1/positions/?open=true")) == ["NVDA"]
    assert _symbols(plain_client.get("/api/v1/positions/?open=false")) == ["FLAT"]
    days = plain_client.get("/api/v1/reports/?day_from=2026-11-01&day_to=2026-11-30").json()["results"]
    assert [r["day"] for r in days] == ["2026-11-20"]
    assert plain_client.get("/api/v1/reports/?day_from=2026-12-01").json()["count"] == 0


def test_details_are_looked_up_the_way_traders_name_them(plain_client, book):
    run = book["aapl"].run
    assert plain_client.get(f"/api/v1/runs/{run.run_id}/").json()["backend"] == "sim"
    assert plain_client.get("/api/v1/positions/NVDA/").json()["mark_price"] == "101.0000"
    report = plain_client.get("/api/v1/reports/2026-11-20/").json()
    assert report["metrics"]["net_pnl"] == "-24.50" and report["markdown"].startswith("# Trade Labs daily report")
    trade = plain_client.get(f"/api/v1/trades/{book['tsla'].pk}/").json()
    assert (trade["realized_pnl"], trade["holding_seconds"], trade["run_id"]) == (
        "15.5000",
        4 * 3600,
        str(book["tsla"].run.run_id),
    )


# --- CSV --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", LISTS)
def test_every_list_exports_as_csv(plain_client, book, name):
    response = plain_client.get(f"/api/v1/{name}/?format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="{name}.csv"' in response["Content-Disposition"]
    rows = _rows(response)
    assert len(rows) == plain_client.get(f"/api/v1/{name}/").json()["count"]


def test_trade_csv_streams_every_filtered_row_beyond_one_page(plain_client, book):
    Trade.objects.bulk_create(
        Trade(book=book_default(), backend="sim", symbol=f"BULK{i}", quantity=1, status="closed", realized_pnl=Decimal("1.2345"),
              entry_time=ny(2026, 11, 20, 10, 0), exit_time=ny(2026, 11, 20, 11, 0))
        for i in range(250)
    )  # fmt: skip
    response = plain_client.get("/api/v1/trades/?format=csv&ordering=symbol&limit=10")
    assert response.streaming, "the trades export is streamed, never built in memory"
    rows = _rows(response)
    assert len(rows) == 255, "CSV is the whole export: pages do not apply"
    assert list(rows[0]) == [c.header for c in TRADE_COLUMNS]
    bulk = [r for r in rows if r["symbol"].startswith("BULK")]
    assert bulk[0]["realized_pnl"] == "1.2345" and bulk[0]["exit_time"] == "2026-11-20T11:00:00-05:00"
    assert bulk[0]["run_id"] == "" and bulk[0]["dry_run"] == "false"
    filtered = _rows(plain_client.get("/api/v1/trades/?format=csv&symbol=AAPL,MSFT&ordering=-realized_pnl"))
    assert [(r["symbol"], r["realized_pnl"]) for r in filtered] == [("AAPL", "120.0000"), ("MSFT", "-40.0000")]


def test_csv_cannot_smuggle_a_spreadsheet_formula(plain_client, book):
    Trade.objects.filter(pk=book["aapl"].pk).update(notes='=HYPERLINK("http://x")', tags="@risk")
    row = _rows(plain_client.get("/api/v1/trades/?format=csv&symbol=AAPL"))[0]
    assert row["notes"].startswith("'=") and row["tags"] == "'@risk"
    assert _rows(plain_client.get("/api/v1/trades/?format=csv&symbol=MSFT"))[0]["realized_pnl"] == "-40.0000"


def test_a_single_record_renders_as_csv_too(plain_client, book):
    response = plain_client.get("/api/v1/reports/2026-11-20/?format=csv")
    rows = _rows(response)
    assert response.status_code == 200 and len(rows) == 1
    assert rows[0]["day"] == "2026-11-20" and rows[0]["metrics.net_pnl"] == "-24.50"
    reports = _rows(plain_client.get("/api/v1/reports/?format=csv"))
    assert reports[0]["net_pnl"] == "-24.5000" and reports[0]["win_rate"] == "0.5"


# --- review writes ----------------------------------------------------------------------------


def test_staff_patch_a_trades_review_fields(staff_client, staff_user, book):
    trade = book["aapl"]
    response = staff_client.patch(
        f"/api/v1/trades/{trade.pk}/",
        data=json.dumps({"notes": "Clean breakout.", "tags": " gap , breakout,gap", "review_status": "reviewed"}),
        content_type="application/json",
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["notes"], body["tags"], body["review_status"]) == ("Clean breakout.", "gap,breakout", "reviewed")
    trade.refresh_from_db()
    assert (trade.notes, trade.tags, trade.review_status) == ("Clean breakout.", "gap,breakout", "reviewed")
    entry = LogEntry.objects.get(object_id=str(trade.pk))
    assert entry.user == staff_user and "notes" in entry.get_change_message().lower()


def test_patch_refuses_any_other_field_and_changes_nothing(staff_client, book):
    trade = book["aapl"]
    response = staff_client.patch(
        f"/api/v1/trades/{trade.pk}/",
        data=json.dumps({"notes": "sneaky", "realized_pnl": "1000000.00", "status": "cancelled"}),
        content_type="application/json",
    )
    assert response.status_code == 400 and set(response.json()) == {"realized_pnl", "status"}
    trade.refresh_from_db()
    assert (trade.realized_pnl, trade.status, trade.notes) == (Decimal("120.00"), "closed", "")
    bad = staff_client.patch(
        f"/api/v1/trades/{trade.pk}/", data=json.dumps({"review_status": "approved"}), content_type="application/json"
    )
    assert bad.status_code == 400 and "review_status" in bad.json()


def test_non_staff_and_anonymous_cannot_patch(client, plain_client, book):
    trade = book["aapl"]
    for who in (client, plain_client):
        response = who.patch(
            f"/api/v1/trades/{trade.pk}/", data=json.dumps({"notes": "x"}), content_type="application/json"
        )
        assert response.status_code in (401, 403)
    trade.refresh_from_db()
    assert trade.notes == ""


def test_everything_else_is_read_only_even_for_staff(staff_client, book):
    trade = book["aapl"]
    put = staff_client.put(f"/api/v1/trades/{trade.pk}/", data="{}", content_type="application/json")
    assert put.status_code == 405
    assert staff_client.delete(f"/api/v1/trades/{trade.pk}/").status_code == 405
    assert staff_client.post("/api/v1/trades/", data="{}", content_type="application/json").status_code == 405
    run = trade.run
    assert (
        staff_client.patch(f"/api/v1/runs/{run.run_id}/", data="{}", content_type="application/json").status_code == 405
    )
    assert staff_client.post("/api/v1/reports/", data="{}", content_type="application/json").status_code == 405


# --- schema -----------------------------------------------------------------------------------


def test_openapi_schema_is_valid_and_documents_the_api(plain_client):
    response = plain_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    validate_schema(schema)
    assert "/api/v1/trades/" in schema["paths"] and "patch" in schema["paths"]["/api/v1/trades/{id}/"]
    assert "text/csv" in json.dumps(schema["paths"]["/api/v1/trades/"]["get"]["responses"])
    assert plain_client.get("/api/docs/").status_code == 200
    assert plain_client.get("/api/redoc/").status_code == 200


def test_browsable_api_pages_render_for_people(staff_client, plain_client, book):
    for who in (staff_client, plain_client):
        for url in ("/api/v1/", "/api/v1/trades/", f"/api/v1/trades/{book['aapl'].pk}/", "/api/v1/reports/2026-11-20/"):
            response = who.get(url, HTTP_ACCEPT="text/html")
            assert response.status_code == 200 and b"<html" in response.content, url


def test_openapi_schema_generates_without_a_single_warning(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "/api/v1/discrepancies/" in (tmp_path / "schema.yaml").read_text()


def test_an_anonymous_request_is_challenged_with_401(db):
    response = Client().get("/api/v1/trades/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")


def test_staff_without_change_trade_cannot_patch_a_trade(db):
    from django.contrib.auth.models import Permission

    trade = TradeFactory()
    staff = UserFactory(username="staff-reader", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename="view_trade"))
    client = Client()
    client.force_login(staff)
    assert client.get("/api/v1/trades/").status_code == 200
    response = client.patch(f"/api/v1/trades/{trade.pk}/", {"notes": "x"}, content_type="application/json")
    assert response.status_code == 403
    trade.refresh_from_db()
    assert trade.notes == ""


def test_a_signed_in_user_without_view_permissions_reads_nothing(stranger):
    client = Client()
    client.force_login(stranger)
    for path in ("/api/v1/trades/", "/api/v1/positions/", "/api/v1/discrepancies/"):
        assert client.get(path).status_code == 403, path

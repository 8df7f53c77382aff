"""The streamed CSV export writes exactly what `csv.writer` writes from `cell` values.

The export renders most cells in SQL and moves timestamps to New York time from their UTC text
(reporting.exports); here every list endpoint's CSV is held against the plain way: model values
through Django's converters, `cell`, and the csv module. Awkward values on purpose: fractions of a
second, both sides of a daylight-saving change, NULL and negative decimals, text that needs
quoting or looks like a formula, a choice column holding something that is not a choice.
"""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reporting.api import views
from reporting.exports import TRADE_COLUMNS, cell
from reporting.services import report_generate
from tests.factories import CandidateFactory, OrderFactory, PipelineRunFactory, PositionFactory
from trading.models import Trade
from trading.services.books import book_default

from .factories import closed_trade, ny

pytestmark = pytest.mark.django_db


@pytest.fixture
def awkward_book():
    run = PipelineRunFactory(backend="sim")
    CandidateFactory(run=run, symbol="AAPL", status="executed", score=Decimal("87.50"))
    trades = [
        closed_trade(run=run, symbol="AAPL", pnl="120.0000", entry=ny(2026, 11, 19, 10, 0), exit=ny(2026, 11, 19, 23, 30)),
        # Microseconds; summer time; a loss; a note with a comma, a quote and a line break.
        closed_trade(symbol="MSFT", pnl="-40.1234", commission="0.0001", entry=ny(2026, 7, 1, 9, 30, 0, 123456),
                     exit=ny(2026, 7, 1, 15, 59, 59, 500000), notes='first, "second"\nthird', tags="-40.5"),
        # Both sides of the autumn change: 01:30 New York happens twice on 2026-11-01.
        closed_trade(symbol="DST", pnl="0.0000", entry=datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
                     exit=datetime(2026, 11, 1, 6, 30, 0, 1, tzinfo=UTC), notes="=HYPERLINK(1)", tags="@risk"),
        closed_trade(symbol="BIG", pnl="98765432.1009", entry=ny(2026, 3, 9, 10, 0), exit=ny(2026, 3, 9, 11, 0),
                     dry_run=True, notes="+1", tags="\tx"),
    ]  # fmt: skip
    Trade.objects.create(
        book=book_default(), backend="ib", symbol="PEND", quantity=5, status=Trade.Status.PENDING, stop_price=None
    )
    # Not a choice, and one that needs quoting: written as the csv module would, never trusted.
    Trade.objects.filter(pk=trades[0].pk).update(exit_reason='a,"b"', side="X,Y")
    for trade in trades:
        OrderFactory(trade=trade, run=trade.run, symbol=trade.symbol, limit_price=Decimal("-0.0001"))
    PositionFactory(symbol="FLAT", quantity=0, average_cost=Decimal(0), marked_at=ny(2026, 11, 20, 16, 0))
    report_generate(day=ny(2026, 11, 19).date())
    return trades


def _expected(viewset, queryset=None) -> str:
    """The CSV the plain way: Django's values, `cell`, the csv module."""
    queryset = viewset.queryset.all() if queryset is None else queryset
    queryset = queryset.order_by(*viewset.ordering)
    if viewset is views.DailyReportViewSet:
        queryset = queryset.defer("markdown", "csv", "curve")
    sink = io.StringIO()
    writer = csv.writer(sink)
    writer.writerow([c.header for c in viewset.csv_columns])
    for values in queryset.values_list(*[c.lookup for c in viewset.csv_columns]):
        writer.writerow(
            [cell(c.format(v) if c.format else v) for c, v in zip(viewset.csv_columns, values, strict=True)]
        )
    return sink.getvalue()


@pytest.mark.parametrize(
    "name, viewset",
    [
        ("runs", views.PipelineRunViewSet),
        ("candidates", views.CandidateViewSet),
        ("orders", views.OrderViewSet),
        ("trades", views.TradeViewSet),
        ("positions", views.PositionViewSet),
        ("reports", views.DailyReportViewSet),
    ],
)
def test_every_export_is_byte_for_byte_what_the_csv_module_writes(plain_client, awkward_book, name, viewset):
    response = plain_client.get(f"/api/v1/{name}/?format=csv")
    assert response.streaming
    assert b"".join(response.streaming_content).decode() == _expected(viewset)


def test_trade_export_keeps_time_zone_fractions_and_quoting(plain_client, awkward_book):
    body = b"".join(plain_client.get("/api/v1/trades/?format=csv").streaming_content).decode()
    rows = {row["symbol"]: row for row in csv.DictReader(io.StringIO(body))}
    assert len(rows) == 5 and list(next(iter(rows.values()))) == [c.header for c in TRADE_COLUMNS]
    msft, dst, big = rows["MSFT"], rows["DST"], rows["BIG"]
    assert (msft["entry_time"], msft["exit_time"]) == (
        "2026-07-01T09:30:00.123456-04:00",
        "2026-07-01T15:59:59.500000-04:00",
    )
    assert (dst["entry_time"], dst["exit_time"]) == ("2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00.000001-05:00")
    assert (msft["realized_pnl"], msft["commission"], dst["realized_pnl"]) == ("-40.1234", "0.0001", "0.0000")
    assert big["realized_pnl"] == "98765432.1009" and big["dry_run"] == "true" and msft["dry_run"] == "false"
    assert msft["notes"] == 'first, "second"\nthird' and msft["tags"] == "-40.5", "a number is not a formula"
    assert (dst["notes"], dst["tags"], big["notes"], big["tags"]) == ("'=HYPERLINK(1)", "'@risk", "+1", "'\tx")
    assert rows["AAPL"]["exit_reason"] == 'a,"b"' and rows["AAPL"]["side"] == "X,Y"
    assert rows["AAPL"]["run_id"] == str(awkward_book[0].run.run_id) and rows["PEND"]["run_id"] == ""
    assert rows["PEND"]["stop_price"] == "" and rows["PEND"]["exit_time"] == ""


def test_export_survives_the_query_log(plain_client, awkward_book):
    # With DEBUG (or any query capture) Django formats each query with its parameters; a literal
    # '%' in the SQL must not break that, nor reach the database doubled.
    with CaptureQueriesContext(connection):
        body = b"".join(plain_client.get("/api/v1/trades/?format=csv&symbol=MSFT").streaming_content).decode()
    assert body == _expected(views.TradeViewSet, Trade.objects.filter(symbol="MSFT"))

"""Writing many rows at once: the same rows Django would write, in fewer statements."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Value
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reporting.models import ClosedTradeMonth, DailySnapshot
from tests.factories import BookFactory, PipelineRunFactory, TradeFactory
from trading.bulk import objects_create, row_upsert, rows_add, rows_insert_new
from trading.models import Order, Trade
from trading.schedule.models import JobSlot

pytestmark = pytest.mark.django_db

FIELDS = ["book", "job", "session_date", "scheduled_for", "status", "claimed_at", "message", "details", "worker"]
START = datetime(2026, 11, 16, 14, 35, tzinfo=UTC)


def _rows(book, count: int, *, details: dict) -> list[tuple]:
    return [
        (book.pk, "mark", date(2026, 11, 16), START + timedelta(minutes=5 * i), "done", START, "quiet", details, "w")
        for i in range(count)
    ]


def test_new_rows_are_stored_as_given_and_their_keys_returned():
    book = BookFactory()
    details = {"quiet": True, "worked_by": "midday_scan"}
    inserted = rows_insert_new(JobSlot, FIELDS, _rows(book, 3, details=details), returning="scheduled_for")
    assert sorted(inserted) == [START, START + timedelta(minutes=5), START + timedelta(minutes=10)]
    stored = JobSlot.objects.filter(book=book).order_by("scheduled_for")
    assert [s.scheduled_for for s in stored] == sorted(inserted)
    assert {(s.status, s.message, s.worker, s.claimed_at) for s in stored} == {("done", "quiet", "w", START)}
    assert [s.details for s in stored] == [details] * 3


def test_rows_whose_key_is_taken_are_left_out_and_not_returned():
    book = BookFactory()
    rows = _rows(book, 4, details={})
    rows_insert_new(JobSlot, FIELDS, rows[1:2])
    JobSlot.objects.filter(book=book).update(message="first")
    inserted = rows_insert_new(JobSlot, FIELDS, rows, returning="scheduled_for")
    assert sorted(inserted) == [rows[0][3], rows[2][3], rows[3][3]]
    assert JobSlot.objects.filter(book=book).count() == 4
    assert JobSlot.objects.get(book=book, scheduled_for=rows[1][3]).message == "first"


def test_rows_beyond_the_parameter_limit_go_in_several_statements(monkeypatch):
    book = BookFactory()
    monkeypatch.setattr(connection.features, "max_query_params", len(FIELDS) * 10)
    with CaptureQueriesContext(connection) as queries:
        inserted = rows_insert_new(JobSlot, FIELDS, _rows(book, 25, details={}))
    assert len([q for q in queries.captured_queries if q["sql"].startswith("INSERT")]) == 3
    assert len(inserted) == 25 == JobSlot.objects.filter(book=book).count()


def test_nothing_to_insert_sends_nothing():
    with CaptureQueriesContext(connection) as queries:
        assert rows_insert_new(JobSlot, FIELDS, []) == []
    assert queries.captured_queries == []


# --- objects_create: bulk_create's rows, for less ---------------------------------------------


def _order(run, trade, ref: str, **extra) -> Order:
    return Order(
        book_id=run.book_id, run=run, trade=trade, client_order_ref=ref, backend="sim", symbol="AAPL",
        leg=Order.Leg.ENTRY, order_type=Order.Type.MARKET, side="BUY", **{"quantity": 10, **extra},
    )  # fmt: skip


def test_created_objects_are_stored_as_bulk_create_would_and_learn_their_ids():
    run = PipelineRunFactory()
    trade = TradeFactory(book=run.book, run=run)
    before = timezone.now()
    made = objects_create([_order(run, trade, "a", limit_price=Decimal("12.34")), _order(run, trade, "b")])
    by_django = Order.objects.bulk_create([_order(run, trade, "c", limit_price=Decimal("12.34"))])
    assert [o.pk for o in made] == list(
        Order.objects.filter(client_order_ref__in=["a", "b"]).order_by("client_order_ref").values_list("pk", flat=True)
    )
    assert all(not o._state.adding and o._state.db == "default" for o in made)
    assert made[0].created_at >= before  # auto_now_add stamped, as bulk_create does
    fields = [f.attname for f in Order._meta.concrete_fields if f.attname not in ("id", "client_order_ref", "created_at", "updated_at")]  # fmt: skip
    ours = Order.objects.filter(pk=made[0].pk).values(*fields).get()
    assert ours == Order.objects.filter(pk=by_django[0].pk).values(*fields).get()


def test_a_related_object_saved_after_it_was_assigned_gives_its_id():
    run = PipelineRunFactory()
    trade = Trade(book_id=run.book_id, run=run, backend="sim", symbol="AAPL", side="BUY", quantity=10)
    order = _order(run, trade, "late")
    objects_create([trade])
    objects_create([order])
    assert Order.objects.get(pk=order.pk).trade_id == trade.pk


def test_a_value_that_is_an_expression_goes_through_bulk_create():
    run = PipelineRunFactory()
    trade = TradeFactory(book=run.book, run=run)
    order = _order(run, trade, "expr", quantity=Value(7))
    objects_create([order])
    assert Order.objects.get(pk=order.pk).quantity == 7


def test_an_object_given_its_id_is_stored_under_it():
    run = PipelineRunFactory()
    order = _order(run, TradeFactory(book=run.book, run=run), "given", id=987_654)
    objects_create([order])
    assert Order.objects.get(pk=987_654).client_order_ref == "given"


def test_nothing_to_create_sends_nothing():
    with CaptureQueriesContext(connection) as queries:
        assert objects_create([]) == []
    assert queries.captured_queries == []


# --- rows_add: adding totals into stored rows ---------------------------------------------------

MONTH = date(2026, 11, 1)


def _month(book, symbol: str, *, trades: int, net: int, highest, lowest) -> ClosedTradeMonth:
    return ClosedTradeMonth(
        book=book, month=MONTH, symbol=symbol, exit_reason="stop", trades=trades, wins=0, losses=trades,
        net_units=net, gross_profit_units=0, commission_units=trades, highest_units=highest, lowest_units=lowest,
    )  # fmt: skip


def test_added_rows_sum_into_the_stored_ones_and_new_ones_are_inserted():
    book = BookFactory()
    ClosedTradeMonth.objects.create(**_fields(_month(book, "AAPL", trades=2, net=-50, highest=-10, lowest=-40)))
    ClosedTradeMonth.objects.create(**_fields(_month(book, "MSFT", trades=1, net=5, highest=5, lowest=5)))
    with CaptureQueriesContext(connection) as queries:
        rows_add(
            [
                _month(book, "AAPL", trades=1, net=-70, highest=-70, lowest=-70),
                _month(book, "MSFT", trades=1, net=9, highest=9, lowest=9),
                _month(book, "NVDA", trades=3, net=30, highest=20, lowest=1),
            ],
            unique=["book", "month", "symbol", "exit_reason"],
            sums=["trades", "net_units", "losses", "commission_units"],
            highest=["highest_units"],
            lowest=["lowest_units"],
        )
    assert len(queries.captured_queries) == 1
    stored = {
        row.symbol: (row.trades, row.net_units, row.losses, row.commission_units, row.highest_units, row.lowest_units)
        for row in ClosedTradeMonth.objects.filter(book=book)
    }
    assert stored == {
        "AAPL": (3, -120, 3, 3, -10, -70),
        "MSFT": (2, 14, 2, 2, 9, 5),
        "NVDA": (3, 30, 3, 3, 20, 1),
    }


def _fields(row) -> dict:
    return {f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields if not f.primary_key}


# --- row_upsert: update_or_create in one statement ----------------------------------------------


def test_an_upserted_row_is_inserted_then_replaced_keeping_when_it_was_added():
    book = BookFactory()
    first = row_upsert(DailySnapshot(book=book, day=date(2026, 11, 16), marked_at=START, cash=Decimal("100.00")), unique=["book", "day"])  # fmt: skip
    assert first.pk is not None and first.created_at is not None
    again = DailySnapshot(book=book, day=date(2026, 11, 16), marked_at=START, cash=Decimal("90.50"), positions=[{"s": 1}])  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        row_upsert(again, unique=["book", "day"])
    assert len(queries.captured_queries) == 1
    stored = DailySnapshot.objects.get(book=book)
    assert (again.pk, again.created_at) == (first.pk, first.created_at) == (stored.pk, stored.created_at)
    assert (stored.cash, stored.positions) == (Decimal("90.50"), [{"s": 1}])

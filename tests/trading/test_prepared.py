"""Prepared queries: built once, they give what the ORM's queryset gives, for any values."""

import threading
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Q, Sum
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.factories import BookFactory, FillFactory, OrderFactory, PipelineRunFactory, TradeFactory
from trading.models import Book, Fill, Order, PipelineRun, Trade
from trading.prepared import Param, Prepared, PreparedUpdate

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 16, 14, 30, tzinfo=UTC)
SYMBOLS = [f"S{i}" for i in range(12)]
STATUSES = [Trade.Status.OPEN, Trade.Status.CLOSED, Trade.Status.PENDING]


def _trades(book) -> None:
    for i in range(12):
        TradeFactory(
            run__book=book,
            symbol=SYMBOLS[i],
            status=STATUSES[i % 3],
            quantity=10 * (i + 1),
            realized_pnl=Decimal(f"{i * 7 - 30}.25"),
            exit_time=START + timedelta(minutes=37 * i),
            dry_run=i % 5 == 0,
        )


def _instances(rows) -> list[dict]:
    return [{k: v for k, v in row.__dict__.items() if k != "_state"} for row in rows]


def _trades_by(book, symbols, status, since, pnl_above):
    return Trade.objects.filter(
        book_id=book, symbol__in=symbols, status=status, exit_time__gte=since, realized_pnl__gt=pnl_above
    ).order_by("pk")


TRADES = Prepared(_trades_by)
TRADE_VALUES = Prepared(
    lambda book, symbols: (
        Trade.objects.filter(book_id=book, symbol__in=symbols)
        .order_by("pk")
        .values_list("pk", "symbol", "exit_time", "realized_pnl", "dry_run")
    )
)
TRADE_DICTS = Prepared(
    lambda book, dry_run: (
        Trade.objects.filter(book_id=book, dry_run=dry_run)
        .values("symbol")
        .annotate(total=Sum("quantity", filter=Q(status=Trade.Status.CLOSED)))
        .order_by("symbol")
    )
)


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    symbols=st.lists(st.sampled_from([*SYMBOLS, "ZZZ"]), max_size=5),
    status=st.sampled_from(STATUSES),
    minutes=st.integers(min_value=-60, max_value=500),
    pnl_above=st.decimals(min_value=-40, max_value=60, places=2),
    dry_run=st.booleans(),
)
def test_prepared_queries_give_what_their_querysets_give(symbols, status, minutes, pnl_above, dry_run):
    book = _book()
    since = START + timedelta(minutes=minutes)
    assert _instances(TRADES(book=book.pk, symbols=symbols, status=status, since=since, pnl_above=pnl_above)) == (
        _instances(_trades_by(book.pk, symbols, status, since, pnl_above))
    )
    assert TRADE_VALUES(book=book.pk, symbols=symbols) == list(
        Trade.objects.filter(book=book, symbol__in=symbols)
        .order_by("pk")
        .values_list("pk", "symbol", "exit_time", "realized_pnl", "dry_run")
    )
    assert TRADE_DICTS(book=book, dry_run=dry_run) == list(
        Trade.objects.filter(book=book, dry_run=dry_run)
        .values("symbol")
        .annotate(total=Sum("quantity", filter=Q(status=Trade.Status.CLOSED)))
        .order_by("symbol")
    )


def _book():
    return Book.objects.get(name="prepared")


@pytest.fixture(autouse=True)
def _stored_trades():
    _trades(BookFactory(name="prepared"))


def test_a_query_is_built_once_per_shape_and_runs_as_one_statement():
    book = _book()
    prepared = Prepared(lambda symbols: Trade.objects.filter(book_id=book.pk, symbol__in=symbols).values_list("pk"))
    prepared(symbols=["S0"])
    with CaptureQueriesContext(connection) as queries:
        assert len(prepared(symbols=["S1"])) == 1
        assert len(prepared(symbols=["S1", "S2", "nothing"])) == 2
    assert len(queries) == 2
    assert len(prepared._compiled) == 2  # one statement for one value, one for three


def test_an_empty_list_matches_nothing_without_asking_the_database():
    book = _book()
    with CaptureQueriesContext(connection) as queries:
        assert TRADE_VALUES(book=book.pk, symbols=[]) == []
    assert len(queries) == 0


def test_none_is_refused_rather_than_compared_with_equals():
    with pytest.raises(ValueError, match="IS NULL"):
        TRADE_VALUES(book=None, symbols=["S0"])


def test_uuids_dates_and_instances_are_converted_as_their_fields_convert_them():
    run = PipelineRunFactory(run_id=uuid.uuid4())
    by_run_id = Prepared(lambda run_id: PipelineRun.objects.filter(run_id=run_id).values_list("pk", flat=True))
    assert by_run_id(run_id=run.run_id) == [run.pk]
    fill = FillFactory(order=OrderFactory(trade=TradeFactory(run=run)))
    by_order = Prepared(lambda order, day: Fill.objects.filter(order=order, filled_at__date=day).values_list("pk"))
    assert by_order(order=fill.order, day=fill.filled_at.date()) == [(fill.pk,)]


@pytest.mark.django_db(transaction=True)
def test_a_locking_read_outside_a_transaction_is_refused_where_the_database_locks():
    locked = Prepared(lambda book: Trade.objects.select_for_update().filter(book_id=book))
    with transaction.atomic():
        assert len(locked(book=_book().pk)) == 12
    if connection.features.has_select_for_update:
        with pytest.raises(transaction.TransactionManagementError):
            locked(book=_book().pk)


def test_a_prepared_update_writes_what_update_would_and_counts_the_rows():
    book = _book()
    close = PreparedUpdate(
        lambda book, symbols: Trade.objects.filter(book_id=book, symbol__in=symbols, status=Trade.Status.OPEN),
        status=Trade.Status.CLOSED,
        exit_time=Param("at"),
    )
    at = START + timedelta(days=1)
    symbols = ["S0", "S3", "S4"]
    expected = set(Trade.objects.filter(book=book, symbol__in=symbols, status="open").values_list("pk"))
    assert len(expected) == 2
    assert close(book=book.pk, symbols=symbols, at=at) == len(expected)
    assert set(Trade.objects.filter(book=book, exit_time=at, status="closed").values_list("pk")) == expected
    assert close(book=book.pk, symbols=[], at=at) == 0


def test_querysets_it_cannot_reproduce_are_refused_when_built():
    with pytest.raises(TypeError):
        Prepared(lambda book: Order.objects.filter(book_id=book).select_related("trade"))(book=_book().pk)


@pytest.mark.django_db(transaction=True)
def test_threads_share_the_compiled_statement_each_on_its_own_connection():
    book = _book()
    ids = Prepared(lambda book: Trade.objects.filter(book_id=book).values_list("pk", flat=True))
    expected = sorted(ids(book=book.pk))
    found = []

    def in_a_thread():
        try:
            found.append(sorted(ids(book=book.pk)))
        finally:
            connection.close()

    worker = threading.Thread(target=in_a_thread)
    worker.start()
    worker.join()
    assert found == [expected]
    assert len(ids._compiled) == 1  # a server's passing threads leave nothing behind

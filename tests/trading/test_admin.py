"""The admin as people use it: staff see every page; outsiders and anonymous users are refused."""

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from trading.models import Candidate, Fill, Order, PipelineRun, Position, Trade
from trading.services.pipeline import RunOptions, pipeline_run
from trading.sim.models import Bar, BarImport, SimAccount, SimExecution, SimOrder, SimPosition

pytestmark = pytest.mark.django_db

MODELS = [
    PipelineRun,
    Candidate,
    Trade,
    Order,
    Fill,
    Position,
    SimAccount,
    SimOrder,
    SimExecution,
    SimPosition,
    Bar,
    BarImport,
]


@pytest.fixture
def book(morning):
    return pipeline_run(RunOptions(at=morning, top_n=2))


def _changelist(model):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_staff_can_open_every_changelist_and_change_page(staff_client, book, model):
    response = staff_client.get(_changelist(model))
    assert response.status_code == 200
    obj = model.objects.first()
    if obj is not None:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk])
        assert staff_client.get(url).status_code == 200


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_non_staff_and_anonymous_are_sent_to_login(client, plain_client, model):
    for who in (client, plain_client):
        response = who.get(_changelist(model))
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_run_page_shows_its_candidates_and_armed_state(staff_client, book):
    response = staff_client.get(reverse("admin:trading_pipelinerun_change", args=[book.pk]))
    content = response.content.decode()
    top = book.candidates.filter(status="executed").first()
    assert top.symbol in content and "Armed" in content


def test_changelists_filter_and_search(staff_client, book):
    trade = book.trades.first()
    response = staff_client.get(_changelist(Trade), {"status__exact": "open", "q": trade.symbol})
    assert response.status_code == 200 and trade.symbol in response.content.decode()
    response = staff_client.get(_changelist(PipelineRun), {"status__exact": "succeeded", "backend": "sim"})
    assert response.status_code == 200


def test_reviewer_annotates_a_trade_and_the_change_is_in_its_history(staff_client, book):
    trade = book.trades.first()
    url = reverse("admin:trading_trade_change", args=[trade.pk])
    form = {
        "review_status": "flagged",
        "tags": "gap-up, review",
        "notes": "Entered into a halt; check the tape.",
        "orders-TOTAL_FORMS": "3",
        "orders-INITIAL_FORMS": "3",
        "orders-MIN_NUM_FORMS": "0",
        "orders-MAX_NUM_FORMS": "1000",
    }
    for index, order in enumerate(trade.orders.order_by("-created_at", "id")):
        form[f"orders-{index}-id"] = str(order.pk)
        form[f"orders-{index}-trade"] = str(trade.pk)
    response = staff_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    trade.refresh_from_db()
    assert trade.review_status == "flagged" and trade.tags == "gap-up, review" and "halt" in trade.notes
    entry = LogEntry.objects.get(object_id=str(trade.pk))
    assert "Review status" in entry.get_change_message() and "Notes" in entry.get_change_message()
    history = staff_client.get(reverse("admin:trading_trade_history", args=[trade.pk]))
    assert history.status_code == 200 and "Review status" in history.content.decode()


def test_broker_facts_on_a_trade_cannot_be_edited(staff_client, book):
    trade = book.trades.first()
    url = reverse("admin:trading_trade_change", args=[trade.pk])
    staff_client.post(
        url, {"review_status": "reviewed", "tags": "", "notes": "", "entry_price": "1.00", "quantity": "1"}
    )
    trade.refresh_from_db()
    assert trade.entry_price != 1 and trade.quantity != 1


def test_times_are_shown_in_new_york(staff_client, book):
    response = staff_client.get(reverse("admin:trading_pipelinerun_change", args=[book.pk]))
    assert "10:30" in response.content.decode()  # 15:30 UTC market moment shown as 10:30 New York


def test_bulk_mark_reviewed_goes_through_the_review_service(staff_client, book):
    trades = list(book.trades.all())
    staff_client.post(
        reverse("admin:trading_trade_changelist"),
        {"action": "mark_reviewed", "index": "0", "_selected_action": [t.pk for t in trades]},
    )
    for trade in trades:
        trade.refresh_from_db()
        assert trade.review_status == "reviewed"
        assert "review status" in LogEntry.objects.get(object_id=str(trade.pk)).get_change_message().lower()


def test_trade_list_pages_a_large_table_by_its_statistics_not_a_count(staff_client, monkeypatch):
    from django.db import connection

    from tests.factories import TradeFactory
    from trading.admin import EstimatedCountPaginator

    TradeFactory.create_batch(3, status=Trade.Status.CLOSED)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE trading_trade")
    monkeypatch.setattr(EstimatedCountPaginator, "LARGE", 2)  # three rows count as "large" here
    TradeFactory.create_batch(2, status=Trade.Status.CLOSED)
    unfiltered = staff_client.get(_changelist(Trade))
    assert unfiltered.context["cl"].result_count == 3, "the statistics' figure: no COUNT over the table"
    assert len(unfiltered.context["cl"].result_list) == 5
    filtered = staff_client.get(_changelist(Trade) + "?status__exact=closed")
    assert filtered.context["cl"].result_count == 5, "a filtered list is counted exactly"


def test_a_runs_page_shows_its_candidates_and_parameters_as_tables(staff_client, morning):
    run = pipeline_run(RunOptions(at=morning))
    page = staff_client.get(f"/admin/trading/pipelinerun/{run.pk}/change/").content.decode()
    assert page.count('<table class="tl-compact">') == 2
    assert "risk.top_n" in page and "Rank pts" in page and "not armed" in page
    assert "&lt;span" not in page, "the safety badge is HTML, not escaped text"
    assert "View on site" not in page


def test_a_reconciliation_runs_positions_are_a_table(staff_client, morning):
    from reconciliation.services import reconciliation_run

    pipeline_run(RunOptions(at=morning))
    run = reconciliation_run()
    page = staff_client.get(f"/admin/reconciliation/reconciliationrun/{run.pk}/change/").content.decode()
    assert '<table class="tl-compact">' in page and "Broker qty" in page and "View on site" not in page

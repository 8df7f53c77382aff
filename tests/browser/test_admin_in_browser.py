"""The operator's console in Chromium: signed in, every admin page styled and clean, the
dashboard's figures, a chart, a trade annotated with its history, the API docs offline."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from tests.factories import TradeFactory
from tests.schedule.factories import JobSlotFactory
from trading import sessions
from trading.models import Trade
from trading.schedule.models import JobSlot
from trading.services.books import book_create
from trading.services.replay import replay_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def _history() -> None:
    """Two replayed sessions: runs, trades, positions, reports, snapshots and slots to show."""
    replay_run(book=book_create(name="hist", broker_alias="sim"), start=date(2026, 11, 19), end=date(2026, 11, 20))


def test_the_dashboard_shows_the_day_and_what_needs_attention(signed_in):
    today_start = datetime.combine(sessions.to_new_york(timezone.now()).date(), datetime.min.time(),
                                   tzinfo=sessions.NEW_YORK)  # fmt: skip
    TradeFactory(
        realized_pnl=Decimal("-900.00"), exit_reason=Trade.ExitReason.STOP, exit_time=today_start + timedelta(minutes=1)
    )
    JobSlotFactory(status=JobSlot.Status.FAILED, message="BrokerError: gateway down",
                   session_date=today_start.date(), scheduled_for=timezone.now() - timedelta(hours=1))  # fmt: skip
    signed_in.open("/admin/")
    attention = signed_in.page.inner_text("#tl-attention")
    assert "Needs attention" in attention
    assert "1 failed scheduled job(s) in the last 7 days" in attention
    assert "near the daily loss limit: -$900.00 of -$1,000.00" in attention
    assert "-$900.00" in signed_in.page.inner_text("#tl-dashboard")
    assert signed_in.stylesheets_applied()
    signed_in.shot("dashboard")
    assert signed_in.problems == []


def test_every_admin_page_loads_styled_and_clean(signed_in):
    _history()
    pages = ["/admin/", "/admin/reporting/dailyreport/stats/?book=hist", "/admin/schedule/jobslot/plan/"]
    pages += [reverse(f"admin:{m._meta.app_label}_{m._meta.model_name}_changelist") for m in admin.site._registry]
    for model in admin.site._registry:
        first = model.objects.order_by("pk").first()
        if first is not None:
            pages.append(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[first.pk]))
    for path in pages:
        response = signed_in.open(path)
        assert response.status == 200, path
        assert signed_in.stylesheets_applied(), f"{path} has no admin CSS"
    assert signed_in.problems == []
    for name, path in [("trades", "/admin/trading/trade/"), ("runs", "/admin/trading/pipelinerun/"),
                       ("positions", "/admin/trading/position/"), ("reports", "/admin/reporting/dailyreport/")]:  # fmt: skip
        signed_in.open(path)
        signed_in.shot(name)


def test_the_statistics_page_draws_its_charts(signed_in):
    _history()
    signed_in.open("/admin/reporting/dailyreport/stats/?book=hist")
    charts = signed_in.page.locator("svg.pnl-curve")
    assert charts.count() >= 2
    box = charts.first.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 50
    assert signed_in.page.locator("svg.pnl-curve polyline, svg.pnl-curve path").count() >= 2
    assert signed_in.page.locator("svg.pnl-bars").count() == 2  # daily P&L, P&L by symbol
    assert signed_in.page.locator("svg.pnl-bars rect").count() > 4
    signed_in.shot("statistics")
    assert signed_in.problems == []


def test_a_trade_is_annotated_and_its_history_shows_it(signed_in):
    trade = TradeFactory()
    signed_in.open(f"/admin/trading/trade/{trade.pk}/change/")
    signed_in.page.fill("#id_notes", "Faded the open; stop too tight.")
    signed_in.page.select_option("#id_review_status", "reviewed")
    signed_in.page.click("input[name=_save]")
    signed_in.page.wait_for_load_state("networkidle")
    trade.refresh_from_db()
    assert trade.notes == "Faded the open; stop too tight." and trade.review_status == "reviewed"
    signed_in.open(f"/admin/trading/trade/{trade.pk}/history/")
    assert "Notes" in signed_in.page.inner_text("#content")
    assert signed_in.problems == []


@pytest.mark.parametrize(
    ("path", "rendered"), [("/api/docs/", ".swagger-ui .opblock"), ("/api/redoc/", "text=Trade Labs API")]
)
def test_the_api_docs_render_with_no_network(signed_in, path, rendered):
    external = []
    local = (signed_in.base_url, f"blob:{signed_in.base_url}", "data:")
    signed_in.page.on("request", lambda r: r.url.startswith(local) or external.append(r.url))
    signed_in.open(path)
    signed_in.page.wait_for_selector(rendered, timeout=15_000)
    assert external == []
    signed_in.shot(path.strip("/").replace("/", "_"))
    assert signed_in.problems == []

"""The reports in the admin: staff read the rendered Markdown, the P&L curve and the CSV; others are refused."""

import pytest
from django.urls import reverse

from reporting.models import DailyReport
from reporting.services import report_generate

from .factories import closed_trade, ny

pytestmark = pytest.mark.django_db

FRIDAY = ny(2026, 11, 20).date()


@pytest.fixture
def report():
    closed_trade(symbol="AAA", pnl="198.00", entry=ny(2026, 11, 20, 10, 0), exit=ny(2026, 11, 20, 12, 0))
    closed_trade(
        symbol="B<B", pnl="-102.00", entry=ny(2026, 11, 20, 10, 30), exit=ny(2026, 11, 20, 11, 0), reason="stop"
    )
    return report_generate(day=FRIDAY)


def test_staff_see_the_changelist_with_a_link_to_statistics(staff_client, report):
    response = staff_client.get(reverse("admin:reporting_dailyreport_changelist"))
    content = response.content.decode()
    assert response.status_code == 200
    assert "Nov. 20, 2026" in content or "2026-11-20" in content
    assert reverse("admin:reporting_dailyreport_stats") in content
    assert "50.0%" in content


def test_report_page_renders_the_markdown_the_curve_and_links_the_csv(staff_client, report):
    response = staff_client.get(reverse("admin:reporting_dailyreport_change", args=[report.pk]))
    content = response.content.decode()
    assert response.status_code == 200
    assert "<table>" in content and "<td>Net P&amp;L</td>" in content and "<td>$96.00</td>" in content
    assert "<svg" in content and "<polyline" in content
    assert reverse("admin:reporting_dailyreport_csv", args=[report.pk]) in content
    assert "B<B" not in content and "B&lt;B" in content, "data never reaches the page as HTML"


def test_csv_link_downloads_the_days_csv(staff_client, report):
    response = staff_client.get(reverse("admin:reporting_dailyreport_csv", args=[report.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="report_2026-11-20.csv"' in response["Content-Disposition"]
    assert response.content.decode() == report.csv
    assert staff_client.get(reverse("admin:reporting_dailyreport_csv", args=[report.pk + 99])).status_code == 404


def test_stats_page_shows_all_time_or_a_month_with_a_curve(staff_client, report):
    closed_trade(symbol="OCT", pnl="-5.00", entry=ny(2026, 10, 5, 10, 0), exit=ny(2026, 10, 5, 11, 0))
    url = reverse("admin:reporting_dailyreport_stats")
    content = staff_client.get(url).content.decode()
    assert "Trade Labs statistics, book sim, all time" in content and "<td>$91.00</td>" in content and "<svg" in content
    content = staff_client.get(url, {"month": "2026-11"}).content.decode()
    assert "Trade Labs statistics, book sim, 2026-11" in content and "<td>$96.00</td>" in content
    response = staff_client.get(url, {"month": "nope"})
    assert response.status_code == 200 and "is not a month" in response.content.decode()


def test_stats_page_without_trades_says_there_is_no_curve(staff_client):
    content = staff_client.get(reverse("admin:reporting_dailyreport_stats")).content.decode()
    assert "no P&amp;L curve to draw" in content


def test_regenerate_action_rebuilds_the_selected_reports(staff_client, report):
    DailyReport.objects.filter(pk=report.pk).update(markdown="stale")
    response = staff_client.post(
        reverse("admin:reporting_dailyreport_changelist"),
        {"action": "regenerate", "_selected_action": [report.pk]},
        follow=True,
    )
    assert response.status_code == 200 and "Regenerated 1 report" in response.content.decode()
    report.refresh_from_db()
    assert report.markdown.startswith("# Trade Labs daily report")


def test_reports_cannot_be_added_or_edited(staff_client, report):
    assert staff_client.get(reverse("admin:reporting_dailyreport_add")).status_code == 403
    response = staff_client.post(reverse("admin:reporting_dailyreport_change", args=[report.pk]), {"markdown": "x"})
    assert response.status_code == 403


@pytest.mark.parametrize(
    "name, args",
    [("changelist", []), ("stats", []), ("csv", [1]), ("change", [1])],
)
def test_non_staff_and_anonymous_are_sent_to_login(client, plain_client, report, name, args):
    for who in (client, plain_client):
        response = who.get(reverse(f"admin:reporting_dailyreport_{name}", args=args or None))
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_falling_equity_curve_is_drawn_red_though_it_stays_above_zero():
    from datetime import date
    from decimal import Decimal

    from reporting.rendering import curve_svg

    falling = curve_svg([(date(2026, 11, 16), Decimal("99000")), (date(2026, 11, 17), Decimal("98000"))], baseline=None)
    rising = curve_svg([(date(2026, 11, 16), Decimal("99000")), (date(2026, 11, 17), Decimal("99500"))], baseline=None)
    assert 'stroke="#c62828"' in falling and 'stroke="#2e7d32"' in rising

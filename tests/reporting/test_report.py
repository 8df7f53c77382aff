"""Daily reports: stored once per date, written as files, regenerated in place; the commands and the task."""

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from reporting.models import DailyReport
from reporting.selectors import today_new_york
from reporting.services import report_generate
from reporting.tasks import daily_report_task
from trading.selectors import book_totals
from trading.services.books import book_default
from trading.services.marking import book_mark
from trading.services.pipeline import RunOptions, pipeline_run

from .factories import closed_trade, ny, open_trade

pytestmark = pytest.mark.django_db

FRIDAY = ny(2026, 11, 20).date()


@pytest.fixture
def friday_trades():
    closed_trade(symbol="AAA", pnl="198.00", entry=ny(2026, 11, 20, 10, 0), exit=ny(2026, 11, 20, 12, 0))
    closed_trade(
        symbol="BBB", pnl="-102.00", entry=ny(2026, 11, 20, 10, 30), exit=ny(2026, 11, 20, 11, 0), reason="stop"
    )
    open_trade(symbol="OPEN", entry_price="50.00", mark="50.50", entry_time=ny(2026, 11, 20, 14, 0))


def test_report_is_stored_and_written_as_markdown_and_csv(friday_trades, reports_dir):
    report = report_generate(day=FRIDAY)
    assert report.day == FRIDAY and report.trade_count == 2
    assert report.net_pnl == Decimal("96") and report.metrics["net_pnl"] == "96.00"
    md_path, csv_path = reports_dir / "report_2026-11-20.md", reports_dir / "report_2026-11-20.csv"
    assert report.markdown_path == str(md_path) and report.csv_path == str(csv_path)
    assert md_path.read_bytes().decode() == report.markdown
    assert csv_path.read_bytes().decode() == report.csv
    assert "# Trade Labs daily report, Friday 2026-11-20" in report.markdown
    assert "| Net P&L | $96.00 |" in report.markdown
    assert "| Win rate | 50.00% |" in report.markdown
    assert "## Open trades (1)" in report.markdown and "$50.00" in report.markdown  # unrealized 0.50 × 100
    assert "| 11:00:00 | BBB | BUY | 100 |" in report.markdown, "closed trades listed in New York time, exit order"
    rows = list(csv.DictReader(io.StringIO(report.csv)))
    assert [r["symbol"] for r in rows] == ["BBB", "AAA"]
    assert rows[0]["realized_pnl"] == "-102.00" and rows[0]["holding_seconds"] == "1800"
    assert rows[1]["exit_time"] == "2026-11-20T12:00:00-05:00"
    assert [c[1] for c in report.curve] == ["-102.00", "96.00"]


def test_regenerating_a_day_replaces_it_in_place(friday_trades, reports_dir):
    first = report_generate(day=FRIDAY)
    again = report_generate(day=FRIDAY)
    assert DailyReport.objects.count() == 1 and again.pk == first.pk
    assert again.markdown == first.markdown and again.csv == first.csv, "same trades, same bytes"
    assert sorted(p.name for p in reports_dir.iterdir()) == ["report_2026-11-20.csv", "report_2026-11-20.md"]

    closed_trade(symbol="CCC", pnl="4.00", entry=ny(2026, 11, 20, 15, 0), exit=ny(2026, 11, 20, 15, 30))
    updated = report_generate(day=FRIDAY)
    assert DailyReport.objects.count() == 1 and updated.trade_count == 3
    assert (reports_dir / "report_2026-11-20.md").read_text() == updated.markdown
    assert "CCC" in (reports_dir / "report_2026-11-20.csv").read_text()


def test_a_day_without_trades_still_gets_a_report():
    report = report_generate(day=ny(2026, 11, 26).date())  # Thanksgiving
    assert report.trade_count == 0
    assert "No trades closed this day." in report.markdown
    assert report.csv.splitlines() == [report.csv.splitlines()[0]], "header only"


def test_report_command_prints_json_metrics_for_a_date(friday_trades):
    out = StringIO()
    call_command("report", "--date", "2026-11-20", "--json", stdout=out)
    metrics = json.loads(out.getvalue())
    assert metrics["date"] == "2026-11-20"
    assert (metrics["trade_count"], metrics["wins"], metrics["losses"]) == (2, 1, 1)
    for name in ("win_rate", "gross_profit", "gross_loss", "net_pnl", "profit_factor", "expectancy", "average_win",
                 "average_loss", "largest_win", "largest_loss", "average_holding_time", "median_holding_time",
                 "max_drawdown", "max_drawdown_pct", "sharpe_ratio", "exit_reasons", "per_symbol", "commissions",
                 "open_trade_list", "unrealized_pnl"):  # fmt: skip
        assert name in metrics
    assert DailyReport.objects.filter(day=FRIDAY).exists()


def test_report_command_text_and_default_date(friday_trades):
    out = StringIO()
    call_command("report", stdout=out)
    assert f"Daily report {today_new_york().isoformat()}" in out.getvalue()
    out = StringIO()
    call_command("report", "--date", "2026-11-20", stdout=out)
    text = out.getvalue()
    assert "Closed trades: 2 (1 wins, 1 losses, 0 breakeven)" in text and "Net P&L: 96.00" in text
    assert "report_2026-11-20.md" in text


def test_report_command_refuses_a_bad_date():
    with pytest.raises(CommandError, match="not a date"):
        call_command("report", "--date", "20-11-2026", stdout=StringIO())


def test_daily_report_task_defaults_to_today_in_new_york(friday_trades):
    assert daily_report_task("2026-11-20")["trade_count"] == 2
    summary = daily_report_task()
    assert summary["day"] == today_new_york().isoformat()
    assert DailyReport.objects.count() == 2


def test_stats_json_has_the_book_counts_and_all_metrics(friday_trades):
    closed_trade(symbol="OCT", pnl="-5.00", entry=ny(2026, 10, 5, 10, 0), exit=ny(2026, 10, 5, 11, 0))
    out = StringIO()
    call_command("stats", "--json", stdout=out)
    stats = json.loads(out.getvalue())
    totals = book_totals(book=book_default())
    assert stats["scope"] == "all"
    for key in ("runs", "open_trades", "pending_trades", "closed_trades", "realized_pnl", "unrealized_pnl"):
        assert stats[key] == totals[key], key
    assert (stats["closed_trades"], stats["realized_pnl"], stats["unrealized_pnl"]) == (3, "91.00", "50.00")
    assert stats["trade_count"] == 3 and stats["wins"] == 1 and stats["losses"] == 2

    out = StringIO()
    call_command("stats", "--json", "--month", "2026-11", stdout=out)
    november = json.loads(out.getvalue())
    assert (november["scope"], november["trade_count"], november["net_pnl"]) == ("2026-11", 2, "96.00")
    assert november["period_start"] == "2026-11-01" and november["period_end"] == "2026-11-30"


def test_stats_text_output(friday_trades):
    out = StringIO()
    call_command("stats", "--month", "2026-11", stdout=out)
    text = out.getvalue()
    assert "closed: 2" in text and "Realized P&L: $96.00" in text
    assert "# Trade Labs statistics, book sim, 2026-11" in text and "| Net P&L | $96.00 |" in text


def test_stats_refuses_a_bad_month():
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("stats", "--month", "November", stdout=StringIO())


def test_report_agrees_with_the_sim_book_end_to_end():
    """A real SIM run worked for a few sessions: the all-time statistics equal the book's own totals."""
    pipeline_run(RunOptions(at=datetime(2026, 11, 20, 15, 30, tzinfo=UTC), top_n=3))
    for moment in (datetime(2026, 11, 20, 20, 59, tzinfo=UTC), datetime(2026, 11, 23, 20, 59, tzinfo=UTC)):
        book_mark(at=moment)
    stats = json.loads(_call("stats", "--json"))
    totals = book_totals(book=book_default())
    assert totals["closed_trades"] > 0 and totals["runs"] == 1
    for key in ("runs", "open_trades", "closed_trades", "wins", "losses", "realized_pnl", "unrealized_pnl"):
        assert stats[key] == totals[key], key
    reported = sum(report_generate(day=day).trade_count for day in (ny(2026, 11, 20).date(), ny(2026, 11, 23).date()))
    assert reported == totals["closed_trades"]


def _call(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(("day", "why"), [("2026-11-21", "Saturday"), ("2026-11-26", "Thursday")])  # Thanksgiving
def test_report_on_a_day_without_a_session_is_refused(day, why):
    with pytest.raises(CommandError, match=f"{day} \\({why}\\) is not an NYSE session"):
        call_command("report", "--date", day, stdout=StringIO())
    assert not DailyReport.objects.exists()


@pytest.mark.parametrize(
    "hostile",
    [
        "[X](JAVASCRIPT:%61%6C%65%72%74(1))",
        "[X](javascript:alert(1))",
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[X](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    ],
)
def test_rendered_markdown_keeps_no_script_link_or_handler(hostile):
    from reporting.rendering import markdown_html

    html = str(markdown_html(f"| symbol |\n| --- |\n| {hostile} |\n\n{hostile}\n")).lower()
    assert "javascript:" not in html and "<script" not in html and "onerror" not in html and "data:" not in html


def test_a_hostile_symbol_in_a_stored_report_is_inert_in_the_admin(staff_client, reports_dir):
    from django.urls import reverse

    symbol = "[](JAVASCRIPT:1)"  # 16 characters: what the symbol column holds on PostgreSQL too
    closed_trade(pnl="10.00", entry=ny(2026, 11, 20, 10, 0), exit=ny(2026, 11, 20, 11, 0), symbol=symbol)
    report = report_generate(day=FRIDAY)
    for url in (
        reverse("admin:reporting_dailyreport_change", args=[report.pk]),
        reverse("admin:reporting_dailyreport_stats"),
    ):
        page = staff_client.get(url).content.decode().lower()
        assert 'href="javascript' not in page, url

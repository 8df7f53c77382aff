"""Daily reports in the admin: the Markdown rendered, the CSV a click away, the P&L curve drawn inline."""

from datetime import timedelta
from decimal import Decimal

from django.contrib import admin, messages
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from trading import sessions
from trading.models import Book
from trading.money import format_money
from trading.services.books import book_named, default_book_name

from .metrics import Period, daily_pnl_units, pnl_curve_by_day, units_to_money
from .models import DailyReport, DailySnapshot
from .rendering import (
    bars_svg,
    books_comparison_table,
    curve_svg,
    drawdown_points,
    markdown_html,
    metrics_markdown,
    symbol_pnl_items,
)
from .selectors import period_from_month, stats_summary
from .services import report_generate
from .snapshots import equity_curve


@admin.register(DailyReport)
class DailyReportAdmin(admin.ModelAdmin):
    """Reports are written by `report_generate`; a person reads them, downloads the CSV, or regenerates them."""

    list_display = [
        "day",
        "book",
        "trade_count",
        "net_pnl_cents",
        "win_rate",
        "max_drawdown",
        "equity",
        "generated_at",
        "csv_link",
    ]
    list_filter = ["book"]
    list_select_related = ["book"]
    date_hierarchy = "day"
    actions = ["regenerate"]
    fieldsets = [
        (None, {"fields": ["day", "book", "generated_at", "files", "csv_link"]}),
        ("Cumulative net P&L", {"fields": ["chart"]}),
        ("Report", {"fields": ["rendered"]}),
    ]
    readonly_fields = ["day", "book", "generated_at", "files", "csv_link", "chart", "rendered"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Viewing is allowed (view permission); nothing on a report is edited by hand.
        return False

    def get_urls(self):
        extra = [
            path("<int:pk>/csv/", self.admin_site.admin_view(self.csv_view), name="reporting_dailyreport_csv"),
            path("stats/", self.admin_site.admin_view(self.stats_view), name="reporting_dailyreport_stats"),
        ]
        return extra + super().get_urls()

    @admin.display(description="Net P&L", ordering="net_pnl")
    def net_pnl_cents(self, report):
        return format_money(report.net_pnl)

    @admin.display(description="Win rate")
    def win_rate(self, report):
        rate = report.metrics.get("win_rate")
        return "–" if rate is None else f"{rate * 100:.1f}%"

    @admin.display(description="Max drawdown")
    def max_drawdown(self, report):
        return format_money(report.metrics.get("max_drawdown"))

    @admin.display(description="Equity at close")
    def equity(self, report):
        return format_money(report.metrics.get("equity"))

    @admin.display(description="CSV")
    def csv_link(self, report):
        url = reverse("admin:reporting_dailyreport_csv", args=[report.pk])
        return format_html('<a href="{}" download>{}.csv</a>', url, report.file_stem)

    @admin.display(description="Files")
    def files(self, report):
        return format_html("{}<br>{}", report.markdown_path or "-", report.csv_path or "-")

    @admin.display(description="Curve")
    def chart(self, report):
        return curve_svg([(moment[11:19], value) for moment, value in report.curve])

    @admin.display(description="Report")
    def rendered(self, report):
        return markdown_html(report.markdown)

    @admin.action(description="Regenerate the selected reports")
    def regenerate(self, request, queryset):
        reports = list(queryset.select_related("book"))
        for report in reports:
            report_generate(book=report.book, day=report.day)
        self.message_user(request, f"Regenerated {len(reports)} report(s).", messages.SUCCESS)

    def csv_view(self, request, pk: int):
        report = DailyReport.objects.filter(pk=pk).first()
        if report is None or not self.has_view_permission(request, report):
            raise Http404("No such report.")
        response = HttpResponse(report.csv, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{report.file_stem}.csv"'
        return response

    def stats_view(self, request):
        if not self.has_view_permission(request):
            raise Http404("No such page.")
        month = request.GET.get("month", "").strip()
        error = ""
        try:
            period = period_from_month(month)
        except ValueError as exc:
            error, month, period = str(exc), "", Period.all_time()
        names = [name for name in request.GET.getlist("book") if name] or [default_book_name()]
        books = list(Book.objects.filter(name__in=names).order_by("name"))
        if len(books) < len(set(names)):
            missing = sorted(set(names) - {b.name for b in books})
            error = f"no book named {', '.join(missing)}"
            books = books or [book_named(None)]
        scope = "all time" if period.start is None else month
        summaries = [stats_summary(book=book, period=period) for book in books]
        curves = [_charts(book, period, summary) for book, summary in zip(books, summaries, strict=True)]
        if len(books) > 1:
            title = f"Trade Labs: books {', '.join(b.name for b in books)} compared, {scope}"
            rendered = markdown_html(books_comparison_table(summaries))
        else:
            title = f"Trade Labs statistics, book {books[0].name}, {scope}"
            rendered = markdown_html(metrics_markdown(summaries[0], title=None))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "month": month,
            "error": error,
            "stats": summaries[0],
            "compared": len(books) > 1,
            "all_books": list(Book.objects.order_by("name").values_list("name", flat=True)),
            "chosen": [b.name for b in books],
            "curves": curves,
            "rendered": rendered,
        }
        return TemplateResponse(request, "admin/reporting/stats.html", context)


@admin.register(DailySnapshot)
class DailySnapshotAdmin(admin.ModelAdmin):
    """Each book at each session's close: read-only, written by the close's report job."""

    list_display = ["day", "book", "equity", "cash", "realized_pnl", "unrealized_pnl", "open_count", "marked_at_ny"]
    list_filter = ["book"]
    list_select_related = ["book"]
    date_hierarchy = "day"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Open trades")
    def open_count(self, snapshot):
        return len(snapshot.open_trade_ids)

    @admin.display(description="Marked at (New York)", ordering="marked_at")
    def marked_at_ny(self, snapshot):
        return f"{sessions.to_new_york(snapshot.marked_at):%Y-%m-%d %H:%M %Z}"


def _charts(book: Book, period: Period, summary: dict) -> dict:
    """The statistics page's charts of one book: equity at each close and its drawdown, daily and
    cumulative net P&L, and net P&L by symbol."""
    equity = equity_curve(book=book, start=period.start, end=period.end)
    before = equity_curve(book=book, end=period.start - timedelta(days=1)) if period.start else []
    start_equity = Decimal(before[-1][1] if before else book.starting_equity)  # the drawdown's first peak
    daily = [(day.isoformat(), units_to_money(units)) for day, units in daily_pnl_units(book=book, period=period)]
    return {
        "book": book.name,
        "equity": curve_svg(equity, baseline=None),
        "drawdown": curve_svg(
            drawdown_points(equity, starting_equity=start_equity),
            baseline=Decimal(0),
            unit="percent",
            what="Drawdown from the running peak of equity",
        ),  # fmt: skip
        "daily": bars_svg(daily, what="Net P&L by exit day"),
        "pnl": curve_svg(pnl_curve_by_day(book=book, period=period)),
        "symbols": bars_svg(symbol_pnl_items(summary["per_symbol"]), what="Net P&L by symbol", horizontal=True),
    }

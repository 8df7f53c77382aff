"""Daily reports in the admin: the Markdown rendered, the CSV a click away, the P&L curve drawn inline."""

from django.contrib import admin, messages
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from trading.money import to_cents

from .metrics import Period, pnl_curve_by_day
from .models import DailyReport
from .rendering import curve_svg, markdown_html, metrics_markdown
from .selectors import period_from_month, stats_summary
from .services import report_generate


@admin.register(DailyReport)
class DailyReportAdmin(admin.ModelAdmin):
    """Reports are written by `report_generate`; a person reads them, downloads the CSV, or regenerates them."""

    list_display = ["day", "trade_count", "net_pnl_cents", "win_rate", "max_drawdown", "generated_at", "csv_link"]
    date_hierarchy = "day"
    actions = ["regenerate"]
    fieldsets = [
        (None, {"fields": ["day", "generated_at", "files", "csv_link"]}),
        ("Cumulative net P&L", {"fields": ["chart"]}),
        ("Report", {"fields": ["rendered"]}),
    ]
    readonly_fields = ["day", "generated_at", "files", "csv_link", "chart", "rendered"]

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
        return to_cents(report.net_pnl)

    @admin.display(description="Win rate")
    def win_rate(self, report):
        rate = report.metrics.get("win_rate")
        return "-" if rate is None else f"{rate * 100:.1f}%"

    @admin.display(description="Max drawdown")
    def max_drawdown(self, report):
        return report.metrics.get("max_drawdown", "-")

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
        days = list(queryset.values_list("day", flat=True))
        for day in days:
            report_generate(day=day)
        self.message_user(request, f"Regenerated {len(days)} report(s).", messages.SUCCESS)

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
        stats = stats_summary(period=period)
        title = f"Trade Labs statistics, {'all time' if period.start is None else month}"
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "month": month,
            "error": error,
            "stats": stats,
            "chart": curve_svg(pnl_curve_by_day(period=period)),
            "rendered": markdown_html(metrics_markdown(stats, title=None)),
        }
        return TemplateResponse(request, "admin/reporting/stats.html", context)

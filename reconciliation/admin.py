"""Reconciliation in the admin: runs read-only; discrepancies reviewed, acknowledged, resolved."""

from datetime import datetime

from django.contrib import admin, messages
from django.utils.html import format_html_join

from trading.admin import BookFilter, ReadOnlyAdminMixin, html_table, new_york
from trading.money import format_money, format_price

from .models import Discrepancy, ReconciliationRun
from .services import discrepancies_set_review


class DiscrepancyInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Discrepancy
    fk_name = "last_seen_run"
    fields = ["severity", "kind", "symbol", "order_ref", "expected", "actual", "review_status", "times_seen"]
    readonly_fields = fields
    extra = 0
    show_change_link = True


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "short_id",
        "book",
        "started_at",
        "backend",
        "trigger",
        "status",
        "discrepancy_count",
        "unrealized_pnl_total",
    ]
    list_filter = [BookFilter, "status", "backend", "trigger", "started_at"]
    list_select_related = ["book"]
    date_hierarchy = "started_at"
    search_fields = ["run_id"]
    inlines = [DiscrepancyInline]
    readonly_fields = [f.name for f in ReconciliationRun._meta.fields] + ["positions_table", "unrealized_total"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    f.name
                    for f in ReconciliationRun._meta.fields
                    if f.name not in ("id", "positions", "unrealized_pnl_total")
                ]
                + ["unrealized_total"]
            },
        ),
        ("Positions compared", {"fields": ["positions_table"]}),
    ]

    @admin.display(description="Unrealized P&L total")
    def unrealized_total(self, run):
        return format_money(run.unrealized_pnl_total)

    @admin.display(description="Book against broker, per symbol")
    def positions_table(self, run):
        rows = [
            [p.get("symbol"), p.get("expected_qty"), p.get("actual_qty"), format_price(p.get("expected_avg_cost")),
             format_price(p.get("actual_avg_cost")), format_price(p.get("mark_price")),
             new_york(datetime.fromisoformat(p["marked_at"])) if p.get("marked_at") else "–",
             format_money(p.get("unrealized_pnl"))]
            for p in run.positions or []
        ]  # fmt: skip
        headers = ["Symbol", "Book qty", "Broker qty", "Book cost", "Broker cost", "Mark", "Marked", "Unrealized"]
        return html_table(headers, rows, numeric={1, 2, 3, 4, 5, 7})

    @admin.display(description="Run")
    def short_id(self, run):
        return str(run.run_id)[:8]


@admin.register(Discrepancy)
class DiscrepancyAdmin(admin.ModelAdmin):
    """A person decides: the review status and notes are editable, the findings are not."""

    view_on_site = False  # its URL is this page

    list_display = [
        "symbol",
        "book",
        "kind",
        "severity",
        "expected",
        "actual",
        "review_status",
        "times_seen",
        "last_seen_at",
        "still_present",
    ]
    list_filter = [
        BookFilter,
        "review_status",
        "kind",
        "severity",
        ("cleared_at", admin.EmptyFieldListFilter),
        "symbol",
    ]
    list_select_related = ["book"]
    search_fields = ["symbol", "order_ref", "detail", "notes"]
    list_select_related = ["last_seen_run"]
    actions = ["acknowledge", "resolve"]
    fields = [
        "review_status",
        "notes",
        "kind",
        "severity",
        "symbol",
        "order_ref",
        "expected",
        "actual",
        "detail",
        "backend",
        "trade_links",
        "first_seen_at",
        "last_seen_at",
        "times_seen",
        "cleared_at",
        "first_seen_run",
        "last_seen_run",
    ]
    readonly_fields = [f for f in fields if f not in ("review_status", "notes")]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(boolean=True, description="Still present")
    def still_present(self, discrepancy):
        return discrepancy.cleared_at is None

    @admin.display(description="Trades involved")
    def trade_links(self, discrepancy):
        trades = discrepancy.trades.order_by("-created_at")
        if not trades:
            return "-"
        return format_html_join(", ", '<a href="{}">{}</a>', ((t.get_absolute_url(), str(t)) for t in trades))

    @admin.action(description="Acknowledge selected discrepancies", permissions=["change"])
    def acknowledge(self, request, queryset):
        count = discrepancies_set_review(
            ids=list(queryset.values_list("pk", flat=True)),
            status=Discrepancy.Review.ACKNOWLEDGED,
            note=f"Acknowledged by {request.user.get_username()}.",
        )
        self.message_user(request, f"{count} acknowledged.", messages.SUCCESS)

    @admin.action(description="Resolve selected discrepancies", permissions=["change"])
    def resolve(self, request, queryset):
        count = discrepancies_set_review(
            ids=list(queryset.values_list("pk", flat=True)),
            status=Discrepancy.Review.RESOLVED,
            note=f"Resolved by {request.user.get_username()}.",
        )
        self.message_user(request, f"{count} resolved.", messages.SUCCESS)

"""The book of record in the admin: broker facts read-only, trades annotatable with history."""

from django.conf import settings
from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import F
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join

from trading import sessions
from trading.brokers import brokers
from trading.models import (
    Alert,
    ArmRecord,
    Book,
    Candidate,
    Fill,
    HealthResult,
    KillSwitchUse,
    Order,
    OrderEvent,
    PipelineRun,
    Position,
    Trade,
)
from trading.money import format_money, format_price


class BackendFilter(admin.SimpleListFilter):
    """Backends from settings, not a DISTINCT over millions of rows."""

    title = "backend"
    parameter_name = "backend"

    def lookups(self, request, model_admin):
        names = sorted({brokers.name_of(alias) for alias in settings.BROKERS if alias != "default"})
        return [(name, name.upper()) for name in names]

    def queryset(self, request, queryset):
        return queryset.filter(backend=self.value()) if self.value() else queryset


class BookFilter(admin.SimpleListFilter):
    """Books from their own small table; the lists of every book-owned model filter by it."""

    title = "book"
    parameter_name = "book"

    def lookups(self, request, model_admin):
        return list(Book.objects.order_by("name").values_list("name", "name"))

    def queryset(self, request, queryset):
        return queryset.filter(book__name=self.value()) if self.value() else queryset


def new_york(moment) -> str:
    """A stored UTC moment as a trader reads it: New York time, with the zone."""
    return "–" if moment is None else f"{sessions.to_new_york(moment):%Y-%m-%d %H:%M %Z}"


class EstimatedCountPaginator(Paginator):
    """Pages over a table of millions without counting it: a changelist with no filter takes the
    row count from the database's statistics (PostgreSQL's planner estimate, SQLite's last ANALYZE)
    once that says the table is large; a filtered list, or a small table, is counted exactly.
    An estimate can be off by what changed since the statistics were taken: a page number, not a
    figure anyone reports."""

    LARGE = 100_000

    @cached_property
    def count(self) -> int:
        query = getattr(self.object_list, "query", None)
        if query is not None and not query.where:
            estimate = _estimated_rows(self.object_list)
            if estimate is not None and estimate >= self.LARGE:
                return estimate
        return super().count


def _estimated_rows(queryset) -> int | None:
    """The database's own idea of how many rows the model's table holds; None when it has none."""
    connection = connections[queryset.db]
    table = queryset.model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", [table])
        elif connection.vendor == "sqlite":
            # Each sqlite_stat1 row of the table starts with its row count at the last ANALYZE.
            cursor.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")
            if cursor.fetchone() is None:
                return None
            cursor.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = %s LIMIT 1", [table])
        else:
            return None
        row = cursor.fetchone()
    if row is None or row[0] is None:
        return None
    estimate = int(float(str(row[0]).split()[0]))
    return estimate if estimate >= 0 else None


class ReadOnlyAdminMixin:
    """Records written by the pipeline and brokers: a person may look, never edit."""

    # A record's URL is its admin page: "View on site" would only reload it.
    view_on_site = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def html_table(headers: list[str], rows: list[list], *, numeric: set[int] = frozenset()) -> str:
    """A compact read-only table for a detail page (escaped; `numeric` columns aligned right)."""
    if not rows:
        return format_html('<p class="help">{}</p>', "None.")
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        (
            (
                format_html_join(
                    "",
                    '<td style="{}">{}</td>',
                    (("text-align: right; font-variant-numeric: tabular-nums" if i in numeric else "", cell)
                     for i, cell in enumerate(row)),
                ),
            )
            for row in rows
        ),
    )  # fmt: skip
    return format_html('<table class="tl-compact"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', head, body)


def flat_items(value, prefix: str = "") -> list[list]:
    """A JSON object as (key, value) rows, nested keys dotted: a run's parameters read as a table."""
    if isinstance(value, dict):
        return [row for key, item in value.items() for row in flat_items(item, f"{prefix}{key}.")]
    return [[prefix.rstrip("."), "–" if value is None or value == "" else value]]


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    show_change_link = True
    can_delete = False


class TradeInline(ReadOnlyInline):
    model = Trade
    fields = [
        "symbol",
        "side",
        "quantity",
        "entry_price",
        "stop_price",
        "target_price",
        "exit_price",
        "realized_pnl",
        "status",
    ]
    readonly_fields = fields


class OrderInline(ReadOnlyInline):
    model = Order
    fk_name = "run"
    fields = [
        "client_order_ref",
        "symbol",
        "leg",
        "side",
        "order_type",
        "quantity",
        "limit_price",
        "stop_price",
        "status",
        "filled_quantity",
    ]
    readonly_fields = fields


@admin.register(PipelineRun)
class PipelineRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "short_id",
        "book",
        "market_time_ny",
        "started_at",
        "trigger",
        "backend",
        "mode",
        "armed",
        "dry_run",
        "status",
        "scanned_count",
        "scored_count",
        "rejected_count",
        "executed_count",
    ]
    list_filter = [BookFilter, "status", BackendFilter, "trigger", "armed", "dry_run", "market_time"]
    list_select_related = ["book"]
    search_fields = ["run_id", "error"]
    date_hierarchy = "market_time"
    # The run's candidates are one compact table (with the score breakdown), not 50 inline forms.
    inlines = [TradeInline, OrderInline]
    show_full_result_count = False
    readonly_fields = [f.name for f in PipelineRun._meta.fields] + ["badges", "parameters_table", "candidates_table"]
    fieldsets = [
        (
            None,
            {"fields": ["badges", *[f.name for f in PipelineRun._meta.fields if f.name not in ("id", "parameters")]]},
        ),
        ("Parameters", {"fields": ["parameters_table"]}),
        ("Candidates", {"fields": ["candidates_table"]}),
    ]

    @admin.display(description="Safety")
    def badges(self, run):
        armed = ("#8a1f1f", "#f2dede", "ARMED") if run.armed else ("#25572a", "#dff0d8", "not armed")
        if run.arm_id:
            armed = (*armed[:2], f"ARMED by {run.arm.armed_by} until {new_york(run.arm.until)}")
        dry = ("#7a5a00", "#fcf8e3", "dry run: nothing sent") if run.dry_run else None
        badge = '<span style="color: {}; background: {}; padding: .1em .6em; border-radius: 1em; font-weight: bold">{}</span> '
        return format_html("{}{}", format_html(badge, *armed), format_html(badge, *dry) if dry else "")

    @admin.display(description="Parameters")
    def parameters_table(self, run):
        return html_table(["Setting", "Value"], flat_items(run.parameters or {}))

    @admin.display(description="Candidates, best score first")
    def candidates_table(self, run):
        rows = [
            [c.scanner_rank, format_html('<a href="{}">{}</a>', reverse("admin:trading_candidate_change", args=[c.pk]), c.symbol),
             format_price(c.bid), format_price(c.ask), format_price(c.last), "–" if c.volume is None else f"{c.volume:,}",
             c.score if c.score is not None else "–", c.score_price if c.score_price is not None else "–",
             c.score_spread if c.score_spread is not None else "–", c.score_rank if c.score_rank is not None else "–",
             c.get_status_display(), c.reason or "–"]
            for c in run.candidates.order_by(F("score").desc(nulls_last=True), "scanner_rank")
        ]  # fmt: skip
        headers = [
            "Rank",
            "Symbol",
            "Bid",
            "Ask",
            "Last",
            "Volume",
            "Score",
            "Price",
            "Spread",
            "Rank pts",
            "Status",
            "Why",
        ]
        return html_table(headers, rows, numeric={0, 2, 3, 4, 5, 6, 7, 8, 9})

    @admin.display(description="Run", ordering="run_id")
    def short_id(self, run):
        return run.short_id

    @admin.display(description="Market time (New York)", ordering="market_time")
    def market_time_ny(self, run):
        return new_york(run.market_time)


@admin.register(Candidate)
class CandidateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["symbol", "book", "run_link", "scanner_rank", "bid", "ask", "score", "status", "reason"]
    list_filter = [BookFilter, "status", "run__market_time"]
    search_fields = ["symbol", "reason"]
    list_select_related = ["run"]
    show_full_result_count = False
    readonly_fields = [f.name for f in Candidate._meta.fields]

    @admin.display(description="Run")
    def run_link(self, candidate):
        return format_html('<a href="{}">{}</a>', candidate.run.get_absolute_url(), candidate.run.short_id)


class OrderTradeInline(ReadOnlyInline):
    model = Order
    fk_name = "trade"
    fields = OrderInline.fields
    readonly_fields = fields


@admin.register(Trade)
class TradeAdmin(admin.ModelAdmin):
    """Everything a broker or the pipeline set is read-only; a reviewer edits notes, tags and review status.
    Each edit is kept in the admin's change history (the History button)."""

    view_on_site = False  # the trade's own URL is this page

    # The id leads: `close_trade TRADE_ID` and the API take it. Columns fit 1366 px: the side
    # (every entry is a long), tags and dry run are on the trade's page and in the filters.
    list_display = [
        "id",
        "symbol",
        "book",
        "quantity",
        "entry_price_shown",
        "entry_time_ny",
        "exit_price_shown",
        "exit_time_ny",
        "exit_reason",
        "pnl_shown",
        "status",
        "review",
    ]
    list_display_links = ["id", "symbol"]
    # No date_hierarchy on the big tables: its year list is a DISTINCT over every row (seconds
    # at a million trades); the exit-date filter gives today / 7 days / month / year instead.
    list_filter = [BookFilter, "status", "exit_reason", "review_status", BackendFilter, "dry_run", "exit_time"]
    search_fields = ["symbol", "notes", "tags"]
    # No column shows the run: joining it would only cost. The book is one row of a small table.
    list_select_related = ["book"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    inlines = [OrderTradeInline]
    fieldsets = [
        ("Review", {"fields": ["review_status", "tags", "notes"]}),
        (
            "Round trip",
            {
                "fields": [
                    "symbol",
                    "side",
                    "quantity",
                    "status",
                    "status_reason",
                    "entry_price",
                    "entry_time",
                    "stop_price",
                    "target_price",
                    "exit_price",
                    "exit_time",
                    "exit_reason",
                    "commission",
                    "realized_pnl",
                ]
            },
        ),
        (
            "Origin",
            {
                "fields": [
                    "book",
                    "run_link",
                    "candidate",
                    "backend",
                    "broker_alias",
                    "account_id",
                    "dry_run",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
    ]
    readonly_fields = [f.name for f in Trade._meta.fields if f.name not in ("notes", "tags", "review_status")] + [
        "run_link"
    ]
    actions = ["close_at_market", "mark_reviewed"]

    @admin.action(description="Close selected open trades at market", permissions=["change"])
    def close_at_market(self, request, queryset):
        from trading.brokers.base import BrokerError
        from trading.services.closing import CloseRefused, TradeNotOpen, trade_close

        for trade in queryset.filter(status=Trade.Status.OPEN):
            try:
                closed = trade_close(trade_id=trade.pk)
            except (TradeNotOpen, CloseRefused, BrokerError) as exc:
                self.message_user(request, f"{trade.symbol}: not closed: {exc}", messages.ERROR)
                continue
            self.log_change(request, closed, f"Closed at market: {closed.status}, exit {closed.exit_price}")
            self.message_user(request, f"{trade.symbol}: {closed.status} at {closed.exit_price}", messages.SUCCESS)

    @admin.action(description="Mark selected trades as reviewed", permissions=["change"])
    def mark_reviewed(self, request, queryset):
        from trading.services.review import trade_review

        for trade in queryset:
            trade_review(trade=trade, user=request.user, review_status=Trade.ReviewStatus.REVIEWED)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Review", ordering="review_status")
    def review(self, trade):
        return trade.get_review_status_display()

    @admin.display(description="Entry price", ordering="entry_price")
    def entry_price_shown(self, trade):
        return format_price(trade.entry_price)

    @admin.display(description="Exit price", ordering="exit_price")
    def exit_price_shown(self, trade):
        return format_price(trade.exit_price)

    @admin.display(description="Realized P&L", ordering="realized_pnl")
    def pnl_shown(self, trade):
        return format_money(trade.realized_pnl)

    @admin.display(description="Entry (New York)", ordering="entry_time")
    def entry_time_ny(self, trade):
        return new_york(trade.entry_time)

    @admin.display(description="Exit (New York)", ordering="exit_time")
    def exit_time_ny(self, trade):
        return new_york(trade.exit_time)

    @admin.display(description="Run")
    def run_link(self, trade):
        if not trade.run_id:
            return "-"
        return format_html('<a href="{}">{}</a>', trade.run.get_absolute_url(), trade.run.short_id)


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ["at", "status", "message"]
    readonly_fields = fields
    show_change_link = False


class FillInline(ReadOnlyInline):
    model = Fill
    fields = ["exec_id", "side", "quantity", "price", "commission", "filled_at"]
    readonly_fields = fields
    show_change_link = False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "client_order_ref",
        "book",
        "broker_order_id",
        "symbol",
        "leg",
        "side",
        "order_type",
        "quantity",
        "limit_price",
        "stop_price",
        "status",
        "filled_quantity",
        "created_at",
    ]
    list_filter = [BookFilter, "status", "leg", BackendFilter, "dry_run", "created_at"]
    list_select_related = ["book"]
    search_fields = ["client_order_ref", "broker_order_id", "symbol"]
    show_full_result_count = False
    inlines = [OrderEventInline, FillInline]
    readonly_fields = [f.name for f in Order._meta.fields] + ["trade_link"]

    @admin.display(description="Trade")
    def trade_link(self, order):
        if not order.trade_id:
            return "-"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:trading_trade_change", args=[order.trade_id]), order.trade
        )


@admin.register(Fill)
class FillAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["exec_id", "book", "symbol", "side", "quantity", "price", "commission", "filled_at", "order"]
    list_filter = [BookFilter, "side", "filled_at"]
    search_fields = ["exec_id", "symbol", "order__client_order_ref"]
    list_select_related = ["order", "book"]
    show_full_result_count = False
    readonly_fields = [f.name for f in Fill._meta.fields]


@admin.register(Position)
class PositionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "symbol",
        "book",
        "quantity",
        "average_cost_shown",
        "protective_stop_shown",
        "mark_shown",
        "marked_at_ny",
        "unrealized_shown",
        "realized_shown",
    ]
    search_fields = ["symbol"]
    list_filter = [BookFilter]
    list_select_related = ["book"]
    readonly_fields = [f.name for f in Position._meta.fields]

    @admin.display(description="Average cost", ordering="average_cost")
    def average_cost_shown(self, position):
        return format_price(position.average_cost)

    @admin.display(description="Protective stop", ordering="protective_stop")
    def protective_stop_shown(self, position):
        return format_price(position.protective_stop)

    @admin.display(description="Mark", ordering="mark_price")
    def mark_shown(self, position):
        return format_price(position.mark_price)

    @admin.display(description="Marked (New York)", ordering="marked_at")
    def marked_at_ny(self, position):
        return new_york(position.marked_at)

    @admin.display(description="Unrealized P&L", ordering="unrealized_pnl")
    def unrealized_shown(self, position):
        # Never marked: unknown, not zero.
        return format_money(None if position.mark_price is None else position.unrealized_pnl)

    @admin.display(description="Realized P&L", ordering="realized_pnl")
    def realized_shown(self, position):
        return format_money(position.realized_pnl)


@admin.register(Book)
class BookAdmin(admin.ModelAdmin):
    """Books are made by migrate (one per broker alias) and by `replay`; a person reads them here."""

    view_on_site = False

    list_display = [
        "name",
        "broker_alias",
        "account_id",
        "armed_state",
        "market",
        "clock_ny",
        "starting_equity_shown",
        "links",
    ]
    search_fields = ["name", "account_id"]
    readonly_fields = [f.name for f in Book._meta.fields] + ["links", "armed_state"]
    actions = ["arm_until_close", "disarm", "kill_switch"]

    def has_arm_permission(self, request):
        # Arming lets orders reach a broker: superusers only, and every use is recorded.
        return request.user.is_superuser

    @admin.display(description="Armed")
    def armed_state(self, book):
        from trading.services.arming import arm_active

        record = arm_active(book=book)
        if record is None:
            return "–"
        return f"until {new_york(record.until)} by {record.armed_by}"

    @admin.action(description="Arm until today's close (TRADE_LABS_ARMED=1 required)", permissions=["arm"])
    def arm_until_close(self, request, queryset):
        from trading.services.arming import ArmingRefused, book_arm, default_arm_until

        who = f"{request.user.get_username()} (admin)"
        for book in queryset:
            try:
                record = book_arm(book=book, by=who, until=default_arm_until(), reason="armed in the admin")
            except ArmingRefused as exc:
                self.message_user(request, f"{book.name}: {exc}", messages.ERROR)
                continue
            self.message_user(request, f"{book.name} armed until {new_york(record.until)}", messages.WARNING)

    @admin.action(description="Kill switch… (disarm, cancel working entries, optionally flatten)", permissions=["arm"])
    def kill_switch(self, request, queryset):
        from django.template.response import TemplateResponse

        from trading.services.kill_switch import kill_switch

        if "confirm" not in request.POST:
            context = {**self.admin_site.each_context(request), "title": "Kill switch", "books": list(queryset)}
            return TemplateResponse(request, "admin/trading/book/kill_switch_confirm.html", context)
        who = f"{request.user.get_username()} (admin)"
        for book in queryset:
            result = kill_switch(book=book, by=who, flatten=bool(request.POST.get("flatten")))
            use = result.use
            summary = f"{book.name}: disarmed, {use.cancelled} working entries cancelled" + (
                f", {use.closed} open trades closed" if use.flatten else ""
            )
            if result.problems:
                self.message_user(request, f"{summary}; NOT done: {'; '.join(result.problems)}", messages.ERROR)
            else:
                self.message_user(request, summary, messages.WARNING)
        return None

    @admin.action(description="Disarm now", permissions=["arm"])
    def disarm(self, request, queryset):
        from trading.services.arming import book_disarm

        who = f"{request.user.get_username()} (admin)"
        for book in queryset:
            ended = book_disarm(book=book, by=who, reason="disarmed in the admin")
            self.message_user(request, f"{book.name} {'disarmed' if ended else 'was not armed'}", messages.SUCCESS)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Starting equity", ordering="starting_equity")
    def starting_equity_shown(self, book):
        return format_money(book.starting_equity)

    @admin.display(description="Clock (New York)", ordering="clock")
    def clock_ny(self, book):
        return new_york(book.clock)

    @admin.display(description="See")
    def links(self, book):
        trades = reverse("admin:trading_trade_changelist") + f"?book={book.name}"
        stats = reverse("admin:reporting_dailyreport_stats") + f"?book={book.name}"
        reports = reverse("admin:reporting_dailyreport_changelist") + f"?book__id__exact={book.pk}"
        return format_html(
            '<a href="{}">trades</a> · <a href="{}">statistics and equity curve</a> · <a href="{}">reports</a>',
            trades,
            stats,
            reports,
        )


@admin.register(HealthResult)
class HealthResultAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What each `manage.py healthcheck` found (the dashboard shows the last one)."""

    list_display = ["checked_at", "healthy", "failing"]
    list_filter = ["healthy"]
    readonly_fields = ["checked_at", "healthy", "checks_table"]
    fields = readonly_fields

    @admin.display(description="Failing checks")
    def failing(self, result):
        return ", ".join(c["name"] for c in result.report.get("checks", []) if not c["ok"]) or "–"

    @admin.display(description="Checks")
    def checks_table(self, result):
        rows = [[c["name"], "ok" if c["ok"] else "FAIL", c["detail"]] for c in result.report.get("checks", [])]
        return html_table(["Check", "Result", "Detail"], rows)


@admin.register(ArmRecord)
class ArmRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The audit trail of arming: who armed which book, when, until when, why; who disarmed it."""

    list_display = ["book", "armed_by", "armed_at_ny", "until_ny", "reason", "disarmed_by", "disarmed_at_ny"]
    list_filter = [BookFilter]
    list_select_related = ["book"]
    readonly_fields = [f.name for f in ArmRecord._meta.fields]

    @admin.display(description="Armed (New York)", ordering="armed_at")
    def armed_at_ny(self, record):
        return new_york(record.armed_at)

    @admin.display(description="Until (New York)", ordering="until")
    def until_ny(self, record):
        return new_york(record.until)

    @admin.display(description="Disarmed (New York)", ordering="disarmed_at")
    def disarmed_at_ny(self, record):
        return new_york(record.disarmed_at)


@admin.register(KillSwitchUse)
class KillSwitchUseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["book", "used_by", "used_at_ny", "flatten", "cancelled", "closed", "problems"]
    list_filter = [BookFilter]
    list_select_related = ["book"]
    readonly_fields = [f.name for f in KillSwitchUse._meta.fields]

    @admin.display(description="Used (New York)", ordering="used_at")
    def used_at_ny(self, use):
        return new_york(use.used_at)


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every alert raised, whether or not a place accepted it, and what each place said."""

    list_display = ["raised_at_ny", "event", "book", "title", "delivered", "repeats"]
    list_filter = ["event", "delivered", BookFilter]
    list_select_related = ["book"]
    search_fields = ["title", "body"]
    readonly_fields = [f.name for f in Alert._meta.fields]

    @admin.display(description="Raised (New York)", ordering="raised_at")
    def raised_at_ny(self, alert):
        return new_york(alert.raised_at)

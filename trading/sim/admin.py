"""The SIM broker's own books, for inspection: what the simulated broker believes."""

from django.contrib import admin

from trading.admin import ReadOnlyAdminMixin

from .models import Bar, BarImport, SimAccount, SimExecution, SimOrder, SimPosition


@admin.register(SimAccount)
class SimAccountAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["account_id", "cash", "clock"]


@admin.register(SimOrder)
class SimOrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "order_ref",
        "symbol",
        "side",
        "order_type",
        "quantity",
        "limit_price",
        "stop_price",
        "status",
        "active_from",
    ]
    list_filter = ["status", "order_type"]
    search_fields = ["order_ref", "symbol"]
    show_full_result_count = False


@admin.register(SimExecution)
class SimExecutionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["exec_id", "symbol", "side", "quantity", "price", "commission", "executed_at"]
    search_fields = ["exec_id", "symbol"]
    date_hierarchy = "executed_at"
    show_full_result_count = False


@admin.register(SimPosition)
class SimPositionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["symbol", "quantity", "average_cost", "account"]
    search_fields = ["symbol"]


@admin.register(Bar)
class BarAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["symbol", "start", "interval_seconds", "open", "high", "low", "close", "volume", "source"]
    list_filter = ["interval_seconds"]
    search_fields = ["symbol"]
    date_hierarchy = "start"
    show_full_result_count = False


@admin.register(BarImport)
class BarImportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "source", "symbol", "layout", "status", "rows_read", "rows_imported", "rows_rejected"]
    list_filter = ["status", "layout"]
    search_fields = ["source", "symbol"]

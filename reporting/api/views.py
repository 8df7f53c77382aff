"""API views: parse the request, read through querysets and selectors, format. No business logic here."""

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response

from reconciliation.models import Discrepancy, ReconciliationRun
from reporting.exports import TRADE_COLUMNS, Column, queryset_csv
from reporting.models import DailyReport
from trading.models import Candidate, Order, PipelineRun, Position, Trade
from trading.services.review import trade_review

from . import filters, serializers
from .pagination import ExportPagination
from .permissions import ModelPermissionsWithReads
from .renderers import CSVRenderer

FORMAT_PARAMETER = OpenApiParameter(
    "format",
    OpenApiTypes.STR,
    enum=["json", "csv"],
    description="csv: every row matching the filters, streamed (pagination does not apply).",
)


class ExportMixin:
    """JSON pages, or `?format=csv` for the whole filtered, ordered list streamed row by row.

    The CSV reads only `csv_columns` through `values_list(...).iterator()`, so memory stays flat
    however many rows there are, and no model instance is built.
    """

    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, CSVRenderer]
    pagination_class = ExportPagination
    permission_classes = [ModelPermissionsWithReads]
    csv_columns: list[Column] = []
    csv_name = "export"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Every export says which book each row belongs to: last, so the other columns keep their places.
        if cls.csv_columns and not any(column.header == "book" for column in cls.csv_columns):
            cls.csv_columns = [*cls.csv_columns, Column("book", "book__name")]

    def list(self, request, *args, **kwargs):
        if request.accepted_renderer.format != "csv":
            return super().list(request, *args, **kwargs)
        queryset = self.filter_queryset(self.get_queryset())
        response = StreamingHttpResponse(
            queryset_csv(queryset, self.csv_columns), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{self.csv_name}.csv"'
        return response


def _columns(*lookups: str) -> list[Column]:
    return [Column(lookup.replace("__", "_"), lookup) for lookup in lookups]


list_schema = extend_schema(parameters=[FORMAT_PARAMETER])


@extend_schema_view(list=list_schema)
class PipelineRunViewSet(ExportMixin, viewsets.ReadOnlyModelViewSet):
    """Pipeline runs (scan → score → execute), newest first. Looked up by run_id."""

    queryset = PipelineRun.objects.select_related("book")
    serializer_class = serializers.PipelineRunSerializer
    filterset_class = filters.RunFilter
    ordering_fields = ["started_at", "finished_at", "status", "executed_count", "scanned_count"]
    ordering = ["-started_at", "-id"]
    lookup_field = "run_id"
    csv_name = "runs"
    csv_columns = _columns(
        "run_id", "trigger", "backend", "mode", "armed", "dry_run", "status", "started_at", "finished_at",
        "market_time", "market_time_label", "scanned_count", "scored_count", "rejected_count", "executed_count", "error",
    )  # fmt: skip


@extend_schema_view(list=list_schema)
class CandidateViewSet(ExportMixin, viewsets.ReadOnlyModelViewSet):
    """Symbols each run considered, with their quote, score and the decision taken."""

    # Integer ids up to 18 digits; anything else is not a route (JSON 404), never a database overflow.
    lookup_value_regex = r"\d{1,18}"

    queryset = Candidate.objects.select_related("run", "book")
    serializer_class = serializers.CandidateSerializer
    filterset_class = filters.CandidateFilter
    ordering_fields = ["score", "scanner_rank", "symbol", "run__started_at"]
    ordering = ["-run__started_at", "scanner_rank", "id"]
    csv_name = "candidates"
    csv_columns = [Column("id", "id"), Column("run_id", "run__run_id")] + _columns(
        "symbol", "scanner_rank", "bid", "ask", "last", "prev_close", "volume", "quote_time", "score", "score_price",
        "score_spread", "score_rank", "status", "reason",
    )  # fmt: skip


@extend_schema_view(list=list_schema)
class OrderViewSet(ExportMixin, viewsets.ReadOnlyModelViewSet):
    """Every order intended or sent, with its broker id and fill state."""

    # Integer ids up to 18 digits; anything else is not a route (JSON 404), never a database overflow.
    lookup_value_regex = r"\d{1,18}"

    queryset = Order.objects.select_related("run", "book")
    serializer_class = serializers.OrderSerializer
    filterset_class = filters.OrderFilter
    ordering_fields = ["created_at", "updated_at", "symbol", "status"]
    ordering = ["-created_at", "-id"]
    csv_name = "orders"
    csv_columns = [Column("id", "id"), Column("run_id", "run__run_id"), Column("trade", "trade_id"), Column("parent", "parent_id")] + _columns(
        "client_order_ref", "broker_order_id", "backend", "dry_run", "symbol", "leg", "order_type", "side", "quantity",
        "limit_price", "stop_price", "status", "filled_quantity", "average_fill_price", "error", "created_at", "updated_at",
    )  # fmt: skip


@extend_schema_view(
    list=list_schema,
    partial_update=extend_schema(
        request=serializers.TradeReviewSerializer,
        responses=serializers.TradeSerializer,
        description="Staff only: change a trade's notes, tags and review status. Any other field is refused.",
    ),
)
class TradeViewSet(ExportMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Round trips with P&L net of commissions. `?format=csv` streams the full export."""

    # Integer ids up to 18 digits; anything else is not a route (JSON 404), never a database overflow.
    lookup_value_regex = r"\d{1,18}"

    queryset = Trade.objects.select_related("run", "book")
    serializer_class = serializers.TradeSerializer
    filterset_class = filters.TradeFilter
    ordering_fields = ["created_at", "entry_time", "exit_time", "realized_pnl", "symbol", "quantity"]
    ordering = ["-created_at", "-id"]
    http_method_names = ["get", "patch", "head", "options"]
    csv_name = "trades"
    csv_columns = TRADE_COLUMNS

    def get_serializer_class(self):
        if self.action == "partial_update":
            return serializers.TradeReviewSerializer
        return super().get_serializer_class()

    def partial_update(self, request, *args, **kwargs):
        trade = self.get_object()
        review = serializers.TradeReviewSerializer(data=request.data)
        review.is_valid(raise_exception=True)
        trade = trade_review(trade=trade, user=request.user, **review.validated_data)
        return Response(serializers.TradeSerializer(trade, context=self.get_serializer_context()).data)


@extend_schema_view(list=list_schema)
class PositionViewSet(ExportMixin, viewsets.ReadOnlyModelViewSet):
    """Our book's position per symbol with its latest mark. Looked up by symbol."""

    queryset = Position.objects.select_related("book")
    serializer_class = serializers.PositionSerializer
    filterset_class = filters.PositionFilter
    ordering_fields = ["symbol", "quantity", "unrealized_pnl", "realized_pnl", "marked_at"]
    ordering = ["symbol"]
    lookup_field = "symbol"
    lookup_value_regex = "[^/]+"
    csv_name = "positions"
    csv_columns = _columns(
        "symbol", "quantity", "average_cost", "protective_stop", "mark_price", "marked_at", "unrealized_pnl",
        "realized_pnl", "updated_at",
    )  # fmt: skip


@extend_schema_view(list=list_schema)
class DailyReportViewSet(ExportMixin, viewsets.ReadOnlyModelViewSet):
    """Daily reports by trading date (YYYY-MM-DD); the detail carries the Markdown and the day's CSV."""

    queryset = DailyReport.objects.select_related("book")
    filterset_class = filters.DailyReportFilter
    ordering_fields = ["day", "net_pnl", "trade_count"]
    ordering = ["-day"]
    lookup_field = "day"
    lookup_value_regex = r"\d{4}-\d{2}-\d{2}"
    csv_name = "reports"
    csv_columns = _columns("day", "trade_count", "net_pnl") + [
        Column(name, f"metrics__{name}")
        for name in ("wins", "losses", "breakevens", "win_rate", "gross_profit", "gross_loss", "profit_factor",
                     "expectancy", "max_drawdown", "sharpe_ratio", "commissions")
    ] + _columns("markdown_path", "csv_path", "generated_at")  # fmt: skip

    def get_queryset(self):
        if self.action == "list":
            return super().get_queryset().defer("markdown", "csv", "curve")
        return super().get_queryset()

    def get_serializer_class(self):
        if self.action == "retrieve":
            return serializers.DailyReportDetailSerializer
        return serializers.DailyReportSerializer


@extend_schema_view(list=list_schema)
class ReconciliationRunViewSet(ExportMixin, viewsets.ReadOnlyModelViewSet):
    """Comparisons of the book with a broker, newest first, with per-symbol results. Looked up by run_id."""

    queryset = ReconciliationRun.objects.select_related("book")
    serializer_class = serializers.ReconciliationRunSerializer
    filterset_class = filters.ReconciliationRunFilter
    ordering_fields = ["started_at", "finished_at", "status", "discrepancy_count"]
    ordering = ["-started_at", "-id"]
    lookup_field = "run_id"
    csv_name = "reconciliation-runs"
    csv_columns = _columns(
        "run_id", "trigger", "backend", "status", "started_at", "finished_at", "error", "discrepancy_count",
        "unrealized_pnl_total", "positions",
    )  # fmt: skip


@extend_schema_view(list=list_schema)
class DiscrepancyViewSet(ExportMixin, viewsets.ReadOnlyModelViewSet):
    """Differences between book and broker, one record per persisting difference (resolved in the admin)."""

    # Integer ids up to 18 digits; anything else is not a route (JSON 404), never a database overflow.
    lookup_value_regex = r"\d{1,18}"

    queryset = Discrepancy.objects.select_related("book", "first_seen_run", "last_seen_run").prefetch_related("trades")
    serializer_class = serializers.DiscrepancySerializer
    filterset_class = filters.DiscrepancyFilter
    ordering_fields = ["last_seen_at", "first_seen_at", "severity", "symbol", "times_seen"]
    ordering = ["-last_seen_at", "-id"]
    csv_name = "discrepancies"
    csv_columns = _columns(
        "id", "backend", "kind", "symbol", "order_ref", "severity", "expected", "actual", "detail", "review_status",
        "notes",
    ) + [Column("first_seen_run", "first_seen_run__run_id"), Column("last_seen_run", "last_seen_run__run_id")] + _columns(
        "first_seen_at", "last_seen_at", "times_seen", "cleared_at",
    )  # fmt: skip

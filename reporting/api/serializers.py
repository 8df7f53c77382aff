"""API representations. Everything is read-only except a trade's review fields (`TradeReviewSerializer`)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from reconciliation.models import Discrepancy, ReconciliationRun
from reporting.models import DailyReport
from trading.models import Candidate, Order, PipelineRun, Position, Trade
from trading.services.review import REVIEW_FIELDS


class PipelineRunSerializer(serializers.ModelSerializer):
    book = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = PipelineRun
        fields = [
            "book",
            "run_id", "trigger", "backend", "mode", "armed", "dry_run", "status", "started_at", "finished_at",
            "market_time", "market_time_label", "scanned_count", "scored_count", "rejected_count", "executed_count",
            "error", "parameters",
        ]  # fmt: skip
        read_only_fields = fields


class CandidateSerializer(serializers.ModelSerializer):
    book = serializers.SlugRelatedField(slug_field="name", read_only=True)
    run_id = serializers.UUIDField(source="run.run_id", read_only=True)

    class Meta:
        model = Candidate
        fields = [
            "book",
            "id", "run_id", "symbol", "scanner_rank", "bid", "ask", "last", "prev_close", "volume", "quote_time",
            "score", "score_price", "score_spread", "score_rank", "status", "reason",
        ]  # fmt: skip
        read_only_fields = fields


class OrderSerializer(serializers.ModelSerializer):
    book = serializers.SlugRelatedField(slug_field="name", read_only=True)
    run_id = serializers.UUIDField(source="run.run_id", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Order
        fields = [
            "book",
            "id", "run_id", "trade", "parent", "client_order_ref", "broker_order_id", "backend", "dry_run", "symbol",
            "leg", "order_type", "side", "quantity", "limit_price", "stop_price", "status", "filled_quantity",
            "average_fill_price", "error", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class TradeSerializer(serializers.ModelSerializer):
    book = serializers.SlugRelatedField(slug_field="name", read_only=True)
    run_id = serializers.UUIDField(source="run.run_id", read_only=True, allow_null=True, default=None)
    # Read-only choice fields lose allow_blank in DRF; an open trade's exit reason is "".
    exit_reason = serializers.ChoiceField(choices=Trade.ExitReason.choices, allow_blank=True, read_only=True)
    holding_seconds = serializers.SerializerMethodField()

    class Meta:
        model = Trade
        fields = [
            "book",
            "id", "run_id", "backend", "dry_run", "symbol", "side", "quantity", "status", "status_reason",
            "entry_price", "entry_time", "stop_price", "target_price", "exit_price", "exit_time", "exit_reason",
            "holding_seconds", "commission", "realized_pnl", "review_status", "tags", "notes", "created_at",
            "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_holding_seconds(self, trade: Trade) -> int | None:
        if trade.entry_time is None or trade.exit_time is None:
            return None
        return round((trade.exit_time - trade.entry_time).total_seconds())


class TradeReviewSerializer(serializers.Serializer):
    """What a staff reviewer may change on a trade; any other field in the request is refused."""

    notes = serializers.CharField(required=False, allow_blank=True)
    tags = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="Comma-separated; blanks and repeats are dropped."
    )
    review_status = serializers.ChoiceField(choices=Trade.ReviewStatus.choices, required=False)

    def validate(self, attrs):
        others = sorted(set(self.initial_data) - set(REVIEW_FIELDS))
        if others:
            raise serializers.ValidationError(
                {name: f"Read-only: only {', '.join(REVIEW_FIELDS)} may be changed." for name in others}
            )
        if not attrs:
            raise serializers.ValidationError(f"Send at least one of {', '.join(REVIEW_FIELDS)}.")
        return attrs


class PositionSerializer(serializers.ModelSerializer):
    book = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = Position
        fields = [
            "book",
            "symbol", "quantity", "average_cost", "protective_stop", "mark_price", "marked_at", "unrealized_pnl",
            "realized_pnl", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class DailyReportSerializer(serializers.ModelSerializer):
    book = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = DailyReport
        fields = ["book", "day", "trade_count", "net_pnl", "metrics", "markdown_path", "csv_path", "generated_at"]
        read_only_fields = fields


class DailyReportDetailSerializer(DailyReportSerializer):
    class Meta(DailyReportSerializer.Meta):
        fields = [*DailyReportSerializer.Meta.fields, "curve", "markdown", "csv"]
        read_only_fields = fields


class ReconciliationRunSerializer(serializers.ModelSerializer):
    book = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = ReconciliationRun
        fields = [
            "book",
            "run_id", "trigger", "backend", "status", "started_at", "finished_at", "error", "discrepancy_count",
            "unrealized_pnl_total", "positions",
        ]  # fmt: skip
        read_only_fields = fields


@extend_schema_field({"type": "string", "description": f"One of: {', '.join(Discrepancy.Review.values)}."})
class DiscrepancyReviewField(serializers.CharField):
    """Documented without an enum: a second `review_status` enum would collide with the trade's in the schema."""


class DiscrepancySerializer(serializers.ModelSerializer):
    book = serializers.SlugRelatedField(slug_field="name", read_only=True)
    review_status = DiscrepancyReviewField(read_only=True)
    first_seen_run = serializers.UUIDField(source="first_seen_run.run_id", read_only=True)
    last_seen_run = serializers.UUIDField(source="last_seen_run.run_id", read_only=True)
    trades = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Discrepancy
        fields = [
            "book",
            "id", "backend", "kind", "symbol", "order_ref", "severity", "expected", "actual", "detail", "review_status",
            "notes", "trades", "first_seen_run", "last_seen_run", "first_seen_at", "last_seen_at", "times_seen",
            "cleared_at",
        ]  # fmt: skip
        read_only_fields = fields

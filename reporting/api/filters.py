"""Query-string filters for the API. Dates are New York calendar dates, both ends included."""

from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema_field

from reconciliation.models import Discrepancy, ReconciliationRun
from reporting.metrics import NEW_YORK
from reporting.models import DailyReport
from trading.models import Candidate, Order, PipelineRun, Position, Side, Trade
from trading.symbols import InvalidSymbol, symbol_clean


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=NEW_YORK)


# Ids are 64-bit: a larger number is a bad request, not a database overflow.
BIGINT_MAX = 2**63 - 1


@extend_schema_field({"type": "number", "minimum": 0, "maximum": 100})
class ScoreFilter(filters.NumberFilter):
    """A score bound: the schema says 0–100, as the filter enforces."""


class NewYorkDateFilter(filters.DateFilter):
    """A New York date against a UTC timestamp: `from` takes the day's first instant, `to` its last."""

    def __init__(self, *args, bound: str, **kwargs):
        assert bound in ("from", "to")
        self.bound = bound
        kwargs.setdefault("help_text", f"New York date YYYY-MM-DD ({bound}, inclusive).")
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet, value):
        if value in (None, ""):
            return qs
        if self.bound == "from":
            return qs.filter(**{f"{self.field_name}__gte": _start_of(value)})
        return qs.filter(**{f"{self.field_name}__lt": _start_of(value + timedelta(days=1))})


def _symbols_valid(value: str) -> None:
    """A bad symbol is a 400 that says which, not an empty list."""
    for part in (value or "").split(","):
        if part.strip():
            try:
                symbol_clean(part)
            except InvalidSymbol as exc:
                raise ValidationError("%(reason)s", params={"reason": str(exc)}) from None


class SymbolFilter(filters.CharFilter):
    """One symbol or several, comma-separated; case does not matter."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("help_text", "Symbol, or several comma-separated (AAPL,MSFT).")
        kwargs.setdefault("validators", [_symbols_valid])
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet, value):
        symbols = [symbol_clean(s) for s in (value or "").split(",") if s.strip()]
        if not symbols:
            return qs
        return qs.filter(**{f"{self.field_name}__in": symbols})


class BookNameFilter(filters.CharFilter):
    """?book=NAME: the rows of one book (a name that is no book gives no rows)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("field_name", "book__name")
        kwargs.setdefault("help_text", "Book name: only this book's rows.")
        super().__init__(*args, **kwargs)


class RunFilter(filters.FilterSet):
    book = BookNameFilter()
    status = filters.MultipleChoiceFilter(choices=PipelineRun.Status.choices)
    trigger = filters.MultipleChoiceFilter(choices=PipelineRun.Trigger.choices)
    backend = filters.CharFilter()
    dry_run = filters.BooleanFilter()
    started_from = NewYorkDateFilter(field_name="started_at", bound="from")
    started_to = NewYorkDateFilter(field_name="started_at", bound="to")

    class Meta:
        model = PipelineRun
        fields = ["status", "trigger", "backend", "dry_run", "armed"]


class CandidateFilter(filters.FilterSet):
    book = BookNameFilter()
    run = filters.UUIDFilter(field_name="run__run_id", help_text="The run's run_id.")
    symbol = SymbolFilter()
    status = filters.MultipleChoiceFilter(choices=Candidate.Status.choices)
    backend = filters.CharFilter(field_name="run__backend")
    min_score = ScoreFilter(field_name="score", lookup_expr="gte", min_value=0, max_value=100)
    run_started_from = NewYorkDateFilter(field_name="run__started_at", bound="from")
    run_started_to = NewYorkDateFilter(field_name="run__started_at", bound="to")

    class Meta:
        model = Candidate
        fields = ["run", "symbol", "status", "backend"]


class OrderFilter(filters.FilterSet):
    book = BookNameFilter()
    run = filters.UUIDFilter(field_name="run__run_id", help_text="The run's run_id.")
    trade = filters.NumberFilter(field_name="trade_id", min_value=1, max_value=BIGINT_MAX)
    symbol = SymbolFilter()
    status = filters.MultipleChoiceFilter(choices=Order.Status.choices)
    leg = filters.MultipleChoiceFilter(choices=Order.Leg.choices)
    side = filters.ChoiceFilter(choices=Side.choices)
    backend = filters.CharFilter()
    dry_run = filters.BooleanFilter()
    created_from = NewYorkDateFilter(field_name="created_at", bound="from")
    created_to = NewYorkDateFilter(field_name="created_at", bound="to")

    class Meta:
        model = Order
        fields = ["run", "trade", "symbol", "status", "leg", "side", "backend", "dry_run", "client_order_ref"]


class TradeFilter(filters.FilterSet):
    book = BookNameFilter()
    run = filters.UUIDFilter(field_name="run__run_id", help_text="The run's run_id.")
    symbol = SymbolFilter()
    status = filters.MultipleChoiceFilter(choices=Trade.Status.choices)
    side = filters.ChoiceFilter(choices=Side.choices)
    exit_reason = filters.MultipleChoiceFilter(choices=Trade.ExitReason.choices)
    review_status = filters.MultipleChoiceFilter(choices=Trade.ReviewStatus.choices)
    backend = filters.CharFilter()
    dry_run = filters.BooleanFilter()
    tag = filters.CharFilter(field_name="tags", lookup_expr="icontains", help_text="Trades whose tags contain this.")
    entry_from = NewYorkDateFilter(field_name="entry_time", bound="from")
    entry_to = NewYorkDateFilter(field_name="entry_time", bound="to")
    exit_from = NewYorkDateFilter(field_name="exit_time", bound="from")
    exit_to = NewYorkDateFilter(field_name="exit_time", bound="to")
    min_pnl = filters.NumberFilter(field_name="realized_pnl", lookup_expr="gte")
    max_pnl = filters.NumberFilter(field_name="realized_pnl", lookup_expr="lte")

    class Meta:
        model = Trade
        fields = ["run", "symbol", "status", "side", "exit_reason", "review_status", "backend", "dry_run"]


class PositionFilter(filters.FilterSet):
    book = BookNameFilter()
    symbol = SymbolFilter()
    open = filters.BooleanFilter(method="filter_open", help_text="true: only non-zero positions; false: only flat.")

    class Meta:
        model = Position
        fields = ["symbol"]

    def filter_open(self, qs, name, value):
        if value is None:
            return qs
        return qs.exclude(quantity=0) if value else qs.filter(quantity=0)


class DailyReportFilter(filters.FilterSet):
    book = BookNameFilter()
    day_from = filters.DateFilter(field_name="day", lookup_expr="gte", help_text="Trading date (inclusive).")
    day_to = filters.DateFilter(field_name="day", lookup_expr="lte", help_text="Trading date (inclusive).")

    class Meta:
        model = DailyReport
        fields = ["day"]


class ReconciliationRunFilter(filters.FilterSet):
    book = BookNameFilter()
    status = filters.MultipleChoiceFilter(choices=ReconciliationRun.Status.choices)
    backend = filters.CharFilter()
    trigger = filters.CharFilter()
    started_from = NewYorkDateFilter(field_name="started_at", bound="from")
    started_to = NewYorkDateFilter(field_name="started_at", bound="to")

    class Meta:
        model = ReconciliationRun
        fields = ["status", "backend", "trigger"]


class DiscrepancyFilter(filters.FilterSet):
    book = BookNameFilter()
    run = filters.UUIDFilter(field_name="last_seen_run__run_id", help_text="Last seen in this reconciliation run.")
    symbol = SymbolFilter()
    backend = filters.CharFilter()
    kind = filters.MultipleChoiceFilter(choices=Discrepancy.Kind.choices)
    severity = filters.MultipleChoiceFilter(choices=Discrepancy.Severity.choices)
    review_status = filters.MultipleChoiceFilter(choices=Discrepancy.Review.choices)
    cleared = filters.BooleanFilter(
        field_name="cleared_at",
        lookup_expr="isnull",
        exclude=True,
        help_text="true: gone at the last run; false: persisting.",
    )
    last_seen_from = NewYorkDateFilter(field_name="last_seen_at", bound="from")
    last_seen_to = NewYorkDateFilter(field_name="last_seen_at", bound="to")

    class Meta:
        model = Discrepancy
        fields = ["run", "symbol", "backend", "kind", "severity", "review_status"]

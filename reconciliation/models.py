"""Reconciliation records: what the book expected, what the broker reported, and every
difference between them, kept for a person to review.

A book's (an account's) foreign key leads this module's composite indexes and has no index of
its own: see `trading.models`.
"""

import uuid

from django.db import models
from django.urls import reverse

from trading.models import Trade
from trading.money import MoneyField


class ReconciliationRun(models.Model):
    """One comparison of the book with a broker, with the per-symbol results."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        CLEAN = "clean", "Clean"
        DISCREPANCIES = "discrepancies", "Discrepancies found"
        ERROR = "error", "Broker unreachable"

    run_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    book = models.ForeignKey("trading.Book", on_delete=models.PROTECT, related_name="reconciliation_runs")
    trigger = models.CharField(max_length=16, default="manual")
    backend = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    positions = models.JSONField(
        default=list, blank=True, help_text="Per symbol: expected and actual quantity, cost, mark, unrealized P&L."
    )
    discrepancy_count = models.PositiveIntegerField(default=0)
    unrealized_pnl_total = MoneyField(default=0)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"Reconciliation {str(self.run_id)[:8]} ({self.backend}, {self.status})"

    def get_absolute_url(self) -> str:
        return reverse("admin:reconciliation_reconciliationrun_change", args=[self.pk])


class Discrepancy(models.Model):
    """A difference between book and broker. While it persists it stays this one record,
    updated each run; when it clears, `cleared_at` says so. Only a person resolves it."""

    class Kind(models.TextChoices):
        MISSING_AT_BROKER = "missing_at_broker", "Position missing at broker"
        UNEXPECTED_AT_BROKER = "unexpected_at_broker", "Unexpected position at broker"
        QUANTITY_MISMATCH = "quantity_mismatch", "Quantity mismatch"
        AVG_COST_DRIFT = "avg_cost_drift", "Average cost drift"
        ORDER_MISSING_AT_BROKER = "order_missing_at_broker", "Our open order unknown to broker"
        ORDER_UNKNOWN_TO_US = "order_unknown_to_us", "Broker order we did not record"
        ORDER_WORKING_AT_BROKER_ONLY = "order_working_at_broker_only", "Broker order working that our book calls done"
        ORDER_DONE_AT_BROKER = "order_done_at_broker", "Our working order is done at the broker"

    class Severity(models.TextChoices):
        CRITICAL = "critical", "Critical"
        HIGH = "high", "High"
        WARNING = "warning", "Warning"

    class Review(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    book = models.ForeignKey("trading.Book", on_delete=models.PROTECT, related_name="discrepancies", db_index=False)
    backend = models.CharField(max_length=32)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    symbol = models.CharField(max_length=16, db_index=True)
    order_ref = models.CharField(
        max_length=64, blank=True, help_text="For order discrepancies: orderRef or broker:<id>."
    )
    severity = models.CharField(max_length=16, choices=Severity.choices)
    expected = models.CharField(max_length=200, blank=True)
    actual = models.CharField(max_length=200, blank=True)
    detail = models.CharField(max_length=300, blank=True)
    review_status = models.CharField(max_length=16, choices=Review.choices, default=Review.OPEN)
    notes = models.TextField(blank=True)
    trades = models.ManyToManyField(Trade, blank=True, related_name="discrepancies")
    first_seen_run = models.ForeignKey(ReconciliationRun, on_delete=models.PROTECT, related_name="+")
    last_seen_run = models.ForeignKey(ReconciliationRun, on_delete=models.PROTECT, related_name="discrepancies")
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField()
    times_seen = models.PositiveIntegerField(default=1)
    cleared_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was last found gone; empty while it persists."
    )

    class Meta:
        ordering = ["-last_seen_at"]
        verbose_name_plural = "discrepancies"
        constraints = [
            models.UniqueConstraint(
                fields=["book", "kind", "symbol", "order_ref"], name="one_discrepancy_per_book_identity"
            ),
        ]
        indexes = [models.Index(fields=["review_status", "kind"], name="discrepancy_review_kind_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.symbol}{' ' + self.order_ref if self.order_ref else ''}"

    def get_absolute_url(self) -> str:
        return reverse("admin:reconciliation_discrepancy_change", args=[self.pk])

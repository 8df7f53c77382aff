"""The SIM broker's own records, kept apart from the book of record as a real broker's would be.

A book's (an account's) foreign key leads this module's composite indexes and has no index of
its own: see `trading.models`.
"""

from django.db import models
from django.db.models import Q

from trading.models import Side
from trading.money import MoneyField, PriceField


class SimAccount(models.Model):
    """A simulated paper account: cash and the broker's clock (how far the market has been worked)."""

    account_id = models.CharField(max_length=32, unique=True)
    cash = MoneyField()
    clock = models.DateTimeField(null=True, blank=True, help_text="Latest market moment worked.")

    def __str__(self) -> str:
        return self.account_id


class SimOrder(models.Model):
    """An order as the simulated broker holds it."""

    class Status(models.TextChoices):
        WORKING = "working", "Working"
        FILLED = "filled", "Filled"
        CANCELLED = "cancelled", "Cancelled"
        REJECTED = "rejected", "Rejected"

    account = models.ForeignKey(SimAccount, on_delete=models.CASCADE, related_name="orders", db_index=False)
    order_ref = models.CharField(max_length=64, blank=True)
    parent = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="children")
    oca_group = models.CharField(max_length=64, blank=True)
    symbol = models.CharField(max_length=16)
    side = models.CharField(max_length=4, choices=Side.choices)
    order_type = models.CharField(max_length=3)
    quantity = models.PositiveIntegerField()
    limit_price = PriceField(null=True, blank=True)
    stop_price = PriceField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.WORKING)
    active_from = models.DateTimeField(help_text="Market moment from which the order works.")
    filled_quantity = models.PositiveIntegerField(default=0)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # The broker half of idempotency: a second order with the same ref is the same order.
            models.UniqueConstraint(
                fields=["account", "order_ref"], condition=~Q(order_ref=""), name="sim_one_order_per_ref"
            ),
        ]
        indexes = [models.Index(fields=["account", "status"], name="sim_order_status_idx")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.side} {self.quantity} {self.symbol} {self.order_type} ({self.status})"


class SimExecution(models.Model):
    """A fill the simulated broker made."""

    account = models.ForeignKey(SimAccount, on_delete=models.CASCADE, related_name="executions")
    exec_id = models.CharField(max_length=64, unique=True)
    order = models.ForeignKey(SimOrder, on_delete=models.CASCADE, related_name="executions")
    symbol = models.CharField(max_length=16)
    side = models.CharField(max_length=4, choices=Side.choices)
    quantity = models.PositiveIntegerField()
    price = PriceField()
    commission = MoneyField()
    executed_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["executed_at", "id"]

    def __str__(self) -> str:
        return f"{self.exec_id} {self.side} {self.quantity} {self.symbol} @ {self.price}"


class SimPosition(models.Model):
    """The simulated broker's position per symbol."""

    account = models.ForeignKey(SimAccount, on_delete=models.CASCADE, related_name="positions", db_index=False)
    symbol = models.CharField(max_length=16)
    quantity = models.IntegerField(default=0)
    average_cost = PriceField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "symbol"], name="sim_one_position_per_symbol")]

    def __str__(self) -> str:
        return f"{self.symbol} {self.quantity} @ {self.average_cost}"


class Bar(models.Model):
    """An imported OHLCV bar in a named set; a SIM book whose market is that set replays them."""

    bar_set = models.CharField(max_length=64, default="imported", help_text="The named market the bar belongs to.")
    symbol = models.CharField(max_length=16)
    interval_seconds = models.PositiveIntegerField(help_text="86400 for daily bars.")
    start = models.DateTimeField()
    open = PriceField()
    high = PriceField()
    low = PriceField()
    close = PriceField()
    volume = models.BigIntegerField()
    source = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["bar_set", "symbol", "start"]
        constraints = [
            models.UniqueConstraint(
                fields=["bar_set", "symbol", "interval_seconds", "start"], name="one_bar_per_set_slot"
            ),
            models.CheckConstraint(
                condition=Q(low__lte=models.F("high"))
                & Q(low__gt=0)
                & Q(open__gte=models.F("low"))
                & Q(open__lte=models.F("high"))
                & Q(close__gte=models.F("low"))
                & Q(close__lte=models.F("high"))
                & Q(volume__gte=0),
                name="bar_is_consistent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.start:%Y-%m-%d %H:%M} C={self.close}"


class BarImport(models.Model):
    """One `import_bars` attempt: what was read, what was kept, and why rows were refused."""

    class Status(models.TextChoices):
        IMPORTED = "imported", "Imported"
        PARTIAL = "partial", "Imported, bad rows skipped"
        REJECTED = "rejected", "Rejected (nothing written)"

    source = models.CharField(max_length=500)
    bar_set = models.CharField(max_length=64, default="imported")
    symbol = models.CharField(max_length=16, blank=True)
    layout = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    rows_read = models.PositiveIntegerField(default=0)
    rows_imported = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, help_text="Why the file, or its first bad rows, were refused.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.source} ({self.status})"

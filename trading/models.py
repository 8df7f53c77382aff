"""The book of record: what Trade Labs decided, sent, and holds.

Broker facts (what a broker says it holds) live with each backend; the SIM broker's in
`trading.sim.models`. Reconciliation compares the two.

Foreign keys whose column leads a composite index or a unique constraint of their model have no
index of their own (`db_index=False`): SQLite, without statistics, takes a single-column index for
a selective one and walks a whole book's rows through it (a year's replay slowed month by month),
and every insert paid for an index that answered nothing the composite one does not.
"""

import uuid

from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from trading.expressions import HoldingSeconds
from trading.money import MoneyField, PriceField


class Side(models.TextChoices):
    BUY = "BUY", "Buy"
    SELL = "SELL", "Sell"


SYNTHETIC_MARKET = "synthetic"


class Book(models.Model):
    """One account traded side by side with others: a broker alias, the broker's account, and for
    SIM its market and clock. Every run, order, fill, position, trade, report, reconciliation and
    schedule slot belongs to exactly one book, and nothing adds two books together."""

    name = models.SlugField(max_length=64, unique=True, help_text="How commands (--book) and the API (?book=) name it.")
    broker_alias = models.CharField(max_length=64, help_text="The BROKERS alias it trades through.")
    account_id = models.CharField(
        max_length=64,
        blank=True,
        help_text="The broker's account. SIM: the book's own simulated account. IB: empty takes the alias's account.",
    )
    market = models.CharField(
        max_length=64,
        default=SYNTHETIC_MARKET,
        help_text="SIM only: 'synthetic' (the seeded market) or the name of an imported bar set.",
    )
    seed = models.BigIntegerField(null=True, blank=True, help_text="SIM synthetic market seed; empty: the alias's.")
    clock = models.DateTimeField(
        null=True, blank=True, help_text="The latest market moment the book has worked: it only moves forward."
    )
    starting_equity = MoneyField(default=100000, help_text="Equity at the start: the base of returns and drawdown.")
    parameters = models.JSONField(
        default=dict, blank=True, help_text="Overrides of settings for this book's runs: top_n, risk, scoring."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # Two books on one broker account would each count the other's fills as their own.
            models.UniqueConstraint(
                fields=["broker_alias", "account_id"], condition=~Q(account_id=""), name="one_book_per_account"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("admin:trading_book_change", args=[self.pk])


class PipelineRun(models.Model):
    """One pass of scan → score → execute, with what it was asked to do and what came of it."""

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Manual"
        SCHEDULE = "schedule", "Schedule"
        API = "api", "API"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIAL = "partial", "Partial"
        FAILED = "failed", "Failed"

    run_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    book = models.ForeignKey(Book, on_delete=models.PROTECT, related_name="runs", db_index=False)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    backend = models.CharField(max_length=32)
    broker_alias = models.CharField(
        max_length=64, blank=True, help_text="The BROKERS alias the run traded through; its trades close through it."
    )
    account_id = models.CharField(max_length=64, blank=True, help_text="The broker account the run traded.")
    mode = models.CharField(max_length=16, default="PAPER")
    armed = models.BooleanField(
        default=False, help_text="Armed at the start of the run: TRADE_LABS_ARMED=1 and an unexpired arm record."
    )
    arm = models.ForeignKey(
        "ArmRecord",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="runs",
        help_text="The arm record in force when the run started (who armed, until when, why).",
    )
    dry_run = models.BooleanField(
        default=False, help_text="Orders were filled locally; nothing was sent to the broker."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    # NULL, not "": runs without a slot must not collide on (book, slot).
    slot = models.CharField(  # noqa: DJ001
        max_length=100,
        null=True,
        blank=True,
        help_text="A slot is claimed once per book: a scheduled job's (job, session), or run_pipeline --slot.",
    )
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="A running run that passes this without renewing is treated as dead."
    )
    market_time = models.DateTimeField(null=True, blank=True, help_text="The market moment the run traded at.")
    market_time_label = models.CharField(max_length=200, blank=True)
    scanned_count = models.PositiveIntegerField(default=0)
    scored_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    executed_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    parameters = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            # Two pipelines trading the same book at once could both pass the risk gate.
            models.UniqueConstraint(fields=["book"], condition=Q(status="running"), name="one_running_run_per_book"),
            models.UniqueConstraint(fields=["book", "slot"], name="one_run_per_book_slot"),
        ]
        indexes = [models.Index(fields=["book", "market_time"], name="run_book_market_time_idx")]

    def __str__(self) -> str:
        return f"Run {str(self.run_id)[:8]} ({self.backend}, {self.status})"

    def get_absolute_url(self) -> str:
        return reverse("admin:trading_pipelinerun_change", args=[self.pk])

    @property
    def short_id(self) -> str:
        return str(self.run_id)[:8]


class Candidate(models.Model):
    """A symbol the scanner offered in a run, its quote at scan time, its score and the decision."""

    class Status(models.TextChoices):
        ACCEPTED = "accepted", "Accepted (scored, not traded)"
        REJECTED = "rejected", "Rejected (bad quote)"
        SKIPPED = "skipped", "Skipped (risk gate)"
        EXECUTED = "executed", "Executed"
        FAILED = "failed", "Failed (order error)"

    run = models.ForeignKey(PipelineRun, on_delete=models.CASCADE, related_name="candidates", db_index=False)
    book = models.ForeignKey(Book, on_delete=models.PROTECT, related_name="candidates")
    symbol = models.CharField(max_length=16, db_index=True)
    scanner_rank = models.PositiveIntegerField()
    bid = PriceField(null=True, blank=True)
    ask = PriceField(null=True, blank=True)
    last = PriceField(null=True, blank=True)
    prev_close = PriceField(null=True, blank=True)
    volume = models.BigIntegerField(null=True, blank=True)
    quote_time = models.DateTimeField(null=True, blank=True)
    score = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    score_price = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    score_spread = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    score_rank = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["run", "scanner_rank"]
        constraints = [
            models.UniqueConstraint(fields=["run", "symbol"], name="one_candidate_per_symbol_per_run"),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | (Q(score__gte=0) & Q(score__lte=100)),
                name="candidate_score_0_100",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} #{self.scanner_rank} ({self.status})"


class Trade(models.Model):
    """One round trip: entry, protective stop and target, exit, and the P&L net of commissions."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"
        CANCELLED = "cancelled", "Cancelled"
        REJECTED = "rejected", "Rejected"

    class ExitReason(models.TextChoices):
        STOP = "stop", "Stop"
        TARGET = "target", "Target"
        MANUAL = "manual", "Manual"
        END_OF_DAY = "eod", "End of day"

    class ReviewStatus(models.TextChoices):
        UNREVIEWED = "unreviewed", "Unreviewed"
        REVIEWED = "reviewed", "Reviewed"
        FLAGGED = "flagged", "Flagged"

    book = models.ForeignKey(Book, on_delete=models.PROTECT, related_name="trades", db_index=False)
    run = models.ForeignKey(PipelineRun, on_delete=models.PROTECT, related_name="trades", null=True, blank=True)
    candidate = models.OneToOneField(Candidate, on_delete=models.PROTECT, related_name="trade", null=True, blank=True)
    backend = models.CharField(max_length=32)
    broker_alias = models.CharField(
        max_length=64, blank=True, help_text="The BROKERS alias that opened the trade: the only one that may close it."
    )
    account_id = models.CharField(max_length=64, blank=True, help_text="The broker account that holds the trade.")
    dry_run = models.BooleanField(default=False)
    symbol = models.CharField(max_length=16)
    side = models.CharField(max_length=4, choices=Side.choices, default=Side.BUY, help_text="Side of the entry.")
    quantity = models.PositiveIntegerField()
    entry_price = PriceField(null=True, blank=True)
    entry_time = models.DateTimeField(null=True, blank=True)
    stop_price = PriceField(null=True, blank=True)
    target_price = PriceField(null=True, blank=True)
    exit_price = PriceField(null=True, blank=True)
    exit_time = models.DateTimeField(null=True, blank=True)
    exit_reason = models.CharField(max_length=8, choices=ExitReason.choices, blank=True)
    commission = MoneyField(default=0)
    realized_pnl = MoneyField(null=True, blank=True, help_text="Net of commissions; set when closed.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    status_reason = models.CharField(max_length=300, blank=True)
    notes = models.TextField(blank=True)
    tags = models.CharField(max_length=200, blank=True, help_text="Comma-separated.")
    review_status = models.CharField(max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.UNREVIEWED)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Never two live round trips in one symbol: the executor skips, this makes it impossible.
            models.UniqueConstraint(
                fields=["book", "symbol"],
                condition=Q(status__in=["pending", "open"], dry_run=False),
                name="one_live_trade_per_book_symbol",
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="trade_quantity_positive"),
        ]
        indexes = [
            # Reporting reads closed trades from these three alone, never the table (reporting.metrics):
            # by exit time, in exit order (drawdown, daily P&L, a day's report), and grouped by symbol
            # and exit reason. dry_run comes after the ordering columns: SQLite cannot seek on
            # `NOT dry_run`, the condition Django writes for dry_run=False.
            models.Index(
                fields=["book", "status", "exit_time", "id", "dry_run", "realized_pnl"],
                name="trade_book_status_exit_idx",
            ),
            models.Index(
                fields=[
                    "book",
                    "status",
                    "symbol",
                    "exit_reason",
                    "dry_run",
                    "realized_pnl",
                    "commission",
                    "entry_time",
                    "exit_time",
                ],
                name="trade_book_closed_symbol_idx",
            ),  # fmt: skip
            # ... and by holding time, for its median and average without sorting every trade.
            models.Index(
                F("book"),
                F("status"),
                HoldingSeconds(),
                F("dry_run"),
                F("realized_pnl"),
                F("entry_time"),
                F("exit_time"),
                name="trade_book_closed_held_idx",
            ),
            models.Index(fields=["exit_time"], name="trade_exit_time_idx"),
            models.Index(fields=["symbol", "status"], name="trade_symbol_status_idx"),
            models.Index(fields=["book", "entry_time"], name="trade_book_entry_idx"),
            # The open trades in entry order (stats, reports, the as-of snapshot): an index range
            # of the few open ones. Without it SQLite walks every trade in entry order instead.
            models.Index(fields=["book", "status", "entry_time", "id"], name="trade_book_status_entry_idx"),
            # The admin and API list newest first: without this, every page sorts the whole table.
            models.Index(fields=["created_at"], name="trade_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.quantity} {self.symbol} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("admin:trading_trade_change", args=[self.pk])

    @property
    def direction(self) -> int:
        return 1 if self.side == Side.BUY else -1


class Order(models.Model):
    """An order we intended or sent. The intent is stored before anything leaves, keyed by
    `client_order_ref`, the idempotency key the broker sees as orderRef."""

    class Leg(models.TextChoices):
        ENTRY = "entry", "Entry"
        STOP = "stop", "Stop"
        TARGET = "target", "Target"
        EXIT = "exit", "Exit"

    class Type(models.TextChoices):
        MARKET = "MKT", "Market"
        LIMIT = "LMT", "Limit"
        STOP = "STP", "Stop"

    class Status(models.TextChoices):
        INTENT = "intent", "Intent recorded (not yet acknowledged)"
        SUBMITTED = "submitted", "Submitted"
        WORKING = "working", "Working"
        PARTIALLY_FILLED = "partial", "Partially filled"
        FILLED = "filled", "Filled"
        CANCELLED = "cancelled", "Cancelled"
        REJECTED = "rejected", "Rejected"
        NOT_SENT = "not_sent", "Not sent"
        ERROR = "error", "Error"

    OPEN_STATUSES = (Status.INTENT, Status.SUBMITTED, Status.WORKING, Status.PARTIALLY_FILLED)

    book = models.ForeignKey(Book, on_delete=models.PROTECT, related_name="orders", db_index=False)
    run = models.ForeignKey(PipelineRun, on_delete=models.PROTECT, related_name="orders", null=True, blank=True)
    trade = models.ForeignKey(Trade, on_delete=models.PROTECT, related_name="orders", null=True, blank=True)
    parent = models.ForeignKey("self", on_delete=models.PROTECT, related_name="children", null=True, blank=True)
    client_order_ref = models.CharField(max_length=64, unique=True, help_text="Idempotency key (IB orderRef).")
    broker_order_id = models.CharField(max_length=64, blank=True, db_index=True)
    backend = models.CharField(max_length=32)
    dry_run = models.BooleanField(default=False)
    symbol = models.CharField(max_length=16, db_index=True)
    leg = models.CharField(max_length=8, choices=Leg.choices)
    order_type = models.CharField(max_length=3, choices=Type.choices)
    side = models.CharField(max_length=4, choices=Side.choices)
    quantity = models.PositiveIntegerField()
    limit_price = PriceField(null=True, blank=True)
    stop_price = PriceField(null=True, blank=True)
    exit_reason = models.CharField(
        max_length=8,
        choices=Trade.ExitReason.choices,
        blank=True,
        help_text="For exit orders: why the trade is closed.",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.INTENT)
    filled_quantity = models.PositiveIntegerField(default=0)
    average_fill_price = PriceField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_quantity_positive"),
            models.CheckConstraint(condition=Q(filled_quantity__lte=models.F("quantity")), name="order_not_overfilled"),
        ]
        indexes = [
            models.Index(fields=["created_at"], name="order_created_idx"),
            # Every sync asks for the book's working orders and those still awaiting fills: an
            # index range of the few, not a walk of every order the book ever sent.
            models.Index(fields=["book", "status"], name="order_book_status_idx"),
            models.Index(
                fields=["book", "status"],
                condition=Q(filled_quantity__lt=models.F("quantity")),
                name="order_book_unfilled_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client_order_ref} {self.side} {self.quantity} {self.symbol} {self.order_type} ({self.status})"


class OrderEvent(models.Model):
    """One status change of an order, as we saw it: the order's history."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=16, choices=Order.Status.choices)
    message = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.order.client_order_ref} → {self.status}"


class Fill(models.Model):
    """An execution reported by the broker against one of our orders; `exec_id` makes it count once."""

    book = models.ForeignKey(Book, on_delete=models.PROTECT, related_name="fills")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="fills")
    exec_id = models.CharField(max_length=64, unique=True)
    symbol = models.CharField(max_length=16)
    side = models.CharField(max_length=4, choices=Side.choices)
    quantity = models.PositiveIntegerField()
    price = PriceField()
    commission = MoneyField(default=0)
    filled_at = models.DateTimeField(db_index=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["filled_at", "id"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="fill_quantity_positive")]

    def __str__(self) -> str:
        return f"{self.side} {self.quantity} {self.symbol} @ {self.price}"


class Position(models.Model):
    """A book's position per symbol, moved by fills in the same transaction that records them."""

    book = models.ForeignKey(Book, on_delete=models.PROTECT, related_name="positions", db_index=False)
    symbol = models.CharField(max_length=16)
    quantity = models.IntegerField(default=0, help_text="Positive long, negative short.")
    average_cost = PriceField(default=0)
    protective_stop = PriceField(null=True, blank=True)
    mark_price = PriceField(null=True, blank=True)
    marked_at = models.DateTimeField(null=True, blank=True)
    unrealized_pnl = MoneyField(default=0)
    realized_pnl = MoneyField(default=0, help_text="Net of commissions, all time.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["book", "symbol"]
        constraints = [models.UniqueConstraint(fields=["book", "symbol"], name="one_position_per_book_symbol")]

    def __str__(self) -> str:
        return f"{self.symbol} {self.quantity} @ {self.average_cost}"


class HealthResult(models.Model):
    """One run of `manage.py healthcheck`: healthy or not, and each check's line."""

    checked_at = models.DateTimeField(db_index=True)
    healthy = models.BooleanField()
    report = models.JSONField(help_text="Each check: name, ok, detail.")

    class Meta:
        ordering = ["-checked_at"]

    def __str__(self) -> str:
        return f"health {'ok' if self.healthy else 'FAILING'} at {self.checked_at:%Y-%m-%d %H:%M}"


class ArmRecord(models.Model):
    """The second key: a person armed this book, until a moment, for a reason.

    TRADE_LABS_ARMED=1 (the environment) decides whether arming is possible at all; orders reach
    a real broker only while an unexpired, undisarmed record also exists for the book. Records
    are never deleted: together they are the audit trail of who armed what, when and why."""

    book = models.ForeignKey(Book, on_delete=models.PROTECT, related_name="arm_records", db_index=False)
    armed_by = models.CharField(max_length=150)
    armed_at = models.DateTimeField()
    until = models.DateTimeField(help_text="The arm expires here; nothing is sent after it.")
    reason = models.CharField(max_length=300, blank=True)
    disarmed_at = models.DateTimeField(null=True, blank=True)
    disarmed_by = models.CharField(max_length=150, blank=True)
    disarm_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-armed_at", "-id"]
        indexes = [models.Index(fields=["book", "until"], name="arm_book_until_idx")]

    def __str__(self) -> str:
        return f"{self.book_id} armed by {self.armed_by} until {self.until:%Y-%m-%d %H:%M} UTC"

    def active_at(self, moment) -> bool:
        return self.disarmed_at is None and self.armed_at <= moment < self.until


class KillSwitchUse(models.Model):
    """One use of the kill switch: the book disarmed, its working entries cancelled and, when
    asked, its open trades closed at market. What it did and what it could not do are kept."""

    book = models.ForeignKey(Book, on_delete=models.PROTECT, related_name="kill_switch_uses")
    used_by = models.CharField(max_length=150)
    used_at = models.DateTimeField()
    flatten = models.BooleanField(help_text="Open trades were to be closed at market too.")
    disarmed = models.PositiveIntegerField(default=0, help_text="Arm records ended.")
    cancelled = models.PositiveIntegerField(default=0, help_text="Working entry orders cancelled.")
    closed = models.PositiveIntegerField(default=0, help_text="Open trades closed at market.")
    problems = models.TextField(blank=True, help_text="What could not be done, one line each.")

    class Meta:
        ordering = ["-used_at", "-id"]

    def __str__(self) -> str:
        return f"kill switch on {self.book_id} by {self.used_by} at {self.used_at:%Y-%m-%d %H:%M} UTC"


class Alert(models.Model):
    """Something a person should know, raised by a job and sent to the configured places.

    Kept whatever happened to its delivery (the outcome says, per place). The same `key` is sent
    once within the repeat window, or once ever for `once` alerts (a discrepancy); a repeat
    inside the window only counts up `repeats` on the alert that was sent."""

    class Event(models.TextChoices):
        RUN_FAILED = "run_failed", "Run failed or partial"
        SCAN_MISSED = "scan_missed", "Scan missed"
        JOB_FAILED = "job_failed", "Scheduled job failed"
        DISCREPANCY = "discrepancy", "New reconciliation discrepancy"
        LOSS_HALT = "loss_halt", "Daily loss limit halted entries"
        BROKER_DOWN = "broker_down", "Broker unreachable"
        ARMED = "armed", "Armed"
        DISARMED = "disarmed", "Disarmed"
        ARM_EXPIRED = "arm_expired", "Arm expired"
        KILL_SWITCH = "kill_switch", "Kill switch used"
        REPORT_READY = "report_ready", "Daily report ready"

    event = models.CharField(max_length=32, choices=Event.choices)
    book = models.ForeignKey(Book, null=True, blank=True, on_delete=models.PROTECT, related_name="alerts")
    key = models.CharField(max_length=200, help_text="What makes two alerts the same one (for deduplication).")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    raised_at = models.DateTimeField(db_index=True)
    delivered = models.BooleanField(default=False, help_text="Every configured place accepted it.")
    outcome = models.TextField(blank=True, help_text="Per place: sent, or why not.")
    repeats = models.PositiveIntegerField(default=0, help_text="Same alert raised again inside the window, not resent.")

    class Meta:
        ordering = ["-raised_at", "-id"]
        indexes = [models.Index(fields=["key", "raised_at"], name="alert_key_raised_idx")]

    def __str__(self) -> str:
        return f"{self.get_event_display()}: {self.title}"

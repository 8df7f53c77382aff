"""Job slots (the exactly-once ledger of the trading day) and extra market closures.

A book's (an account's) foreign key leads this module's composite indexes and has no index of
its own: see `trading.models`.
"""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from trading import sessions


class Job(models.TextChoices):
    OPENING_PREFLIGHT = "opening_preflight", "Opening pre-flight"
    OPENING_SCAN = "opening_scan", "Opening scan"
    MIDDAY_PREFLIGHT = "midday_preflight", "Mid-day pre-flight"
    MIDDAY_SCAN = "midday_scan", "Mid-day scan"
    MARK = "mark", "Mark"
    RECONCILE = "reconcile", "Reconciliation"
    REPORT = "report", "Daily report"


class SlotStatus(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"
    MISSED = "missed", "Missed"
    FAILED = "failed", "Failed"


class JobSlot(models.Model):
    """One occurrence of a scheduled job in one NYSE session, claimed before the job acts.

    The row is the claim: whoever inserts it first runs the job; a second cluster, a retried
    task or a late duplicate hits the unique constraint and does nothing. Daily jobs have one
    slot per session; the mark job one per session and mark time.
    """

    Status = SlotStatus

    book = models.ForeignKey("trading.Book", on_delete=models.PROTECT, related_name="schedule_slots", db_index=False)
    job = models.CharField(max_length=32, choices=Job.choices)
    session_date = models.DateField(help_text="The NYSE session (New York date) this slot belongs to.")
    scheduled_for = models.DateTimeField(help_text="When the plan says the job runs.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    claimed_at = models.DateTimeField(help_text="When a worker claimed the slot (it acts only after this).")
    finished_at = models.DateTimeField(null=True, blank=True)
    message = models.TextField(blank=True)
    worker = models.CharField(max_length=200, blank=True, help_text="host:pid of the worker that claimed the slot.")
    pipeline_run = models.ForeignKey(
        "trading.PipelineRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="schedule_slots",
        help_text="The run a scan slot started.",
    )
    details = models.JSONField(
        default=dict, blank=True, help_text="Ids and counts from the job (reconciliation run, report, fills)."
    )

    class Meta:
        ordering = ["-scheduled_for", "job"]
        indexes = [
            models.Index(fields=["session_date", "job"], name="schedule_slot_day_job"),
            # Each job looks for the book's abandoned running slots: a seek, not a walk of the history.
            models.Index(fields=["book", "status"], name="schedule_slot_book_status"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["book", "job", "session_date"], condition=~Q(job="mark"), name="one_slot_per_book_job_session"
            ),
            models.UniqueConstraint(
                fields=["book", "job", "session_date", "scheduled_for"], name="one_slot_per_book_job_session_time"
            ),
            models.CheckConstraint(condition=Q(job__in=Job.values), name="slot_job_known"),
            models.CheckConstraint(condition=Q(status__in=SlotStatus.values), name="slot_status_known"),
        ]

    def __str__(self) -> str:
        return f"{Job(self.job).label} {sessions.to_new_york(self.scheduled_for):%Y-%m-%d %H:%M} ({self.status})"


class ExtraClosure(models.Model):
    """A day the exchange calendar lists as a session but the market did not open: a surprise closing.

    On such a day no job runs, exactly as on a holiday.
    """

    day = models.DateField(unique=True, help_text="New York date of the closed session.")
    reason = models.CharField(max_length=200, help_text="e.g. National Day of Mourning, hurricane.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"{self.day.isoformat()} closed: {self.reason}"

    def clean(self) -> None:
        if not self.day:
            return
        try:
            is_session = sessions.is_session(self.day)
        except sessions.OutsideCalendar as exc:
            raise ValidationError({"day": str(exc)}) from None
        if not is_session:
            raise ValidationError({"day": f"{self.day.isoformat()} is not an NYSE session anyway; nothing to close."})

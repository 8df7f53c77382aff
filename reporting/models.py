"""Stored daily reports: the metrics of one New York trading date, as rendered and as files."""

from django.db import models
from django.urls import reverse

from trading.money import MoneyField


class DailyReport(models.Model):
    """The report of one trading date (New York): its metrics, Markdown and CSV, regenerated in place.

    One row per date; generating a date again overwrites the row and its files, so a report can be
    refreshed any number of times (after a late fill, a correction) without duplicates.
    """

    book = models.ForeignKey("trading.Book", on_delete=models.PROTECT, related_name="daily_reports")
    day = models.DateField(help_text="Trading date in New York: trades are counted by exit date.")
    trade_count = models.PositiveIntegerField(default=0, help_text="Closed trades that day.")
    net_pnl = MoneyField(default=0, help_text="Net of commissions, in cents.")
    metrics = models.JSONField(default=dict, blank=True)
    curve = models.JSONField(
        default=list, blank=True, help_text="Cumulative net P&L after each closed trade: [[time, cents], ...]."
    )
    markdown = models.TextField(blank=True)
    csv = models.TextField(blank=True)
    markdown_path = models.CharField(max_length=500, blank=True)
    csv_path = models.CharField(max_length=500, blank=True)
    generated_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-day", "book"]
        constraints = [models.UniqueConstraint(fields=["book", "day"], name="one_report_per_book_day")]

    def __str__(self) -> str:
        return f"Report {self.day.isoformat()} ({self.book_id and self.book.name})"

    def get_absolute_url(self) -> str:
        return reverse("admin:reporting_dailyreport_change", args=[self.pk])

    @property
    def file_stem(self) -> str:
        from trading.services.books import default_book_name

        book = "" if self.book.name == default_book_name() else f"{self.book.name}_"
        return f"report_{book}{self.day.isoformat()}"


class DailySnapshot(models.Model):
    """A book at one session's close: what it held with that close's marks, its cash and equity.

    Written by the session-close mark (and by `report` for a day that has none), so a past day's
    report shows that day, and the equity curve (drawdown, Sharpe) reads one row a day."""

    book = models.ForeignKey("trading.Book", on_delete=models.PROTECT, related_name="snapshots")
    day = models.DateField(help_text="NYSE session (New York date).")
    marked_at = models.DateTimeField(help_text="The market moment of the marks: the session's close.")
    positions = models.JSONField(
        default=list, blank=True, help_text="[{symbol, quantity, average_cost, mark, unrealized_pnl, trade_ids}]"
    )
    open_trade_ids = models.JSONField(default=list, blank=True)
    cash = MoneyField(default=0, help_text="Starting equity plus realized P&L (net) minus the cost of what is held.")
    realized_pnl = MoneyField(default=0, help_text="All closed trades up to this close, net of commissions.")
    unrealized_pnl = MoneyField(default=0)
    equity = MoneyField(default=0, help_text="Starting equity + realized + unrealized P&L.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["book", "day"]
        constraints = [models.UniqueConstraint(fields=["book", "day"], name="one_snapshot_per_book_day")]

    def __str__(self) -> str:
        return f"{self.book_id and self.book.name} {self.day.isoformat()} equity {self.equity}"

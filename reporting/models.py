"""Stored daily reports: the metrics of one New York trading date, as rendered and as files."""

from django.db import models
from django.urls import reverse

from trading.money import MoneyField


class DailyReport(models.Model):
    """The report of one trading date (New York): its metrics, Markdown and CSV, regenerated in place.

    One row per date; generating a date again overwrites the row and its files, so a report can be
    refreshed any number of times (after a late fill, a correction) without duplicates.
    """

    day = models.DateField(unique=True, help_text="Trading date in New York: trades are counted by exit date.")
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
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"Report {self.day.isoformat()}"

    def get_absolute_url(self) -> str:
        return reverse("admin:reporting_dailyreport_change", args=[self.pk])

    @property
    def file_stem(self) -> str:
        return f"report_{self.day.isoformat()}"

"""Stored daily reports: the metrics of one New York trading date, as rendered and as files.

A book's (an account's) foreign key leads this module's composite indexes and has no index of
its own: see `trading.models`.
"""

from django.db import models
from django.urls import reverse

from trading.money import MoneyField


class DailyReport(models.Model):
    """The report of one trading date (New York): its metrics, Markdown and CSV, regenerated in place.

    One row per date; generating a date again overwrites the row and its files, so a report can be
    refreshed any number of times (after a late fill, a correction) without duplicates.
    """

    book = models.ForeignKey("trading.Book", on_delete=models.PROTECT, related_name="daily_reports", db_index=False)
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

    book = models.ForeignKey("trading.Book", on_delete=models.PROTECT, related_name="snapshots", db_index=False)
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


class ClosedTradeMonth(models.Model):
    """The book's closed trades of one New York month, per symbol and exit reason, summed.

    Kept up to date where trades close (`reporting.summaries`), so that statistics over years read
    a few rows per month instead of every trade. Money is an exact integer number of 1/10,000ths
    of a dollar (the trades' own precision): SQLite keeps decimals as floats, integers it adds
    exactly."""

    book = models.ForeignKey("trading.Book", on_delete=models.CASCADE, related_name="+", db_index=False)
    month = models.DateField(help_text="First day of the New York month of the exits.")
    symbol = models.CharField(max_length=16)
    exit_reason = models.CharField(max_length=16, blank=True)
    trades = models.PositiveIntegerField(default=0)
    wins = models.PositiveIntegerField(default=0)
    losses = models.PositiveIntegerField(default=0)
    net_units = models.BigIntegerField(default=0, help_text="Net P&L, 1/10,000 dollar.")
    gross_profit_units = models.BigIntegerField(default=0, help_text="Sum of the winners' P&L, 1/10,000 dollar.")
    commission_units = models.BigIntegerField(default=0, help_text="1/10,000 dollar.")
    highest_units = models.BigIntegerField(help_text="The best trade's P&L, 1/10,000 dollar.")
    lowest_units = models.BigIntegerField(help_text="The worst trade's P&L, 1/10,000 dollar.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["book", "month", "symbol", "exit_reason"], name="one_summary_per_book_month_symbol_reason"
            )
        ]

    def __str__(self) -> str:
        return f"{self.book_id} {self.month:%Y-%m} {self.symbol} {self.exit_reason}: {self.trades}"


class ClosedTradeDay(models.Model):
    """The book's closed trades of one New York date, in exit order (exit time, then id).

    Besides the day's count and net, the running net P&L's highest and lowest points within the
    day (from 0 before its first trade) and its deepest fall below its own running peak: enough to
    chain days into the trade-by-trade maximum drawdown of any run of days without reading a trade.
    The last trade counted says where the next one must come to be appended; one that comes
    earlier makes the day be summed again from its trades."""

    book = models.ForeignKey("trading.Book", on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField(help_text="New York date of the exits.")
    trades = models.PositiveIntegerField(default=0)
    net_units = models.BigIntegerField(default=0, help_text="1/10,000 dollar.")
    peak_units = models.BigIntegerField(default=0, help_text="Highest running net within the day (≥ 0).")
    trough_units = models.BigIntegerField(default=0, help_text="Lowest running net within the day (≤ 0).")
    deepest_fall_units = models.BigIntegerField(default=0, help_text="Deepest fall below the day's running peak.")
    last_exit_time = models.DateTimeField()
    last_trade_id = models.BigIntegerField()

    class Meta:
        ordering = ["book", "day"]
        constraints = [models.UniqueConstraint(fields=["book", "day"], name="one_summary_per_book_day")]

    def __str__(self) -> str:
        return f"{self.book_id} {self.day.isoformat()}: {self.trades}"


class ClosedTradeHolding(models.Model):
    """How long the book's closed trades of one New York month were held, counted per whole minute
    (a trade held 61 s counts in minute 1), for all trades, winners and losers.

    Averages come from the sums of seconds; a median is found in its minute here and then read to
    the second from the few trades held that minute. Holding time is the database's own figure
    (`trading.expressions.HoldingSeconds`), so this table and the trades agree to the second."""

    book = models.ForeignKey("trading.Book", on_delete=models.CASCADE, related_name="+", db_index=False)
    month = models.DateField(help_text="First day of the New York month of the exits.")
    minute = models.BigIntegerField(help_text="Whole minutes held (seconds // 60).")
    trades = models.PositiveIntegerField(default=0)
    wins = models.PositiveIntegerField(default=0)
    losses = models.PositiveIntegerField(default=0)
    seconds = models.BigIntegerField(default=0, help_text="Seconds held, summed over the trades.")
    win_seconds = models.BigIntegerField(default=0)
    loss_seconds = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["book", "month", "minute"], name="one_holding_per_book_month_minute")
        ]

    def __str__(self) -> str:
        return f"{self.book_id} {self.month:%Y-%m} minute {self.minute}: {self.trades}"

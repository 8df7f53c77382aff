"""python manage.py report [--date YYYY-MM-DD] [--book NAME] [--json]"""

import json

from django.core.management.base import BaseCommand, CommandError

from reporting.rendering import human_duration
from reporting.selectors import today_new_york
from reporting.services import report_generate
from trading import sessions
from trading.cli import add_book_arguments, book_from_options, parse_day


class Command(BaseCommand):
    help = "Generate (or regenerate) the daily report of a New York trading date: stored, and written as .md and .csv."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="Trading date YYYY-MM-DD (default: today in New York).")
        parser.add_argument("--json", action="store_true", help="Print the metrics as one JSON object.")
        add_book_arguments(parser, backend=False)

    def handle(self, *args, **options):
        book = book_from_options(options)
        day = parse_day(options["date"], option="--date") or today_new_york()
        if options["date"] and not sessions.is_session(day):
            raise CommandError(
                f"--date {day.isoformat()} ({day:%A}) is not an NYSE session (a weekend or market holiday): "
                "nothing trades that day, so there is no daily report to make"
            )
        report = report_generate(book=book, day=day)
        m = report.metrics
        if options["json"]:
            self.stdout.write(json.dumps(m, indent=2))
            return
        self.stdout.write(f"Daily report {day.isoformat()} (New York), book {book.name}")
        self.stdout.write(
            f"Closed trades: {m['trade_count']} ({m['wins']} wins, {m['losses']} losses, {m['breakevens']} breakeven)"
        )
        win_rate = "-" if m["win_rate"] is None else f"{m['win_rate'] * 100:.2f}%"
        self.stdout.write(f"Net P&L: {m['net_pnl']}  win rate: {win_rate}  commissions: {m['commissions']}")
        self.stdout.write(
            f"Max drawdown: {m['max_drawdown']}  median holding time: {human_duration(m['median_holding_time'])}"
        )
        self.stdout.write(f"Open trades: {m['open_trades']} (unrealized {m['unrealized_pnl']})")
        if m.get("equity") is not None:
            self.stdout.write(
                f"Equity at the close: {m['equity']}  drawdown of the equity curve: {m['equity_max_drawdown_pct']}%  "
                f"Sharpe (daily equity): {m['equity_sharpe_ratio']}"
            )
        self.stdout.write(f"Written: {report.markdown_path}")
        self.stdout.write(f"         {report.csv_path}")

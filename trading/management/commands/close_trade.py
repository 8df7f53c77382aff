"""python manage.py close_trade TRADE_ID [--book NAME] [--at ISO-TIME]"""

import json

from django.core.management.base import BaseCommand, CommandError

from trading.brokers.base import BrokerError
from trading.cli import parse_moment
from trading.models import Trade
from trading.money import format_money, format_price
from trading.services.closing import CloseRefused, TradeNotOpen, trade_close


class Command(BaseCommand):
    help = (
        "Close an open trade at market through the broker that opened it: cancel its stop and target, "
        "send one exit order. When the exit cannot be sent, nothing is changed and the command fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("trade_id", type=int)
        parser.add_argument("--at", help="Market moment (SIM); without offset read as New York time.")
        parser.add_argument("--json", action="store_true", help="Print the closed trade as one JSON object.")
        parser.add_argument(
            "--book", help="The book the trade must belong to (a check: a trade closes in its own book)."
        )

    def handle(self, *args, **options):
        try:
            trade = Trade.objects.get(pk=options["trade_id"])
        except Trade.DoesNotExist:
            raise CommandError(f"no trade {options['trade_id']}") from None
        if options["book"] and trade.book.name != options["book"]:
            raise CommandError(f"trade {trade.pk} belongs to book {trade.book.name!r}, not --book {options['book']!r}")
        try:
            trade = trade_close(trade_id=trade.pk, at=parse_moment(options["at"]))
        except (TradeNotOpen, CloseRefused, BrokerError) as exc:
            raise CommandError(f"not closed: {exc}") from None
        if options["json"]:
            self.stdout.write(json.dumps(_as_json(trade), indent=2))
            return
        self.stdout.write(
            f"Trade {trade.pk} {trade.symbol}: {trade.status}, exit {format_price(trade.exit_price)} ({trade.exit_reason}), "
            f"realized P&L {format_money(trade.realized_pnl)}"
        )


def _as_json(trade: Trade) -> dict:
    """Money and prices as strings (exact decimals), times in UTC ISO 8601."""

    def text(value):
        return None if value is None else str(value)

    return {
        "trade_id": trade.pk,
        "symbol": trade.symbol,
        "status": trade.status,
        "broker_alias": trade.broker_alias,
        "account_id": trade.account_id,
        "quantity": trade.quantity,
        "exit_reason": trade.exit_reason or None,
        "exit_price": text(trade.exit_price),
        "exit_time_utc": trade.exit_time.isoformat() if trade.exit_time else None,
        "realized_pnl_usd": text(trade.realized_pnl),
    }

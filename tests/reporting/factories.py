"""Factories for reporting tests: closed and open trades described the way a trader would."""

from datetime import datetime
from decimal import Decimal

import factory

from reporting.models import DailyReport
from tests.factories import PositionFactory, TradeFactory
from trading.models import Trade
from trading.sessions import NEW_YORK


def ny(*args) -> datetime:
    """A New York wall-clock time, e.g. ny(2026, 11, 20, 10, 30)."""
    return datetime(*args, tzinfo=NEW_YORK)


def closed_trade(
    *,
    pnl: str,
    entry: datetime,
    exit: datetime,
    symbol: str = "AAA",
    reason: str = Trade.ExitReason.TARGET,
    commission: str = "2.00",
    **kwargs,
) -> Trade:
    """A closed trade with the given net P&L; prices are only plausible, the P&L is what counts."""
    return TradeFactory(
        symbol=symbol,
        realized_pnl=Decimal(pnl),
        commission=Decimal(commission),
        entry_time=entry,
        exit_time=exit,
        exit_reason=reason,
        status=Trade.Status.CLOSED,
        **kwargs,
    )


def open_trade(*, symbol: str, side: str = "BUY", quantity: int = 100, entry_price: str, mark: str | None, **kwargs):
    """An open trade and our position in its symbol, marked at `mark` (None: never marked)."""
    trade = TradeFactory(
        symbol=symbol,
        side=side,
        quantity=quantity,
        entry_price=Decimal(entry_price),
        exit_price=None,
        exit_time=None,
        exit_reason="",
        realized_pnl=None,
        commission=Decimal("1.00"),
        status=Trade.Status.OPEN,
        **kwargs,
    )
    signed = quantity if side == "BUY" else -quantity
    mark_price = None if mark is None else Decimal(mark)
    PositionFactory(
        symbol=symbol,
        quantity=signed,
        average_cost=Decimal(entry_price),
        mark_price=mark_price,
        marked_at=None if mark is None else trade.entry_time,
        unrealized_pnl=Decimal(0) if mark is None else (mark_price - Decimal(entry_price)) * signed,
    )
    return trade


class DailyReportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DailyReport
        django_get_or_create = ("day",)

    day = factory.Sequence(lambda n: datetime(2026, 1, 1).date().replace(day=1 + n % 28))
    trade_count = 0
    net_pnl = Decimal("0")
    markdown = "# Report\n"
    csv = "id\n"
    generated_at = factory.LazyFunction(lambda: ny(2026, 11, 20, 17, 0))

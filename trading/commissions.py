"""IB-style fixed commissions for US stocks: per share, with a minimum and a cap in % of trade value."""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

from trading.money import CENT


def commission_for(quantity: int, price: Decimal, schedule: dict | None = None) -> Decimal:
    schedule = schedule or settings.TRADE_LABS_COMMISSION
    per_share = Decimal(schedule["per_share"]) * quantity
    minimum = Decimal(schedule["minimum"])
    cap = Decimal(schedule["maximum_pct_of_value"]) * quantity * price
    amount = max(per_share, minimum)
    if cap > 0:
        amount = min(amount, max(cap, CENT))
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)

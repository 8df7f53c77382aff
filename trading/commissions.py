"""IB-style fixed commissions for US stocks: per share, with a minimum and a cap in % of trade
value; and, when the schedule turns them on, the regulatory fees a broker passes through on
sales (SEC Section 31 fee on the value sold, FINRA Trading Activity Fee per share sold)."""

from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from django.conf import settings

from trading.money import CENT

MILLION = Decimal(1_000_000)


def commission_for(
    quantity: int, price: Decimal, schedule: dict | None = None, *, side: str = "BUY", on: date | None = None
) -> Decimal:
    """The commission of one execution; a sale on day `on` adds the regulatory fees when the
    schedule's `regulatory_fees` is on."""
    schedule = schedule or settings.TRADE_LABS_COMMISSION
    per_share = Decimal(schedule["per_share"]) * quantity
    minimum = Decimal(schedule["minimum"])
    cap = Decimal(schedule["maximum_pct_of_value"]) * quantity * price
    amount = max(per_share, minimum)
    if cap > 0:
        amount = min(amount, max(cap, CENT))
    amount = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    if side == "SELL" and schedule.get("regulatory_fees"):
        amount += regulatory_fees(quantity, price, schedule, on=on)
    return amount


def regulatory_fees(quantity: int, price: Decimal, schedule: dict, *, on: date | None) -> Decimal:
    """SEC fee on the value sold at the rate in force on `on`, plus FINRA TAF per share sold up
    to its cap; each rounded up to the cent, as brokers charge them."""
    on = on or date.today()
    rate = sec_fee_rate(schedule, on=on)
    sec = (quantity * price * rate / MILLION).quantize(CENT, rounding=ROUND_CEILING)
    taf_cap = Decimal(schedule["finra_taf_max"])
    taf = min(Decimal(schedule["finra_taf_per_share"]) * quantity, taf_cap).quantize(CENT, rounding=ROUND_CEILING)
    return sec + taf


def sec_fee_rate(schedule: dict, *, on: date) -> Decimal:
    """Dollars per million sold in force on `on`: the latest rate whose start is on or before it."""
    rate = Decimal(0)
    for start, dollars in sorted(schedule["sec_fee_per_million"]):
        if date.fromisoformat(start) <= on:
            rate = Decimal(dollars)
    return rate


def day_of(moment: datetime | None) -> date | None:
    from trading.sessions import to_new_york

    return to_new_york(moment).date() if moment else None

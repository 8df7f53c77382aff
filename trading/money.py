"""The one place that says what precision prices, quantities and money carry.

- Prices: 4 decimal places (IB quotes sub-penny below $1), up to 10 digits before the point.
- Money (cash, P&L, commissions, notional): 4 places stored, quantized to cents when shown.
- Quantities: whole shares (int).
Never float: market data arriving as float is converted through `str` and quantized here.
"""

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from django.db import models

PRICE_QUANTUM = Decimal("0.0001")
MONEY_QUANTUM = Decimal("0.0001")
CENT = Decimal("0.01")
ZERO = Decimal("0")


def PriceField(**kwargs) -> models.DecimalField:  # noqa: N802 - reads like a field class
    return models.DecimalField(max_digits=14, decimal_places=4, **kwargs)


def MoneyField(**kwargs) -> models.DecimalField:  # noqa: N802
    return models.DecimalField(max_digits=18, decimal_places=4, **kwargs)


def to_decimal(value) -> Decimal | None:
    """Decimal from a str/int/float/Decimal; None for None. Floats go through repr to avoid binary noise."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(float(value)))  # float() also unwraps numpy scalars
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None


def to_price(value) -> Decimal:
    return to_decimal(value).quantize(PRICE_QUANTUM, rounding=ROUND_HALF_EVEN)


def to_money(value) -> Decimal:
    return to_decimal(value).quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)


def to_cents(value) -> Decimal:
    return to_decimal(value).quantize(CENT, rounding=ROUND_HALF_EVEN)


def format_money(value) -> str:
    """Money as a person reads it: `$1,234.56`, `-$1,234.56`; `–` when unknown."""
    if value is None or value == "":
        return "–"
    cents = to_cents(value)
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents):,.2f}"


def format_price(value) -> str:
    """A price at the precision it trades: cents, or four places below a dollar (sub-penny quotes)."""
    if value is None or value == "":
        return "–"
    price = to_decimal(value)
    places = 4 if abs(price) < 1 and price != price.quantize(CENT) else 2
    return f"${price:,.{places}f}"

"""One money format wherever a person reads: $1,234.56 and -$1,234.56."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from trading.money import format_money, format_price, to_cents


def test_money_reads_as_dollars_with_separators():
    assert format_money(Decimal("1234.5")) == "$1,234.50"
    assert format_money(Decimal("-1234.567")) == "-$1,234.57"
    assert format_money(Decimal("0")) == "$0.00"
    assert format_money(None) == "–"


def test_prices_keep_their_trading_precision():
    assert format_price(Decimal("12.3400")) == "$12.34"
    assert format_price(Decimal("0.1234")) == "$0.1234"
    assert format_price(Decimal("1234.5")) == "$1,234.50"
    assert format_price(None) == "–"


@given(st.decimals(min_value=-(10**12), max_value=10**12, allow_nan=False, allow_infinity=False, places=4))
def test_what_is_shown_parses_back_to_the_cents(value):
    shown = format_money(value)
    assert Decimal(shown.replace("$", "").replace(",", "")) == to_cents(value)

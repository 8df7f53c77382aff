"""Commissions, and the regulatory fees on sales a schedule may pass through."""

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from trading.commissions import commission_for, regulatory_fees, sec_fee_rate

BASE = {"per_share": "0.005", "minimum": "1.00", "maximum_pct_of_value": "0.01"}
WITH_FEES = {
    **BASE,
    "regulatory_fees": True,
    "sec_fee_per_million": [("2024-05-22", "27.80"), ("2025-05-14", "0.00")],
    "finra_taf_per_share": "0.000166",
    "finra_taf_max": "8.30",
}


def test_fees_are_off_by_default_and_never_on_a_purchase():
    assert commission_for(100, Decimal("50"), BASE, side="SELL", on=date(2025, 1, 10)) == Decimal("1.00")
    assert commission_for(100, Decimal("50"), WITH_FEES, side="BUY", on=date(2025, 1, 10)) == Decimal("1.00")


def test_a_sale_pays_the_sec_fee_in_force_that_day_and_finra_taf():
    # $5,000 sold: SEC 27.80 per million = $0.139 → $0.14; TAF 100 × $0.000166 → $0.02.
    assert commission_for(100, Decimal("50"), WITH_FEES, side="SELL", on=date(2025, 1, 10)) == Decimal("1.16")
    # From 2025-05-14 the SEC rate is $0.00 per million: only TAF remains.
    assert commission_for(100, Decimal("50"), WITH_FEES, side="SELL", on=date(2025, 6, 2)) == Decimal("1.02")
    assert sec_fee_rate(WITH_FEES, on=date(2024, 1, 2)) == 0  # before the first dated rate the table knows


def test_finra_taf_stops_at_its_cap():
    fees = regulatory_fees(100_000, Decimal("1"), WITH_FEES, on=date(2025, 6, 2))
    assert fees == Decimal("8.30")


@given(
    quantity=st.integers(min_value=1, max_value=1_000_000),
    price=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=2),
)
def test_fees_are_whole_cents_and_never_negative(quantity, price):
    fees = regulatory_fees(quantity, price, WITH_FEES, on=date(2025, 1, 10))
    assert fees >= 0 and fees == fees.quantize(Decimal("0.01"))

"""One rule for what a ticker symbol is, used by import, scanner results, the API and the admin."""

import re

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from trading.brokers.base import ScanResult
from trading.services.pipeline import _unique_by_symbol
from trading.symbols import InvalidSymbol, symbol_clean, symbol_is_valid


@pytest.mark.parametrize("good", ["AAPL", "brk.b", " BF-B ", "X", "ABCDEFGHIJKL"])
def test_real_tickers_pass_upper_cased(good):
    assert symbol_clean(good) == good.strip().upper()


@pytest.mark.parametrize("bad", ["", "../../ETC", "A;DROP TABLE X", "A" * 13, "1ABC", "[X](JAVASCRIPT:1)", None])
def test_anything_else_is_refused_with_a_reason(bad):
    with pytest.raises(InvalidSymbol, match="is not a ticker symbol"):
        symbol_clean(bad)


@given(st.text(max_size=40))
def test_a_clean_symbol_is_short_plain_ascii_and_stable(raw):
    try:
        cleaned = symbol_clean(raw)
    except InvalidSymbol:
        return
    assert re.fullmatch(r"[A-Z][A-Z0-9.\-]{0,11}", cleaned) and symbol_clean(cleaned) == cleaned


def test_scanner_results_that_are_not_tickers_are_dropped():
    results = [ScanResult("../ETC", 1), ScanResult("AAPL", 2), ScanResult("A;DROP", 3), ScanResult("", 4)]
    assert [r.symbol for r in _unique_by_symbol(results)] == ["AAPL"]
    assert not symbol_is_valid("A;DROP")


@pytest.mark.django_db
def test_the_api_answers_400_for_a_bad_symbol_filter(plain_user):
    client = Client()
    client.force_login(plain_user)
    response = client.get("/api/v1/trades/", {"symbol": "AAPL,../../ETC"})
    assert response.status_code == 400 and "not a ticker symbol" in response.json()["symbol"][0]
    assert client.get("/api/v1/trades/", {"symbol": "aapl,brk.b"}).status_code == 200

"""Every metric against values worked out by hand on small fixed trade sets."""

from decimal import Decimal

import pytest

from reporting.metrics import Period, metrics_compute, pnl_curve_by_day, pnl_curve_by_trade
from tests.factories import TradeFactory
from trading.models import Trade
from trading.services.books import book_default

from .factories import closed_trade, ny, open_trade

pytestmark = pytest.mark.django_db

FRIDAY = ny(2026, 11, 20).date()


@pytest.fixture
def mixed_day():
    """Five trades closed on Friday 2026-11-20, listed here in exit order.

    cumulative net P&L: -102.00, -102.00, +96.00, +146.505, -153.745 → deepest fall 146.505 → -153.745.
    """
    closed_trade(
        symbol="BBB", pnl="-102.00", entry=ny(2026, 11, 20, 10, 30), exit=ny(2026, 11, 20, 11, 0), reason="stop"
    )
    closed_trade(
        symbol="AAA", pnl="0.00", entry=ny(2026, 11, 20, 11, 0), exit=ny(2026, 11, 20, 11, 10), reason="manual"
    )
    closed_trade(
        symbol="AAA", pnl="198.00", entry=ny(2026, 11, 20, 10, 0), exit=ny(2026, 11, 20, 12, 0), reason="target"
    )
    closed_trade(
        symbol="CCC",
        pnl="50.5050",
        entry=ny(2026, 11, 20, 13, 0),
        exit=ny(2026, 11, 20, 15, 0),
        reason="eod",
        commission="1.00",
    )
    closed_trade(symbol="BBB", pnl="-300.25", entry=ny(2026, 11, 20, 14, 0), exit=ny(2026, 11, 20, 15, 30), reason="stop")  # fmt: skip


def test_mixed_day_every_metric(mixed_day):
    m = metrics_compute(book=book_default(), period=Period.day(FRIDAY))
    assert (m["trade_count"], m["wins"], m["losses"], m["breakevens"]) == (5, 2, 2, 1)
    assert m["win_rate"] == 0.4
    # 198.00 + 50.505 = 248.505 → cents, half to even: 248.50.
    assert m["gross_profit"] == "248.50"
    assert m["gross_loss"] == "-402.25"
    # 248.505 - 402.25 = -153.745 → -153.74 (half to even), summed exactly before rounding.
    assert m["net_pnl"] == "-153.74"
    assert m["profit_factor"] == 0.6178  # 248.505 / 402.25
    assert m["expectancy"] == "-30.75"  # -153.745 / 5 = -30.749
    assert m["average_win"] == "124.25"  # 248.505 / 2 = 124.2525
    assert m["average_loss"] == "-201.12"  # -402.25 / 2 = -201.125, half to even
    assert m["largest_win"] == "198.00"
    assert m["largest_loss"] == "-300.25"
    # Holds: 1800, 600, 7200, 7200, 5400 seconds.
    assert m["average_holding_time"] == 4440
    assert m["median_holding_time"] == 5400
    assert (m["average_holding_time_winners"], m["median_holding_time_winners"]) == (7200, 7200)
    assert (m["average_holding_time_losers"], m["median_holding_time_losers"]) == (3600, 3600)
    assert m["max_drawdown"] == "300.25"
    assert m["max_drawdown_pct"] == 0.3002  # 300.25 of 100,000 = 0.30025 %, half to even
    assert m["sharpe_ratio"] is None, "one day has no spread of daily returns"
    assert m["commissions"] == "9.00"
    assert m["exit_reasons"] == {
        "stop": {"trades": 2, "wins": 0, "losses": 2, "breakevens": 0, "net_pnl": "-402.25"},
        "target": {"trades": 1, "wins": 1, "losses": 0, "breakevens": 0, "net_pnl": "198.00"},
        "manual": {"trades": 1, "wins": 0, "losses": 0, "breakevens": 1, "net_pnl": "0.00"},
        "eod": {"trades": 1, "wins": 1, "losses": 0, "breakevens": 0, "net_pnl": "50.50"},
    }
    assert m["per_symbol"] == [
        {"symbol": "AAA", "trades": 2, "wins": 1, "losses": 0, "breakevens": 1, "win_rate": 0.5, "net_pnl": "198.00", "commissions": "4.00"},
        {"symbol": "BBB", "trades": 2, "wins": 0, "losses": 2, "breakevens": 0, "win_rate": 0.0, "net_pnl": "-402.25", "commissions": "4.00"},
        {"symbol": "CCC", "trades": 1, "wins": 1, "losses": 0, "breakevens": 0, "win_rate": 1.0, "net_pnl": "50.50", "commissions": "1.00"},
    ]  # fmt: skip
    assert m["open_trades"] == 0 and m["open_trade_list"] == [] and m["unrealized_pnl"] == "0.00"


def test_no_trades_gives_zeros_and_nulls():
    m = metrics_compute(book=book_default(), period=Period.day(FRIDAY))
    assert (m["trade_count"], m["wins"], m["losses"], m["breakevens"]) == (0, 0, 0, 0)
    assert m["win_rate"] is None and m["profit_factor"] is None and m["expectancy"] is None
    assert (m["gross_profit"], m["gross_loss"], m["net_pnl"], m["commissions"]) == ("0.00", "0.00", "0.00", "0.00")
    assert m["average_win"] is None and m["average_loss"] is None
    assert m["largest_win"] is None and m["largest_loss"] is None
    assert m["average_holding_time"] is None and m["median_holding_time"] is None
    assert m["median_holding_time_winners"] is None and m["median_holding_time_losers"] is None
    assert (m["max_drawdown"], m["max_drawdown_pct"], m["sharpe_ratio"]) == ("0.00", 0.0, None)
    assert m["per_symbol"] == []
    assert all(r["trades"] == 0 for r in m["exit_reasons"].values())


def test_all_wins_has_no_profit_factor_and_no_drawdown():
    closed_trade(pnl="100.00", entry=ny(2026, 11, 20, 10, 0), exit=ny(2026, 11, 20, 10, 1))
    closed_trade(pnl="50.00", entry=ny(2026, 11, 20, 10, 0), exit=ny(2026, 11, 20, 10, 2))
    m = metrics_compute(book=book_default(), period=Period.day(FRIDAY))
    assert (m["trade_count"], m["wins"], m["losses"], m["win_rate"]) == (2, 2, 0, 1.0)
    assert m["profit_factor"] is None, "no loss: profit factor is undefined"
    assert (m["gross_profit"], m["gross_loss"], m["net_pnl"]) == ("150.00", "0.00", "150.00")
    assert (m["average_win"], m["average_loss"], m["largest_loss"]) == ("75.00", None, None)
    assert m["expectancy"] == "75.00"
    assert m["max_drawdown"] == "0.00"
    assert (m["average_holding_time"], m["median_holding_time"]) == (90, 90)  # 60 s and 120 s
    assert m["median_holding_time_losers"] is None


def test_all_losses_falls_the_whole_way():
    for minute, pnl in ((1, "-10.00"), (2, "-20.00"), (3, "-30.00")):
        closed_trade(pnl=pnl, entry=ny(2026, 11, 20, 10, 0), exit=ny(2026, 11, 20, 10, minute), reason="stop")
    m = metrics_compute(book=book_default(), period=Period.day(FRIDAY))
    assert (m["wins"], m["losses"], m["win_rate"]) == (0, 3, 0.0)
    assert m["profit_factor"] == 0.0
    assert (m["gross_profit"], m["gross_loss"], m["net_pnl"]) == ("0.00", "-60.00", "-60.00")
    assert (m["average_win"], m["average_loss"]) == (None, "-20.00")
    assert (m["largest_win"], m["largest_loss"]) == (None, "-30.00")
    assert m["max_drawdown"] == "60.00", "the curve starts at zero, so the first loss is already drawdown"
    assert m["max_drawdown_pct"] == 0.06
    assert m["median_holding_time_losers"] == 120


def test_breakevens_are_neither_wins_nor_losses():
    closed_trade(pnl="0.00", entry=ny(2026, 11, 20, 10, 0), exit=ny(2026, 11, 20, 10, 5), reason="manual")
    closed_trade(pnl="0.0000", entry=ny(2026, 11, 20, 10, 0), exit=ny(2026, 11, 20, 10, 15), reason="manual")
    m = metrics_compute(book=book_default(), period=Period.day(FRIDAY))
    assert (m["trade_count"], m["wins"], m["losses"], m["breakevens"]) == (2, 0, 0, 2)
    assert m["win_rate"] == 0.0 and m["profit_factor"] is None and m["expectancy"] == "0.00"
    assert m["median_holding_time"] == 600  # 300 s and 900 s
    assert m["average_holding_time_winners"] is None and m["average_holding_time_losers"] is None


def test_single_trade():
    closed_trade(pnl="25.0049", entry=ny(2026, 11, 20, 9, 45), exit=ny(2026, 11, 20, 15, 59, 30), commission="1.2345")
    m = metrics_compute(book=book_default(), period=Period.day(FRIDAY))
    assert (m["trade_count"], m["wins"], m["win_rate"]) == (1, 1, 1.0)
    assert m["net_pnl"] == m["expectancy"] == m["average_win"] == m["largest_win"] == "25.00"
    assert m["commissions"] == "1.23"
    assert m["average_holding_time"] == m["median_holding_time"] == 6 * 3600 + 14 * 60 + 30
    assert m["max_drawdown"] == "0.00" and m["sharpe_ratio"] is None


def test_trades_belong_to_their_new_york_exit_date():
    # 23:30 New York on Friday is already Saturday in UTC; 23:30 on Thursday is Friday in UTC.
    closed_trade(pnl="10.00", entry=ny(2026, 11, 20, 15, 0), exit=ny(2026, 11, 20, 23, 30))
    closed_trade(pnl="99.00", entry=ny(2026, 11, 19, 15, 0), exit=ny(2026, 11, 19, 23, 30))
    closed_trade(pnl="77.00", entry=ny(2026, 11, 20, 15, 0), exit=ny(2026, 11, 21, 0, 0))
    m = metrics_compute(book=book_default(), period=Period.day(FRIDAY))
    assert (m["trade_count"], m["net_pnl"]) == (1, "10.00")


def test_dry_run_open_and_cancelled_trades_are_not_counted():
    closed_trade(pnl="10.00", entry=ny(2026, 11, 20, 10, 0), exit=ny(2026, 11, 20, 11, 0))
    closed_trade(pnl="500.00", entry=ny(2026, 11, 20, 10, 0), exit=ny(2026, 11, 20, 11, 0), dry_run=True)
    TradeFactory(status=Trade.Status.CANCELLED, entry_time=None, exit_time=None, realized_pnl=None, exit_reason="")
    m = metrics_compute(book=book_default(), period=Period.day(FRIDAY))
    assert (m["trade_count"], m["net_pnl"]) == (1, "10.00")


def test_week_sharpe_counts_quiet_sessions_as_zero_returns():
    # Mon +100, Tue nothing, Wed -50 (two trades), Thu nothing, Fri +250; equity 100,000.
    closed_trade(pnl="100.00", entry=ny(2026, 11, 16, 10, 0), exit=ny(2026, 11, 16, 11, 0))
    closed_trade(pnl="-80.00", entry=ny(2026, 11, 18, 10, 0), exit=ny(2026, 11, 18, 11, 0), reason="stop")
    closed_trade(pnl="30.00", entry=ny(2026, 11, 18, 12, 0), exit=ny(2026, 11, 18, 13, 0))
    closed_trade(pnl="250.00", entry=ny(2026, 11, 20, 10, 0), exit=ny(2026, 11, 20, 11, 0))
    m = metrics_compute(book=book_default(), period=Period.all_time())
    # Returns 0.001, 0, -0.0005, 0, 0.0025: mean 0.0006, sample stdev 0.00119373…; × √252.
    assert m["sharpe_ratio"] == 7.9789
    assert m["max_drawdown"] == "80.00"
    assert m["max_drawdown_pct"] == 0.08
    assert pnl_curve_by_day(book=book_default(), period=Period.all_time()) == [
        (ny(2026, 11, 16).date(), Decimal("100")),
        (ny(2026, 11, 18).date(), Decimal("50")),
        (ny(2026, 11, 20).date(), Decimal("300")),
    ]
    assert [v for _, v in pnl_curve_by_trade(book=book_default(), period=Period.all_time())] == [100, 20, 50, 300]


def test_month_period_takes_only_that_months_exits():
    closed_trade(pnl="10.00", entry=ny(2026, 10, 30, 10, 0), exit=ny(2026, 10, 31, 23, 59))
    closed_trade(pnl="20.00", entry=ny(2026, 11, 2, 10, 0), exit=ny(2026, 11, 2, 11, 0))
    closed_trade(pnl="40.00", entry=ny(2026, 11, 30, 10, 0), exit=ny(2026, 11, 30, 23, 0))
    closed_trade(pnl="80.00", entry=ny(2026, 11, 30, 15, 0), exit=ny(2026, 12, 1, 0, 1))
    assert metrics_compute(book=book_default(), period=Period.month(2026, 11))["net_pnl"] == "60.00"
    assert metrics_compute(book=book_default(), period=Period.month(2026, 12))["net_pnl"] == "80.00"
    assert metrics_compute(book=book_default(), period=Period.all_time())["net_pnl"] == "150.00"


def test_open_trades_show_unrealized_pnl_at_the_latest_mark():
    open_trade(symbol="LONG", entry_price="50.00", mark="51.2345", entry_time=ny(2026, 11, 20, 10, 0))
    open_trade(
        symbol="SHRT", side="SELL", quantity=10, entry_price="20.00", mark="21.00", entry_time=ny(2026, 11, 20, 11, 0)
    )
    open_trade(symbol="NOMK", entry_price="10.00", mark=None, entry_time=ny(2026, 11, 20, 12, 0))
    open_trade(symbol="LATE", entry_price="10.00", mark="11.00", entry_time=ny(2026, 11, 23, 10, 0))  # fmt: skip
    m = metrics_compute(book=book_default(), period=Period.day(FRIDAY))
    assert m["trade_count"] == 0, "open trades are listed apart from the closed-trade metrics"
    rows = {row["symbol"]: row for row in m["open_trade_list"]}
    assert list(rows) == ["LONG", "SHRT", "NOMK"], "a trade entered after the day is not in that day's report"
    assert rows["LONG"]["unrealized_pnl"] == "123.45"
    assert rows["SHRT"]["unrealized_pnl"] == "-10.00"
    assert rows["NOMK"]["unrealized_pnl"] is None and rows["NOMK"]["mark_price"] is None
    assert m["open_trades"] == 3
    assert m["unrealized_pnl"] == "113.45"


def test_sums_stay_exact_to_the_cent_over_many_fractional_values():
    # 0.0001 a thousand times and one 0.0050: 0.1050 → 0.10 exactly on the half-to-even rule,
    # which a float running sum (0.10500000000000009…) would push to 0.11.
    Trade.objects.bulk_create(
        Trade(
            book=book_default(), backend="sim", symbol=f"S{i % 7}", quantity=1, status=Trade.Status.CLOSED, realized_pnl=Decimal("0.0001"),
            entry_time=ny(2026, 11, 20, 10, 0), exit_time=ny(2026, 11, 20, 11, 0), exit_reason="target",
        )
        for i in range(1000)
    )  # fmt: skip
    closed_trade(pnl="0.0050", entry=ny(2026, 11, 20, 10, 0), exit=ny(2026, 11, 20, 11, 0))
    assert metrics_compute(book=book_default(), period=Period.day(FRIDAY))["net_pnl"] == "0.10"


def test_median_holding_time_with_repeated_values_on_both_sides_of_the_middle():
    # Winners hold 60, 60, 120 and 180 s; one loser holds 60 s.
    for seconds in (60, 60, 120, 180):
        closed_trade(pnl="1.00", entry=ny(2026, 11, 20, 10, 0), exit=ny(2026, 11, 20, 10, seconds // 60))
    closed_trade(pnl="-1.00", entry=ny(2026, 11, 20, 11, 0), exit=ny(2026, 11, 20, 11, 1), reason="stop")
    m = metrics_compute(book=book_default(), period=Period.day(FRIDAY))
    assert m["median_holding_time"] == 60  # 60 60 [60] 120 180
    assert m["median_holding_time_winners"] == 90  # 60 [60 120] 180
    assert m["median_holding_time_losers"] == 60
    assert m["average_holding_time_winners"] == 105

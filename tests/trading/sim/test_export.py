"""sim_export: the synthetic market written out as import_bars reads it, and back again."""

import csv
from datetime import date
from decimal import Decimal

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from trading import sessions
from trading.sim.market import market_for

FIRST, LAST = date(2026, 11, 16), date(2026, 11, 20)


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_exported_daily_bars_replay_with_the_same_ohlc_and_quotes_inside_the_range(db, tmp_path):
    call_command("sim_export", "--from", FIRST.isoformat(), "--to", LAST.isoformat(), "--out", str(tmp_path),
                 "--symbols", "3")  # fmt: skip
    files = sorted(tmp_path.glob("*.csv"))
    assert len(files) == 3 and "SPY.csv" in [f.name for f in files]
    for path in files:
        call_command("import_bars", str(path), "--into", "roundtrip")
    market = market_for(seed=0, universe_size=1, bar_set="roundtrip")
    for path in files:
        symbol = path.stem
        rows = _rows(path)
        assert list(rows[0]) == ["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"]
        assert [row["Date"] for row in rows] == [s.day.isoformat() for s in sessions.sessions_between(FIRST, LAST)]
        for row in rows:
            path_of_day = market.day_path(symbol, date.fromisoformat(row["Date"]))
            replayed = [path_of_day.mid[0], path_of_day.mid.max(), path_of_day.mid.min(), path_of_day.mid[-1]]
            assert [f"{x:.2f}" for x in replayed] == [row["Open"], row["High"], row["Low"], row["Close"]]
            bids, asks = path_of_day.touches(0, len(path_of_day.mid) - 1)
            low, high = float(row["Low"]), float(row["High"])
            assert np.all(bids >= low - 1e-9) and np.all(asks <= high + 0.01 + 1e-9), "quotes stay inside the bar"
            assert np.all(asks > bids)


def test_quotes_at_a_moment(db, tmp_path):
    out = tmp_path / "quotes.csv"
    universe = market_for(seed=20240101, universe_size=500).symbols
    call_command("sim_export", "--quotes", "--at", "2026-11-20T10:00", "--out", str(out), "--symbols",
                 f"SPY,{universe[7]}")  # fmt: skip
    rows = _rows(out)
    assert list(rows[0]) == ["symbol", "bid", "ask", "last", "volume"]
    assert [row["symbol"] for row in rows] == ["SPY", universe[7]]
    assert all(Decimal(row["ask"]) > Decimal(row["bid"]) > 0 and int(row["volume"]) > 0 for row in rows)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--from", "2026-11-20", "--to", "2026-11-16"], "before"),
        (["--from", "2026-11-21", "--to", "2026-11-22"], "no NYSE session"),
        (["--from", "2026-11-16", "--to", "2026-11-20", "--symbols", "NOPE"], "not in the synthetic universe"),
        (["--from", "2026-11-16", "--to", "2026-11-20", "--symbols", "0"], "universe holds"),
        (["--from", "16/11/2026", "--to", "2026-11-20"], "not a date"),
        (["--quotes", "--at", "tomorrow"], "not an ISO 8601 time"),
        (["--quotes"], "needs --at"),
    ],
)
def test_bad_requests_are_refused_with_a_clear_error(db, tmp_path, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("sim_export", *args, "--out", str(tmp_path / "x"))
    assert not any(tmp_path.rglob("*.csv"))


def test_a_spread_is_whole_cents_and_at_least_one_tick(db):
    market = market_for(seed=20240101, universe_size=50)
    for symbol in market.symbols:
        quote = market.quote(symbol, sessions.session(LAST).open)
        if quote.bid is not None and quote.ask > quote.bid:
            assert (quote.ask - quote.bid) % Decimal("0.01") == 0

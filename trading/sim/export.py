"""Writing the synthetic market out, so it can be studied in any tool: daily bars in the Yahoo
layout that `import_bars` reads (one CSV per symbol), or one moment's quotes of many symbols."""

import csv
import io
from datetime import date, datetime
from pathlib import Path

from trading import sessions
from trading.files import write_atomically

from .market import SyntheticMarket

DAILY_HEADER = ["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"]
QUOTES_HEADER = ["symbol", "bid", "ask", "last", "volume"]


class ExportRefused(ValueError):
    """The export cannot be written as asked."""


def symbols_pick(market: SyntheticMarket, spec: str | None) -> list[str]:
    """`spec`: a count (the first N of the universe, SPY first), a comma list, or None (all)."""
    if not spec:
        return list(market.symbols)
    if spec.strip().isdigit():
        count = int(spec)
        if not 1 <= count <= len(market.symbols):
            raise ExportRefused(f"--symbols {count}: the universe holds 1 to {len(market.symbols)} symbols")
        return list(market.symbols[:count])
    names = [name.strip().upper() for name in spec.split(",") if name.strip()]
    unknown = [name for name in names if name not in market]
    if unknown:
        raise ExportRefused(f"not in the synthetic universe: {', '.join(unknown)}")
    return names


def daily_bars(market: SyntheticMarket, symbol: str, day: date) -> list:
    """One session's Yahoo row, read off the same minute path SIM books trade on: the open is
    the opening cross, high and low the path's extremes, the close its last minute."""
    path = market.day_path(symbol, day)
    o, h, low, c = (round(float(x), 2) for x in (path.mid[0], path.mid.max(), path.mid.min(), path.mid[-1]))
    return [
        day.isoformat(),
        f"{o:.2f}",
        f"{h:.2f}",
        f"{low:.2f}",
        f"{c:.2f}",
        f"{c:.2f}",
        int(path.cumulative_volume[-1]),
    ]


def sim_export_daily(*, market: SyntheticMarket, symbols: list[str], start: date, end: date, out_dir: Path) -> int:
    """Write SYMBOL.csv for each symbol into `out_dir`; returns the number of files."""
    days = [s.day for s in sessions.sessions_between(start, end)]
    if not days:
        raise ExportRefused(f"no NYSE session from {start} to {end}")
    for symbol in symbols:
        _write_csv(out_dir / f"{symbol}.csv", DAILY_HEADER, [daily_bars(market, symbol, day) for day in days])
    return len(symbols)


def sim_export_quotes(*, market: SyntheticMarket, symbols: list[str], at: datetime, out_file: Path) -> int:
    rows = []
    for symbol in symbols:
        quote = market.quote(symbol, at)
        rows.append([symbol, quote.bid if quote.bid is not None else "", quote.ask, quote.last, quote.volume])
    _write_csv(out_file, QUOTES_HEADER, rows)
    return len(rows)


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    """Whole or not at all: a reader never sees half a file."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    write_atomically(path, text.getvalue())

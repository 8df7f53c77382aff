"""Turning metrics into what people read: Markdown, CSV and an inline SVG chart of the P&L curve."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal

from django.db.models import QuerySet
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from trading import sessions
from trading.models import Trade
from trading.money import format_money, format_price

from .exports import Column, cents, csv_lines, queryset_rows
from .metrics import HoldingSeconds


def human_duration(seconds: int | None) -> str:
    """'2h 05m 07s', '3d 4h 00m', '45s'; '–' when unknown."""
    if seconds is None:
        return "–"
    sign = "-" if seconds < 0 else ""
    seconds = abs(int(seconds))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d {hours}h {minutes:02d}m"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{sign}{minutes}m {secs:02d}s"
    return f"{sign}{secs}s"


def _money(value: str | Decimal | None) -> str:
    """The one money format a person reads: `$1,234.56`, `-$1,234.56`, `–` when unknown."""
    return format_money(value)


def _pct(ratio: float | None) -> str:
    return "–" if ratio is None else f"{ratio * 100:.2f}%"


def _pct_points(percent: float | None) -> str:
    return "–" if percent is None else f"{percent:.2f}%"


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}".rstrip("0").rstrip(".")


def _cell(value) -> str:
    # Markdown table cells: no pipes or raw HTML from the data (a bare "&" renders as itself).
    return str(value).replace("<", "&lt;").replace("|", "\\|")


def _table(headers: Sequence[str], rows: Iterable[Sequence]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


# The day's closed trades, as the report's CSV and its Markdown table show them.
REPORT_TRADE_COLUMNS = [
    Column("id", "id"),
    Column("symbol", "symbol"),
    Column("side", "side"),
    Column("quantity", "quantity"),
    Column("entry_time", "entry_time"),
    Column("entry_price", "entry_price"),
    Column("exit_time", "exit_time"),
    Column("exit_price", "exit_price"),
    Column("exit_reason", "exit_reason"),
    Column("holding_seconds", "holding_seconds"),
    Column("commission", "commission", cents),
    Column("realized_pnl", "realized_pnl", cents),
    Column("run_id", "run__run_id"),
    Column("review_status", "review_status"),
    Column("tags", "tags"),
]


def report_trade_rows(closed: QuerySet[Trade]) -> list[list]:
    """The day's closed trades in exit order (a day holds few enough to keep in a list)."""
    queryset = closed.annotate(holding_seconds=HoldingSeconds()).order_by("exit_time", "id")
    return list(queryset_rows(queryset, REPORT_TRADE_COLUMNS))


def report_csv(rows: list[list]) -> str:
    return "".join(csv_lines(rows, headers=[c.header for c in REPORT_TRADE_COLUMNS]))


def _time_ny(value: datetime | None) -> str:
    return "" if value is None else f"{sessions.to_new_york(value):%H:%M:%S}"


def metrics_markdown(metrics: dict, *, title: str | None) -> str:
    """The metrics as Markdown: summary, holding time, exit reasons, symbols, open trades."""
    m = metrics
    lines = [f"# {title}", ""] if title else []
    lines += _table(
        ["Metric", "Value"],
        [
            ["Closed trades", m["trade_count"]],
            ["Wins / losses / breakevens", f"{m['wins']} / {m['losses']} / {m['breakevens']}"],
            ["Win rate", _pct(m["win_rate"])],
            ["Net P&L", _money(m["net_pnl"])],
            ["Gross profit", _money(m["gross_profit"])],
            ["Gross loss", _money(m["gross_loss"])],
            ["Profit factor", _number(m["profit_factor"])],
            ["Expectancy (per trade)", _money(m["expectancy"])],
            ["Average win", _money(m["average_win"])],
            ["Average loss", _money(m["average_loss"])],
            ["Largest win", _money(m["largest_win"])],
            ["Largest loss", _money(m["largest_loss"])],
            ["Max drawdown", f"{_money(m['max_drawdown'])} ({_pct_points(m['max_drawdown_pct'])} of starting equity)"],
            ["Sharpe ratio (daily, annualized)", _number(m["sharpe_ratio"])],
            ["Commissions paid", _money(m["commissions"])],
        ],
    )
    if m.get("equity_days"):
        lines += ["", "## Equity (mark to market at each session's close)", ""]
        lines += _table(
            ["Metric", "Value"],
            [
                ["Equity", _money(m.get("equity") or m["equity_end"])],
                ["Max drawdown (% of running peak)", _pct_points(m["equity_max_drawdown_pct"])],
                ["Sharpe ratio (daily equity returns, annualized)", _number(m["equity_sharpe_ratio"])],
                ["Sessions on the curve", m["equity_days"]],
            ],
        )
    lines += ["", "## Holding time", ""]
    lines += _table(
        ["Trades", "Average", "Median"],
        [
            ["All", human_duration(m["average_holding_time"]), human_duration(m["median_holding_time"])],
            [
                "Winners",
                human_duration(m["average_holding_time_winners"]),
                human_duration(m["median_holding_time_winners"]),
            ],
            [
                "Losers",
                human_duration(m["average_holding_time_losers"]),
                human_duration(m["median_holding_time_losers"]),
            ],
        ],
    )
    lines += ["", "## Exit reasons", ""]
    lines += _table(
        ["Reason", "Trades", "Wins", "Losses", "Net P&L"],
        [
            [reason, r["trades"], r["wins"], r["losses"], _money(r["net_pnl"])]
            for reason, r in m["exit_reasons"].items()
        ],
    )
    lines += ["", "## By symbol", ""]
    if m["per_symbol"]:
        lines += _table(
            ["Symbol", "Trades", "Wins", "Losses", "Win rate", "Net P&L", "Commissions"],
            [
                [s["symbol"], s["trades"], s["wins"], s["losses"], _pct(s["win_rate"]), _money(s["net_pnl"]), _money(s["commissions"])]
                for s in m["per_symbol"]
            ],
        )  # fmt: skip
    else:
        lines.append("No closed trades.")
    lines += ["", f"## Open trades ({m['open_trades']})", ""]
    if m["open_trade_list"]:
        lines += _table(
            ["Symbol", "Side", "Qty", "Entry", "Stop", "Target", "Mark", "Unrealized P&L"],
            [
                [o["symbol"], o["side"], o["quantity"], format_price(o["entry_price"]), format_price(o["stop_price"]), format_price(o["target_price"]), format_price(o["mark_price"]), _money(o["unrealized_pnl"])]
                for o in m["open_trade_list"]
            ],
        )  # fmt: skip
        marks = "that close's marks" if "equity" in m else "the latest marks"
        lines += ["", f"Unrealized P&L at {marks}: {_money(m['unrealized_pnl'])}"]
    else:
        lines.append("None.")
    return "\n".join(lines) + "\n"


COMPARISON_ROWS = (
    ("Clock (New York)", lambda m: (m["clock"] or "–")[:16].replace("T", " ")),
    ("Runs", lambda m: m["runs"]),
    ("Closed trades", lambda m: m["trade_count"]),
    ("Open trades", lambda m: m["open_trades"]),
    ("Win rate", lambda m: _pct(m["win_rate"])),
    ("Net P&L (realized)", lambda m: _money(m["net_pnl"])),
    ("Unrealized P&L", lambda m: _money(m["unrealized_pnl"])),
    ("Profit factor", lambda m: _number(m["profit_factor"])),
    ("Expectancy", lambda m: _money(m["expectancy"])),
    ("Max drawdown (realized)", lambda m: _money(m["max_drawdown"])),
    ("Sharpe (realized daily P&L)", lambda m: _number(m["sharpe_ratio"])),
    ("Equity at last close", lambda m: _money(m["equity_end"])),
    ("Max drawdown (equity, % of peak)", lambda m: _pct_points(m["equity_max_drawdown_pct"])),
    ("Sharpe (daily equity)", lambda m: _number(m["equity_sharpe_ratio"])),
    ("Commissions", lambda m: _money(m["commissions"])),
)


def books_comparison_table(summaries: list[dict]) -> str:
    """Several books' statistics side by side (Markdown), one column per book: never summed."""
    lines = _table(
        ["Metric", *(s["book"] for s in summaries)],
        [[label, *(value(s) for s in summaries)] for label, value in COMPARISON_ROWS],
    )
    return "\n".join(lines) + "\n"


def report_markdown(*, day: date, metrics: dict, rows: list[list]) -> str:
    """The daily report: the metrics, then every closed trade of the day."""
    book = f" — book {metrics['book']}" if metrics.get("book") else ""
    text = metrics_markdown(metrics, title=f"Trade Labs daily report, {day:%A %Y-%m-%d} (New York){book}")
    index = {c.header: i for i, c in enumerate(REPORT_TRADE_COLUMNS)}
    lines = ["", f"## Closed trades ({len(rows)})", ""]
    if rows:
        lines += _table(
            ["Exit (NY)", "Symbol", "Side", "Qty", "Entry", "Exit", "Reason", "Held", "Commission", "Net P&L"],
            [
                [
                    _time_ny(row[index["exit_time"]]),
                    row[index["symbol"]],
                    row[index["side"]],
                    row[index["quantity"]],
                    format_price(row[index["entry_price"]]),
                    format_price(row[index["exit_price"]]),
                    row[index["exit_reason"]] or "–",
                    human_duration(row[index["holding_seconds"]]),
                    _money(row[index["commission"]]),
                    _money(row[index["realized_pnl"]]),
                ]
                for row in rows
            ],
        )
    else:
        lines.append("No trades closed this day.")
    return text + "\n".join(lines) + "\n"


def curve_svg(
    points: Sequence[tuple[object, Decimal]],
    *,
    width: int = 720,
    height: int = 220,
    baseline: Decimal | None = Decimal(0),
) -> SafeString:
    """A curve as an inline SVG line, drawn server-side: cumulative P&L from the `baseline` (zero)
    through each point; with baseline=None (an equity curve) through the points alone."""
    if not points:
        empty = "No closed trades: no P&L curve to draw." if baseline is not None else "No session closes recorded yet."
        return format_html('<p class="help">{}</p>', empty)
    pad_left, pad_right, pad_y = 80, 10, 16
    values = ([] if baseline is None else [Decimal(baseline)]) + [Decimal(v) for _, v in points]
    reference = values[0]
    low, high = min(values), max(values)
    span = (high - low) or Decimal(1)
    plot_w, plot_h = width - pad_left - pad_right, height - 2 * pad_y

    def x(i: int) -> float:
        return pad_left + plot_w * i / max(len(values) - 1, 1)

    def y(v: Decimal) -> float:
        return pad_y + float((high - v) / span) * plot_h

    polyline = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
    final = values[-1]
    colour = "#2e7d32" if final >= reference else "#c62828"  # up or down from where the curve starts
    labels = format_html_join(
        "",
        '<text x="{}" y="{}" font-size="11" text-anchor="end" fill="#555">{}</text>',
        [
            (pad_left - 6, f"{y(v) + 4:.1f}", _money(str(v.quantize(Decimal("0.01")))))
            for v in sorted({high, low, reference})
        ],
    )
    first_label, last_label = str(points[0][0]), str(points[-1][0])
    return format_html(
        '<svg class="pnl-curve" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        'role="img" aria-label="Cumulative net P&amp;L curve">'
        "<title>{what}: {points} points, final {final}</title>"
        '<rect x="0" y="0" width="{w}" height="{h}" fill="#fff"/>'
        '<line x1="{pl}" x2="{xr}" y1="{zero}" y2="{zero}" stroke="#999" stroke-dasharray="4 3"/>'
        '<polyline fill="none" stroke="{colour}" stroke-width="2" points="{polyline}"/>'
        "{labels}"
        '<text x="{pl}" y="{bottom}" font-size="11" fill="#555">{first}</text>'
        '<text x="{xr}" y="{bottom}" font-size="11" fill="#555" text-anchor="end">{last}</text>'
        "</svg>",
        w=width,
        h=height,
        points=len(points),
        final=_money(str(final.quantize(Decimal("0.01")))),
        pl=pad_left,
        xr=width - pad_right,
        zero=f"{y(reference):.1f}",
        what="Cumulative net P&L" if baseline is not None else "Equity at each close",
        colour=colour,
        polyline=polyline,
        labels=labels,
        bottom=height - 2,
        first=first_label,
        last=last_label,
    )


# What rendered Markdown may contain: tables, lists, emphasis, code and links to http(s) or
# mailto. Everything else -- raw HTML, event handlers, javascript: and data: URLs -- is removed
# by nh3 (an allow-list sanitizer), whatever a data file or a person put in the text.
MARKDOWN_TAGS = {
    *("h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr", "blockquote", "pre", "code"),
    *("ul", "ol", "li", "strong", "em", "a"),
    *("table", "thead", "tbody", "tr", "th", "td"),
}
MARKDOWN_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}
LINK_SCHEMES = {"http", "https", "mailto"}


def markdown_html(text: str) -> SafeString:
    """Render Markdown that data or a person can influence (reports, statistics) as safe HTML:
    the output passes through the allow-list above, never trusted as it comes."""
    import markdown
    import nh3
    from markdown.extensions.tables import TableExtension

    html = markdown.markdown(text, extensions=[TableExtension(use_align_attribute=True)], output_format="html")
    cleaned = nh3.clean(
        html,
        tags=MARKDOWN_TAGS,
        attributes=MARKDOWN_ATTRIBUTES,
        url_schemes=LINK_SCHEMES,
        link_rel="noopener noreferrer",
    )
    return mark_safe(cleaned)  # noqa: S308 - sanitized just above

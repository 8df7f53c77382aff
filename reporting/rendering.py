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


def _axis_label(value: Decimal, unit: str) -> str:
    return f"{value.quantize(Decimal('0.01'))}%" if unit == "percent" else _money(value)


def curve_svg(
    points: Sequence[tuple[object, Decimal]],
    *,
    width: int = 720,
    height: int = 220,
    baseline: Decimal | None = Decimal(0),
    unit: str = "money",
    what: str | None = None,
) -> SafeString:
    """A curve as an inline SVG line, drawn server-side: cumulative P&L from the `baseline` (zero)
    through each point; with baseline=None (an equity curve) through the points alone. One point
    is a dot with its value; the ends are labelled with where the curve starts and ends."""
    if not points:
        empty = "No closed trades: no P&L curve to draw." if baseline is not None else "No session closes recorded yet."
        return format_html('<p class="help">{}</p>', empty)
    what = what or ("Cumulative net P&L" if baseline is not None else "Equity at each close")
    pad_left, pad_right, pad_y = 90, 12, 16
    values = ([] if baseline is None else [Decimal(baseline)]) + [Decimal(v) for _, v in points]
    reference = values[0]
    low, high = min(values), max(values)
    span = (high - low) or Decimal(1)
    plot_w, plot_h = width - pad_left - pad_right, height - 2 * pad_y

    def x(i: int) -> float:
        return pad_left + plot_w * i / max(len(values) - 1, 1) if len(values) > 1 else pad_left + plot_w / 2

    def y(v: Decimal) -> float:
        return pad_y + float((high - v) / span) * plot_h if high != low else pad_y + plot_h / 2

    polyline = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
    final = values[-1]
    colour = "#2e7d32" if final >= reference else "#c62828"  # up or down from where the curve starts
    if unit == "percent":
        colour = "#c62828" if final < 0 or low < 0 else "#2e7d32"
    labels = format_html_join(
        "",
        '<text x="{}" y="{}" font-size="11" text-anchor="end" fill="#555">{}</text>',
        [(pad_left - 6, f"{y(v) + 4:.1f}", _axis_label(v, unit)) for v in sorted({high, low, reference})],
    )
    # With a baseline the curve starts before the first point; a single dated point sits alone.
    first_label = "start" if baseline is not None else str(points[0][0])
    last_label = str(points[-1][0])
    if len(values) == 1:
        first_label = ""
    return format_html(
        '<svg class="pnl-curve" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        'role="img" aria-label="{what}">'
        "<title>{what}: {points} points, final {final}</title>"
        '<rect x="0" y="0" width="{w}" height="{h}" fill="#fff"/>'
        '<line x1="{pl}" x2="{xr}" y1="{zero}" y2="{zero}" stroke="#999" stroke-dasharray="4 3"/>'
        '<polyline fill="none" stroke="{colour}" stroke-width="2" points="{polyline}"/>'
        '<circle cx="{end_x}" cy="{end_y}" r="3" fill="{colour}"/>'
        "{labels}"
        '<text x="{pl}" y="{bottom}" font-size="11" fill="#555">{first}</text>'
        '<text x="{xr}" y="{bottom}" font-size="11" fill="#555" text-anchor="end">{last}</text>'
        "</svg>",
        w=width,
        h=height,
        what=what,
        points=len(points),
        final=_axis_label(final, unit),
        pl=pad_left,
        xr=width - pad_right,
        zero=f"{y(reference):.1f}",
        colour=colour,
        polyline=polyline,
        end_x=f"{x(len(values) - 1):.1f}",
        end_y=f"{y(final):.1f}",
        labels=labels,
        bottom=height - 2,
        first=first_label,
        last=last_label,
    )


def drawdown_points(
    curve: Sequence[tuple[object, Decimal]], *, starting_equity: Decimal
) -> list[tuple[object, Decimal]]:
    """Each close's fall below the running peak of equity, in % of that peak (0 at a new high)."""
    peak, points = Decimal(starting_equity), []
    for label, equity in curve:
        peak = max(peak, Decimal(equity))
        points.append((label, (Decimal(equity) / peak - 1) * 100 if peak > 0 else Decimal(0)))
    return points


def bars_svg(
    items: Sequence[tuple[str, Decimal]], *, what: str, width: int = 720, height: int = 220, horizontal: bool = False
) -> SafeString:
    """Signed amounts as bars from a zero line, green up and red down, drawn server-side: a day's
    P&L over time (vertical), or P&L by symbol (horizontal, a row each)."""
    if not items:
        return format_html('<p class="help">{}</p>', f"No closed trades: no {what.lower()} to draw.")
    values = [Decimal(v) for _, v in items]
    low, high = min(min(values), Decimal(0)), max(max(values), Decimal(0))
    span = (high - low) or Decimal(1)
    if horizontal:
        row, pad_left, pad_right = 18, 70, 90
        height = row * len(items) + 20
        plot = width - pad_left - pad_right

        def at(v: Decimal) -> float:
            return pad_left + float((v - low) / span) * plot

        bars = format_html_join(
            "",
            '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {}</title></rect>'
            '<text x="{}" y="{}" font-size="11" text-anchor="end" fill="#333">{}</text>'
            '<text x="{}" y="{}" font-size="11" fill="#555">{}</text>',
            [
                (f"{min(at(v), at(Decimal(0))):.1f}", 10 + i * row, f"{max(abs(at(v) - at(Decimal(0))), 1):.1f}", row - 4,
                 "#2e7d32" if v >= 0 else "#c62828", label, _money(v), pad_left - 6, 10 + i * row + row - 7, label,
                 f"{max(at(v), at(Decimal(0))) + 4:.1f}", 10 + i * row + row - 7, _money(v))
                for i, (label, v) in enumerate(zip([label for label, _ in items], values, strict=True))
            ],
        )  # fmt: skip
        zero_line = (f"{at(Decimal(0)):.1f}", f"{at(Decimal(0)):.1f}", 6, height - 6)
        ends = ""
    else:
        pad_left, pad_right, pad_y = 90, 12, 16
        plot_w, plot_h = width - pad_left - pad_right, height - 2 * pad_y
        slot = plot_w / len(items)

        def at(v: Decimal) -> float:
            return pad_y + float((high - v) / span) * plot_h

        bars = format_html_join(
            "",
            '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {}</title></rect>',
            [
                (f"{pad_left + i * slot + slot * 0.1:.1f}", f"{min(at(v), at(Decimal(0))):.1f}", f"{max(slot * 0.8, 1):.1f}",
                 f"{max(abs(at(v) - at(Decimal(0))), 1):.1f}", "#2e7d32" if v >= 0 else "#c62828", label, _money(v))
                for i, (label, v) in enumerate(zip([label for label, _ in items], values, strict=True))
            ],
        )  # fmt: skip
        zero_line = (pad_left, width - pad_right, f"{at(Decimal(0)):.1f}", f"{at(Decimal(0)):.1f}")
        ends = format_html(
            '<text x="{}" y="{}" font-size="11" text-anchor="end" fill="#555">{}</text>'
            '<text x="{}" y="{}" font-size="11" text-anchor="end" fill="#555">{}</text>'
            '<text x="{}" y="{}" font-size="11" fill="#555">{}</text>'
            '<text x="{}" y="{}" font-size="11" fill="#555" text-anchor="end">{}</text>',
            pad_left - 6, f"{at(high) + 4:.1f}", _money(high), pad_left - 6, f"{at(low) + 4:.1f}", _money(low),
            pad_left, height - 2, items[0][0] if len(items) > 1 else "", width - pad_right, height - 2, items[-1][0],
        )  # fmt: skip
    x1, x2, y1, y2 = zero_line
    return format_html(
        '<svg class="pnl-bars" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        'role="img" aria-label="{what}"><title>{what}: {n} bars</title>'
        '<rect x="0" y="0" width="{w}" height="{h}" fill="#fff"/>{bars}'
        '<line x1="{x1}" x2="{x2}" y1="{y1}" y2="{y2}" stroke="#999"/>{ends}</svg>',
        w=width, h=height, what=what, n=len(items), bars=bars, x1=x1, x2=x2, y1=y1, y2=y2, ends=ends,
    )  # fmt: skip


def symbol_pnl_items(per_symbol: list[dict], *, each_side: int = 10) -> list[tuple[str, Decimal]]:
    """The `each_side` best and worst symbols by net P&L, best first (all of them when few)."""
    ranked = sorted(((s["symbol"], Decimal(s["net_pnl"])) for s in per_symbol), key=lambda item: -item[1])
    if len(ranked) <= 2 * each_side:
        return ranked
    return ranked[:each_side] + ranked[-each_side:]


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

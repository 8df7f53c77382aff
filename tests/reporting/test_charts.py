"""Server-side SVG charts: right for one point and for thousands, money and percent on the axes."""

import re
from datetime import date, timedelta
from decimal import Decimal

from reporting.rendering import bars_svg, curve_svg, drawdown_points, symbol_pnl_items


def _texts(svg: str) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)


def test_one_equity_point_is_a_dot_with_one_date():
    svg = str(curve_svg([(date(2026, 11, 20), Decimal("100123.45"))], baseline=None))
    assert "<circle" in svg
    assert _texts(svg).count("2026-11-20") == 1, "one date, not the same date at both ends"
    assert "$100,123.45" in _texts(svg)


def test_a_pnl_curve_from_zero_labels_its_start_and_its_last_day():
    svg = str(curve_svg([("2026-11-20", Decimal("-925.07"))]))
    texts = _texts(svg)
    assert "start" in texts and "2026-11-20" in texts and "-$925.07" in texts and "$0.00" in texts


def test_thousands_of_points_make_one_line_inside_the_frame():
    days = [(date(2020, 1, 1) + timedelta(days=i), Decimal(i % 97) - 40) for i in range(3000)]
    svg = str(curve_svg(days))
    points = re.search(r'points="([^"]+)"', svg).group(1).split()
    assert len(points) == 3001
    xs = [float(p.split(",")[0]) for p in points]
    assert xs == sorted(xs) and xs[0] >= 0 and xs[-1] <= 720


def test_drawdown_is_the_fall_below_the_running_peak_in_percent():
    curve = [("d1", Decimal("110")), ("d2", Decimal("99")), ("d3", Decimal("121"))]
    assert drawdown_points(curve, starting_equity=Decimal("100")) == [
        ("d1", Decimal(0)), ("d2", Decimal("-10")), ("d3", Decimal(0)),
    ]  # fmt: skip
    svg = str(curve_svg(drawdown_points(curve, starting_equity=Decimal("100")), unit="percent"))
    assert "-10.00%" in _texts(svg)


def test_bars_go_up_green_and_down_red_from_zero():
    svg = str(bars_svg([("2026-11-19", Decimal("120")), ("2026-11-20", Decimal("-80"))], what="Net P&L by exit day"))
    assert svg.count("<rect") == 3  # the background and two bars
    assert "#2e7d32" in svg and "#c62828" in svg
    assert "$120.00" in _texts(svg) and "-$80.00" in _texts(svg)


def test_symbol_bars_keep_the_best_and_worst_ten():
    per_symbol = [{"symbol": f"S{i}", "net_pnl": str(i - 20)} for i in range(40)]
    items = symbol_pnl_items(per_symbol)
    assert len(items) == 20 and items[0] == ("S39", Decimal(19)) and items[-1] == ("S0", Decimal(-20))
    assert str(bars_svg(items, what="Net P&L by symbol", horizontal=True)).count("<rect") == 21


def test_nothing_to_draw_says_so():
    assert "No closed trades" in str(bars_svg([], what="Net P&L by exit day"))
    assert "No session closes" in str(curve_svg([], baseline=None))

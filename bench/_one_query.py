"""The floor for `stats` and the report's metrics: the same aggregation written as one raw SQL query.

One statement per database computes what `reporting.metrics.metrics_compute` computes from the
closed trades of a period: per (symbol, exit reason) counts and exact sums (the totals, the
exit-reason breakdown and the per-symbol table fold from those), the maximum drawdown in exit
order (running sum, then running peak, as window functions), the net P&L of each New York exit
date (for the Sharpe ratio) and the average and median holding time of all trades, winners and
losers. What comes back is small (JSON of a few thousand groups and days) and is folded into the
figures that are checked against `stats`, so the floor cannot quietly compute less.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
CLOSED = "status = 'closed' AND NOT dry_run AND realized_pnl IS NOT NULL AND exit_time IS NOT NULL"

SQLITE = f"""
WITH closed AS NOT MATERIALIZED (
    SELECT id, symbol, exit_reason, exit_time,
           CAST(ROUND(realized_pnl * 10000) AS INTEGER) AS units,
           CAST(ROUND(commission * 10000) AS INTEGER) AS commission_units
    FROM trading_trade WHERE {CLOSED} AND exit_time >= %s AND exit_time < %s
),
histogram AS (
    SELECT held, COUNT(*) AS n, SUM(realized_pnl > 0) AS w, SUM(realized_pnl < 0) AS l
    FROM (SELECT CAST(ROUND((julianday(exit_time) - julianday(entry_time)) * 86400) AS INTEGER) AS held, realized_pnl
          FROM trading_trade WHERE {CLOSED} AND entry_time IS NOT NULL AND exit_time >= %s AND exit_time < %s)
    GROUP BY held
),
runs AS (
    SELECT held, n, w, l,
           SUM(n) OVER up AS run_n, SUM(w) OVER up AS run_w, SUM(l) OVER up AS run_l,
           SUM(n) OVER () AS total_n, SUM(w) OVER () AS total_w, SUM(l) OVER () AS total_l
    FROM histogram WINDOW up AS (ORDER BY held ROWS UNBOUNDED PRECEDING)
)
SELECT
    (SELECT json_group_array(json_array(symbol, exit_reason, n, wins, losses, net, gross_profit, commissions))
     FROM (SELECT symbol, exit_reason, COUNT(*) AS n, SUM(units > 0) AS wins, SUM(units < 0) AS losses,
                  SUM(units) AS net, SUM(CASE WHEN units > 0 THEN units END) AS gross_profit,
                  SUM(commission_units) AS commissions
           FROM closed GROUP BY symbol, exit_reason)),
    (SELECT MAX(MAX(peak, 0) - cum)
     FROM (SELECT cum, MAX(cum) OVER (ORDER BY exit_time, id) AS peak
           FROM (SELECT exit_time, id, SUM(units) OVER (ORDER BY exit_time, id) AS cum FROM closed))),
    (SELECT json_group_array(json_array(day, units))
     FROM (SELECT json_extract(d.value, '$[0]') AS day,
                  (SELECT SUM(CAST(ROUND(realized_pnl * 10000) AS INTEGER)) FROM trading_trade
                   WHERE {CLOSED} AND exit_time >= json_extract(d.value, '$[1]')
                     AND exit_time < json_extract(d.value, '$[2]')) AS units
           FROM json_each(%s) AS d)
     WHERE units IS NOT NULL),
    (SELECT json_array(
        (SELECT 1.0 * SUM(held * n) / SUM(n) FROM histogram),
        (SELECT AVG(held) FROM runs WHERE (run_n > (total_n - 1) / 2 AND run_n - n <= (total_n - 1) / 2)
                                       OR (run_n > total_n / 2 AND run_n - n <= total_n / 2)),
        (SELECT 1.0 * SUM(held * w) / SUM(w) FROM histogram),
        (SELECT AVG(held) FROM runs WHERE (run_w > (total_w - 1) / 2 AND run_w - w <= (total_w - 1) / 2)
                                       OR (run_w > total_w / 2 AND run_w - w <= total_w / 2)),
        (SELECT 1.0 * SUM(held * l) / SUM(l) FROM histogram),
        (SELECT AVG(held) FROM runs WHERE (run_l > (total_l - 1) / 2 AND run_l - l <= (total_l - 1) / 2)
                                       OR (run_l > total_l / 2 AND run_l - l <= total_l / 2))))
"""  # noqa: E501

POSTGRESQL = f"""
WITH closed AS NOT MATERIALIZED (
    SELECT id, symbol, exit_reason, exit_time, entry_time,
           CAST(realized_pnl * 10000 AS BIGINT) AS units, CAST(commission * 10000 AS BIGINT) AS commission_units,
           CAST(ROUND(EXTRACT(EPOCH FROM (exit_time - entry_time))) AS BIGINT) AS held
    FROM trading_trade WHERE {CLOSED} AND exit_time >= %s AND exit_time < %s
)
SELECT
    (SELECT json_agg(json_build_array(symbol, exit_reason, n, wins, losses, net, gross_profit, commissions))
     FROM (SELECT symbol, exit_reason, COUNT(*) AS n, COUNT(*) FILTER (WHERE units > 0) AS wins,
                  COUNT(*) FILTER (WHERE units < 0) AS losses, SUM(units) AS net,
                  SUM(units) FILTER (WHERE units > 0) AS gross_profit, SUM(commission_units) AS commissions
           FROM closed GROUP BY symbol, exit_reason) AS groups),
    (SELECT MAX(GREATEST(peak, 0) - cum)
     FROM (SELECT cum, MAX(cum) OVER (ORDER BY exit_time, id) AS peak
           FROM (SELECT exit_time, id, SUM(units) OVER (ORDER BY exit_time, id) AS cum FROM closed) AS curve) AS peaks),
    (SELECT json_agg(json_build_array(day, units) ORDER BY day)
     FROM (SELECT (exit_time AT TIME ZONE 'America/New_York')::date AS day, SUM(units) AS units
           FROM closed GROUP BY 1) AS days),
    (SELECT json_build_array(
        AVG(held), percentile_cont(0.5) WITHIN GROUP (ORDER BY held),
        AVG(held) FILTER (WHERE units > 0), percentile_cont(0.5) WITHIN GROUP (ORDER BY held) FILTER (WHERE units > 0),
        AVG(held) FILTER (WHERE units < 0), percentile_cont(0.5) WITHIN GROUP (ORDER BY held) FILTER (WHERE units < 0))
     FROM closed WHERE entry_time IS NOT NULL)
"""  # noqa: E501


def stats_in_one_query(connection, *, first: date, last: date) -> dict:
    """The period first..last (New York exit dates) aggregated by one statement; figures to check."""
    starts = datetime.combine(first, time.min, tzinfo=NEW_YORK).astimezone(UTC)
    ends = datetime.combine(last + timedelta(days=1), time.min, tzinfo=NEW_YORK).astimezone(UTC)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(POSTGRESQL, [starts, ends])
        else:
            bounds = [_text(starts), _text(ends)]
            cursor.execute(SQLITE, [*bounds, *bounds, _days(first, last)])
        groups, drawdown, daily, held = cursor.fetchone()
    groups, daily, held = (json.loads(v) if isinstance(v, str) else v for v in (groups, daily, held))
    groups = groups or []
    return {
        "trade_count": sum(g[2] for g in groups),
        "net_units": sum(g[5] for g in groups),
        "max_drawdown_units": int(drawdown or 0),
        "days": len(daily or []),
        "median_holding_time": None if held[1] is None else round(Decimal(str(held[1]))),
        "groups": len(groups),
    }


def _text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")  # how Django keeps an aware datetime in SQLite


def _days(first: date, last: date) -> str:
    """Each New York date first..last with where it starts and ends in UTC (SQLite has no time zones)."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    bounds = [datetime.combine(d, time.min, tzinfo=NEW_YORK).astimezone(UTC) for d in [*days, last + timedelta(days=1)]]
    return json.dumps([[d.isoformat(), _text(s), _text(e)] for d, s, e in zip(days, bounds, bounds[1:], strict=False)])

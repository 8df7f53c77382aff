"""The SIM market's stylized facts beside real history: the README's real-vs-SIM table.

    .venv/bin/python bench/sim_facts.py [--symbols 300] [--years 10] [--seed 20240101]

Real: the S&P 500 index, daily, 1999–2018, as the `arch` package ships it (`arch.data.sp500`).
One index cannot show cross-sectional facts (co-movement, spreads, scanner picks): for those the
row gives the range that measured US equities fall in, which the suite's tests enforce.
SIM: SPY (the market factor) for the single-series facts, and the first `--symbols` names of
the synthetic universe over `--years` years for the cross-section; intraday facts over the
last 60 sessions. Same code measures both (`trading.sim.facts`).
"""

import argparse
import time
from datetime import date

import numpy as np
from _setup import setup_django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--symbols", type=int, default=300)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--seed", type=int, default=20240101)
    args = parser.parse_args()
    setup_django("sim-facts")
    from trading import sessions
    from trading.sim import facts
    from trading.sim.market import SyntheticMarket

    began = time.perf_counter()
    market = SyntheticMarket(seed=args.seed, universe_size=500)
    end = date(2025, 12, 31)
    start = date(end.year - args.years + 1, 1, 1)
    sim = facts.measure(market, start=start, end=end, symbols=args.symbols, intraday_days=60)
    days = [s.day for s in sessions.sessions_between(start, end)]
    spy = facts.log_returns(facts.daily_closes(market, ["SPY"], days))
    spy_ranges = [_range(market.day_path("SPY", day)) for day in days[-250:]]
    real = _real()
    rows = [
        ("lag-1 autocorrelation of daily log returns", real["ac1"], facts.lag1_autocorrelation(spy),
         sim.lag1_autocorrelation, "abs ≤ 0.05 (mean over symbols)"),
        ("excess kurtosis of daily returns", real["kurtosis"], facts.excess_kurtosis(spy),
         sim.excess_kurtosis, "≥ 1 (median over symbols)"),
        ("autocorrelation of absolute returns, lags 1–5", real["clustering"], facts.volatility_clustering(spy),
         sim.volatility_clustering, "≥ 0.1 (mean)"),
        ("median daily (high − low) / close", real["range"], float(np.median(spy_ranges)),
         sim.liquid_daily_range, "1–3 % for the most liquid fifth"),
        ("mean pairwise correlation of daily returns", None, None, sim.pairwise_correlation, "0.15–0.5"),
        ("median quoted spread, 100 most active (bps)", None, None, sim.active_spread_bps, "≤ 5 bps"),
        ("median SPY spread (cents)", None, sim.spy_spread_cents, None, "≤ 2¢"),
        ("volume per minute, first/last 30 min over midday", None, None, sim.volume_u_shape, "> 1 (U shape)"),
        ("10:00 top-10 gainers, mean log return 10:00 → close", None, None, sim.gainers_close_minus_1000,
         f"abs(t) < 2 (t = {sim.gainers_t:.2f})"),
    ]  # fmt: skip
    print(f"SIM: seed {args.seed}, {sim.symbols} symbols × {sim.sessions} sessions ({start} to {end})")
    print("| fact | real: S&P 500 1999–2018 | SIM: SPY | SIM: stocks | required |")
    print("|---|---|---|---|---|")
    for name, real_value, spy_value, stocks_value, target in rows:
        print(f"| {name} | {_cell(real_value)} | {_cell(spy_value)} | {_cell(stocks_value)} | {target} |")
    print(f"measured in {time.perf_counter() - began:.1f} s")


def _range(path) -> float:
    return float((path.mid.max() - path.mid.min()) / path.mid[-1])


def _real() -> dict:
    from arch.data import sp500

    from trading.sim import facts

    data = sp500.load()
    closes = data["Adj Close"].to_numpy().reshape(-1, 1)
    returns = facts.log_returns(closes)
    return {
        "ac1": facts.lag1_autocorrelation(returns),
        "kurtosis": facts.excess_kurtosis(returns),
        "clustering": facts.volatility_clustering(returns),
        "range": float(((data["High"] - data["Low"]) / data["Close"]).median()),
    }


def _cell(value) -> str:
    return "—" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    main()

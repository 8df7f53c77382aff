"""The stylized facts of a market's prices, measured the same way for the SIM market and for real
data: what the suite checks the synthetic market against, and what `bench/sim_facts.py`
prints beside the figures of real history.

Every function takes plain arrays (daily closes, minute paths), so real series (a CSV, a
registry package's data) and synthetic ones are measured by the same code.
"""

import math
from dataclasses import dataclass
from datetime import date, datetime, time

import numpy as np

from trading import sessions

from .market import SyntheticMarket


def log_returns(closes: np.ndarray) -> np.ndarray:
    """Daily log returns of each column of `closes` (sessions × symbols)."""
    return np.diff(np.log(closes), axis=0)


def autocorrelation(series: np.ndarray, lag: int) -> float:
    centred = series - series.mean()
    denominator = float((centred * centred).sum())
    return float((centred[lag:] * centred[:-lag]).sum() / denominator) if denominator else 0.0


def lag1_autocorrelation(returns: np.ndarray) -> float:
    """Mean over symbols of the lag-1 autocorrelation of daily returns."""
    return float(np.mean([autocorrelation(returns[:, j], 1) for j in range(returns.shape[1])]))


def excess_kurtosis(returns: np.ndarray) -> float:
    """Median over symbols of the excess kurtosis of daily returns."""
    centred = returns - returns.mean(axis=0)
    kurtosis = (centred**4).mean(axis=0) / (centred**2).mean(axis=0) ** 2 - 3
    return float(np.median(kurtosis))


def volatility_clustering(returns: np.ndarray, lags: int = 5) -> float:
    """Mean over symbols and lags 1..`lags` of the autocorrelation of |returns|."""
    magnitudes = np.abs(returns)
    return float(
        np.mean([autocorrelation(magnitudes[:, j], lag) for j in range(returns.shape[1]) for lag in range(1, lags + 1)])
    )


def mean_pairwise_correlation(returns: np.ndarray) -> float:
    correlation = np.corrcoef(returns, rowvar=False)
    upper = correlation[np.triu_indices_from(correlation, k=1)]
    return float(upper.mean())


@dataclass(frozen=True)
class SimFacts:
    symbols: int
    sessions: int
    lag1_autocorrelation: float
    excess_kurtosis: float
    volatility_clustering: float
    pairwise_correlation: float
    liquid_daily_range: float  # median (high - low) / close of the most liquid fifth
    active_spread_bps: float  # median quoted spread of the 100 most active names
    spy_spread_cents: float  # median
    volume_u_shape: float  # volume per minute in the first and last half hour over midday's
    gainers_close_minus_1000: float  # mean log return from 10:00 to the close of the 10:00 top 10
    gainers_t: float  # its t statistic


def daily_closes(market: SyntheticMarket, symbols: list[str], days: list[date]) -> np.ndarray:
    return np.array([[market.close_on(symbol, day) for symbol in symbols] for day in days])


def measure(market: SyntheticMarket, *, start: date, end: date, symbols: int, intraday_days: int) -> SimFacts:
    """The facts of `market`: daily ones over `symbols` names from `start` to `end`, intraday ones
    (ranges, spreads, volume, gainers) over the last `intraday_days` sessions of the range."""
    days = [s.day for s in sessions.sessions_between(start, end)]
    names = list(market.symbols[1 : symbols + 1])
    returns = log_returns(daily_closes(market, names, days))
    by_liquidity = sorted(market.symbols, key=lambda s: -market.profile(s).avg_daily_volume)
    recent = days[-intraday_days:]
    liquid = by_liquidity[: max(1, len(by_liquidity) // 5)]
    ranges = [_range(market.day_path(symbol, day)) for symbol in liquid for day in recent]
    active = by_liquidity[:100]
    spreads = [_median_spread_bps(market.day_path(symbol, day)) for symbol in active for day in recent]
    spy = [_median_spread_cents(market.day_path("SPY", day)) for day in recent]
    volume = [_u_shape(market.day_path(symbol, day)) for symbol in active[:20] for day in recent]
    mean_move, t_stat = _gainers_after_1000(market, recent)
    return SimFacts(
        symbols=len(names),
        sessions=len(days),
        lag1_autocorrelation=lag1_autocorrelation(returns),
        excess_kurtosis=excess_kurtosis(returns),
        volatility_clustering=volatility_clustering(returns),
        pairwise_correlation=mean_pairwise_correlation(returns),
        liquid_daily_range=float(np.median(ranges)),
        active_spread_bps=float(np.median(spreads)),
        spy_spread_cents=float(np.median(spy)),
        volume_u_shape=float(np.median(volume)),
        gainers_close_minus_1000=mean_move,
        gainers_t=t_stat,
    )


def _range(path) -> float:
    return float((path.mid.max() - path.mid.min()) / path.mid[-1])


def _median_spread_bps(path) -> float:
    bids, asks = path.touches(0, len(path.mid) - 1)
    return float(np.median((asks - bids) / ((asks + bids) / 2) * 10_000))


def _median_spread_cents(path) -> float:
    bids, asks = path.touches(0, len(path.mid) - 1)
    return float(np.median(asks - bids) * 100)


def _u_shape(path) -> float:
    per_minute = np.diff(path.cumulative_volume)
    edges = np.concatenate((per_minute[:30], per_minute[-30:])).mean()
    middle = per_minute[len(per_minute) // 2 - 30 : len(per_minute) // 2 + 30].mean()
    return float(edges / middle) if middle else math.inf


def _gainers_after_1000(market: SyntheticMarket, days: list[date], top: int = 10) -> tuple[float, float]:
    """What the 10:00 top gainers (by change from the previous close) do from 10:00 to the close."""
    moves = []
    for day in days:
        ten = datetime.combine(day, time(10, 0), tzinfo=sessions.NEW_YORK)
        scored = []
        for symbol in market.symbols:
            path = market.day_path(symbol, day)
            index = path.index_at(ten)
            scored.append((path.mid[index] / path.prev_close, math.log(path.mid[-1] / path.mid[index])))
        scored.sort(reverse=True)
        moves += [move for _, move in scored[:top]]
    values = np.array(moves)
    spread = values.std(ddof=1) / math.sqrt(len(values))
    return float(values.mean()), float(values.mean() / spread) if spread else 0.0

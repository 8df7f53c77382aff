"""Scoring candidates 0–100 from price level, spread quality and scanner-rank decay.

Pure functions over Decimal: no database, no settings lookups inside the maths, so the
same quote always gets the same score and property tests can hammer it. A quote that
cannot be trusted is rejected with a reason instead of being scored.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from trading.brokers.base import Quote

TWO_PLACES = Decimal("0.01")
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class ScoringConfig:
    weight_price: Decimal
    weight_spread: Decimal
    weight_rank: Decimal
    price_hard_min: Decimal
    price_sweet_min: Decimal
    price_sweet_max: Decimal
    price_hard_max: Decimal
    spread_best_bps: Decimal
    spread_worst_bps: Decimal
    rank_decay: Decimal
    max_quote_age: timedelta

    @classmethod
    def from_settings(cls, scoring: dict) -> "ScoringConfig":
        weights, bands, spread = scoring["weights"], scoring["price_bands"], scoring["spread_bps"]
        config = cls(
            weight_price=Decimal(weights["price"]),
            weight_spread=Decimal(weights["spread"]),
            weight_rank=Decimal(weights["rank"]),
            price_hard_min=Decimal(bands["hard_min"]),
            price_sweet_min=Decimal(bands["sweet_min"]),
            price_sweet_max=Decimal(bands["sweet_max"]),
            price_hard_max=Decimal(bands["hard_max"]),
            spread_best_bps=Decimal(spread["best"]),
            spread_worst_bps=Decimal(spread["worst"]),
            rank_decay=Decimal(scoring["rank_decay"]),
            max_quote_age=timedelta(seconds=int(scoring["max_quote_age_seconds"])),
        )
        config.validate()
        return config

    def validate(self) -> None:
        if self.weight_price + self.weight_spread + self.weight_rank != HUNDRED:
            raise ValueError("scoring weights must add up to 100")
        if not (self.price_hard_min <= self.price_sweet_min <= self.price_sweet_max <= self.price_hard_max):
            raise ValueError("price bands must satisfy hard_min <= sweet_min <= sweet_max <= hard_max")
        if not (Decimal(0) <= self.spread_best_bps < self.spread_worst_bps):
            raise ValueError("spread bands must satisfy 0 <= best < worst")
        if not (Decimal(0) < self.rank_decay <= Decimal(1)):
            raise ValueError("rank_decay must be in (0, 1]")


@dataclass(frozen=True)
class Score:
    total: Decimal
    price: Decimal
    spread: Decimal
    rank: Decimal


@dataclass(frozen=True)
class Rejection:
    reason: str


def _valid_number(value, name: str) -> tuple[Decimal | None, str]:
    if value is None:
        return None, f"missing {name}"
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None, f"{name} is not a number ({value!r})"
    if number.is_nan():
        return None, f"{name} is NaN"
    if number.is_infinite():
        return None, f"{name} is infinite"
    if number <= 0:
        return None, f"{name} is {'zero' if number == 0 else 'negative'} ({number})"
    return number, ""


@dataclass(frozen=True)
class CleanQuote:
    bid: Decimal
    ask: Decimal
    last: Decimal


def check_quote(quote: Quote, *, now: datetime, config: ScoringConfig) -> Rejection | CleanQuote:
    """Why this quote cannot be traded on, or its prices as validated Decimals."""
    if quote.error:
        return Rejection(f"no quote: {quote.error}")
    values = {}
    for name in ("bid", "ask", "last"):
        number, problem = _valid_number(getattr(quote, name), name)
        if problem:
            return Rejection(problem)
        values[name] = number
    if values["bid"] > values["ask"]:
        return Rejection(f"crossed quote (bid {values['bid']} > ask {values['ask']})")
    if values["bid"] == values["ask"]:
        return Rejection(f"locked quote (bid = ask = {values['bid']})")
    if quote.time is None:
        return Rejection("quote has no timestamp")
    age = now - quote.time
    if age > config.max_quote_age:
        return Rejection(
            f"stale quote ({int(age.total_seconds())} s old, limit {int(config.max_quote_age.total_seconds())} s)"
        )
    if age < -config.max_quote_age:
        return Rejection("quote is timestamped in the future")
    if quote.volume is not None and quote.volume < 0:
        return Rejection(f"negative volume ({quote.volume})")
    return CleanQuote(**values)


def _linear(value: Decimal, zero_at: Decimal, full_at: Decimal) -> Decimal:
    """0 at `zero_at`, 1 at `full_at`, linear between, clamped to [0, 1]."""
    if zero_at == full_at:
        return Decimal(1) if value == full_at else Decimal(0)
    fraction = (value - zero_at) / (full_at - zero_at)
    return min(Decimal(1), max(Decimal(0), fraction))


def price_component(price: Decimal, config: ScoringConfig) -> Decimal:
    if price < config.price_hard_min or price > config.price_hard_max:
        return Decimal(0)
    if price < config.price_sweet_min:
        return config.weight_price * _linear(price, config.price_hard_min, config.price_sweet_min)
    if price > config.price_sweet_max:
        return config.weight_price * _linear(price, config.price_hard_max, config.price_sweet_max)
    return config.weight_price


def spread_bps(bid: Decimal, ask: Decimal) -> Decimal:
    mid = (bid + ask) / 2
    return (ask - bid) / mid * Decimal(10_000)


def spread_component(bid: Decimal, ask: Decimal, config: ScoringConfig) -> Decimal:
    bps = spread_bps(bid, ask)
    return config.weight_spread * _linear(bps, config.spread_worst_bps, config.spread_best_bps)


def rank_component(rank: int, config: ScoringConfig) -> Decimal:
    if rank < 1:
        raise ValueError(f"scanner rank starts at 1, got {rank}")
    # Capped exponent: beyond a few hundred ranks the marks are nil anyway.
    return config.weight_rank * config.rank_decay ** min(rank - 1, 500)


def score_quote(quote: Quote, *, rank: int, now: datetime, config: ScoringConfig) -> Score | Rejection:
    checked = check_quote(quote, now=now, config=config)
    if isinstance(checked, Rejection):
        return checked
    mid = (checked.bid + checked.ask) / 2
    price = price_component(mid, config).quantize(TWO_PLACES)
    spread = spread_component(checked.bid, checked.ask, config).quantize(TWO_PLACES)
    rank_marks = rank_component(rank, config).quantize(TWO_PLACES)
    total = min(HUNDRED, price + spread + rank_marks)
    return Score(total=total, price=price, spread=spread, rank=rank_marks)

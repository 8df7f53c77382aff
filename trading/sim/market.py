"""A deterministic simulated US equity market.

Every price is a pure function of (seed, symbol, time):
- a symbol's character (price level, volatility, liquidity, typical spread) comes from a
  generator seeded by (seed, symbol);
- its closing price on a session day comes from smooth cycles plus day noise seeded by
  (seed, symbol, day), so no day depends on simulating the days before it;
- the minute path between the open (previous close plus a gap) and that close is a
  Brownian bridge seeded by (seed, symbol, day).
The same seed and moment always give the same quotes, on any machine, so any run can be
replayed. Floats live only inside the generator; what leaves it is quantized Decimal.

Imported bars (`manage.py import_bars --into SET`) form named markets of their own: a SIM book
whose market is that set replays them; every other book keeps its own market.
"""

import math
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache

import numpy as np

from trading import sessions
from trading.brokers.base import Quote
from trading.money import CENT, to_price

SPY = "SPY"
SYNTHETIC = "synthetic"
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Share of the day's volume traded by each point of the session: the familiar U shape.
_DEFECT_RATE = 0.003


def _stable_id(symbol: str) -> int:
    return zlib.crc32(symbol.encode())


def _rng(*keys: int) -> np.random.Generator:
    """A generator seeded by `keys`. SeedSequence reads each key below 2**32 as one 32-bit word;
    handing it those words as an array gives the identical stream without its per-key Python
    conversion, which is half the cost of a generator (a first scan makes three per symbol)."""
    entropy = np.array(keys, dtype=np.uint32) if all(0 <= key < 2**32 for key in keys) else list(keys)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))


@dataclass(frozen=True)
class SymbolProfile:
    symbol: str
    base_price: float
    daily_vol: float
    avg_daily_volume: float
    spread_bps: float
    cycle_amplitudes: tuple[float, ...]
    cycle_periods: tuple[float, ...]
    cycle_phases: tuple[float, ...]


@dataclass(frozen=True)
class DayPath:
    """One symbol's session, minute by minute (index 0 = open, index N = close)."""

    symbol: str
    session: sessions.Session
    mid: np.ndarray
    spread_bps: np.ndarray
    cumulative_volume: np.ndarray
    prev_close: float
    defects: np.ndarray  # 0 = clean, 1 = missing bid, 2 = crossed, 3 = zero last

    def index_at(self, at: datetime) -> int:
        minutes = int((at - self.session.open).total_seconds() // 60)
        return min(max(minutes, 0), len(self.mid) - 1)

    def bid_ask(self, index: int) -> tuple[Decimal, Decimal]:
        mid = self.mid[index]
        half = mid * self.spread_bps[index] / 20_000
        bid = to_price(round(mid - half, 2))
        ask = to_price(round(mid + half, 2))
        if ask - bid < CENT:
            ask = bid + CENT
        return bid, ask


# The opening cross prints a share of the day's volume at 09:30 itself, so a scan at the
# open sees traded volume, as IB's scanner does.
_OPENING_AUCTION_SHARE = 0.03


@lru_cache(maxsize=8)
def _session_fraction(minutes: int) -> np.ndarray:
    """0 at the open to 1 at the close, one point per minute (read-only: shared by every path)."""
    fraction = np.linspace(0.0, 1.0, minutes + 1)
    fraction.flags.writeable = False
    return fraction


@lru_cache(maxsize=8)
def _cumulative_volume_curve(minutes: int) -> np.ndarray:
    """The same for every symbol and session of that length: worked out once, not per path
    (a first scan of 500 symbols builds 500 paths)."""
    x = _session_fraction(minutes)
    # Integral of a U-shaped intensity 1 + 3*(2x-1)^2, normalised to end at 1.
    integral = x + ((2 * x - 1) ** 3 + 1) / 2
    curve = _OPENING_AUCTION_SHARE + (1 - _OPENING_AUCTION_SHARE) * integral / integral[-1]
    curve.flags.writeable = False
    return curve


class PathMarket:
    """A market whose quotes are read off per-session minute paths (`day_path`)."""

    symbols: tuple[str, ...] = ()

    def __contains__(self, symbol: str) -> bool:
        return symbol in self._symbol_set

    def day_path(self, symbol: str, day: date) -> DayPath | None:
        raise NotImplementedError

    def quote(self, symbol: str, at: datetime) -> Quote:
        if symbol not in self:
            return Quote(symbol=symbol, error="unknown symbol")
        current = sessions.session_at_or_before(at)
        path = self.day_path(symbol, current.day)
        if path is None:
            return Quote(symbol=symbol, error=f"no market data for {current.day.isoformat()}")
        index = path.index_at(at)
        bid, ask = path.bid_ask(index)
        last = to_price(round(float(path.mid[index]), 2))
        moment = min(at, current.close)
        quote_time = current.open + timedelta(minutes=index) if moment >= current.open else moment
        defect = int(path.defects[index])
        if defect == 1:
            bid = None
        elif defect == 2:
            bid, ask = ask + CENT, bid
        elif defect == 3:
            last = Decimal(0)
        return Quote(
            symbol=symbol,
            bid=bid,
            ask=ask,
            last=last,
            volume=int(path.cumulative_volume[index]),
            prev_close=to_price(round(path.prev_close, 2)),
            time=quote_time,
        )


class SyntheticMarket(PathMarket):
    """The generated market: `universe_size` symbols (SPY first), reproducible from `seed`."""

    source = "synthetic"

    def __init__(self, seed: int, universe_size: int = 500):
        self.seed = int(seed)
        self.universe_size = max(1, int(universe_size))
        self.symbols = _make_symbols(self.seed, self.universe_size)
        self._symbol_set = frozenset(self.symbols)
        self._paths: OrderedDict[tuple[str, date], DayPath] = OrderedDict()
        self._closes: OrderedDict[tuple[str, date], float] = OrderedDict()
        self._cache_limit = max(4 * self.universe_size, 2000)

    def label(self) -> str:
        return f"synthetic market, seed {self.seed}, {len(self.symbols)} symbols"

    def profile(self, symbol: str) -> SymbolProfile:
        return _profile(self.seed, symbol)

    def close_on(self, symbol: str, day: date) -> float:
        # Each session's path reads its own close and the session before's, so a day's close is
        # asked for twice: keep the last few thousand (a pure function of seed, symbol and day).
        key = (symbol, day)
        close = self._closes.get(key)
        if close is None:
            close = self._closes[key] = self._close_on(symbol, day)
            if len(self._closes) > self._cache_limit:
                self._closes.popitem(last=False)
        return close

    def _close_on(self, symbol: str, day: date) -> float:
        profile = self.profile(symbol)
        t = day.toordinal()
        cycles = sum(
            amp * math.sin(2 * math.pi * t / period + phase)
            for amp, period, phase in zip(
                profile.cycle_amplitudes, profile.cycle_periods, profile.cycle_phases, strict=True
            )
        )
        noise = _rng(self.seed, _stable_id(symbol), t, 1).normal(0.0, profile.daily_vol * 0.6)
        return max(0.5, profile.base_price * math.exp(cycles + noise))

    def day_path(self, symbol: str, day: date) -> DayPath:
        key = (symbol, day)
        cached = self._paths.get(key)
        if cached is not None:
            return cached
        path = self._build_day_path(symbol, day)
        self._paths[key] = path
        if len(self._paths) > self._cache_limit:
            self._paths.popitem(last=False)
        return path

    def _build_day_path(self, symbol: str, day: date) -> DayPath:
        profile = self.profile(symbol)
        current = sessions.session(day)
        minutes = current.minutes
        prev_close = self.close_on(symbol, sessions.previous_session(day).day)
        close = self.close_on(symbol, day)
        rng = _rng(self.seed, _stable_id(symbol), day.toordinal(), 2)
        gap = rng.normal(0.0, profile.daily_vol * 0.35)
        log_open = math.log(prev_close) + gap
        log_close = math.log(close)
        steps = rng.normal(0.0, profile.daily_vol / math.sqrt(minutes), minutes)
        walk = np.concatenate(([0.0], np.cumsum(steps)))
        frac = _session_fraction(minutes)
        bridge = walk - frac * walk[-1]
        mid = np.exp(log_open + frac * (log_close - log_open) + bridge)
        spread = profile.spread_bps * np.exp(rng.normal(0.0, 0.25, minutes + 1))
        day_volume = profile.avg_daily_volume * math.exp(rng.normal(0.0, 0.4))
        cumulative = np.floor(day_volume * _cumulative_volume_curve(minutes))
        defect_draw = rng.random(minutes + 1)
        defects = np.where(defect_draw < _DEFECT_RATE, 1 + (defect_draw * 1e6).astype(int) % 3, 0)
        return DayPath(symbol, current, mid, spread, cumulative, prev_close, defects)


@lru_cache(maxsize=20_000)
def _profile(seed: int, symbol: str) -> SymbolProfile:
    rng = _rng(seed, _stable_id(symbol), 0)
    if symbol == SPY:
        base_price, daily_vol, adv, spread = 560.0, 0.009, 60_000_000.0, 0.3
    else:
        base_price = _clip(math.exp(rng.normal(math.log(45.0), 1.0)), 1.5, 900.0)
        daily_vol = _clip(rng.lognormal(math.log(0.022), 0.45), 0.006, 0.09)
        adv = _clip(math.exp(rng.normal(math.log(1_500_000), 1.3)), 20_000, 80_000_000)
        # Thin, cheap names trade wide; liquid ones tight.
        spread = _clip(400.0 / math.sqrt(adv / 10_000) + 40.0 / base_price, 1.0, 150.0)
    amplitudes = tuple(float(a) for a in rng.uniform(0.02, 0.12, 3))
    periods = tuple(float(p) for p in rng.uniform(15.0, 400.0, 3))
    phases = tuple(float(p) for p in rng.uniform(0.0, 2 * math.pi, 3))
    return SymbolProfile(symbol, base_price, daily_vol, adv, spread, amplitudes, periods, phases)


def _clip(value: float, low: float, high: float) -> float:
    """np.clip for one float, without its per-call cost (a universe has thousands of profiles)."""
    return float(min(max(value, low), high))


@lru_cache(maxsize=16)
def _make_symbols(seed: int, count: int) -> tuple[str, ...]:
    rng = _rng(seed, 7)
    symbols = [SPY]
    seen = {SPY}
    while len(symbols) < count:
        length = 3 if rng.random() < 0.45 else 4
        # The same draws as rng.choice(letters, length), without its per-call overhead.
        symbol = "".join([_LETTERS[i] for i in rng.integers(0, len(_LETTERS), length).tolist()])
        if symbol not in seen:
            seen.add(symbol)
            symbols.append(symbol)
    return tuple(symbols)


class BarMarket(PathMarket):
    """Replays imported OHLCV bars. Daily bars become a session path open → low/high → close
    (the extreme nearer the open first); intraday bars are interpolated minute by minute."""

    source = "bars"
    DEFAULT_SPREAD_BPS = 4.0

    def __init__(self, bar_set: str, symbols: list[str]):
        self.bar_set = bar_set
        self.symbols = tuple(sorted(symbols))
        self._symbol_set = frozenset(self.symbols)
        self._paths: dict[tuple[str, date], DayPath | None] = {}

    def label(self) -> str:
        return f"bar set {self.bar_set!r}, {len(self.symbols)} symbols"

    def day_path(self, symbol: str, day: date) -> DayPath | None:
        key = (symbol, day)
        if key not in self._paths:
            self._paths[key] = self._build(symbol, day)
        return self._paths[key]

    def _build(self, symbol: str, day: date) -> DayPath | None:
        from .models import Bar

        current = sessions.session(day)
        minutes = current.minutes
        day_start = datetime.combine(day, datetime.min.time(), tzinfo=sessions.NEW_YORK)
        in_set = Bar.objects.filter(bar_set=self.bar_set, symbol=symbol)
        bars = list(
            in_set.filter(start__gte=day_start, start__lt=day_start + timedelta(days=1)).order_by(
                "interval_seconds", "start"
            )
        )
        if not bars:
            return None
        previous = in_set.filter(start__lt=day_start).order_by("-start").first()
        intraday = [b for b in bars if b.interval_seconds < 86_400]
        if intraday:
            mid, volume = self._intraday(current, intraday, minutes)
        else:
            mid, volume = self._daily(bars[0], minutes)
        prev_close = float(previous.close) if previous else float(bars[0].open)
        spread = np.full(minutes + 1, self.DEFAULT_SPREAD_BPS)
        defects = np.zeros(minutes + 1, dtype=int)
        return DayPath(symbol, current, mid, spread, volume, prev_close, defects)

    @staticmethod
    def _daily(bar, minutes: int) -> tuple[np.ndarray, np.ndarray]:
        o, h, low, c = (float(bar.open), float(bar.high), float(bar.low), float(bar.close))
        first, second = (low, h) if abs(o - low) <= abs(h - o) else (h, low)
        mid = np.interp(np.arange(minutes + 1), [0, minutes / 3, 2 * minutes / 3, minutes], [o, first, second, c])
        volume = np.floor(bar.volume * _cumulative_volume_curve(minutes))
        return mid, volume

    @staticmethod
    def _intraday(current, bars, minutes: int) -> tuple[np.ndarray, np.ndarray]:
        times = []
        prices = []
        volume = np.zeros(minutes + 1)
        for bar in bars:
            begin = (bar.start - current.open).total_seconds() / 60
            end = begin + bar.interval_seconds / 60
            times += [begin, end]
            prices += [float(bar.open), float(bar.close)]
            if 0 <= end <= minutes:
                volume[int(end)] += bar.volume
        mid = np.interp(np.arange(minutes + 1), times, prices)
        return mid, np.cumsum(volume)


class UnknownBarSet(ValueError):
    """A book names a bar set that holds no bars."""


def market_for(*, seed: int, universe_size: int, bar_set: str | None = None) -> PathMarket:
    """The synthetic market of `seed`, or the named set of imported bars; cached per process
    (a bar set's cache is renewed when an import changes it)."""
    if bar_set and bar_set != SYNTHETIC:
        from .models import Bar

        in_set = Bar.objects.filter(bar_set=bar_set)
        bar_symbols = list(in_set.order_by("symbol").values_list("symbol", flat=True).distinct())
        if not bar_symbols:
            raise UnknownBarSet(f"bar set {bar_set!r} holds no bars; import some with import_bars --into {bar_set}")
        key = ("bars", bar_set, tuple(bar_symbols), in_set.count())
        if key not in _MARKETS:
            for stale in [k for k in _MARKETS if k[:2] == ("bars", bar_set)]:
                del _MARKETS[stale]
            _MARKETS[key] = BarMarket(bar_set, bar_symbols)
        return _MARKETS[key]
    key = ("synthetic", seed, universe_size)
    if key not in _MARKETS:
        _MARKETS[key] = SyntheticMarket(seed, universe_size)
    return _MARKETS[key]


_MARKETS: dict[tuple, PathMarket] = {}

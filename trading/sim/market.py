"""A deterministic simulated US equity market.

Every price is a pure function of (seed, symbol, time):
- a symbol's character (price level, liquidity, spread, sector, beta, own volatility) comes
  from a generator seeded by (seed, symbol);
- its daily closes are the market factor (SPY), its sector's factor and its own moves, each a
  random walk with GARCH(1,1) volatility and Student-t shocks, built a year-long block at a
  time from generators seeded by (seed, factor, block); any day is found without the years
  before it, because each block's total move is drawn first and the block is bridged to it;
- the minute path between the open (previous close plus an overnight gap) and that close is
  a Brownian bridge in the session's U-shaped volatility clock, seeded by (seed, symbol, day).
The same seed and moment always give the same quotes, on any machine, so any run can be
replayed. Floats live only inside the generator; what leaves it is quantized Decimal.

Imported bars (`manage.py import_bars --into SET`) form named markets of their own: a SIM book
whose market is that set replays them; every other book keeps its own market.
"""

import math
import zlib
from collections import OrderedDict
from contextlib import contextmanager
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
    daily_vol: float  # of the symbol's own moves, beside its market and sector factors
    avg_daily_volume: float
    spread_bps: float  # typical quoted spread mid-session
    sector: int  # -1: the market itself (SPY)
    beta: float
    sector_loading: float


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

    low: float | None = None  # a day bar's range, which its quotes stay inside
    high: float | None = None

    def bid_ask(self, index: int) -> tuple[Decimal, Decimal]:
        bids, asks = self.touches(index, index)
        return to_price(bids[0]), to_price(asks[0])

    def touches(self, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
        """Bid and ask in whole cents from minute `first` to `last` (inclusive): the spread is
        the quoted width rounded to the cent, never under one tick, around the mid."""
        return _touches(self.mid[first : last + 1], self.spread_bps[first : last + 1], self.low, self.high)


def _touches(mid: np.ndarray, spread_bps: np.ndarray, low: float | None = None, high: float | None = None):
    """Bids and asks in whole cents around these mids (minutes of one path, or one minute of
    several), each element worked out alone."""
    width = np.maximum(np.round(mid * spread_bps / 10_000, 2), 0.01)
    bids = np.round(mid - width / 2, 2)
    if low is not None:
        bids = np.minimum(np.maximum(bids, low), high)
    asks = np.round(bids + width, 2)
    if high is not None:
        # A bar's quotes stay within its range: the ask at most one tick above its high.
        asks = np.maximum(np.minimum(asks, round(high + 0.01, 2)), np.round(bids + 0.01, 2))
    return bids, asks


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

    def day_paths(self, symbols, day: date) -> dict[str, DayPath | None]:
        """Several symbols' paths of one session (a market that can build them together does)."""
        return {symbol: self.day_path(symbol, day) for symbol in symbols}

    @contextmanager
    def building_ahead(self, days: list[date]):
        """While a replay reads these sessions in order: a market may build them ahead."""
        yield

    def session_columns(self, day: date) -> "SessionColumns | None":
        """Every symbol's session `day` as arrays (a scan reads one minute of all of them), or
        None: a market that keeps no such arrays is read path by path."""
        return None

    def quotes(self, symbols: list[str], at: datetime) -> dict[str, Quote]:
        """`quote` of each symbol (a market holding the session's arrays reads them all at once)."""
        return {symbol: self.quote(symbol, at) for symbol in symbols}

    def quote(self, symbol: str, at: datetime) -> Quote:
        if symbol not in self:
            return Quote(symbol=symbol, error="unknown symbol")
        current = sessions.session_at_or_before(at)
        path = self.day_path(symbol, current.day)
        if path is None:
            return Quote(symbol=symbol, error=f"no market data for {current.day.isoformat()}")
        index = path.index_at(at)
        bid, ask = path.bid_ask(index)
        return _quote(
            symbol, current, at, index, bid, ask, path.mid[index], path.defects[index], path.cumulative_volume[index],
            path.prev_close,
        )  # fmt: skip


def _quote(symbol, current, at, index, bid, ask, mid, defect, volume, prev_close) -> Quote:
    """A quote of minute `index` of session `current` (asked at `at`), with that minute's defect."""
    last = to_price(round(float(mid), 2))
    moment = min(at, current.close)
    quote_time = current.open + timedelta(minutes=index) if moment >= current.open else moment
    defect = int(defect)
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
        volume=int(volume),
        prev_close=to_price(round(float(prev_close), 2)),
        time=quote_time,
    )


class SyntheticMarket(PathMarket):
    """The generated market: `universe_size` symbols (SPY first), reproducible from `seed`.

    Daily log prices are random walks (no level they revert to): SPY is the market factor,
    every other symbol adds its sector's factor and its own moves, each a GARCH(1,1) series
    with Student-t shocks, so volatility clusters, tails are fat and stocks co-move. A session's
    minute path opens at the previous close plus an overnight gap and runs to the day's close as
    a Brownian bridge in the session's U-shaped volatility clock. Spreads follow price,
    liquidity and the time of day, in whole cents."""

    source = "synthetic"

    def __init__(self, seed: int, universe_size: int = 500):
        self.seed = int(seed)
        self.universe_size = max(1, int(universe_size))
        self.symbols = _make_symbols(self.seed, self.universe_size)
        self._symbol_set = frozenset(self.symbols)
        self._paths: OrderedDict[tuple[str, date], DayPath] = OrderedDict()
        self._blocks: OrderedDict[tuple, _Block] = OrderedDict()
        self._cache_limit = max(4 * self.universe_size, 2000)
        self._ahead = None
        self._columns: OrderedDict[date, SessionColumns] = OrderedDict()

    def label(self) -> str:
        return f"synthetic market, seed {self.seed}, {len(self.symbols)} symbols"

    def profile(self, symbol: str) -> SymbolProfile:
        return _profile(self.seed, symbol)

    def close_on(self, symbol: str, day: date) -> float:
        return math.exp(self._log_close(symbol, _weekday_index(day)))

    def daily_variance(self, symbol: str, day: date) -> float:
        """The variance of the symbol's log return on `day`: its factors' GARCH states, each times
        that day's Student-t mixing scale (what the day's minute path is bridged with)."""
        profile = self.profile(symbol)
        w = _weekday_index(day)
        variance = profile.beta**2 * self._series(_MARKET_SERIES, w)[1]
        if profile.sector >= 0:
            variance += profile.sector_loading**2 * self._series((_SECTOR, profile.sector), w)[1]
            variance += self._series((_IDIO, _stable_id(symbol)), w, vol=profile.daily_vol)[1]
        return variance

    def _log_close(self, symbol: str, w: int) -> float:
        profile = self.profile(symbol)
        level = math.log(profile.base_price) + profile.beta * self._series(_MARKET_SERIES, w)[0]
        if profile.sector >= 0:
            level += profile.sector_loading * self._series((_SECTOR, profile.sector), w)[0]
            level += self._series((_IDIO, _stable_id(symbol)), w, vol=profile.daily_vol)[0]
        return level

    def _series(self, key: tuple[int, int], w: int, *, vol: float | None = None) -> tuple[float, float]:
        """(cumulative log level at the close of weekday `w`, that day's variance) of one factor."""
        block_index, offset = divmod(w, _BLOCK_DAYS)
        block_key = (key, block_index)
        block = self._blocks.get(block_key)
        if block is None:
            block = self._blocks[block_key] = _build_block(self.seed, key, block_index, vol or _FACTOR_VOL[key[0]])
            if len(self._blocks) > 4 * self._cache_limit:
                self._blocks.popitem(last=False)
        return block.level[offset], block.variance[offset]

    def day_path(self, symbol: str, day: date) -> DayPath:
        cached = self._paths.get((symbol, day))
        return cached if cached is not None else self.day_paths([symbol], day)[symbol]

    def day_paths(self, symbols, day: date) -> dict[str, DayPath]:
        """The paths of `symbols` on `day`; those not cached are built together, as one array
        per quantity (a first scan reads every symbol's path of the session)."""
        found = {}
        for symbol in symbols:
            cached = self._paths.get((symbol, day))
            if cached is not None:
                found[symbol] = cached
        missing = [symbol for symbol in symbols if symbol not in found]
        if missing and self._ahead is not None:
            missing = self._take_ahead(day, found, missing)
        if missing:
            arrays = self._build_day_arrays(missing, day)
            self._keep_columns(arrays)
            for path in _paths_of(arrays):
                self._paths[(path.symbol, day)] = found[path.symbol] = path
        # Evicting the oldest may drop paths this call found cached: they are in `found`.
        while len(self._paths) > max(self._cache_limit, len(found)):
            self._paths.popitem(last=False)
        return {symbol: found[symbol] for symbol in symbols}

    def _take_ahead(self, day: date, found: dict, missing: list[str]) -> list[str]:
        """Cache the session the builder made ahead, if it did; returns what is still missing."""
        arrays = self._ahead.take(day)
        if arrays is None:
            return missing
        self._keep_columns(arrays)
        for path in _paths_of(arrays):
            self._paths[(path.symbol, day)] = path
        for symbol in missing:
            if (path := self._paths.get((symbol, day))) is not None:
                found[symbol] = path
        return [symbol for symbol in missing if symbol not in found]

    def session_columns(self, day: date) -> "SessionColumns":
        if day not in self._columns:
            self.day_paths(self.symbols, day)  # takes or builds the session, whole, if no path is cached
        if day not in self._columns:  # its paths were cached one by one: the same paths, built together
            self._keep_columns(self._build_day_arrays(list(self.symbols), day))
        return self._columns[day]

    def quotes(self, symbols: list[str], at: datetime) -> dict[str, Quote]:
        """Every known symbol's bid and ask worked out together, from the session's arrays, by the
        arithmetic `DayPath.touches` does: the same quotes as `quote`. Only when the session is
        held whole already (a scan or a replay built it): quoting a few names never builds all."""
        current = sessions.session_at_or_before(at)
        known = [symbol for symbol in symbols if symbol in self]
        columns = self._columns.get(current.day)
        if len(known) < 2 or columns is None:
            return super().quotes(symbols, at)
        index = columns.index_at(at)
        rows = np.array([columns.row_of[symbol] for symbol in known])
        mid = columns.mid[rows, index]
        bids, asks = _touches(mid, columns.spread_bps[rows, index])
        quoted = {
            symbol: _quote(
                symbol,
                current,
                at,
                index,
                to_price(bids[i]),
                to_price(asks[i]),
                mid[i],
                columns.defects[row, index],
                columns.cumulative_volume[row, index],
                columns.prev_close[row],
            )
            for i, (symbol, row) in enumerate(zip(known, rows.tolist(), strict=True))
        }
        return {symbol: quoted.get(symbol) or self.quote(symbol, at) for symbol in symbols}

    def _keep_columns(self, arrays: "_DayArrays") -> None:
        """A session built for every symbol is kept as arrays too (the paths are views of them),
        for the last few sessions."""
        if arrays.symbols == self.symbols:
            self._columns[arrays.session.day] = SessionColumns.of(arrays)
            while len(self._columns) > 3:
                self._columns.popitem(last=False)

    @contextmanager
    def building_ahead(self, days: list[date]):
        """While a replay reads `days` in order, a second process builds each session's paths a
        little ahead (see `trading.sim.ahead`); a short replay, or a machine with one core, builds
        them here as ever."""
        from . import ahead

        if self._ahead is not None or len(days) < ahead.MIN_SESSIONS or not ahead.second_core_available():
            yield
            return
        self._ahead = ahead.PathsAhead(seed=self.seed, universe_size=self.universe_size, days=days)
        try:
            yield
        finally:
            builder, self._ahead = self._ahead, None
            builder.close()

    def _build_day_arrays(self, symbols: list[str], day: date) -> "_DayArrays":
        """Each symbol's draws come from its own generator, seeded by (seed, symbol, day), in the
        same order as ever, so a path does not depend on which others are built with it; only
        the arithmetic on them runs over all the symbols at once."""
        current = sessions.session(day)
        minutes = current.minutes
        w_prev, w = _weekday_index(sessions.previous_session(day).day), _weekday_index(day)
        count = len(symbols)
        log_prev, log_close, variance = np.empty(count), np.empty(count), np.empty(count)
        spread_bps, day_volume = np.empty(count), np.empty(count)
        gap_draw = np.empty(count)
        steps = np.empty((count, minutes))
        spread_draw = np.empty((count, minutes + 1))
        defect_draw = np.empty((count, minutes + 1))
        for i, symbol in enumerate(symbols):
            profile = self.profile(symbol)
            log_prev[i] = self._log_close(symbol, w_prev)
            log_close[i] = self._log_close(symbol, w)
            variance[i] = self.daily_variance(symbol, day)
            spread_bps[i] = profile.spread_bps
            rng = _rng(self.seed, _stable_id(symbol), day.toordinal(), 2)
            gap_draw[i] = rng.standard_normal()
            rng.standard_normal(out=steps[i])
            rng.standard_normal(out=spread_draw[i])
            # Volume rises with the day's volatility, as it does in real markets.
            typical = self.daily_variance_typical(symbol)
            day_volume[i] = (
                profile.avg_daily_volume * math.exp(0.3 * rng.standard_normal()) * math.sqrt(variance[i] / typical)
            )
            rng.random(out=defect_draw[i])
        # The overnight share of the day's move, drawn as the first stretch of one random walk
        # pinned at the close: the gap and the session that follows are independent pieces.
        day_return = log_close - log_prev
        gap = _OVERNIGHT_SHARE * day_return + np.sqrt(_OVERNIGHT_SHARE * (1 - _OVERNIGHT_SHARE) * variance) * gap_draw
        log_open = (log_prev + gap)[:, None]
        clock = _volatility_clock(minutes)
        steps *= np.sqrt(np.diff(clock) * (1 - _OVERNIGHT_SHARE) * variance[:, None])
        walk = np.zeros((count, minutes + 1))
        np.cumsum(steps, axis=1, out=walk[:, 1:])
        # A Brownian bridge in the volatility clock: each path ends exactly at its close.
        mid = np.exp(log_open + clock * (log_close[:, None] - log_open) + walk - clock * walk[:, -1:])
        opening_widening = 1 + 2.0 * np.exp(-np.arange(minutes + 1) / 8.0)
        spread = spread_bps[:, None] * opening_widening * np.exp(0.2 * spread_draw)
        cumulative = np.floor(day_volume[:, None] * _cumulative_volume_curve(minutes))
        # A code of 0 to 3 in one byte a minute, not eight: a fifth less for the builder to send.
        defects = np.where(defect_draw < _DEFECT_RATE, 1 + (defect_draw * 1e6).astype(int) % 3, 0).astype(np.int8)
        return _DayArrays(tuple(symbols), current, mid, spread, cumulative, log_prev, defects)

    def daily_variance_typical(self, symbol: str) -> float:
        """The unconditional variance of the symbol's daily log return."""
        profile = self.profile(symbol)
        variance = profile.beta**2 * _FACTOR_VOL[_MARKET] ** 2
        if profile.sector >= 0:
            variance += profile.sector_loading**2 * _FACTOR_VOL[_SECTOR] ** 2 + profile.daily_vol**2
        return variance


@dataclass(frozen=True)
class _DayArrays:
    """Several symbols' paths of one session, one row per symbol: what a path builder in
    another process sends back (a handful of arrays pickle fast; 500 objects would not)."""

    symbols: tuple[str, ...]
    session: sessions.Session
    mid: np.ndarray
    spread_bps: np.ndarray
    cumulative_volume: np.ndarray
    log_prev_close: np.ndarray
    defects: np.ndarray


@dataclass(frozen=True)
class SessionColumns:
    """Every symbol's session as arrays, one row per symbol (in `symbols` order): for reading one
    minute of all of them at once. `prev_close` holds each path's own `prev_close`."""

    symbols: np.ndarray
    session: sessions.Session
    mid: np.ndarray
    spread_bps: np.ndarray
    cumulative_volume: np.ndarray
    defects: np.ndarray
    prev_close: np.ndarray
    row_of: dict[str, int]

    @classmethod
    def of(cls, arrays: _DayArrays) -> "SessionColumns":
        return cls(
            np.array(arrays.symbols),
            arrays.session,
            arrays.mid,
            arrays.spread_bps,
            arrays.cumulative_volume,
            arrays.defects,
            np.array([math.exp(value) for value in arrays.log_prev_close]),  # as DayPath's, bit for bit
            {symbol: row for row, symbol in enumerate(arrays.symbols)},
        )

    def index_at(self, at: datetime) -> int:
        """As `DayPath.index_at`: the minute of `at`, within the session."""
        minutes = int((at - self.session.open).total_seconds() // 60)
        return min(max(minutes, 0), self.mid.shape[1] - 1)


def _paths_of(arrays: _DayArrays) -> list[DayPath]:
    return [
        DayPath(
            symbol,
            arrays.session,
            arrays.mid[i],
            arrays.spread_bps[i],
            arrays.cumulative_volume[i],
            math.exp(arrays.log_prev_close[i]),
            arrays.defects[i],
        )
        for i, symbol in enumerate(arrays.symbols)
    ]


# Factor kinds: the market (SPY), a sector, one symbol's own moves.
_MARKET, _SECTOR, _IDIO = 1, 2, 3
_MARKET_SERIES = (_MARKET, 0)
_SECTORS = 11
_FACTOR_VOL = {_MARKET: 0.011, _SECTOR: 0.009}
# GARCH(1,1): persistence 0.98, as daily equity returns typically show; Student-t shocks, 5 dof.
_GARCH_ALPHA, _GARCH_BETA, _T_DOF = 0.08, 0.90, 5.0
# Weekdays per block: a factor's path is built a block (about a year) at a time. Each block's
# total move comes from one draw per factor, so any day's level is found without building the
# years before it; within the block, the GARCH path is bridged to that total.
_BLOCK_DAYS = 256
_EPOCH = date(2025, 1, 6)  # a Monday: weekday index 0; profiles give the price levels around it
_BLOCK_SPAN = 128  # blocks each side of the epoch with a drawn total: 1900 to 2150
_OVERNIGHT_SHARE = 0.2  # of a day's return variance, as measured for US large caps


@dataclass(frozen=True)
class _Block:
    level: np.ndarray  # cumulative log level at each weekday's close
    variance: np.ndarray  # each weekday's own variance: its GARCH state times its shock's scale


def _weekday_index(day: date) -> int:
    weeks, weekday = divmod((day - _EPOCH).days, 7)
    return weeks * 5 + min(weekday, 4)


@lru_cache(maxsize=4096)
def _block_totals(seed: int, key: tuple[int, int], vol: float) -> tuple[np.ndarray, np.ndarray]:
    """Each block's total log move, and the level at each block's start (index by block + span)."""
    totals = _rng(seed, key[0], key[1], 11).normal(0.0, vol * math.sqrt(_BLOCK_DAYS), 2 * _BLOCK_SPAN)
    starts = np.concatenate(([0.0], np.cumsum(totals)))
    return totals, starts - starts[_BLOCK_SPAN]


def _build_block(seed: int, key: tuple[int, int], block_index: int, vol: float) -> _Block:
    if not -_BLOCK_SPAN <= block_index < _BLOCK_SPAN:
        raise ValueError("the synthetic market spans 1900 to 2150")
    totals, starts = _block_totals(seed, key, vol)
    rng = _rng(seed, key[0], key[1], block_index + _BLOCK_SPAN, 12)
    unconditional = vol * vol
    omega = unconditional * (1 - _GARCH_ALPHA - _GARCH_BETA)
    # Student-t shocks as a normal over a chi-square mixing scale, scaled to unit variance: the
    # day's own variance (GARCH state × that scale) is what its intraday path is bridged with,
    # so a big move looks as big by 10:00 as it ends, and early gainers do not drift on.
    scale = (_T_DOF - 2) / rng.chisquare(_T_DOF, _BLOCK_DAYS)
    shocks = rng.normal(0.0, 1.0, _BLOCK_DAYS) * np.sqrt(scale)
    conditional = np.empty(_BLOCK_DAYS)
    returns = np.empty(_BLOCK_DAYS)
    h = unconditional * math.exp(rng.normal(-0.125, 0.5))  # where the volatility stands as the block opens
    for day, shock in enumerate(shocks.tolist()):
        conditional[day] = h
        r = math.sqrt(h) * shock
        returns[day] = r
        h = omega + _GARCH_ALPHA * r * r + _GARCH_BETA * h
    variance = conditional * scale
    position = block_index + _BLOCK_SPAN
    returns += (totals[position] - returns.sum()) * variance / variance.sum()
    return _Block(level=starts[position] + np.cumsum(returns), variance=variance)


@lru_cache(maxsize=8)
def _volatility_clock(minutes: int) -> np.ndarray:
    """Share of the session's variance done by each minute: U-shaped, busiest at the open and close."""
    x = _session_fraction(minutes)
    integral = x + ((2 * x - 1) ** 3 + 1) / 2
    clock = integral / integral[-1]
    clock.flags.writeable = False
    return clock


@lru_cache(maxsize=20_000)
def _profile(seed: int, symbol: str) -> SymbolProfile:
    rng = _rng(seed, _stable_id(symbol), 0)
    if symbol == SPY:
        # The market itself: one cent wide nearly always.
        return SymbolProfile(symbol, 560.0, 0.0, 60_000_000.0, 0.12, -1, 1.0, 0.0)
    base_price = _clip(math.exp(rng.normal(math.log(45.0), 1.0)), 1.5, 900.0)
    adv = _clip(math.exp(rng.normal(math.log(1_500_000), 1.3)), 20_000, 80_000_000)
    # Thin names move more on their own news than liquid ones.
    daily_vol = _clip(0.02 * (adv / 1e6) ** -0.22 * math.exp(rng.normal(0.0, 0.2)), 0.006, 0.05)
    # Liquid names quote a few basis points wide, thin ones tens; the cent tick widens cheap ones.
    spread = _clip(10.0 * (adv / 1e6) ** -0.7, 0.8, 150.0)
    sector = int(rng.integers(0, _SECTORS))
    beta = _clip(rng.normal(1.0, 0.3), 0.3, 2.0)
    sector_loading = float(rng.uniform(0.3, 0.8))
    return SymbolProfile(symbol, base_price, daily_vol, adv, spread, sector, beta, sector_loading)


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
        low = high = None
        if intraday:
            mid, volume = self._intraday(current, intraday, minutes)
        else:
            mid, volume = self._daily(bars[0], minutes)
            low, high = float(bars[0].low), float(bars[0].high)
        prev_close = float(previous.close) if previous else float(bars[0].open)
        spread = np.full(minutes + 1, self.DEFAULT_SPREAD_BPS)
        defects = np.zeros(minutes + 1, dtype=int)
        return DayPath(symbol, current, mid, spread, volume, prev_close, defects, low=low, high=high)

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

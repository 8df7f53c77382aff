"""NYSE sessions from `exchange_calendars` (XNYS): opens, closes, early closes and holidays.

All functions take and return timezone-aware datetimes (UTC) and `date`s of the session
in New York. Extra, unscheduled closures can be layered on by the scheduling code.

The calendar knows a window around today: YEARS_BACK years of history and YEARS_AHEAD years
ahead. Ahead is bounded because the NYSE publishes its holidays about three years in advance;
a session further out would be a guess from rules that may change. The window is rebuilt when
the day changes, so a process running for a year keeps seeing sessions. A date outside it
raises OutsideCalendar (a ValueError) rather than reading as a day without a session.
"""

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
YEARS_BACK = 20  # exchange_calendars' own default history
YEARS_AHEAD = 3


class OutsideCalendar(ValueError):
    """A date the NYSE calendar cannot speak for: before its history or beyond its horizon."""


@dataclass(frozen=True)
class Session:
    day: date
    open: datetime
    close: datetime

    @property
    def minutes(self) -> int:
        return int((self.close - self.open).total_seconds() // 60)

    @property
    def is_early_close(self) -> bool:
        return self.close.astimezone(NEW_YORK).hour < 16


def _today() -> date:
    return datetime.now(UTC).astimezone(NEW_YORK).date()


def _years_from(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)


def calendar_window(*, today: date | None = None) -> tuple[date, date]:
    """The first and last day the calendar is built for, `today` (New York) being the build date."""
    today = today or _today()
    return _years_from(today, -YEARS_BACK), _years_from(today, YEARS_AHEAD)


@lru_cache(maxsize=2)
def _xnys_built_on(today: date):
    import exchange_calendars

    start, end = calendar_window(today=today)
    return exchange_calendars.get_calendar("XNYS", start=start, end=end)


def _xnys(*, today: date | None = None):
    """The calendar built today: keyed by the build date, so a long-running process rebuilds it daily."""
    return _xnys_built_on(today or _today())


def _ts(day: date):
    import pandas as pd

    return pd.Timestamp(day)


def _aware(timestamp) -> datetime:
    return timestamp.to_pydatetime().astimezone(UTC)


def known_range(*, today: date | None = None) -> tuple[date, date]:
    """The first and last day the calendar can answer for (see YEARS_BACK and YEARS_AHEAD)."""
    return calendar_window(today=today)


def check_known(day: date, *, today: date | None = None) -> None:
    """Raise OutsideCalendar, naming the range, when `day` is outside what the calendar knows."""
    first, last = known_range(today=today)
    if not first <= day <= last:
        raise OutsideCalendar(
            f"{day.isoformat()} is outside the NYSE calendar, which is known from {first.isoformat()} "
            f"to {last.isoformat()} ({YEARS_BACK} years back, {YEARS_AHEAD} ahead: the NYSE publishes its "
            "holidays about three years in advance)"
        )


@lru_cache(maxsize=2)
def _session_days_built_on(today: date) -> tuple[tuple[date, ...], frozenset[date]]:
    """The calendar's session days, in order and as a set: a replay asks about days thousands of
    times, and these answer without a pandas lookup each time."""
    days = tuple(ts.date() for ts in _xnys_built_on(today).sessions)
    return days, frozenset(days)


def is_session(day: date) -> bool:
    """Whether the NYSE trades on `day`; OutsideCalendar when the calendar cannot say."""
    check_known(day)
    return day in _session_days_built_on(_today())[1]


@lru_cache(maxsize=4096)
def session(day: date) -> Session:
    """The session on `day`; ValueError when the NYSE does not trade that day."""
    if not is_session(day):
        raise ValueError(f"{day.isoformat()} is not an NYSE session")
    cal = _xnys()
    ts = _ts(day)
    return Session(day=day, open=_aware(cal.session_open(ts)), close=_aware(cal.session_close(ts)))


@lru_cache(maxsize=4096)
def previous_session(day: date) -> Session:
    """The last session strictly before `day`."""
    candidate = day - timedelta(days=1)
    for _ in range(15):
        if is_session(candidate):
            return session(candidate)
        candidate -= timedelta(days=1)
    raise ValueError(f"no NYSE session in the two weeks before {day.isoformat()}")


def sessions_between(start: date, end: date) -> list[Session]:
    """Every session from `start` to `end`, both included; OutsideCalendar when either is unknown."""
    if start > end:
        return []
    check_known(start)
    check_known(end)
    days = _session_days_built_on(_today())[0]
    return [session(day) for day in days[bisect_left(days, start) : bisect_right(days, end)]]


def is_open(at: datetime) -> bool:
    day = at.astimezone(NEW_YORK).date()
    if not is_session(day):
        return False
    current = session(day)
    return current.open <= at < current.close


def session_at_or_before(at: datetime) -> Session:
    """The session that contains `at`, or the latest one that ended before it."""
    day = at.astimezone(NEW_YORK).date()
    if is_session(day) and session(day).open <= at:
        return session(day)
    return previous_session(day)


def latest_market_moment(now: datetime) -> tuple[datetime, str]:
    """`now` when the NYSE is open; otherwise the last minute of the latest session, labelled as such.

    This is what lets a first run work at any hour of any day.
    """
    if is_open(now):
        return now.replace(second=0, microsecond=0), "live: NYSE open now"
    latest = session_at_or_before(now)
    moment = latest.close - timedelta(minutes=1)
    local = moment.astimezone(NEW_YORK)
    return (
        moment,
        f"market closed now: using the last minute of the latest session ({local:%a %Y-%m-%d %H:%M} New York)",
    )


def to_new_york(at: datetime) -> datetime:
    return at.astimezone(NEW_YORK)


def new_york_midnight(day: date) -> datetime:
    """The first instant of New York date `day` (aware; daylight saving as it was that day)."""
    return datetime.combine(day, time.min, tzinfo=NEW_YORK)

"""NYSE sessions from `exchange_calendars` (XNYS): opens, closes, early closes and holidays.

All functions take and return timezone-aware datetimes (UTC) and `date`s of the session
in New York. Extra, unscheduled closures can be layered on by the scheduling code.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")


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


@lru_cache(maxsize=1)
def _xnys():
    import exchange_calendars

    return exchange_calendars.get_calendar("XNYS")


def _ts(day: date):
    import pandas as pd

    return pd.Timestamp(day)


def _aware(timestamp) -> datetime:
    return timestamp.to_pydatetime().astimezone(UTC)


def known_range() -> tuple[date, date]:
    """The first and last session exchange_calendars knows (it looks about a year ahead)."""
    cal = _xnys()
    return cal.first_session.date(), cal.last_session.date()


def is_session(day: date) -> bool:
    cal = _xnys()
    ts = _ts(day)
    if ts < cal.first_session or ts > cal.last_session:
        return False
    return bool(cal.is_session(ts))


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
    """Every session from `start` to `end`, both included."""
    cal = _xnys()
    start_ts = max(_ts(start), cal.first_session)
    end_ts = min(_ts(end), cal.last_session)
    if start_ts > end_ts:
        return []
    return [session(ts.date()) for ts in cal.sessions_in_range(start_ts, end_ts)]


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

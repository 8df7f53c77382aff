"""Helpers shared by the trading management commands: parsing times, printing tables."""

from datetime import UTC, datetime

from django.core.management.base import CommandError

from trading import sessions


def parse_moment(text: str | None) -> datetime | None:
    """An ISO time; without an offset it is read as New York time (how traders say times)."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"--at {text!r} is not an ISO time (e.g. 2026-11-20T10:30 or 2026-11-20T15:30:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=sessions.NEW_YORK)
    return moment.astimezone(UTC)


def table(headers: list[str], rows: list[list]) -> str:
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(value.ljust(widths[i]) for i, value in enumerate(row)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def ny(moment: datetime | None) -> str:
    return "" if moment is None else f"{sessions.to_new_york(moment):%Y-%m-%d %H:%M %Z}"

"""Helpers shared by the trading management commands: parsing times, printing tables."""

from datetime import UTC, date, datetime

from django.core.management.base import CommandError

from trading import sessions


def parse_moment(text: str | None, *, option: str = "--at") -> datetime | None:
    """An ISO time; without an offset it is read as New York time (how traders say times).

    Only moments on days the NYSE calendar knows are accepted: anything else (year 1, year 9999)
    is refused here, with the range, before a command writes anything."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"{option} {text!r} is not an ISO time (e.g. 2026-11-20T10:30 or 2026-11-20T15:30:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=sessions.NEW_YORK)
    try:
        day = moment.astimezone(sessions.NEW_YORK).date()
    except OverflowError:  # year 1 or 9999 moved across a time zone: the day as written is as far out
        day = moment.date()
    _check_known(day, option=option, text=text)
    return moment.astimezone(UTC)


def parse_day(text: str | None, *, option: str) -> date | None:
    """A date YYYY-MM-DD on a day the NYSE calendar knows (it need not be a session)."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{option} {text!r} is not a date (YYYY-MM-DD, e.g. 2026-11-20)") from None
    _check_known(day, option=option, text=text)
    return day


def _check_known(day: date, option: str, text: str) -> None:
    try:
        sessions.check_known(day)
    except sessions.OutsideCalendar as exc:
        raise CommandError(f"{option} {text}: {exc}") from None


def add_book_arguments(parser, *, backend: bool = True) -> None:
    """--book NAME, and --backend ALIAS (the book of that alias), for every command that acts on a book."""
    from django.conf import settings

    parser.add_argument("--book", help="The book to act on (default: the book of TRADE_LABS_EXECUTION_BACKEND).")
    if backend:
        parser.add_argument(
            "--backend",
            choices=[a for a in settings.BROKERS if a != "default"],
            help="The book of this broker alias (the same as --book ALIAS).",
        )


def book_from_options(options: dict):
    """The book a command's --book/--backend name, or the default book; CommandError when unknown."""
    from trading.services.books import BookNotFound, book_named

    name, alias = options.get("book"), options.get("backend")
    try:
        book = book_named(name or alias)
    except BookNotFound as exc:
        raise CommandError(f"--book: {exc}") from None
    if name and alias and book.broker_alias != alias:
        raise CommandError(f"book {book.name!r} trades through {book.broker_alias!r}, not --backend {alias!r}")
    return book


def table(headers: list[str], rows: list[list]) -> str:
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(value.ljust(widths[i]) for i, value in enumerate(row)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def ny(moment: datetime | None) -> str:
    return "" if moment is None else f"{sessions.to_new_york(moment):%Y-%m-%d %H:%M %Z}"

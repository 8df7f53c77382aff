"""Books: finding them (by name, or the default at the edges), making new ones, and their clock.

Services take `book=` and act on that book alone; only commands, the admin, the API and the
scheduler's tasks resolve a name or the default here, the way Django resolves `using=`.
"""

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import IntegrityError, transaction
from django.db.models import Q

from trading import sessions
from trading.brokers import brokers
from trading.brokers.base import BrokerError
from trading.models import SYNTHETIC_MARKET, Book
from trading.prepared import Param, Prepared, PreparedUpdate


class BookNotFound(Exception):
    """No book has that name."""


class BookInvalid(ValueError):
    """A new book's name, alias or market cannot be used."""


class BookClockPassed(BrokerError):
    """A moment before the book's clock: the book has already worked past it."""

    def __init__(self, *, book: Book, requested: datetime):
        super().__init__(
            f"book {book.name!r}: its clock is at {sessions.to_new_york(book.clock):%Y-%m-%d %H:%M} New York; "
            f"an earlier moment ({sessions.to_new_york(requested):%Y-%m-%d %H:%M} New York) cannot be traded or "
            "marked — replay into a new book (manage.py replay --book NEW_NAME --from … --to …)",
            permanent=True,
        )


def default_book_name() -> str:
    """The book of TRADE_LABS_EXECUTION_BACKEND: each configured alias has a book of its name."""
    return brokers.canonical_alias(settings.TRADE_LABS_EXECUTION_BACKEND)


def books_ensure_configured() -> dict[str, Book]:
    """A book for every configured broker alias, named after it (made if missing): what
    `migrate` leaves behind, so the default needs no flag."""
    made = {}
    for alias, config in brokers.settings.items():
        if alias == "default":
            continue
        account = str(config.get("OPTIONS", {}).get("account", "") or "")
        book = _get_or_create(name=alias, broker_alias=alias, account_id=account)
        if book is not None:
            made[alias] = book
    return made


def _get_or_create(*, name: str, **defaults) -> Book | None:
    """The book `name`, made if missing; None when its account already belongs to another book."""
    book = Book.objects.filter(name=name).first()
    if book is not None:
        return book
    try:
        with transaction.atomic():
            return Book.objects.create(name=name, **defaults)
    except IntegrityError:  # made meanwhile by another process, or its account is another book's
        return Book.objects.filter(name=name).first()


def book_default() -> Book:
    name = default_book_name()
    book = Book.objects.filter(name=name).first() or books_ensure_configured().get(name)
    if book is None:
        raise BookNotFound(f"no default book {name!r}: its broker account already belongs to another book")
    return book


def book_named(name: str | None) -> Book:
    """The book called `name`; the default book when `name` is empty. BookNotFound otherwise."""
    if not name:
        return book_default()
    book = Book.objects.filter(name=name).first()
    if book is None and name in brokers.settings and name != "default":
        book = books_ensure_configured().get(name)
    if book is None:
        known = ", ".join(Book.objects.order_by("name").values_list("name", flat=True)) or "none"
        raise BookNotFound(f"no book named {name!r} (books: {known})")
    return book


def book_create(
    *,
    name: str,
    broker_alias: str,
    market: str = SYNTHETIC_MARKET,
    seed: int | None = None,
    parameters: dict | None = None,
    starting_equity: Decimal | None = None,
) -> Book:
    """A new book. A SIM book gets its own simulated account (SIM-<name>), so its cash, orders and
    positions never mix with another book's; an IB book needs its account named on the alias."""
    try:
        validate_slug(name)
    except ValidationError:
        raise BookInvalid(f"book name {name!r}: use letters, digits, '-' and '_' only") from None
    if Book.objects.filter(name=name).exists():
        raise BookInvalid(f"a book named {name!r} exists already")
    backend = brokers.backend_class(broker_alias)
    simulated = not backend.sends_real_orders
    if not simulated and market != SYNTHETIC_MARKET:
        raise BookInvalid(f"only a SIM book replays a market; {broker_alias!r} trades the broker's own")
    if market != SYNTHETIC_MARKET:
        from trading.sim.models import Bar

        if not Bar.objects.filter(bar_set=market).exists():
            raise BookInvalid(f"bar set {market!r} holds no bars; import some with import_bars --into {market}")
    account = f"SIM-{name}" if simulated else str(brokers.settings[broker_alias].get("OPTIONS", {}).get("account", ""))
    try:
        with transaction.atomic():
            return Book.objects.create(
                name=name,
                broker_alias=broker_alias,
                account_id=account,
                market=market,
                seed=seed,
                parameters=parameters or {},
                starting_equity=starting_equity if starting_equity is not None else settings.TRADE_LABS_STARTING_EQUITY,
            )
    except IntegrityError:
        raise BookInvalid(f"another book already trades {broker_alias} account {account}") from None


def book_clock_refuse_earlier(*, book: Book, at: datetime) -> None:
    """Time only moves forward in a simulated book: raise BookClockPassed for a moment before its
    clock. A real broker's book lives on the wall clock, which the broker itself keeps."""
    if brokers.backend_class(book.broker_alias).sends_real_orders:
        return
    clock = next(iter(_CLOCK(book=book.pk)), None)
    if clock is not None and at < clock:
        book.clock = clock
        raise BookClockPassed(book=book, requested=at)


def book_clock_advance(*, book: Book, at: datetime) -> None:
    """Move the book's clock to `at` (never back): one conditional UPDATE, safe under concurrency."""
    _CLOCK_ADVANCE(book=book.pk, at=at)
    if book.clock is None or book.clock < at:
        book.clock = at


# Every job reads and moves its book's clock: built once (see trading.prepared).
_CLOCK = Prepared(lambda book: Book.objects.filter(pk=book).values_list("clock", flat=True))
_CLOCK_ADVANCE = PreparedUpdate(
    lambda book, at: Book.objects.filter(pk=book).filter(Q(clock__isnull=True) | Q(clock__lt=at)), clock=Param("at")
)

"""factory_boy factories for the book of record: one place, used by every test module."""

from datetime import UTC, datetime
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from trading.brokers.base import BracketRequest, OrderRequest
from trading.models import Book, Candidate, Fill, Order, PipelineRun, Position, Trade


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


def default_book() -> Book:
    from trading.services.books import book_default

    return book_default()


class BookFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Book
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"book{n}")
    broker_alias = "sim"
    account_id = factory.LazyAttribute(lambda b: f"SIM-{b.name}")


class PipelineRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PipelineRun

    book = factory.LazyFunction(default_book)

    backend = "sim"
    status = PipelineRun.Status.SUCCEEDED
    market_time = factory.LazyFunction(lambda: datetime(2026, 11, 20, 15, 0, tzinfo=UTC))


class CandidateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Candidate

    run = factory.SubFactory(PipelineRunFactory)
    book = factory.LazyAttribute(lambda c: c.run.book)
    symbol = factory.Sequence(lambda n: f"SYM{n}")
    scanner_rank = factory.Sequence(lambda n: n + 1)
    bid = Decimal("49.99")
    ask = Decimal("50.01")
    last = Decimal("50.00")
    volume = 1_000_000
    score = Decimal("80.00")
    status = Candidate.Status.EXECUTED


class TradeFactory(factory.django.DjangoModelFactory):
    """A closed winning long by default; pass status/prices for other shapes."""

    class Meta:
        model = Trade

    run = factory.SubFactory(PipelineRunFactory)
    book = factory.LazyAttribute(lambda t: t.run.book if t.run else default_book())
    backend = "sim"
    symbol = factory.Sequence(lambda n: f"T{n}")
    side = "BUY"
    quantity = 100
    entry_price = Decimal("50.00")
    entry_time = factory.LazyFunction(lambda: datetime(2026, 11, 20, 15, 0, tzinfo=UTC))
    stop_price = Decimal("49.00")
    target_price = Decimal("52.00")
    exit_price = Decimal("52.00")
    exit_time = factory.LazyFunction(lambda: datetime(2026, 11, 20, 17, 0, tzinfo=UTC))
    exit_reason = Trade.ExitReason.TARGET
    commission = Decimal("2.00")
    realized_pnl = Decimal("198.00")
    status = Trade.Status.CLOSED


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    trade = factory.SubFactory(TradeFactory)
    run = factory.LazyAttribute(lambda o: o.trade.run)
    book = factory.LazyAttribute(lambda o: o.trade.book)
    client_order_ref = factory.Sequence(lambda n: f"TL-test-{n}")
    backend = "sim"
    symbol = factory.LazyAttribute(lambda o: o.trade.symbol)
    leg = Order.Leg.ENTRY
    order_type = Order.Type.MARKET
    side = "BUY"
    quantity = 100
    status = Order.Status.FILLED


class FillFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Fill

    order = factory.SubFactory(OrderFactory)
    book = factory.LazyAttribute(lambda f: f.order.book)
    exec_id = factory.Sequence(lambda n: f"EXEC-{n}")
    symbol = factory.LazyAttribute(lambda f: f.order.symbol)
    side = "BUY"
    quantity = 100
    price = Decimal("50.00")
    commission = Decimal("1.00")
    filled_at = factory.LazyFunction(lambda: datetime(2026, 11, 20, 15, 0, tzinfo=UTC))


class PositionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Position
        django_get_or_create = ("book", "symbol")

    book = factory.LazyFunction(default_book)
    symbol = factory.Sequence(lambda n: f"P{n}")
    quantity = 100
    average_cost = Decimal("50.00")


def bracket_request(symbol: str, quantity: int, *, ref: str, stop: str, target: str) -> BracketRequest:
    """A long bracket as the pipeline sends one: market entry, stop and limit target; every leg's
    ref starts with `ref`, so brackets of one test never share a key."""

    def leg(name, side, order_type, **prices):
        return OrderRequest(f"{ref}-{name}", name, symbol, side, order_type, quantity, **prices)

    return BracketRequest(
        entry=leg("entry", "BUY", "MKT"),
        stop=leg("stop", "SELL", "STP", stop_price=Decimal(stop)),
        target=leg("target", "SELL", "LMT", limit_price=Decimal(target)),
    )

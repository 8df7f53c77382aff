"""Reconciling the book with the broker. It reports; it never changes trades or positions.

Each book is reconciled alone: expected positions come from that book's own fills (entries
minus exits, dry runs excluded) and our position's average cost and mark; actual ones from the broker.
Orders are matched both ways by orderRef, by presence and by status: an order working at
the broker that the book calls done (or never sent), and one the book calls working that
the broker has finished, are findings of their own.
"""

import json
from dataclasses import dataclass
from decimal import Decimal

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from trading.alerts import alert_raise
from trading.brokers import brokers
from trading.brokers.base import BrokerError
from trading.files import write_atomically
from trading.models import Alert, Book, Fill, Order, Position, Trade
from trading.money import ZERO, to_cents, to_money
from trading.prepared import Prepared
from trading.services.books import book_default, default_book_name

from .models import Discrepancy, ReconciliationRun

log = structlog.get_logger(__name__)
HUNDRED = Decimal(100)
SEVERITY = {
    Discrepancy.Kind.MISSING_AT_BROKER: Discrepancy.Severity.CRITICAL,
    Discrepancy.Kind.UNEXPECTED_AT_BROKER: Discrepancy.Severity.CRITICAL,
    Discrepancy.Kind.QUANTITY_MISMATCH: Discrepancy.Severity.CRITICAL,
    Discrepancy.Kind.AVG_COST_DRIFT: Discrepancy.Severity.WARNING,
    Discrepancy.Kind.ORDER_MISSING_AT_BROKER: Discrepancy.Severity.HIGH,
    Discrepancy.Kind.ORDER_UNKNOWN_TO_US: Discrepancy.Severity.HIGH,
    # It can open or close a position nobody expects: the most dangerous order finding.
    Discrepancy.Kind.ORDER_WORKING_AT_BROKER_ONLY: Discrepancy.Severity.CRITICAL,
    Discrepancy.Kind.ORDER_DONE_AT_BROKER: Discrepancy.Severity.HIGH,
}
BOOK_WORKING = (Order.Status.SUBMITTED, Order.Status.WORKING, Order.Status.PARTIALLY_FILLED)
# Statuses after which the book expects nothing more of an order at the broker.
BOOK_DONE = (
    Order.Status.FILLED,
    Order.Status.CANCELLED,
    Order.Status.REJECTED,
    Order.Status.NOT_SENT,
    Order.Status.ERROR,
)


@dataclass(frozen=True)
class Finding:
    kind: str
    symbol: str
    expected: str
    actual: str
    detail: str
    order_ref: str = ""


def expected_quantities(*, book: Book) -> dict[str, int]:
    """Per symbol, what the book's fills say it holds (computed in the database)."""
    rows = _HELD_BY_FILLS(book=book.pk)
    return {row["symbol"]: (row["bought"] or 0) - (row["sold"] or 0) for row in rows}


def _position_findings(
    expected: dict[str, int], book: dict[str, Position], actual: dict, tolerance: Decimal
) -> list[Finding]:
    findings = []
    for symbol in sorted(set(expected) | set(actual)):
        want, held = expected.get(symbol, 0), actual.get(symbol)
        have = held.quantity if held else 0
        if want and not have:
            findings.append(
                Finding(Discrepancy.Kind.MISSING_AT_BROKER, symbol, str(want), "0", "we hold it; the broker does not")
            )
        elif have and not want:
            findings.append(
                Finding(
                    Discrepancy.Kind.UNEXPECTED_AT_BROKER,
                    symbol,
                    "0",
                    str(have),
                    "the broker holds it; our book does not",
                )
            )
        elif want != have:
            findings.append(
                Finding(Discrepancy.Kind.QUANTITY_MISMATCH, symbol, str(want), str(have), f"off by {have - want}")
            )
        elif want and symbol in book and held.average_cost:
            ours = book[symbol].average_cost
            drift = abs(held.average_cost - ours) / ours * HUNDRED if ours else HUNDRED
            if drift > tolerance:
                findings.append(
                    Finding(
                        Discrepancy.Kind.AVG_COST_DRIFT,
                        symbol,
                        str(ours),
                        str(held.average_cost),
                        f"average cost differs by {drift.quantize(Decimal('0.01'))}% (tolerance {tolerance}%)",
                    )
                )
    return findings


def _book_working_orders(*, book: Book) -> dict[str, Order]:
    return {o.client_order_ref: o for o in _WORKING_ORDERS(book=book.pk, statuses=list(BOOK_WORKING))}


def _broker_states_of(broker, orders: list[Order]) -> dict[str, object]:
    """What the broker says (open or done) of these orders, by our ref."""
    if not orders:
        return {}
    ids = {o.broker_order_id: o.client_order_ref for o in orders if o.broker_order_id}
    found = broker.find_orders([o.client_order_ref for o in orders], broker_order_ids=ids)
    return {state.order_ref: state for state in found}


def _order_findings(*, ours: dict[str, Order], broker_orders, done_at_broker: dict) -> list[Finding]:
    """`ours`: the book's working orders; `broker_orders`: the broker's working orders;
    `done_at_broker`: what the broker says of our working orders it does not list as working."""
    at_broker = {o.order_ref: o for o in broker_orders if o.order_ref}
    findings = []
    for ref, order in sorted(ours.items()):
        if ref in at_broker:
            continue
        state = done_at_broker.get(ref)
        if state is not None and state.status in BOOK_DONE:
            findings.append(
                Finding(
                    Discrepancy.Kind.ORDER_DONE_AT_BROKER,
                    order.symbol,
                    order.status,
                    state.status,
                    f"{order.side} {order.quantity} {order.order_type}: the broker has it {state.status}",
                    order_ref=ref,
                )
            )
        else:
            findings.append(
                Finding(
                    Discrepancy.Kind.ORDER_MISSING_AT_BROKER,
                    order.symbol,
                    order.status,
                    "not open at broker",
                    f"{order.side} {order.quantity} {order.order_type}",
                    order_ref=ref,
                )
            )
    book = {
        o.client_order_ref: o
        for o in Order.objects.filter(client_order_ref__in=[ref for ref in at_broker if ref not in ours])
    }
    for state in broker_orders:
        order = book.get(state.order_ref) if state.order_ref else None
        if state.order_ref in ours:
            continue
        if order is None:
            identity = state.order_ref or f"broker:{state.broker_order_id}"
            findings.append(
                Finding(
                    Discrepancy.Kind.ORDER_UNKNOWN_TO_US,
                    state.symbol,
                    "no such order in our book",
                    state.status,
                    f"{state.side} {state.quantity} {state.order_type} (broker id {state.broker_order_id})",
                    order_ref=identity,
                )
            )
        elif order.dry_run or order.status in BOOK_DONE:
            book_says = "dry run, never sent" if order.dry_run else order.status
            findings.append(
                Finding(
                    Discrepancy.Kind.ORDER_WORKING_AT_BROKER_ONLY,
                    state.symbol,
                    book_says,
                    state.status,
                    f"{state.side} {state.quantity} {state.order_type} (broker id {state.broker_order_id}) is live "
                    "at the broker: it can open or close a position the book does not expect",
                    order_ref=state.order_ref,
                )
            )
    return findings


def _position_rows(expected: dict[str, int], book: dict[str, Position], actual: dict) -> tuple[list[dict], Decimal]:
    rows, total = [], ZERO
    for symbol in sorted(set(expected) | set(actual)):
        position, held = book.get(symbol), actual.get(symbol)
        unrealized = position.unrealized_pnl if position and position.quantity else ZERO
        total += unrealized
        rows.append(
            {
                "symbol": symbol,
                "expected_qty": expected.get(symbol, 0),
                "actual_qty": held.quantity if held else 0,
                "expected_avg_cost": str(position.average_cost) if position and position.quantity else None,
                "actual_avg_cost": str(held.average_cost) if held else None,
                "mark_price": str(position.mark_price) if position and position.mark_price is not None else None,
                "marked_at": position.marked_at.isoformat() if position and position.marked_at else None,
                "unrealized_pnl": str(to_cents(unrealized)),
            }
        )
    return rows, total


@transaction.atomic
def _record(run: ReconciliationRun, findings: list[Finding], now) -> list[tuple[Discrepancy, str]]:
    """Store the findings; returns the discrepancies that are news: new ones, and old ones seen again."""
    seen_ids, news = [], []
    for finding in findings:
        discrepancy, created = Discrepancy.objects.select_for_update().get_or_create(
            book_id=run.book_id,
            kind=finding.kind,
            symbol=finding.symbol,
            order_ref=finding.order_ref,
            defaults={
                "backend": run.backend,
                "severity": SEVERITY[finding.kind],
                "expected": finding.expected,
                "actual": finding.actual,
                "detail": finding.detail,
                "first_seen_run": run,
                "last_seen_run": run,
                "last_seen_at": now,
            },
        )
        if created:
            news.append((discrepancy, "new"))
        else:
            discrepancy.expected, discrepancy.actual, discrepancy.detail = (
                finding.expected,
                finding.actual,
                finding.detail,
            )
            discrepancy.last_seen_run, discrepancy.last_seen_at = run, now
            discrepancy.times_seen += 1
            if discrepancy.cleared_at is not None or discrepancy.review_status == Discrepancy.Review.RESOLVED:
                news.append((discrepancy, f"back, after clearing (run {str(run.run_id)[:8]})"))
                discrepancy.review_status = Discrepancy.Review.OPEN
                discrepancy.notes = (discrepancy.notes + f"\nReopened {now:%Y-%m-%d %H:%M} UTC: seen again.").strip()
            discrepancy.cleared_at = None
            discrepancy.save()
        trades = Trade.objects.filter(book_id=run.book_id, symbol=finding.symbol, dry_run=False).exclude(
            status__in=[Trade.Status.CANCELLED, Trade.Status.REJECTED]
        )
        discrepancy.trades.add(*trades.order_by("-created_at")[:20])
        seen_ids.append(discrepancy.pk)
    Discrepancy.objects.filter(book_id=run.book_id, cleared_at__isnull=True).exclude(pk__in=seen_ids).update(
        cleared_at=now
    )
    return news


def _alert_news(run: ReconciliationRun, news: list[tuple[Discrepancy, str]]) -> None:
    """One alert per discrepancy when it is new (or back), never once per reconciliation."""
    for discrepancy, what in news:
        alert_raise(
            event=Alert.Event.DISCREPANCY, book=run.book, once=True,
            key=f"discrepancy:{discrepancy.pk}:{'new' if what == 'new' else run.run_id}",
            title=f"book {run.book.name}: {discrepancy.get_kind_display()} in {discrepancy.symbol} ({what})",
            body=f"expected {discrepancy.expected or '–'}, broker {discrepancy.actual or '–'}. {discrepancy.detail}",
        )  # fmt: skip


def reconciliation_run(*, book: Book | None = None, trigger: str = "manual") -> ReconciliationRun:
    """Compare one book (default: the default book) with its broker account; store the run, its
    discrepancies and the JSON file. Never raises for what it finds: a broker that cannot be
    reached gives status 'error'."""
    book = book or book_default()
    backend = brokers.name_of(book.broker_alias)
    run = ReconciliationRun.objects.create(book=book, backend=backend, trigger=trigger)
    try:
        with brokers.create_for(book) as broker:
            actual = {p.symbol: p for p in broker.positions() if p.quantity}
            broker_orders = broker.open_orders()
            ours = _book_working_orders(book=book)
            working_refs = {o.order_ref for o in broker_orders}
            done_at_broker = _broker_states_of(broker, [o for ref, o in ours.items() if ref not in working_refs])
    except BrokerError as exc:
        run.status, run.error, run.finished_at = (
            ReconciliationRun.Status.ERROR,
            f"broker unreachable: {exc}",
            timezone.now(),
        )
        run.save()
        reconciliation_write_file(run)
        log.warning("reconciliation_broker_error", error=str(exc))
        alert_raise(
            event=Alert.Event.BROKER_DOWN, book=book, key=f"broker-down:{book.pk}",
            title=f"book {book.name}: broker unreachable at reconciliation", body=str(exc),
        )  # fmt: skip
        return run
    expected = {s: q for s, q in expected_quantities(book=book).items() if q}
    ours_held = {p.symbol: p for p in _POSITIONS(book=book.pk, symbols=sorted(set(expected) | set(actual)))}
    tolerance = Decimal(str(settings.TRADE_LABS_RECONCILIATION["average_cost_tolerance_pct"]))
    findings = _position_findings(expected, ours_held, actual, tolerance) + _order_findings(
        ours=ours, broker_orders=broker_orders, done_at_broker=done_at_broker
    )
    now = timezone.now()
    news = _record(run, findings, now)
    run.positions, total = _position_rows(expected, ours_held, actual)
    run.unrealized_pnl_total = to_money(total)
    run.discrepancy_count = len(findings)
    run.status = ReconciliationRun.Status.DISCREPANCIES if findings else ReconciliationRun.Status.CLEAN
    run.finished_at = now
    run.save()
    reconciliation_write_file(run)
    _alert_news(run, news)
    log.info("reconciliation_finished", status=run.status, discrepancies=len(findings))
    return run


def reconciliation_summary(run: ReconciliationRun) -> dict:
    discrepancies = (
        run.discrepancies.filter(last_seen_run=run).order_by("kind", "symbol") if run.status != "error" else []
    )
    return {
        "run_id": str(run.run_id),
        "status": run.status,
        "book": run.book.name,
        "backend": run.backend,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "error": run.error or None,
        "positions": run.positions,
        "unrealized_pnl_total": str(to_cents(run.unrealized_pnl_total)),
        "discrepancies": [
            {
                "id": d.pk,
                "kind": d.kind,
                "severity": d.severity,
                "symbol": d.symbol,
                "order_ref": d.order_ref or None,
                "expected": d.expected,
                "actual": d.actual,
                "detail": d.detail,
                "review_status": d.review_status,
                "times_seen": d.times_seen,
                "first_seen_at": d.first_seen_at.isoformat(),
            }
            for d in discrepancies
        ],
    }


def reconciliation_write_file(run: ReconciliationRun) -> None:
    directory = settings.TRADE_LABS_REPORTS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (
        "position_reconciliation.json"
        if run.book.name == default_book_name()
        else f"position_reconciliation_{run.book.name}.json"
    )
    write_atomically(path, json.dumps(reconciliation_summary(run), indent=2))


@transaction.atomic
def discrepancies_set_review(*, ids, status: str, note: str = "") -> int:
    """A person's decision on discrepancies (acknowledge or resolve), with an optional note."""
    updated = 0
    for discrepancy in Discrepancy.objects.select_for_update().filter(pk__in=ids):
        discrepancy.review_status = status
        if note:
            discrepancy.notes = (discrepancy.notes + "\n" + note).strip()
        discrepancy.save(update_fields=["review_status", "notes"])
        updated += 1
    return updated


# What every reconciliation reads of the book, built once (see trading.prepared).
_HELD_BY_FILLS = Prepared(
    lambda book: (
        Fill.objects.filter(book_id=book, order__dry_run=False)
        .values("symbol")
        .annotate(bought=Sum("quantity", filter=Q(side="BUY")), sold=Sum("quantity", filter=Q(side="SELL")))
    )
)
_WORKING_ORDERS = Prepared(
    lambda book, statuses: Order.objects.filter(book_id=book, dry_run=False, status__in=statuses).order_by("id")
)
_POSITIONS = Prepared(lambda book, symbols: Position.objects.filter(book_id=book, symbol__in=symbols))

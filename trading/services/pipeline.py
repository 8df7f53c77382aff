"""scan → score → execute: one pipeline run, recorded from start to finish.

The run row is committed first (so a crash leaves a trace), every order intent is
committed before it is sent, and every outcome is stored on the run, the candidate or
the order where a person will see it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import structlog
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.utils import timezone

from trading import sessions
from trading.alerts import alert_raise
from trading.brokers import brokers
from trading.brokers.base import (
    BaseBroker,
    BracketRequest,
    BracketResult,
    BrokerError,
    OrderRequest,
    SafetyError,
)
from trading.bulk import objects_create, rows_update
from trading.failpoints import failpoint
from trading.models import Alert, ArmRecord, Book, Candidate, Order, PipelineRun, Trade
from trading.prepared import Prepared, PreparedUpdate
from trading.scoring import Rejection, ScoringConfig, score_quote
from trading.symbols import symbol_is_valid

from .arming import arm_active
from .book import (
    fill_record_local,
    order_apply_states,
    order_mark,
    order_ref_for,
    trade_record_intent,
    trades_record_intents,
)
from .books import book_clock_advance, book_clock_refuse_earlier, book_default
from .risk import RiskConfig, RiskGate, plan_long_entry
from .runs import current_worker, process_is_gone, run_alive_reason
from .sync import book_apply_executions, book_sync, orders_recover

log = structlog.get_logger(__name__)


class AlreadyRunning(Exception):
    """Another pipeline run holds the book's running place, or the slot."""


class RunStillRunning(Exception):
    """The run is alive: only it may send or release its orders."""


class DatabaseUnavailable(Exception):
    """The database failed under the run. Every order sent had its intent recorded first, so
    the next run (or `run_pipeline`'s recovery) adopts or releases what was in flight."""


@dataclass(frozen=True)
class RunOptions:
    top_n: int | None = None
    spy_only: bool = False
    at: datetime | None = None
    trigger: str = PipelineRun.Trigger.MANUAL
    slot: str | None = None


def ensure_paper_mode() -> None:
    mode = str(settings.TRADE_LABS_MODE).strip().upper()
    if mode != "PAPER":
        raise SafetyError(
            f"TRADE_LABS_MODE={settings.TRADE_LABS_MODE!r} refused: Trade Labs trades paper accounts only "
            "(set TRADE_LABS_MODE=PAPER)."
        )


def _slot_taken(book: Book, slot: str) -> AlreadyRunning | None:
    holder = PipelineRun.objects.filter(book=book, slot=slot).first()
    if holder is None:
        return None
    if holder.status == PipelineRun.Status.RUNNING:
        return AlreadyRunning(f"already running: slot {slot} is held by run {holder.short_id}")
    return AlreadyRunning(f"already ran: slot {slot} was taken by run {holder.short_id} ({holder.status})")


def run_start(
    *,
    book: Book,
    backend: str,
    armed: bool,
    trigger: str,
    parameters: dict,
    slot: str | None = None,
    arm: ArmRecord | None = None,
) -> PipelineRun:
    """Claim the book's single running place (and the slot, if any), retiring a run whose process died."""
    now = timezone.now()
    lease = timedelta(seconds=settings.TRADE_LABS_RUN_LEASE_SECONDS)
    try:
        with transaction.atomic():
            # A slot already taken is found by its unique constraint at the insert (IntegrityError
            # below), not looked up first: the usual claim is one statement fewer.
            for running in _RUNNING_LOCKED(book=book.pk):
                dead = process_is_gone(running.parameters.get("worker", {}))
                expired = running.lease_expires_at is not None and running.lease_expires_at < now
                if not (dead or expired):
                    # A live run holds the book: name the slot if it (or another run) holds it too.
                    raise (slot and _slot_taken(book, slot)) or AlreadyRunning(
                        f"already running: run {running.short_id} in book {book.name} started "
                        f"{timezone.localtime(running.started_at):%Y-%m-%d %H:%M:%S %Z}; try again when it finishes"
                    )
                running.status = PipelineRun.Status.FAILED
                running.finished_at = now
                running.error = (
                    "abandoned: its process stopped before finishing; its orders are recovered by the next run"
                )
                running.save(update_fields=["status", "finished_at", "error"])
            return PipelineRun.objects.create(
                book=book,
                backend=backend,
                broker_alias=book.broker_alias,
                armed=armed,
                arm=arm,
                trigger=trigger,
                slot=slot or None,
                mode=str(settings.TRADE_LABS_MODE).upper(),
                lease_expires_at=now + lease,
                parameters={**parameters, "worker": current_worker()},
            )
    except IntegrityError:
        taken = _slot_taken(book, slot) if slot else None
        raise taken or AlreadyRunning(f"already running: another run in book {book.name} started first") from None


def run_heartbeat(run: PipelineRun) -> None:
    """Renew the run's lease, at most once per tenth of it: a run sending five brackets in a
    second need not write its lease five times."""
    lease = timedelta(seconds=settings.TRADE_LABS_RUN_LEASE_SECONDS)
    now = timezone.now()
    if run.lease_expires_at is not None and run.lease_expires_at - now > lease * 0.9:
        return
    run.lease_expires_at = now + lease
    PipelineRun.objects.filter(pk=run.pk).update(lease_expires_at=run.lease_expires_at)


# Everything a run's steps change on the run after it started (the broker's account and the
# market moment are also written as soon as they are known).
RUN_OUTCOME_FIELDS = [
    "status", "error", "finished_at", "lease_expires_at", "dry_run", "account_id", "market_time", "market_time_label",
    "scanned_count", "scored_count", "rejected_count", "executed_count",
]  # fmt: skip


def run_finish(run: PipelineRun, *, status: str, error: str = "") -> None:
    run.status = status
    run.error = error[:5000]
    run.finished_at = timezone.now()
    run.lease_expires_at = None
    rows_update([run], RUN_OUTCOME_FIELDS)
    log.info("run_finished", status=status, error=error or None)


def run_configs(book: Book, *, top_n: int | None = None) -> tuple[RiskConfig, ScoringConfig]:
    """The settings' risk and scoring, with the book's own overrides (a replay's --top, --risk)."""
    overrides = book.parameters or {}
    risk = RiskConfig.from_settings(
        {**settings.TRADE_LABS_RISK, **overrides.get("risk", {})}, top_n=top_n or overrides.get("top_n")
    )
    scoring_settings = settings.TRADE_LABS_SCORING
    if overrides.get("scoring"):
        scoring_settings = {**scoring_settings, **overrides["scoring"]}
    return risk, ScoringConfig.from_settings(scoring_settings)


def pipeline_run(
    options: RunOptions | None = None, *, book: Book | None = None, now: datetime | None = None
) -> PipelineRun:
    """Run the pipeline once in `book` (default: the default book). Raises SafetyError and a
    refusal of the moment (both before any record) and AlreadyRunning; everything else is stored
    on the returned run."""
    options = options or RunOptions()
    book = book or book_default()
    ensure_paper_mode()
    now = now or timezone.now()
    backend_name = brokers.name_of(book.broker_alias)
    # Two keys: the environment allows arming, and a person armed this book until a moment.
    arm = arm_active(book=book) if settings.TRADE_LABS_ARMED else None
    armed = arm is not None
    risk, scoring = run_configs(book, top_n=options.top_n)
    parameters = {
        "book": book.name,
        "alias": book.broker_alias,
        "top_n": risk.top_n,
        "spy_only": options.spy_only,
        "at": options.at.isoformat() if options.at else None,
        "scanner": settings.TRADE_LABS_SCANNER,
        "risk": {k: str(v) for k, v in risk.__dict__.items()},
    }
    # A moment the book or its broker cannot trade (their clock has passed it) is refused before
    # anything is recorded; the broker is asked again, connected, inside the run.
    moment, _ = brokers.create_for(book).market_moment(options.at, now)
    book_clock_refuse_earlier(book=book, at=moment)
    try:
        run = run_start(
            book=book,
            backend=backend_name,
            armed=armed,
            arm=arm,
            trigger=options.trigger,
            parameters=parameters,
            slot=options.slot,
        )
    except DatabaseError as exc:
        raise DatabaseUnavailable(f"database unavailable, nothing was done: {_first_line(exc)}") from None
    structlog.contextvars.bind_contextvars(run_id=str(run.run_id))
    log.info("run_started", book=book.name, backend=backend_name, armed=armed, trigger=options.trigger)
    try:
        broker = brokers.create_for(book)
        with broker:
            _run_steps(run, broker, options=options, risk=risk, scoring=scoring, now=now)
    except DatabaseError as exc:
        _finish_after_database_error(run, exc)
    except SafetyError as exc:
        run_finish(run, status=PipelineRun.Status.FAILED, error=f"refused: {exc}")
    except BrokerError as exc:
        run_finish(run, status=PipelineRun.Status.FAILED, error=f"broker error: {exc}")
    except Exception as exc:  # stored on the run for a person to see; the log keeps the traceback
        log.exception("run_crashed")
        run_finish(run, status=PipelineRun.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
    finally:
        structlog.contextvars.unbind_contextvars("run_id")
    if run.status in (PipelineRun.Status.FAILED, PipelineRun.Status.PARTIAL):
        alert_raise(
            event=Alert.Event.RUN_FAILED, book=book, title=f"run {run.short_id} {run.status} in book {book.name}",
            body=run.error, key=f"run:{run.run_id}", once=True,
        )  # fmt: skip
    return run


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _finish_after_database_error(run: PipelineRun, exc: DatabaseError) -> None:
    """Record the failure on the run if the database answers again; otherwise say so and stop."""
    message = f"database error mid-run: {_first_line(exc)}"
    log.error("run_database_error", error=message)
    try:
        connections["default"].close()  # a broken connection is replaced on next use
        run_finish(run, status=PipelineRun.Status.FAILED, error=message)
    except DatabaseError as second:
        raise DatabaseUnavailable(
            f"{message}; the run could not be marked failed ({_first_line(second)}): "
            "the next run retires it and recovers its orders"
        ) from None


def _run_steps(run, broker: BaseBroker, *, options: RunOptions, risk: RiskConfig, scoring: ScoringConfig, now):
    dry_run = broker.sends_real_orders and not run.armed
    if broker.sends_real_orders:
        account = broker.account()
        if not account.is_paper:
            raise SafetyError(f"account {account.account_id} is not a paper account; live trading is refused")
    run.dry_run = dry_run
    run.account_id = broker.account_id
    moment, label = broker.market_moment(options.at, now)
    book_clock_refuse_earlier(book=run.book, at=moment)
    run.market_time, run.market_time_label = moment, label
    rows_update([run], ["dry_run", "account_id", "market_time", "market_time_label"])

    broker.advance_to(moment)
    book_clock_advance(book=run.book, at=moment)
    orders_recover(broker=broker, book=run.book, exclude_run_id=run.run_id)
    book_sync(broker=broker, book=run.book)
    run_heartbeat(run)

    scanner = settings.TRADE_LABS_SCANNER
    results = broker.scan(
        at=moment,
        scan_code=scanner["scan_code"],
        above_price=Decimal(str(scanner["above_price"])),
        above_volume=int(scanner["above_volume"]),
        max_results=int(scanner["max_results"]),
        spy_only=options.spy_only,
    )
    results = _unique_by_symbol(results)
    run.scanned_count = len(results)
    quotes = broker.quotes([r.symbol for r in results], at=moment)
    chosen = _score_candidates(run, results, quotes, now=moment, scoring=scoring, risk=risk)
    run_heartbeat(run)

    failures = _execute(run, broker, chosen, risk=risk, dry_run=dry_run, moment=moment)
    # Only the chosen can have been executed, and their objects carry their outcome; run_finish
    # saves the counts with the rest of the run.
    run.executed_count = sum(1 for c in chosen if c.status == Candidate.Status.EXECUTED)
    run_finish(
        run,
        status=PipelineRun.Status.PARTIAL if failures else PipelineRun.Status.SUCCEEDED,
        error="; ".join(failures),
    )


def _unique_by_symbol(results):
    """A scanner may repeat a symbol (IB does across pages); the best rank stands. A result that
    is not a ticker symbol is dropped (logged), never stored."""
    seen = set()
    unique = []
    for result in sorted(results, key=lambda r: r.rank):
        if not symbol_is_valid(result.symbol):
            log.warning("scan_result_dropped", symbol=str(result.symbol)[:40], reason="not a ticker symbol")
            continue
        if result.symbol not in seen:
            seen.add(result.symbol)
            unique.append(result)
    return unique


def _score_candidates(run, results, quotes, *, now, scoring, risk: RiskConfig) -> list[Candidate]:
    """Store every scanned symbol as a candidate, with its score or why it was rejected, and
    return the top N to execute (the others say why they were passed over)."""
    rows = []
    for result in results:
        quote = quotes.get(result.symbol)
        outcome = (
            score_quote(quote, rank=result.rank, now=now, config=scoring) if quote else Rejection("no quote returned")
        )
        fields = {}
        if quote is not None:
            fields = {
                "bid": _storable(quote.bid),
                "ask": _storable(quote.ask),
                "last": _storable(quote.last),
                "prev_close": _storable(quote.prev_close),
                "volume": quote.volume if quote.volume is None or 0 <= quote.volume < 2**62 else None,
                "quote_time": quote.time,
            }
        if isinstance(outcome, Rejection):
            rows.append(
                Candidate(
                    run=run,
                    book_id=run.book_id,
                    symbol=result.symbol,
                    scanner_rank=result.rank,
                    status=Candidate.Status.REJECTED,
                    reason=outcome.reason[:300],
                    **fields,
                )
            )
        else:
            rows.append(
                Candidate(
                    run=run,
                    book_id=run.book_id,
                    symbol=result.symbol,
                    scanner_rank=result.rank,
                    status=Candidate.Status.ACCEPTED,
                    score=outcome.total,
                    score_price=outcome.price,
                    score_spread=outcome.spread,
                    score_rank=outcome.rank,
                    **fields,
                )
            )
    chosen = _choose_top(rows, risk)
    with transaction.atomic():
        objects_create(rows)
    run.rejected_count = sum(1 for c in rows if c.status == Candidate.Status.REJECTED)
    run.scored_count = len(rows) - run.rejected_count
    if chosen and chosen[0].pk is None:  # an SQLite older than 3.35 returns no ids from a bulk insert
        stored = {c.symbol: c for c in Candidate.objects.filter(run=run, symbol__in=[c.symbol for c in chosen])}
        chosen = [stored[c.symbol] for c in chosen]
    return chosen


def _choose_top(candidates: list[Candidate], risk: RiskConfig) -> list[Candidate]:
    """The accepted candidates to execute, best first; the others get the reason they were
    passed over (stored with them, in the same insert)."""
    scored = sorted(
        (c for c in candidates if c.status == Candidate.Status.ACCEPTED),
        key=lambda c: (-c.score, c.scanner_rank, c.symbol),
    )
    eligible = [c for c in scored if c.score >= risk.min_score]
    for candidate in scored:
        if candidate.score < risk.min_score:
            candidate.reason = f"score {candidate.score} below minimum {risk.min_score}"
    for candidate in eligible[risk.top_n :]:
        candidate.reason = f"not in the top {risk.top_n}"
    return eligible[: risk.top_n]


def _storable(value):
    """A price that fits the column, or None (the rejection reason says what was wrong with it)."""
    if value is None:
        return None
    try:
        value = Decimal(str(value))
    except ArithmeticError:
        return None
    if not value.is_finite() or value <= 0 or value >= Decimal("1e10"):
        return None
    return value.quantize(Decimal("0.0001"))


def _mark_candidate(candidate: Candidate, status: str, reason: str = "") -> None:
    """The candidate's outcome, in memory (the caller writes it, alone or with others)."""
    candidate.status = status
    candidate.reason = reason[: Candidate._meta.get_field("reason").max_length]


def _set_candidate(candidate: Candidate, status: str, reason: str = "") -> None:
    _mark_candidate(candidate, status, reason)
    candidate.save(update_fields=["status", "reason"])


def _execute(run, broker, chosen: list[Candidate], *, risk: RiskConfig, dry_run: bool, moment) -> list[str]:
    """Size each chosen candidate and check it against the risk limits, then execute the
    brackets that pass. Returns the problems, one line per failed candidate."""
    gate = RiskGate(
        book=run.book,
        config=risk,
        dry_run=dry_run,
        now=moment,
        quotes_for=lambda symbols: broker.quotes(symbols, at=moment),
    )
    planned, skipped = [], []
    for candidate in chosen:
        plan = plan_long_entry(ask=candidate.ask, config=risk)
        refusal = plan if isinstance(plan, str) else gate.refusal(symbol=candidate.symbol, plan=plan)
        if refusal:
            _mark_candidate(candidate, Candidate.Status.SKIPPED, refusal)
            skipped.append(candidate)
            continue
        gate.accept(symbol=candidate.symbol, plan=plan)
        planned.append(_Bracket(candidate, _bracket_for(run, candidate, plan)))
    if gate.halted:
        day = sessions.to_new_york(moment).date()
        alert_raise(
            event=Alert.Event.LOSS_HALT, book=run.book, title=f"book {run.book.name}: new entries halted on {day}",
            body=gate.halted, key=f"loss-halt:{run.book.pk}:{day.isoformat()}", once=True,
        )  # fmt: skip
    # One statement for the refusals (names already held, limits reached), not one commit each.
    rows_update(skipped, ["status", "reason"])
    return _execute_brackets(run, broker, planned, dry_run=dry_run, moment=moment)


@dataclass
class _Bracket:
    """One candidate's bracket on its way through execution."""

    candidate: Candidate
    request: BracketRequest
    trade: Trade | None = None
    result: BracketResult | None = None
    problem: str = ""


def _bracket_for(run, candidate, plan) -> BracketRequest:
    def leg(name, side, order_type, limit=None, stop=None):
        return OrderRequest(
            order_ref=order_ref_for(run=run, symbol=candidate.symbol, leg=name),
            leg=name,
            symbol=candidate.symbol,
            side=side,
            order_type=order_type,
            quantity=plan.quantity,
            limit_price=limit,
            stop_price=stop,
        )

    return BracketRequest(
        entry=leg(Order.Leg.ENTRY, "BUY", Order.Type.MARKET),
        stop=leg(Order.Leg.STOP, "SELL", Order.Type.STOP, stop=plan.stop),
        target=leg(Order.Leg.TARGET, "SELL", Order.Type.LIMIT, limit=plan.target),
    )


def _execute_brackets(run, broker, planned: list[_Bracket], *, dry_run: bool, moment) -> list[str]:
    """Every intent is recorded before the first order leaves; then each bracket is sent (or
    filled locally when dry); then the broker's answers are recorded, all brackets together.
    A bracket already sent under the same key is adopted, never sent again."""
    to_send = _record_intents(run, broker, planned, dry_run=dry_run)
    failpoint("after_intent_recorded")
    try:
        if dry_run:
            for item in to_send:
                _fill_locally(item.trade, item.candidate, moment)
                _set_candidate(
                    item.candidate, Candidate.Status.EXECUTED, "dry run: filled locally, nothing sent to the broker"
                )
        else:
            _send(run, broker, to_send, moment=moment)
    finally:
        # What was sent is recorded even when a safety refusal stops the brackets after it.
        _record_outcomes([item for item in to_send if item.result is not None])
    return [f"{item.candidate.symbol}: {item.problem}" for item in planned if item.problem]


def _record_intents(run, broker, planned: list[_Bracket], *, dry_run: bool) -> list[_Bracket]:
    """Store the intents of the brackets never recorded (in one transaction), pick up the trade
    of those recorded but never sent, adopt those already sent. Returns the ones to send."""
    refs = [item.request.entry.order_ref for item in planned]
    known = {entry.client_order_ref: entry for entry in _ORDERS_BY_REF(refs=refs)}
    fresh = []
    for item in planned:
        entry = known.get(item.request.entry.order_ref)
        if entry is not None and _adopt_existing(broker, entry, item.request):
            _set_candidate(
                item.candidate, Candidate.Status.EXECUTED, "already sent under the same key; adopted, not resent"
            )
        elif entry is not None and entry.trade is not None:
            item.trade = entry.trade
        else:
            fresh.append(item)
    _record_new_intents(run, fresh, dry_run=dry_run)
    return [item for item in planned if item.trade is not None]


def _record_new_intents(run, fresh: list[_Bracket], *, dry_run: bool) -> None:
    if not fresh:
        return
    try:
        trades = trades_record_intents(
            run=run, brackets=[(i.candidate, i.request) for i in fresh], backend=run.backend, dry_run=dry_run
        )
    except IntegrityError:
        # One of them clashes with what is stored: record them one by one, so only it is skipped.
        trades = [_record_one_intent(run, item, dry_run=dry_run) for item in fresh]
    for item, trade in zip(fresh, trades, strict=True):
        item.trade = trade


def _record_one_intent(run, item: _Bracket, *, dry_run: bool) -> Trade | None:
    try:
        return trade_record_intent(
            run=run, candidate=item.candidate, bracket=item.request, backend=run.backend, dry_run=dry_run
        )
    except IntegrityError as exc:
        _set_candidate(item.candidate, Candidate.Status.SKIPPED, f"not recorded: {exc}")
        return None


def _send(run, broker, items: list[_Bracket], *, moment) -> None:
    """Hand the brackets to the broker; keep each one's answer as it comes, and record a refusal
    on its trade and candidate at once. A SafetyError stops the rest (raised by the broker)."""
    outcomes = broker.place_brackets([item.request for item in items], at=moment)
    for item, outcome in zip(items, outcomes, strict=True):
        if isinstance(outcome, BrokerError):
            item.problem = _record_send_failure(item.trade, item.candidate, outcome)
        else:
            item.result = outcome
            failpoint("after_send")
        run_heartbeat(run)


def _record_outcomes(sent: list[_Bracket]) -> None:
    """The order states and fills the broker reported for the brackets sent, then each
    candidate's outcome (executed, or failed with the reason its entry did not stand)."""
    if not sent:
        return
    order_apply_states(states=[state for item in sent for state in item.result.orders])
    failpoint("after_ack_recorded")
    book_apply_executions(executions=[execution for item in sent for execution in item.result.executions])
    failpoint("after_fill_recorded")
    ended = {
        pk: reason or f"entry {status}"
        for pk, status, reason in _ENDED_TRADES(ids=[item.trade.pk for item in sent], statuses=ENDED_UNFILLED)
    }
    unconfirmed = _unconfirmed_refs([item.trade.pk for item in sent])
    for item in sent:
        item.problem = ended.get(item.trade.pk, "") or _unconfirmed_problem(unconfirmed.get(item.trade.pk))
        if item.problem:
            _set_candidate(item.candidate, Candidate.Status.FAILED, item.problem)
        else:
            _mark_candidate(item.candidate, Candidate.Status.EXECUTED)
    _CANDIDATES_EXECUTED(ids=[item.candidate.pk for item in sent if not item.problem])


def _unconfirmed_refs(trade_ids: list[int]) -> dict[int, list[str]]:
    """Per trade, the refs of its orders the broker answered for but the book still holds as
    intents: the broker's report could not be matched to them, so nobody knows their state."""
    unconfirmed: dict[int, list[str]] = {}
    for trade_id, ref in _INTENTS_OF_TRADES(trade_ids=trade_ids):
        unconfirmed.setdefault(trade_id, []).append(ref)
    return unconfirmed


def _unconfirmed_problem(refs: list[str] | None) -> str:
    if not refs:
        return ""
    return f"not confirmed by the broker: {', '.join(refs)} (the next run adopts or releases them by ref)"


def _adopt_existing(broker, entry: Order, bracket: BracketRequest) -> bool:
    """True when this bracket was already sent: never send it again, take the broker's word."""
    if entry.status != Order.Status.INTENT or entry.dry_run:
        return True
    refs = {leg.order_ref for leg in bracket.legs}
    held = broker.find_orders(sorted(refs))
    executed = [e for e in broker.executions() if e.order_ref in refs]
    order_apply_states(states=held)
    book_apply_executions(executions=executed)
    return bool(held or executed)


def _record_send_failure(trade, candidate, exc: BrokerError) -> str:
    if exc.permanent:
        for order in trade.orders.filter(status=Order.Status.INTENT).order_by("id"):
            order_mark(order=order, status=Order.Status.REJECTED, message=str(exc))
        reason = f"rejected by broker: {exc}"
    else:
        # Outcome unknown: the intent stays, and recovery adopts or releases it by its ref.
        pending = list(trade.orders.filter(status=Order.Status.INTENT).order_by("id"))
        for order in pending:
            order.error = f"send outcome unknown: {exc}"[:300]
            order.save(update_fields=["error", "updated_at"])
        refs = ", ".join(order.client_order_ref for order in pending)
        reason = f"send outcome unknown ({exc}) for {refs}; the next run adopts or releases them"
    _set_candidate(candidate, Candidate.Status.FAILED, reason)
    return reason


def _fill_locally(trade: Trade, candidate: Candidate, moment) -> None:
    """Dry run: the entry fills at the quoted ask, recorded as a local execution."""
    entry = trade.orders.get(leg=Order.Leg.ENTRY)
    order_mark(order=entry, status=Order.Status.WORKING, message="dry run: not sent")
    fill_record_local(order=entry, price=candidate.ask, at=candidate.quote_time or moment)
    for child in trade.orders.exclude(leg=Order.Leg.ENTRY):
        order_mark(order=child, status=Order.Status.WORKING, message="dry run: held locally, not sent")


def pipeline_retry(*, run_id, now: datetime | None = None) -> PipelineRun:
    """Finish what a failed or partial run left undone, through the broker it traded, with its
    original idempotency keys: intents the broker already holds are adopted, the rest released;
    nothing is sent twice. A run that is still alive is refused (RunStillRunning): its intents
    may be on their way to the broker."""
    ensure_paper_mode()
    run = PipelineRun.objects.get(run_id=run_id)
    alive = run_alive_reason(run, now=now)
    if alive:
        raise RunStillRunning(
            f"run {run.short_id} is still running ({alive}); retry when it has finished, or once its "
            "process has stopped and its lease has run out"
        )
    run_broker_alias(run)
    with brokers.create_for(run.book) as broker:
        result = orders_recover(broker=broker, book=run.book)
        book_sync(broker=broker, book=run.book)
    log.info("run_retried", run_id=str(run.run_id), **result)
    return run


def run_broker_alias(run: PipelineRun) -> str:
    """The alias the run traded through (see `brokers.alias_of_record`); never the default backend."""
    return brokers.alias_of_record(run.broker_alias, run.backend)


ENDED_UNFILLED = [Trade.Status.REJECTED, Trade.Status.CANCELLED]

# What every run reads and writes of the book, built once (see trading.prepared).
_RUNNING_LOCKED = Prepared(
    lambda book: PipelineRun.objects.select_for_update().filter(book_id=book, status=PipelineRun.Status.RUNNING)
)
_ORDERS_BY_REF = Prepared(lambda refs: Order.objects.filter(client_order_ref__in=refs))
_ENDED_TRADES = Prepared(
    lambda ids, statuses: Trade.objects.filter(pk__in=ids, status__in=statuses).values_list(
        "pk", "status", "status_reason"
    )
)
_CANDIDATES_EXECUTED = PreparedUpdate(
    lambda ids: Candidate.objects.filter(pk__in=ids), status=Candidate.Status.EXECUTED, reason=""
)
_INTENTS_OF_TRADES = Prepared(
    lambda trade_ids: (
        Order.objects.filter(trade_id__in=trade_ids, status=Order.Status.INTENT)
        .order_by("id")
        .values_list("trade_id", "client_order_ref")
    )
)

"""python manage.py replay --from YYYY-MM-DD --to YYYY-MM-DD [--book NAME] [--market synthetic|SET] [--json] ..."""

import gc
import json
import logging
import sys
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from reporting.selectors import period_from_month, stats_summary
from trading.brokers.base import BrokerError
from trading.cli import parse_day
from trading.models import SYNTHETIC_MARKET, Book
from trading.money import format_money
from trading.schedule.plan import ScheduleConfig
from trading.services.books import BookInvalid, book_create
from trading.services.replay import ReplayRefused, replay_check, replay_check_range, replay_run
from trading.sessions import NEW_YORK

RISK_OVERRIDES = ("stop_pct", "target_pct", "min_score", "max_open_positions", "notional_per_trade")


class Command(BaseCommand):
    help = (
        "Replay past NYSE sessions into a SIM book with the scheduler's own plan and jobs (scans, marks, "
        "reconciliation, report) on the book's simulated clock. A new book is made; an existing one continues "
        "from its clock. Interrupted, it is continued by running the same command again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", required=True, help="First day, YYYY-MM-DD.")
        parser.add_argument("--to", dest="end", required=True, help="Last day, YYYY-MM-DD (included).")
        parser.add_argument("--book", default="replay", help="The book to replay into (default: replay).")
        parser.add_argument(
            "--market",
            default=SYNTHETIC_MARKET,
            help="For a new book: 'synthetic' (the seeded market) or an imported bar set (import_bars --into SET).",
        )
        parser.add_argument("--seed", type=int, help="For a new synthetic book: the market's seed.")
        parser.add_argument("--top", type=int, help="For a new book: candidates executed per scan.")
        parser.add_argument("--mark-every", type=int, help="Minutes between marks (default: the schedule's).")
        parser.add_argument(
            "--flatten-minutes", type=int, help="For a new book: close every trade N minutes before the close."
        )
        for name in RISK_OVERRIDES:
            parser.add_argument(f"--{name.replace('_', '-')}", dest=name, help=f"For a new book: risk {name}.")
        parser.add_argument(
            "--json", action="store_true", help="Quiet; print the book's statistics as JSON at the end."
        )

    def handle(self, *args, **options):
        start, end = parse_day(options["start"], option="--from"), parse_day(options["end"], option="--to")
        try:
            # Refused before a new book is made: a bad range leaves nothing behind.
            replay_check_range(start=start, end=end)
            book = Book.objects.filter(name=options["book"]).first() or self._new_book(options)
            replay_check(book=book, start=start, end=end)
        except ReplayRefused as exc:
            raise CommandError(str(exc)) from None
        raw = dict(settings.TRADE_LABS_SCHEDULE)
        if options["mark_every"]:
            raw["mark_every_minutes"] = options["mark_every"]
        config = ScheduleConfig.from_settings(raw)
        progress = self._progress(book, start, end, config, quiet=options["json"])
        root = logging.getLogger()
        level = root.level
        if options["verbosity"] < 2:
            # A year replays ~20,000 jobs: their routine lines would bury the warnings (-v 2 keeps them).
            root.setLevel(max(level, logging.WARNING))
        try:
            with _fewer_collections():
                result = replay_run(book=book, start=start, end=end, config=config, on_occurrence=progress.step)
        except KeyboardInterrupt:
            progress.close()
            raise CommandError(
                f"interrupted; book {book.name!r} stands consistent at {_clock(book)}. Run the same command to "
                "continue from there (a job cut off mid-way is recovered: its orders adopted or released, never "
                "resent).",
                returncode=130,
            ) from None
        except BrokerError as exc:
            # Recorded on the job's slot as failed; the book stands as the last finished job left it.
            raise CommandError(f"replay stopped: {exc}; book {book.name!r} stands at {_clock(book)}") from None
        finally:
            root.setLevel(level)
            progress.close()
        summary = stats_summary(book=book, period=period_from_month(None))
        if options["json"]:
            payload = {"book": book.name, "sessions": result.sessions, "jobs_run": result.jobs_run,
                       "jobs_already_done": result.jobs_already_done, "failed": result.failed,
                       "interrupted_recovered": result.interrupted_recovered, "stats": summary}  # fmt: skip
            self.stdout.write(json.dumps(payload, indent=2))
            return
        self.stdout.write(
            f"Book {book.name}: {result.sessions} sessions, {result.jobs_run} jobs run, "
            f"{result.jobs_already_done} already done; clock {summary['clock']}"
        )
        self.stdout.write(
            f"Closed trades {summary['trade_count']}, net P&L {format_money(summary['net_pnl'])}, "
            f"equity {format_money(summary['equity_end'])}, "
            f"max drawdown {summary['equity_max_drawdown_pct']}% of peak, Sharpe {summary['equity_sharpe_ratio']}"
        )
        for line in result.interrupted_recovered:
            self.stdout.write(f"  recovered, cut off by the last interruption: {line}")
        for line in result.failed:
            self.stdout.write(f"  failed: {line}")
        self.stdout.write(
            f"See: manage.py stats --book {book.name}, and the admin's Statistics page (?book={book.name})."
        )

    def _new_book(self, options) -> Book:
        parameters = {}
        if options["top"]:
            parameters["top_n"] = options["top"]
        risk = {name: options[name] for name in RISK_OVERRIDES if options[name] is not None}
        if options["flatten_minutes"] is not None:
            risk["flatten_minutes_before_close"] = options["flatten_minutes"]
        for name, value in risk.items():
            try:
                Decimal(str(value))
            except InvalidOperation:
                raise CommandError(f"--{name.replace('_', '-')} {value!r} is not a number") from None
        if risk:
            parameters["risk"] = risk
        try:
            return book_create(
                name=options["book"], broker_alias="sim", market=options["market"], seed=options["seed"],
                parameters=parameters,
            )  # fmt: skip
        except BookInvalid as exc:
            raise CommandError(str(exc)) from None

    def _progress(self, book, start, end, config, *, quiet: bool):
        from trading.schedule.selectors import plan_between

        total = len(plan_between(start=start, end=end, config=config))
        return _Progress(total=total, label=f"replay {book.name}", quiet=quiet or not sys.stderr.isatty())


@contextmanager
def _fewer_collections():
    """A replay makes and drops millions of short-lived objects (query sets, rows), few of them in
    cycles: the cycle collector, run every 700 allocations by default, costs more than the little
    it frees. What was loaded before the replay (Django, numpy, the calendar) is left out of its
    passes altogether; each pass waits for 50,000 new objects."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _clock(book: Book) -> str:
    book.refresh_from_db(fields=["clock"])
    return f"{book.clock.astimezone(NEW_YORK):%Y-%m-%d %H:%M %Z}" if book.clock else "its start"


class _Progress:
    """A tqdm bar on a terminal; nothing when quiet or not a terminal."""

    def __init__(self, *, total: int, label: str, quiet: bool):
        self.bar = None
        if not quiet:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=label, unit="job", file=sys.stderr)

    def step(self, outcome) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(outcome.job, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

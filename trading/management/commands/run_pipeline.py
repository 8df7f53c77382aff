"""python manage.py run_pipeline [--book NAME | --backend sim|ib] [--top N] [--spy-only] [--at ISO-TIME] [--json]"""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from trading.brokers import InvalidBrokerError
from trading.brokers.base import BrokerError, SafetyError
from trading.cli import add_book_arguments, book_from_options, ny, parse_moment, table
from trading.models import PipelineRun
from trading.money import format_price
from trading.selectors import run_summary
from trading.services.pipeline import (
    AlreadyRunning,
    DatabaseUnavailable,
    RunOptions,
    RunStillRunning,
    pipeline_retry,
    pipeline_run,
    run_broker_alias,
)


class Command(BaseCommand):
    help = "Scan the market, score the candidates and execute the top N as bracket orders."

    def add_arguments(self, parser):
        add_book_arguments(parser)
        parser.add_argument("--top", type=int, help="How many candidates to execute (default from settings).")
        parser.add_argument("--spy-only", action="store_true", help="Scan a one-symbol universe: SPY.")
        parser.add_argument("--at", help="Market moment (ISO time; without offset read as New York time).")
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of a table.")
        parser.add_argument(
            "--slot", help="Claim this slot name once: a second run with the same slot does nothing (exit 1)."
        )
        parser.add_argument(
            "--retry",
            metavar="RUN_ID",
            help="Resolve what a failed or partial run left in flight: adopt orders the broker holds, release the rest; "
            "nothing is sent again.",
        )

    def handle(self, *args, **options):
        if options["top"] is not None and options["top"] < 1:
            raise CommandError("--top must be at least 1")
        if options["retry"]:
            return self._retry(options)
        book = book_from_options(options)
        run_options = RunOptions(
            top_n=options["top"],
            spy_only=options["spy_only"],
            at=parse_moment(options["at"]),
            trigger=PipelineRun.Trigger.MANUAL,
            slot=options["slot"],
        )
        try:
            run = pipeline_run(run_options, book=book)
        except SafetyError as exc:
            raise CommandError(f"refused: {exc}") from None
        except (AlreadyRunning, DatabaseUnavailable, BrokerError) as exc:
            raise CommandError(str(exc)) from None
        summary = run_summary(run)
        if options["json"]:
            self.stdout.write(json.dumps(summary, indent=2))
        else:
            self.stdout.write(self._render(run, summary))
        if run.status == PipelineRun.Status.FAILED:
            raise CommandError(f"run {run.short_id} failed: {run.error}")

    def _retry(self, options) -> None:
        try:
            run = PipelineRun.objects.get(run_id=options["retry"])
        except (PipelineRun.DoesNotExist, ValidationError, ValueError):
            raise CommandError(f"no run {options['retry']!r}") from None
        try:
            alias = run_broker_alias(run)
        except InvalidBrokerError as exc:
            raise CommandError(f"run {run.short_id}: {exc}") from None
        if options["backend"] and options["backend"] != alias:
            raise CommandError(
                f"run {run.short_id} traded through broker {alias!r}: it is retried there, not on {options['backend']!r}"
            )
        if options["book"] and options["book"] != run.book.name:
            raise CommandError(f"run {run.short_id} belongs to book {run.book.name!r}, not --book {options['book']!r}")
        try:
            run = pipeline_retry(run_id=run.run_id)
        except SafetyError as exc:
            raise CommandError(f"refused: {exc}") from None
        except RunStillRunning as exc:
            raise CommandError(str(exc)) from None
        summary = run_summary(run)
        if options["json"]:
            self.stdout.write(json.dumps(summary, indent=2))
        else:
            self.stdout.write(self._render(run, summary))

    def _render(self, run: PipelineRun, summary: dict) -> str:
        counts = summary["counts"]
        lines = [
            f"Run {summary['run_id']}  book={run.book.name}  status={run.status}  backend={run.backend}  mode={run.mode}  "
            f"armed={'yes' if run.armed else 'no'}{'  DRY RUN' if run.dry_run else ''}",
            f"Market moment: {ny(run.market_time)}  ({run.market_time_label})",
            f"Scanned {counts['scanned']}  scored {counts['scored']}  rejected {counts['rejected']}  executed {counts['executed']}",
        ]
        top = run.candidates.exclude(score=None).order_by("-score", "scanner_rank")[:10]
        if top:
            lines += [
                "",
                "Top candidates:",
                table(
                    ["symbol", "rank", "bid", "ask", "score", "price", "spread", "rank pts", "status", "reason"],
                    [
                        [
                            c.symbol,
                            c.scanner_rank,
                            format_price(c.bid),
                            format_price(c.ask),
                            c.score,
                            c.score_price,
                            c.score_spread,
                            c.score_rank,
                            c.status,
                            c.reason,
                        ]
                        for c in top
                    ],
                ),
            ]
        if summary["orders"]:
            lines += [
                "",
                "Brackets:",
                table(
                    ["symbol", "side", "qty", "entry", "stop", "target", "trade", "entry order"],
                    [
                        [
                            o["symbol"],
                            o["side"],
                            o["qty"],
                            format_price(o["entry"]),
                            format_price(o["stop"]),
                            format_price(o["target"]),
                            o["status"],
                            o["order_status"],
                        ]
                        for o in summary["orders"]
                    ],
                ),
            ]
        else:
            lines += ["", "No orders placed."]
        if run.error:
            lines += ["", f"Problems: {run.error}"]
        return "\n".join(lines) + "\n"

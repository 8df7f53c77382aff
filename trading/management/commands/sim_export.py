"""python manage.py sim_export --from D1 --to D2 --out DIR [--symbols N|SYM,SYM...] [--seed S]
python manage.py sim_export --quotes --at ISO-TIME --out FILE [--symbols ...] [--seed S]"""

from datetime import date, datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from trading import sessions
from trading.sim.export import ExportRefused, sim_export_daily, sim_export_quotes, symbols_pick
from trading.sim.market import SyntheticMarket


class Command(BaseCommand):
    help = (
        "Write the synthetic market out: daily bars, one Yahoo-layout CSV per symbol (what import_bars reads), "
        "or with --quotes one moment's bid, ask, last and volume of each symbol."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", metavar="YYYY-MM-DD", help="First day (daily bars).")
        parser.add_argument("--to", dest="end", metavar="YYYY-MM-DD", help="Last day (daily bars).")
        parser.add_argument("--out", required=True, help="A directory (daily bars) or a file (--quotes).")
        parser.add_argument("--symbols", help="How many of the universe (SPY first), or SYM,SYM,... (default: all).")
        parser.add_argument("--seed", type=int, help="The market's seed (default: the SIM broker's).")
        parser.add_argument("--quotes", action="store_true", help="One row per symbol at --at, instead of bars.")
        parser.add_argument("--at", help="The moment of --quotes (ISO 8601; no offset reads New York time).")

    def handle(self, *args, **options):
        sim = settings.BROKERS["sim"]["OPTIONS"]
        seed = options["seed"] if options["seed"] is not None else int(sim.get("seed", 20240101))
        market = SyntheticMarket(seed, int(sim.get("universe_size", 500)))
        try:
            symbols = symbols_pick(market, options["symbols"])
            if options["quotes"]:
                at = _moment(options["at"])
                count = sim_export_quotes(market=market, symbols=symbols, at=at, out_file=Path(options["out"]))
                self.stdout.write(
                    f"{options['out']}: quotes of {count} symbols at {sessions.to_new_york(at):%Y-%m-%d %H:%M %Z} "
                    f"(synthetic market, seed {seed})"
                )
                return
            start, end = _day(options["start"], "--from"), _day(options["end"], "--to")
            if end < start:
                raise CommandError(f"--to {end} is before --from {start}")
            count = sim_export_daily(market=market, symbols=symbols, start=start, end=end, out_dir=Path(options["out"]))
        except ExportRefused as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{options['out']}: {count} files of daily bars, {start} to {end} (synthetic market, seed {seed}); "
            f"load them with: manage.py import_bars {options['out']}/*.csv --into SET"
        )


def _day(text: str | None, flag: str) -> date:
    if not text:
        raise CommandError(f"{flag} YYYY-MM-DD is required for daily bars (or use --quotes --at)")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{flag} {text!r} is not a date (YYYY-MM-DD)") from None


def _moment(text: str | None) -> datetime:
    if not text:
        raise CommandError("--quotes needs --at ISO-TIME (e.g. 2026-11-20T10:00)")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--at {text!r} is not an ISO 8601 time (e.g. 2026-11-20T10:00)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=sessions.NEW_YORK)

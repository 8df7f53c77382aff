"""python manage.py import_bars PATH [PATH ...] [--into SET] [--symbol SYM] [--tz ZONE] [--skip-bad-rows]"""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_slug

from trading.models import SYNTHETIC_MARKET
from trading.sim.importer import DEFAULT_BAR_SET, bars_import
from trading.sim.models import BarImport
from trading.symbols import InvalidSymbol, symbol_clean


class Command(BaseCommand):
    help = (
        "Load daily or intraday OHLCV bars (Yahoo or Stooq CSV) into a named bar set, a market a SIM book can "
        "replay (replay --market SET); no running book's market changes."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+")
        parser.add_argument("--symbol", help="Symbol for the file (default: from the file name or its TICKER column).")
        parser.add_argument("--tz", default="America/New_York", help="Zone of timestamps that carry no offset.")
        parser.add_argument("--skip-bad-rows", action="store_true", help="Import the good rows; record the bad ones.")
        parser.add_argument(
            "--into",
            default=DEFAULT_BAR_SET,
            metavar="SET",
            help=f"The bar set to add to (default: {DEFAULT_BAR_SET}).",
        )

    def handle(self, *args, **options):
        # Refused before any file is read or any import recorded.
        try:
            ZoneInfo(options["tz"])
        except (ZoneInfoNotFoundError, ValueError):
            raise CommandError(f"--tz {options['tz']!r} is not a time zone (e.g. America/New_York, UTC)") from None
        if options["symbol"] is not None:
            try:
                options["symbol"] = symbol_clean(options["symbol"])
            except InvalidSymbol as exc:
                raise CommandError(f"--symbol: {exc}") from None
        try:
            validate_slug(options["into"])
        except ValidationError:
            raise CommandError(f"--into {options['into']!r}: a bar set name is letters, digits, '-' and '_'") from None
        if options["into"] == SYNTHETIC_MARKET:
            raise CommandError(f"--into {SYNTHETIC_MARKET}: that name is the seeded market's; choose another")
        failed = 0
        for path in options["paths"]:
            record = bars_import(
                path=path,
                symbol=options["symbol"],
                tz=options["tz"],
                skip_bad_rows=options["skip_bad_rows"],
                bar_set=options["into"],
            )
            self.stdout.write(
                f"{path}: {record.get_status_display()} into bar set {record.bar_set!r} — symbol {record.symbol or '?'}, "
                f"layout {record.layout or '?'}, "
                f"{record.rows_imported} of {record.rows_read} rows imported"
            )
            if record.error:
                self.stdout.write("  " + record.error.replace("\n", "\n  "))
            failed += record.status == BarImport.Status.REJECTED
        if failed:
            raise CommandError(f"{failed} file(s) rejected; nothing was written from them")

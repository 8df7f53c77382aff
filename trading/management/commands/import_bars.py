"""python manage.py import_bars PATH [PATH ...] [--symbol SYM] [--tz ZONE] [--skip-bad-rows]"""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.management.base import BaseCommand, CommandError

from trading.sim.importer import bars_import
from trading.sim.models import BarImport
from trading.symbols import InvalidSymbol, symbol_clean


class Command(BaseCommand):
    help = "Load daily or intraday OHLCV bars (Yahoo or Stooq CSV) for the SIM market to replay."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+")
        parser.add_argument("--symbol", help="Symbol for the file (default: from the file name or its TICKER column).")
        parser.add_argument("--tz", default="America/New_York", help="Zone of timestamps that carry no offset.")
        parser.add_argument("--skip-bad-rows", action="store_true", help="Import the good rows; record the bad ones.")

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
        failed = 0
        for path in options["paths"]:
            record = bars_import(
                path=path, symbol=options["symbol"], tz=options["tz"], skip_bad_rows=options["skip_bad_rows"]
            )
            self.stdout.write(
                f"{path}: {record.get_status_display()} — symbol {record.symbol or '?'}, layout {record.layout or '?'}, "
                f"{record.rows_imported} of {record.rows_read} rows imported"
            )
            if record.error:
                self.stdout.write("  " + record.error.replace("\n", "\n  "))
            failed += record.status == BarImport.Status.REJECTED
        if failed:
            raise CommandError(f"{failed} file(s) rejected; nothing was written from them")

"""import_bars: Yahoo and Stooq layouts load and replay; bad files are refused whole, with reasons."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from trading.models import Candidate
from trading.services.books import book_create
from trading.services.pipeline import RunOptions, pipeline_run
from trading.sim.importer import bars_import
from trading.sim.models import Bar, BarImport

pytestmark = pytest.mark.django_db

YAHOO = """Date,Open,High,Low,Close,Adj Close,Volume
2026-11-18,100.00,102.00,99.00,101.00,101.00,1500000
2026-11-19,101.00,103.00,100.50,102.50,102.50,1600000
2026-11-20,102.50,106.00,102.00,105.00,105.00,2100000
"""

STOOQ = """Date,Open,High,Low,Close,Volume
2026-11-19,20.0,20.5,19.5,20.1,900000
2026-11-20,20.1,21.5,20.0,21.2,950000
"""

STOOQ_ASCII = """<TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>
MSFT.US,D,20261119,000000,400.0,405.0,398.0,404.0,20000000,0
MSFT.US,D,20261120,000000,404.0,410.0,403.0,409.0,21000000,0
"""

YAHOO_INTRADAY = """Datetime,Open,High,Low,Close,Adj Close,Volume
2026-11-20 09:30:00-05:00,50.00,50.20,49.90,50.10,50.10,10000
2026-11-20 09:35:00-05:00,50.10,50.40,50.00,50.30,50.30,12000
2026-11-20 09:40:00-05:00,50.30,50.50,50.20,50.45,50.45,9000
"""


def _write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_yahoo_daily_bars_import_and_replay(tmp_path):
    record = bars_import(path=str(_write(tmp_path, "ACME.csv", YAHOO)))
    assert record.status == BarImport.Status.IMPORTED and record.layout == "yahoo"
    assert Bar.objects.filter(symbol="ACME").count() == 3
    replay = book_create(name="acme-history", broker_alias="sim", market="imported")
    run = pipeline_run(RunOptions(at=datetime(2026, 11, 20, 20, 0, tzinfo=UTC)), book=replay)
    candidate = Candidate.objects.get(run=run)
    assert candidate.symbol == "ACME"
    assert candidate.prev_close == Decimal("102.5000")
    assert "bar set 'imported'" in run.market_time_label


def test_importing_bars_never_changes_another_books_market(tmp_path, morning):
    before = pipeline_run(RunOptions(at=morning))
    quotes_before = list(before.candidates.order_by("symbol").values_list("symbol", "bid", "ask"))
    bars_import(path=str(_write(tmp_path, "ACME.csv", YAHOO)), bar_set="history")
    after = pipeline_run(RunOptions(at=morning + timedelta(minutes=1)))
    assert "synthetic" in after.market_time_label or "seed" in after.market_time_label
    assert not after.candidates.filter(symbol="ACME").exists()
    assert len(quotes_before) == after.candidates.count()


def test_stooq_layouts_import(tmp_path):
    assert bars_import(path=str(_write(tmp_path, "xyz.us.txt", STOOQ))).symbol == "XYZ"
    ascii_record = bars_import(path=str(_write(tmp_path, "msft_d.csv", STOOQ_ASCII)))
    assert ascii_record.layout == "stooq-ascii" and ascii_record.symbol == "MSFT"
    assert Bar.objects.filter(symbol="MSFT").count() == 2


def test_intraday_bars_get_their_interval(tmp_path):
    record = bars_import(path=str(_write(tmp_path, "INTR.csv", YAHOO_INTRADAY)))
    assert record.status == BarImport.Status.IMPORTED
    assert set(Bar.objects.values_list("interval_seconds", flat=True)) == {300}


def test_reimporting_updates_rather_than_duplicates(tmp_path):
    path = _write(tmp_path, "ACME.csv", YAHOO)
    bars_import(path=str(path))
    bars_import(path=str(path))
    assert Bar.objects.count() == 3


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("Date,Open,High,Close\n2026-11-20,1,2,1.5\n", "missing column(s): low, volume"),
        ("Date,Open,High,Low,Close,Volume\n2026-11-20,nan,2,1,1.5,100\n", "open is NaN"),
        ("Date,Open,High,Low,Close,Volume\n2026-11-20,inf,2,1,1.5,100\n", "open is infinite"),
        ("Date,Open,High,Low,Close,Volume\n2026-11-20,-1,2,1,1.5,100\n", "not positive"),
        ("Date,Open,High,Low,Close,Volume\n2026-11-20,0,2,1,1.5,100\n", "not positive"),
        ("Date,Open,High,Low,Close,Volume\n2026-11-20,1.5,2,1,3,100\n", "inconsistent OHLC"),
        ("Date,Open,High,Low,Close,Volume\n2026-11-20,1e12,2e12,1,1.5,100\n", "implausibly large"),
        ("Date,Open,High,Low,Close,Volume\n2026-11-20,1.5,2,1,1.5,-100\n", "not a whole non-negative"),
        (
            "Date,Open,High,Low,Close,Volume\n2026-11-20,1.5,2,1,1.5,100\n2026-11-20,1.5,2,1,1.5,100\n",
            "duplicated timestamp",
        ),
        ("Date,Open,High,Low,Close,Volume\n2026-11-21,1.5,2,1,1.5,100\n", "not an NYSE session"),
        ("Date,Open,High,Low,Close,Volume\nyesterday,1.5,2,1,1.5,100\n", "line 2"),
        ("Date,Open,High,Low,Close,Volume\n2026-11-20,1.5,2\n", "has 3 fields"),
    ],
)
def test_bad_files_are_rejected_whole_with_a_reason(tmp_path, text, reason):
    record = bars_import(path=str(_write(tmp_path, "BAD.csv", text)))
    assert record.status == BarImport.Status.REJECTED
    assert reason in record.error
    assert not Bar.objects.exists()


def test_wrong_encoding_is_rejected(tmp_path):
    record = bars_import(
        path=str(
            _write(tmp_path, "ENC.csv", "Date,Open,High,Low,Close,Volume\n2026-11-20,1,2,1,1.5,100 \u00e9\n", "utf-16")
        )
    )
    assert record.status == BarImport.Status.REJECTED and "UTF-8" in record.error


def test_skip_bad_rows_keeps_the_good_ones(tmp_path):
    text = YAHOO + "2026-11-17,100,99,101,100,100,5\n"
    record = bars_import(path=str(_write(tmp_path, "ACME.csv", text)), skip_bad_rows=True)
    assert record.status == BarImport.Status.PARTIAL
    assert record.rows_imported == 3 and record.rows_rejected == 1
    assert "inconsistent OHLC" in record.error


def test_import_bars_command_reports_and_fails_on_rejection(tmp_path):
    out = StringIO()
    call_command("import_bars", str(_write(tmp_path, "ACME.csv", YAHOO)), stdout=out)
    assert "Imported" in out.getvalue() and "3 of 3 rows" in out.getvalue()
    with pytest.raises(CommandError, match="rejected"):
        call_command("import_bars", str(tmp_path / "missing.csv"), stdout=StringIO())


cell = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["nan", "NaN", "inf", "-inf", "", "0", "-1", "1e400", "1,5", "2026-11-20", "\x00"]),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(cell, min_size=0, max_size=8), max_size=6))
def test_arbitrary_csv_never_crashes_nor_half_writes(tmp_path, rows):
    text = "Date,Open,High,Low,Close,Volume\n" + "\n".join(",".join(r) for r in rows)
    path = tmp_path / "FUZZ.csv"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    before = Bar.objects.count()
    record = bars_import(path=str(path))
    if record.status == BarImport.Status.REJECTED:
        assert record.error
        assert Bar.objects.count() == before
    else:
        assert record.rows_imported == record.rows_read


def test_a_stooq_file_with_two_tickers_is_refused_and_stores_nothing(tmp_path):
    two = STOOQ_ASCII + "AAPL.US,D,20261120,000000,190.0,192.0,189.0,191.0,30000000,0\n"
    record = bars_import(path=str(_write(tmp_path, "two.csv", two)))
    assert record.status == BarImport.Status.REJECTED
    assert "ticker AAPL, but the file's bars are for MSFT" in record.error
    assert not Bar.objects.exists()


@pytest.mark.parametrize("symbol", ["", "../../ETC", "A;DROP TABLE X", "A" * 31, "1ABC"])
def test_import_refuses_a_symbol_that_is_not_a_ticker(tmp_path, symbol):
    with pytest.raises(CommandError, match="--symbol: .* is not a ticker symbol"):
        call_command("import_bars", str(_write(tmp_path, "ACME.csv", YAHOO)), "--symbol", symbol, stdout=StringIO())
    assert not Bar.objects.exists() and not BarImport.objects.exists()


def test_a_file_named_like_no_ticker_is_refused_with_a_reason(tmp_path):
    record = bars_import(path=str(_write(tmp_path, "a;drop.csv", YAHOO)))
    assert record.status == BarImport.Status.REJECTED and "not a ticker symbol" in record.error
    assert not Bar.objects.exists()


def test_an_unknown_time_zone_is_one_line_and_writes_nothing(tmp_path):
    with pytest.raises(CommandError, match="--tz 'Not/AZone' is not a time zone"):
        call_command("import_bars", str(_write(tmp_path, "ACME.csv", YAHOO)), "--tz", "Not/AZone", stdout=StringIO())
    assert not BarImport.objects.exists()


@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
def test_only_a_regular_file_is_read(tmp_path, kind):
    import os

    if kind == "fifo":
        target = tmp_path / "bars.csv"
        os.mkfifo(target)
    elif kind == "device":
        target = "/dev/zero"
    else:
        target = tmp_path
    record = bars_import(path=str(target), symbol="ACME")
    assert record.status == BarImport.Status.REJECTED and "not a regular file" in record.error
    assert not Bar.objects.exists()


INTRADAY_HEADER = "Datetime,Open,High,Low,Close,Adj Close,Volume\n"


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("2026-11-21 10:00:00-05:00,10,11,9,10.5,10.5,100", "outside the NYSE session"),  # a Saturday
        ("2026-11-26 10:00:00-05:00,10,11,9,10.5,10.5,100", "outside the NYSE session"),  # Thanksgiving
        ("2026-11-20 08:00:00-05:00,10,11,9,10.5,10.5,100", "outside the NYSE session"),  # before the open
        ("0001-01-03 10:00:00,10,11,9,10.5,10.5,100", "line 2"),
        ("9999-12-31 10:00:00,10,11,9,10.5,10.5,100", "line 2"),
        ("2026-11-20 10:00:00-05:00,0.00001,11,0.00001,10.5,10.5,100", "below 0.0001"),
    ],
    ids=["weekend", "holiday", "pre-market", "year-1", "year-9999", "sub-tick-price"],
)
def test_a_bad_intraday_row_refuses_the_file_with_its_line(tmp_path, row, reason):
    good = "2026-11-20 10:01:00-05:00,10,11,9,10.5,10.5,100\n"
    out = StringIO()
    with pytest.raises(CommandError, match="rejected; nothing was written"):
        call_command("import_bars", str(_write(tmp_path, "INTR.csv", INTRADAY_HEADER + row + "\n" + good)), stdout=out)
    assert reason in out.getvalue()
    assert not Bar.objects.exists()

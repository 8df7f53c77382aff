"""import_bars on a large intraday file: peak memory and time, beside the floor of reading it.

Writes a Yahoo intraday CSV of about BENCH_IMPORT_MB megabytes (default 200: minute bars of
one symbol, every NYSE session back from 2026-11-20), then imports it in a fresh process and
reports that process's peak RSS (VmHWM: ru_maxrss would carry the parent's over exec), and the peak of a process that only reads the file through
the csv module (the floor). The target from issue 11: a 200 MB file at most 300 MB peak RSS.
"""

import json
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from _setup import ROOT, setup_django

MEGABYTES = int(os.environ.get("BENCH_IMPORT_MB", "200"))
ROW_PRICES = "100.0000000000,100.5000000000,99.5000000000,100.2500000000,100.2500000000"

_READ_ONLY = """
import csv, sys
with open(sys.argv[1], newline="") as handle:
    rows = sum(1 for _ in csv.reader(handle))
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(int(peak.split()[1]) // 1024, rows)
"""

_IMPORT = """
import os, sys, time
sys.path.insert(0, sys.argv[2])
import django
django.setup()
from trading.sim.importer import bars_import
start = time.perf_counter()
record = bars_import(path=sys.argv[1], symbol="BIG")
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(int(peak.split()[1]) // 1024, record.rows_imported, record.status, time.perf_counter() - start)
"""


def _write_file(path: Path) -> int:
    from trading import sessions

    target = MEGABYTES * 1024 * 1024
    days = sessions.sessions_between(date(2007, 1, 1), date(2026, 11, 20))
    with path.open("w") as out:
        out.write("Datetime,Open,High,Low,Close,Adj Close,Volume\n")
        for current in days:
            moment = current.open
            while moment < current.close:
                stamp = moment.astimezone(sessions.NEW_YORK).isoformat(sep=" ")
                # Prices written to ten places, as some exporters do: 200 MB fits in the
                # twenty years of sessions the calendar knows.
                out.write(f"{stamp},{ROW_PRICES},123456789\n")
                moment += timedelta(minutes=1)
            if out.tell() >= target:
                break
    return path.stat().st_size


def _python(code: str, *args: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=os.environ, check=True
    )
    return result.stdout.split()


def main() -> None:
    workdir = setup_django("import")
    source = workdir / "BIG.csv"
    size = _write_file(source)
    floor_mib, rows = _python(_READ_ONLY, str(source))
    start = time.perf_counter()
    peak_mib, imported, status, seconds = _python(_IMPORT, str(source), str(ROOT))
    wall = time.perf_counter() - start
    print(f"file {size / 2**20:.0f} MiB, {int(rows) - 1:,} rows; imported {int(imported):,} ({status})")
    print(f"peak RSS: import {peak_mib} MiB, csv read alone {floor_mib} MiB; import {float(seconds):.1f} s")
    print(
        "BENCH "
        + json.dumps(
            {
                "name": f"import_bars peak memory, {size / 2**20:.0f} MiB intraday file",
                "figure": float(peak_mib),
                "unit": "MiB",
                "floor": float(floor_mib),
                "floor_what": "csv read of the file alone",
                "target": 300,
                "better": "lower",
            }
        )
    )
    print(
        "BENCH "
        + json.dumps(
            {
                "name": f"import_bars time, {size / 2**20:.0f} MiB intraday file",
                "figure": round(wall, 2),
                "unit": "s",
                "target": None,
                "better": "lower",
            }
        )
    )


if __name__ == "__main__":
    main()

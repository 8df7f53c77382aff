"""Shared bench set-up: a throwaway database (SQLite file, or DATABASE_URL's server) and Django."""

import os
import sys
import tempfile
import time
import tracemalloc
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django(name: str) -> Path:
    """Point Django at a fresh database for this benchmark and migrate it."""
    sys.path.insert(0, str(ROOT))
    workdir = Path(tempfile.mkdtemp(prefix=f"tradelabs-bench-{name}-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradelabs_site.settings.base")
    os.environ["TRADE_LABS_DATA_DIR"] = str(workdir)
    os.environ["TRADE_LABS_LOG_LEVEL"] = "WARNING"
    if not os.environ.get("DATABASE_URL"):
        os.environ["TRADE_LABS_SQLITE_PATH"] = str(workdir / "bench.sqlite3")
    import django
    from django.core.management import call_command

    django.setup()
    if os.environ.get("DATABASE_URL"):
        call_command("flush", "--noinput", verbosity=0)
    call_command("migrate", "--noinput", verbosity=0)
    return workdir


@contextmanager
def timed(results: dict, key: str):
    start = time.perf_counter()
    yield
    results[key] = time.perf_counter() - start


@contextmanager
def peak_memory(results: dict, key: str):
    tracemalloc.start()
    try:
        yield
    finally:
        results[key] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()

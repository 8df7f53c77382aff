"""Settings for the test suite: the same app, fast hashing, an isolated data directory."""

import os
import tempfile
from pathlib import Path

from .base import *  # noqa: F403
from .base import DATABASES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DATA_DIR = Path(os.environ.get("TRADE_LABS_TEST_DATA_DIR") or tempfile.mkdtemp(prefix="tradelabs-test-"))
TRADE_LABS_LOG_FILE = str(DATA_DIR / "logs" / "tradelabs.jsonl")
TRADE_LABS_REPORTS_DIR = DATA_DIR / "reports"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
TRADE_LABS_LOG_LEVEL = "WARNING"
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # pytest-django creates the test database from NAME's TEST entry; keep it a file so WAL applies.
    DATABASES["default"]["NAME"] = str(DATA_DIR / "tradelabs.sqlite3")
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test_tradelabs.sqlite3")}
else:
    # Several suites may share one PostgreSQL server: each names its own test database.
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TRADE_LABS_TEST_DB_NAME", "test_tradelabs")}

"""Run `manage.py` in real subprocesses against the test database, as a second worker would."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def _database_env() -> dict:
    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        return {"TRADE_LABS_SQLITE_PATH": settings_dict["NAME"], "DATABASE_URL": ""}
    user = settings_dict.get("USER") or "postgres"
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return {"DATABASE_URL": f"postgres://{user}@{host}:{port}/{settings_dict['NAME']}"}


@pytest.fixture
def manage(transactional_db, tmp_path):
    """manage("run_pipeline", "--at", ..., env={...}) → CompletedProcess; never hangs past 120 s."""
    base_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tradelabs_site.settings.base",
        "TRADE_LABS_DATA_DIR": str(tmp_path),
        "TRADE_LABS_LOG_LEVEL": "WARNING",
        **_database_env(),
    }
    base_env.pop("TRADE_LABS_FAILPOINT", None)

    def command(*args, env=None, background=False):
        argv = [sys.executable, str(ROOT / "manage.py"), *args]
        full_env = {**base_env, **(env or {})}
        if background:
            return subprocess.Popen(
                argv,
                cwd=ROOT,
                env=full_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                # A suite started in the background (`make test &`) ignores Ctrl-C, and its children
                # would inherit that: the command under test gets the terminal's default.
                preexec_fn=_default_interrupt,
            )
        return subprocess.run(argv, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120)

    return command


def _default_interrupt() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for(path: Path, timeout: float = 60) -> None:
    """Until a paused subprocess writes `path` (a failpoint's 'paused' file)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)


def paused_run(manage, tmp_path, *, at: str = "2026-11-20T10:30", **env):
    """A `run_pipeline --top 1` subprocess paused once its intents are recorded, before it sends
    them: (the process, the folder whose `release` file lets it go on)."""
    pause_dir = tmp_path / "pause"
    pause_dir.mkdir()
    failpoint = {
        "TRADE_LABS_FAILPOINT": "after_intent_recorded",
        "TRADE_LABS_FAILPOINT_ACTION": "pause",
        "TRADE_LABS_FAILPOINT_DIR": str(pause_dir),
    }
    process = manage("run_pipeline", "--at", at, "--top", "1", background=True, env={**failpoint, **env})
    wait_for(pause_dir / "paused")
    return process, pause_dir

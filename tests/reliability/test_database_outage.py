"""The database goes away mid-run: the run fails cleanly with a clear error, nothing is sent
that is not recorded, and the next run recovers.

SQLite: another writer holds the lock beyond the timeout. PostgreSQL: a throwaway cluster
that this test starts and stops itself (never the machine's shared server) has the run's
connections terminated with pg_terminate_backend, or is stopped outright.
"""

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.db import connection

from tests.reliability.conftest import ROOT, paused_run, wait_for

AT = "2026-11-20T10:30"


def test_sqlite_locked_by_another_writer_fails_the_run_cleanly(manage, tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    from trading.models import Order, PipelineRun
    from trading.sim.models import SimOrder

    process, pause_dir = paused_run(manage, tmp_path, TRADE_LABS_SQLITE_TIMEOUT="1")
    blocker = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        (pause_dir / "release").touch()
        out, err = process.communicate(timeout=60)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert process.returncode == 1
    assert "database error mid-run: database is locked" in err
    assert "Traceback" not in err
    assert not SimOrder.objects.exists(), "nothing reached the broker"
    assert set(Order.objects.values_list("status", flat=True)) == {Order.Status.INTENT}

    follow_up = manage("run_pipeline", "--at", AT, "--top", "1")
    assert follow_up.returncode == 0, follow_up.stderr[-2000:]
    assert not Order.objects.filter(status=Order.Status.INTENT).exists()
    assert PipelineRun.objects.filter(status=PipelineRun.Status.SUCCEEDED).count() == 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pg_bin() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    return None


class ThrowawayPostgres:
    """A private PostgreSQL cluster in a temp directory, on its own port."""

    def __init__(self, directory: Path):
        self.bin = _pg_bin()
        self.data = directory / "pgdata"
        self.port = _free_port()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv, check=True):
        return subprocess.run([*self.as_postgres, *argv], capture_output=True, text=True, timeout=60, check=check)

    def start(self) -> None:
        if not self.data.exists():
            self.data.mkdir()
            if self.as_postgres:
                shutil.chown(self.data, "postgres")
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        # -l: the server must not hold our captured stdout open, or the start never returns.
        log = str(self.data / "server.log")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", log, "-o", options, "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def query(self, sql: str) -> list:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            return conn.execute(sql).fetchall()


@pytest.fixture
def throwaway_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("runs in the PostgreSQL pass")
    if _pg_bin() is None or (os.geteuid() == 0 and shutil.which("runuser") is None):
        pytest.skip("no PostgreSQL server binaries to start a private cluster")
    # Not under pytest's tmp dirs: those are private to root, and the server runs as postgres.
    directory = Path(tempfile.mkdtemp(prefix="tradelabs-pg-"))
    directory.chmod(0o755)
    cluster = ThrowawayPostgres(directory)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)


def _manage_on(cluster, tmp_path, *args, background=False, env=None):
    full_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tradelabs_site.settings.base",
        "DATABASE_URL": cluster.url,
        "TRADE_LABS_DATA_DIR": str(tmp_path),
        "TRADE_LABS_LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    argv = [sys.executable, str(ROOT / "manage.py"), *args]
    if background:
        return subprocess.Popen(argv, cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(argv, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120)


def _paused_run_on(cluster, tmp_path):
    """Migrate the private cluster, then start a run that pauses once its first intent is recorded."""
    assert _manage_on(cluster, tmp_path, "migrate", "--noinput").returncode == 0
    pause_dir = tmp_path / "pause"
    pause_dir.mkdir()
    env = {
        "TRADE_LABS_FAILPOINT": "after_intent_recorded",
        "TRADE_LABS_FAILPOINT_ACTION": "pause",
        "TRADE_LABS_FAILPOINT_DIR": str(pause_dir),
    }
    process = _manage_on(cluster, tmp_path, "run_pipeline", "--at", AT, "--top", "1", background=True, env=env)
    wait_for(pause_dir / "paused")
    return process, pause_dir


def _counts(cluster) -> dict:
    return {
        "intents": cluster.query("select count(*) from trading_order where status = 'intent'")[0][0],
        "broker_orders": cluster.query("select count(*) from sim_simorder")[0][0],
        "runs": dict(cluster.query("select status, count(*) from trading_pipelinerun group by status")),
    }


@pytest.mark.timeout(240)
def test_postgres_connections_terminated_mid_run(throwaway_postgres, tmp_path):
    process, pause_dir = _paused_run_on(throwaway_postgres, tmp_path)
    throwaway_postgres.query(
        "select pg_terminate_backend(pid) from pg_stat_activity where pid <> pg_backend_pid() and datname = 'postgres'"
    )
    (pause_dir / "release").touch()
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "database error mid-run" in err and "Traceback" not in err
    counts = _counts(throwaway_postgres)
    assert counts["broker_orders"] == 0, "nothing reached the broker"
    assert counts["runs"] == {"failed": 1}, "the run is marked failed once the database answers again"

    follow_up = _manage_on(throwaway_postgres, tmp_path, "run_pipeline", "--at", AT, "--top", "1")
    assert follow_up.returncode == 0, follow_up.stderr[-2000:]
    assert _counts(throwaway_postgres)["intents"] == 0


@pytest.mark.timeout(240)
def test_postgres_server_stopped_mid_run(throwaway_postgres, tmp_path):
    process, pause_dir = _paused_run_on(throwaway_postgres, tmp_path)
    throwaway_postgres.stop("immediate")
    (pause_dir / "release").touch()
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "could not be marked failed" in err and "Traceback" not in err

    throwaway_postgres.start()
    assert _counts(throwaway_postgres)["broker_orders"] == 0
    follow_up = _manage_on(throwaway_postgres, tmp_path, "run_pipeline", "--at", AT, "--top", "1")
    assert follow_up.returncode == 0, follow_up.stderr[-2000:]
    counts = _counts(throwaway_postgres)
    assert counts["intents"] == 0
    assert counts["runs"] == {"failed": 1, "succeeded": 1}

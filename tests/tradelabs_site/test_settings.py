"""Production settings pass Django's deploy checks; secrets never reach a log line."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from tradelabs_site.env import env_bool, env_decimal, env_int, env_secret

ROOT = Path(__file__).resolve().parents[2]


def _check_deploy(tmp_path, **env):
    full = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tradelabs_site.settings.production",
        "TRADE_LABS_DATA_DIR": str(tmp_path),
        **env,
    }
    for name in ("SECRET_KEY", "ALLOWED_HOSTS", "DEBUG"):
        if name not in env:
            full.pop(name, None)
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy(tmp_path):
    result = _check_deploy(tmp_path, SECRET_KEY=secrets.token_urlsafe(64), ALLOWED_HOSTS="trade.example.com")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without_secret_or_hosts(tmp_path, missing):
    env = {"SECRET_KEY": secrets.token_urlsafe(64), "ALLOWED_HOSTS": "trade.example.com"}
    env.pop(missing)
    result = _check_deploy(tmp_path, **env)
    assert result.returncode != 0 and missing in result.stderr


def test_secret_key_can_come_from_a_file(tmp_path, monkeypatch):
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-a-file\n")
    monkeypatch.setenv("SECRET_KEY_FILE", str(secret_file))
    assert env_secret("SECRET_KEY") == "from-a-file"


@pytest.mark.parametrize(
    ("reader", "value"),
    [(env_bool, "maybe"), (env_int, "five"), (env_decimal, "NaN"), (env_decimal, "abc")],
)
def test_bad_environment_values_fail_loudly_with_the_name(monkeypatch, reader, value):
    monkeypatch.setenv("TRADE_LABS_SOMETHING", value)
    with pytest.raises(ImproperlyConfigured, match="TRADE_LABS_SOMETHING"):
        reader("TRADE_LABS_SOMETHING", *(("1",) if reader is env_decimal else (0,) if reader is env_int else ()))


@pytest.mark.django_db
def test_no_secret_or_credential_reaches_the_logs(tmp_path, settings, morning):
    import structlog

    from tradelabs_site.logging import configure_logging
    from trading.services.pipeline import RunOptions, pipeline_run

    log_file = tmp_path / "all.jsonl"
    configure_logging(log_file=str(log_file), level="DEBUG")
    try:
        pipeline_run(RunOptions(at=morning))
        structlog.get_logger("test").info(
            "connecting", password="hunter2-pw", token="tok-abc123", secret_key=settings.SECRET_KEY
        )
    finally:
        configure_logging(log_file=settings.TRADE_LABS_LOG_FILE, level=settings.TRADE_LABS_LOG_LEVEL)
    text = log_file.read_text()
    assert "run_started" in text
    for secret in ("hunter2-pw", "tok-abc123", settings.SECRET_KEY):
        assert secret not in text


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("insecure-embedded-default-change-me-for-any-shared-deployment", "embedded default"),
        ("short-but-random-Zq9", "too weak"),
        ("a" * 60, "too weak"),
    ],
    ids=["published", "short", "one-character"],
)
def test_production_refuses_a_published_or_weak_secret_key(tmp_path, key, reason):
    result = _check_deploy(tmp_path, SECRET_KEY=key, ALLOWED_HOSTS="trade.example.com")
    assert result.returncode == 2 and reason in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("value", ["2", "x"])
def test_a_bad_armed_value_is_one_line_that_says_use_0_or_1(tmp_path, value):
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check"],
        cwd=ROOT,
        env={**os.environ, "TRADE_LABS_DATA_DIR": str(tmp_path), "TRADE_LABS_ARMED": value},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: TRADE_LABS_ARMED={value!r} is not a boolean (use 0 or 1)."


@pytest.mark.parametrize("raw", [" PAPER ", "PAPER\n", "paper"])
def test_the_mode_is_normalised_once_when_settings_load(tmp_path, raw):
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; print(repr(settings.TRADE_LABS_MODE))",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tradelabs_site.settings.base",
            "TRADE_LABS_DATA_DIR": str(tmp_path),
            "TRADE_LABS_MODE": raw,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.strip() == "'PAPER'", result.stderr


def test_the_data_directory_and_its_files_are_private(tmp_path):
    data = tmp_path / "data"
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TRADE_LABS_SQLITE_PATH")},
        "DJANGO_SETTINGS_MODULE": "tradelabs_site.settings.base",
        "TRADE_LABS_DATA_DIR": str(data),
    }
    for command in (
        ["migrate", "--noinput", "-v0"],
        ["run_pipeline", "--at", "2026-11-20T10:30", "--top", "1"],
        ["report", "--date", "2026-11-20"],
    ):
        done = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stderr
    paths = [data, *data.rglob("*")]
    names = {p.name for p in paths}
    assert {"tradelabs.sqlite3", "tradelabs.jsonl", "report_2026-11-20.md"} <= names
    loose = {str(p.relative_to(tmp_path)): oct(p.stat().st_mode & 0o777) for p in paths if p.stat().st_mode & 0o077}
    assert loose == {}

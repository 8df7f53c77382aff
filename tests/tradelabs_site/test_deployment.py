"""The docker-compose example starts exactly the commands the README documents and the Redis
cluster test runs (it cannot be run here: no container daemon in CI)."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_the_compose_example_runs_the_documented_commands():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    readme = (ROOT / "README.md").read_text()
    assert services["web"]["command"] == "gunicorn -b 0.0.0.0:8000 -w 2 tradelabs_site.wsgi"
    assert services["web"]["command"] in readme
    assert [services[name]["command"] for name in ("qcluster-a", "qcluster-b")] == ["python manage.py qcluster"] * 2
    assert "python manage.py qcluster" in readme
    assert "python manage.py migrate" in services["migrate"]["command"] and "setup_schedules" in readme
    env = services["qcluster-a"]["environment"]
    assert env["REDIS_URL"].startswith("redis://") and env["DATABASE_URL"].startswith("postgres://")

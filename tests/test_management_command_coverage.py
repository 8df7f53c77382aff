"""Every management command of ours has a test that calls it (NetBox's meta-test, in spirit)."""

from pathlib import Path

from django.apps import apps

ROOT = Path(__file__).resolve().parent.parent


def _our_commands() -> set[str]:
    """The commands of our installed apps: those in this checkout, not in a virtualenv inside it."""
    ours = []
    for config in apps.get_app_configs():
        path = Path(config.path)
        if path.is_relative_to(ROOT) and not path.relative_to(ROOT).parts[0].startswith("."):
            ours.append(path)
    return {
        command.stem for path in ours for command in path.glob("management/commands/*.py") if command.stem != "__init__"
    }


def test_every_management_command_is_called_by_a_test():
    assert {"run_pipeline", "report", "reconcile", "schedule_plan"} <= _our_commands()
    tests_text = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py"))
    untested = sorted(c for c in _our_commands() if f'"{c}"' not in tests_text)
    assert not untested, f"management commands without a call_command test: {untested}"

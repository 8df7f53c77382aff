"""Every management command of ours has a test that calls it (NetBox's meta-test, in spirit)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _our_commands() -> set[str]:
    return {
        path.stem
        for path in ROOT.glob("**/management/commands/*.py")
        if path.stem != "__init__" and ".venv" not in path.parts
    }


def test_every_management_command_is_called_by_a_test():
    tests_text = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py"))
    untested = sorted(c for c in _our_commands() if f'"{c}"' not in tests_text)
    assert not untested, f"management commands without a call_command test: {untested}"

"""Fixtures shared by the reporting tests."""

import pytest


@pytest.fixture(autouse=True)
def reports_dir(settings, tmp_path):
    """Reports are written under the test's own directory, never the configured one."""
    settings.TRADE_LABS_REPORTS_DIR = tmp_path / "reports"
    return settings.TRADE_LABS_REPORTS_DIR

from datetime import UTC, datetime

import pytest

# Friday 2026-11-20, 10:30 New York: the NYSE is open.
MORNING = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
# The last minute of that session.
CLOSE = datetime(2026, 11, 20, 20, 59, tzinfo=UTC)


@pytest.fixture
def morning():
    return MORNING


@pytest.fixture
def close_of_day():
    return CLOSE

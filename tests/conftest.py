"""Shared fixtures: named personas for access tests, and a clean broker handler per test."""

from datetime import UTC, datetime

import pytest
from django.test import Client

from tests.factories import UserFactory
from trading.brokers import brokers


@pytest.fixture(autouse=True)
def _fresh_broker_settings(settings):
    """Tests may override BROKERS; make the handler read them afresh each time."""
    brokers.reset()
    yield
    brokers.reset()


@pytest.fixture
def staff_user(db):
    """The staff reviewer: may use the admin and annotate trades."""
    return UserFactory(username="reviewer", is_staff=True, is_superuser=True)


API_APPS = ("trading", "reporting", "reconciliation")


@pytest.fixture
def plain_user(db):
    """A reader without staff rights: the view permissions of the book, so the API reads; never the admin."""
    from django.contrib.auth.models import Permission

    user = UserFactory(username="outsider", is_staff=False)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=API_APPS, codename__startswith="view_")
    )
    return user


@pytest.fixture
def stranger(db):
    """Signed in, with no permission at all: reads nothing, writes nothing."""
    return UserFactory(username="stranger", is_staff=False)


@pytest.fixture
def staff_client(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


@pytest.fixture
def plain_client(plain_user) -> Client:
    client = Client()
    client.force_login(plain_user)
    return client


@pytest.fixture
def morning():
    """Friday 2026-11-20, 10:30 New York: the NYSE is open."""
    return datetime(2026, 11, 20, 15, 30, tzinfo=UTC)


@pytest.fixture
def close_of_day():
    """The last minute of that session."""
    return datetime(2026, 11, 20, 20, 59, tzinfo=UTC)

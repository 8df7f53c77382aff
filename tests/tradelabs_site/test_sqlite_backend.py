"""The SQLite backend: Django's, with each statement's placeholders converted once."""

import pytest
from django.db import connection
from django.db.backends.sqlite3.base import SQLiteCursorWrapper as DjangoCursor

from tradelabs_site.sqlite3.base import _qmark

pytestmark = pytest.mark.django_db

STATEMENTS = [
    "SELECT %s",
    "SELECT name FROM sqlite_master WHERE name LIKE %s OR name = %s",
    "SELECT '100%%' || %s",
    "SELECT 1",
]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite backend")
@pytest.mark.parametrize("sql", STATEMENTS)
def test_placeholders_are_rewritten_as_django_rewrites_them(sql):
    with connection.cursor() as cursor:
        assert cursor.cursor.convert_query(sql) == DjangoCursor.convert_query(cursor.cursor, sql)
        cursor.execute(sql, ["x"] * sql.count("%s"))
        assert cursor.fetchone() is not None or "sqlite_master" in sql


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite backend")
def test_a_statement_is_rewritten_once_and_named_parameters_still_work():
    _qmark.cache_clear()
    with connection.cursor() as cursor:
        for _ in range(3):
            cursor.execute("SELECT %s + %s", [1, 2])
            assert cursor.fetchone() == (3,)
        cursor.execute("SELECT %(a)s * %(b)s", {"a": 6, "b": 7})
        assert cursor.fetchone() == (42,)
    assert (_qmark.cache_info().hits, _qmark.cache_info().misses) == (2, 1)

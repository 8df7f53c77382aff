"""Writing changed fields of many rows of one model at once, cheaper than Django offers.

`save(update_fields=...)` compiles a query per row, and `bulk_update` builds a CASE per field
and row, which costs more to compile than the writes themselves. A book's fills, a SIM
broker's orders and positions move a few rows at a time, thousands of times in a replay.
"""

from django.db import connection


def rows_update(rows: list, fields: list[str]) -> None:
    """Write `fields` of each of `rows` (all one model, all stored). On PostgreSQL one UPDATE from
    a VALUES list (each statement there is a network round trip); elsewhere one UPDATE statement
    run for every row (executemany). No signals are sent, as with bulk_update."""
    if not rows:
        return
    if len(rows) > 1 and connection.vendor == "postgresql":
        _update_from_values(rows, fields)
    else:
        _update_each(rows, fields)


def _db_values(row, columns) -> list:
    # pre_save gives each field's value as save() would (and stamps an auto_now updated_at).
    return [field.get_db_prep_save(field.pre_save(row, add=False), connection) for field in columns]


def _update_each(rows: list, fields: list[str]) -> None:
    meta = rows[0]._meta
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in columns)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"
    with connection.cursor() as cursor:
        cursor.executemany(sql, [[*_db_values(row, columns), row.pk] for row in rows])


def _update_from_values(rows: list, fields: list[str]) -> None:
    """UPDATE ... FROM (VALUES ...): every row's fields in one statement (PostgreSQL)."""
    meta = rows[0]._meta
    columns = [meta.get_field(name) for name in fields]
    key, quote = meta.pk, connection.ops.quote_name
    placeholders = ", ".join(f"%s::{field.cast_db_type(connection)}" for field in [key, *columns])
    names = ", ".join(quote(field.column) for field in [key, *columns])
    assignments = ", ".join(f"{quote(field.column)} = v.{quote(field.column)}" for field in columns)
    params = []
    for row in rows:
        params += [row.pk, *_db_values(row, columns)]
    table = quote(meta.db_table)
    sql = (
        f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([f'({placeholders})'] * len(rows))}) "
        f"AS v({names}) WHERE {table}.{quote(key.column)} = v.{quote(key.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)

"""Writing many rows of one model at once, cheaper than Django offers.

`save(update_fields=...)` compiles a query per row, and `bulk_update` builds a CASE per field
and row, which costs more to compile than the writes themselves. A book's fills, a SIM
broker's orders and positions move a few rows at a time, thousands of times in a replay.
`bulk_create` converts and places every value of every row; a replay's quiet marks are
seventy rows a session that differ in two values.
"""

from datetime import date

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


def rows_insert_new(model, fields: list[str], rows: list[tuple], *, returning: str = "pk") -> list:
    """Insert `rows` (tuples of Python values, one per field of `fields`), leaving out any that
    would break a unique constraint (ON CONFLICT DO NOTHING: SQLite and PostgreSQL both speak
    it). Each distinct value is converted for the database once, and the rows go as few
    multi-row statements as the database's parameter limit allows. Returns the `returning`
    field's values of the rows inserted, in no particular order. No signals are sent, as with
    bulk_create; defaults are not applied."""
    if not rows:
        return []
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    head = f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in columns)}) VALUES "
    one = f"({', '.join(['%s'] * len(columns))})"
    batch = max(1, (connection.features.max_query_params or 999) // len(columns))
    returned = meta.get_field(returning) if returning != "pk" else meta.pk
    tail = f" ON CONFLICT DO NOTHING RETURNING {quote(returned.column)}"
    from_db = returned.get_db_converters(connection) + connection.ops.get_db_converters(returned.cached_col)
    converted: dict = {}

    def db_value(index: int, value):
        key = (index, value if value is None or isinstance(value, str | int | date) else id(value))
        if key not in converted:
            converted[key] = columns[index].get_db_prep_save(value, connection)
        return converted[key]

    inserted = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            part = rows[start : start + batch]
            params = [db_value(i, value) for row in part for i, value in enumerate(row)]
            cursor.execute(f"{head}{', '.join([one] * len(part))}{tail}", params)
            inserted += [_converted(value, from_db, returned) for (value,) in cursor.fetchall()]
    return inserted


def _converted(value, converters, field):
    for converter in converters:
        value = converter(value, field.cached_col, connection)
    return value

"""Writing rows of one model, cheaper than Django offers.

`save(update_fields=...)` compiles a query per row, and `bulk_update` builds a CASE per field
and row, which costs more to compile than the writes themselves. A book's fills, a SIM
broker's orders and positions move a few rows at a time, thousands of times in a replay.
`bulk_create` compiles its INSERT at every call; a replay's quiet marks are seventy rows a
session that differ in two values. `update_or_create` takes five statements for one row.

- `rows_update`: write some fields of stored rows (save(update_fields) / bulk_update);
- `objects_create`: insert new instances and learn their ids (bulk_create);
- `rows_insert_new`: insert value tuples, leaving out those a unique constraint refuses;
- `rows_add`: add totals into the stored rows with the same key (an upsert that sums);
- `row_upsert`: store a row in place of the one with the same key (update_or_create).

None sends signals: they are for models that have no receivers. A Trade has (its summaries);
it is written here only as a new intent, which no summary counts, and by its fills, which keep
the summaries themselves (`trading.services.book`).
"""

from datetime import date

from django.db import DEFAULT_DB_ALIAS, connections


def rows_update(rows: list, fields: list[str]) -> None:
    """Write `fields` of each of `rows` (all one model, all stored). On PostgreSQL one UPDATE from
    a VALUES list (each statement there is a network round trip); elsewhere one UPDATE statement
    run for every row (executemany). No signals are sent, as with bulk_update."""
    if not rows:
        return
    if len(rows) > 1 and _db().vendor == "postgresql":
        _update_from_values(rows, fields)
    else:
        _update_each(rows, fields)


def _db():
    # The connection itself: each attribute read through django.db.connection (a proxy to a
    # per-thread object) costs more than converting the value it is read for.
    return connections[DEFAULT_DB_ALIAS]


def _db_values(row, columns, db) -> list:
    # pre_save gives each field's value as save() would (and stamps an auto_now updated_at).
    return [field.get_db_prep_save(field.pre_save(row, add=False), db) for field in columns]


def _update_each(rows: list, fields: list[str]) -> None:
    meta, db = rows[0]._meta, _db()
    columns = [meta.get_field(name) for name in fields]
    quote = db.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in columns)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"
    with db.cursor() as cursor:
        cursor.executemany(sql, [[*_db_values(row, columns, db), row.pk] for row in rows])


def _update_from_values(rows: list, fields: list[str]) -> None:
    """UPDATE ... FROM (VALUES ...): every row's fields in one statement (PostgreSQL)."""
    meta, db = rows[0]._meta, _db()
    columns = [meta.get_field(name) for name in fields]
    key, quote = meta.pk, db.ops.quote_name
    placeholders = ", ".join(f"%s::{field.cast_db_type(db)}" for field in [key, *columns])
    names = ", ".join(quote(field.column) for field in [key, *columns])
    assignments = ", ".join(f"{quote(field.column)} = v.{quote(field.column)}" for field in columns)
    params = []
    for row in rows:
        params += [row.pk, *_db_values(row, columns, db)]
    table = quote(meta.db_table)
    sql = (
        f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([f'({placeholders})'] * len(rows))}) "
        f"AS v({names}) WHERE {table}.{quote(key.column)} = v.{quote(key.column)}"
    )
    with db.cursor() as cursor:
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
    meta, db = model._meta, _db()
    columns = [meta.get_field(name) for name in fields]
    quote = db.ops.quote_name
    head = f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in columns)}) VALUES "
    one = f"({', '.join(['%s'] * len(columns))})"
    batch = max(1, (db.features.max_query_params or 999) // len(columns))
    returned = meta.get_field(returning) if returning != "pk" else meta.pk
    tail = f" ON CONFLICT DO NOTHING RETURNING {quote(returned.column)}"
    from_db = returned.get_db_converters(db) + db.ops.get_db_converters(returned.cached_col)
    converted: dict = {}

    def db_value(index: int, value):
        key = (index, value if value is None or isinstance(value, str | int | date) else id(value))
        if key not in converted:
            converted[key] = columns[index].get_db_prep_save(value, db)
        return converted[key]

    inserted = []
    with db.cursor() as cursor:
        for start in range(0, len(rows), batch):
            part = rows[start : start + batch]
            params = [db_value(i, value) for row in part for i, value in enumerate(row)]
            cursor.execute(f"{head}{', '.join([one] * len(part))}{tail}", params)
            inserted += [_converted(value, from_db, returned, db) for (value,) in cursor.fetchall()]
    return inserted


def _converted(value, converters, field, db):
    for converter in converters:
        value = converter(value, field.cached_col, db)
    return value


def objects_create(objects) -> list:
    """Insert new instances of one model, as `Model.objects.bulk_create(objects)` does: every
    concrete column, each field's `pre_save` (auto_now stamps), ids set from RETURNING in the
    order given (as Django's own bulk insert relies on), no signals. It costs about two thirds
    as much: the statement is built once per batch size, and each value converted with the
    connection itself. Falls back to bulk_create where that would do more (an id given, a
    database without RETURNING on a multi-row insert, a value that is an expression)."""
    objects = list(objects)
    if not objects:
        return objects
    meta, db = objects[0]._meta, _db()
    for obj in objects:
        # As bulk_create: a related object saved after it was assigned gives its id now.
        obj._prepare_related_fields_for_save(operation_name="bulk_create")
    columns = [field for field in meta.concrete_fields if not field.generated and field is not meta.auto_field]
    rows = [[field.pre_save(obj, add=True) for field in columns] for obj in objects]
    if (
        meta.auto_field is None
        or any(obj.pk is not None for obj in objects)
        or not db.features.can_return_rows_from_bulk_insert
        or any(hasattr(value, "resolve_expression") for row in rows for value in row)
    ):
        return type(objects[0])._default_manager.bulk_create(objects)
    quote = db.ops.quote_name
    head = f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in columns)}) VALUES "
    one = f"({', '.join(['%s'] * len(columns))})"
    tail = f" RETURNING {quote(meta.auto_field.column)}"
    batch = max(1, (db.features.max_query_params or 999) // len(columns))
    prepare = [field.get_db_prep_save for field in columns]
    with db.cursor() as cursor:
        for start in range(0, len(objects), batch):
            part = rows[start : start + batch]
            params = [to_db(value, db) for row in part for to_db, value in zip(prepare, row, strict=True)]
            cursor.execute(f"{head}{', '.join([one] * len(part))}{tail}", params)
            for obj, (pk,) in zip(objects[start : start + batch], cursor.fetchall(), strict=True):
                setattr(obj, meta.auto_field.attname, pk)
                obj._state.adding, obj._state.db = False, db.alias
    return objects


def rows_add(objects, *, unique: list[str], sums: list[str], highest: list[str] = (), lowest: list[str] = ()) -> None:
    """Add `objects` (new instances of one model, each a total of its own) into the stored rows
    with the same `unique` fields, in one statement: `sums` are added, `highest` and `lowest`
    keep the larger and the smaller value (all of them columns that hold no null). A row not stored yet
    is inserted as it is. One INSERT ... ON CONFLICT (the `unique` fields' constraint) DO UPDATE,
    which SQLite and PostgreSQL both speak; each row is locked while it is added to, so two
    writers adding at once both count. `unique` values must not repeat among `objects`."""
    objects = list(objects)
    if not objects:
        return
    meta, db = objects[0]._meta, _db()
    quote = db.ops.quote_name
    table = quote(meta.db_table)
    columns = [field for field in meta.concrete_fields if field is not meta.auto_field]
    key = ", ".join(quote(meta.get_field(name).column) for name in unique)

    def stored(name: str) -> str:
        return f"{table}.{quote(meta.get_field(name).column)}"

    def new(name: str) -> str:
        return f"excluded.{quote(meta.get_field(name).column)}"

    def keeps(name: str, comparison: str) -> str:
        return (
            f"{quote(meta.get_field(name).column)} = CASE WHEN {new(name)} {comparison} {stored(name)} "
            f"THEN {new(name)} ELSE {stored(name)} END"
        )

    assignments = [f"{quote(meta.get_field(name).column)} = {stored(name)} + {new(name)}" for name in sums]
    assignments += [keeps(name, ">") for name in highest] + [keeps(name, "<") for name in lowest]
    head = f"INSERT INTO {table} ({', '.join(quote(field.column) for field in columns)}) VALUES "
    one = f"({', '.join(['%s'] * len(columns))})"
    tail = f" ON CONFLICT ({key}) DO UPDATE SET {', '.join(assignments)}"
    batch = max(1, (db.features.max_query_params or 999) // len(columns))
    with db.cursor() as cursor:
        for start in range(0, len(objects), batch):
            part = objects[start : start + batch]
            params = [field.get_db_prep_save(field.pre_save(obj, add=True), db) for obj in part for field in columns]
            cursor.execute(f"{head}{', '.join([one] * len(part))}{tail}", params)


def row_upsert(obj, *, unique: list[str]):
    """Store `obj` (a new instance) in place of the stored row with the same `unique` fields, or
    as a new row: `update_or_create` with every field as a default, in one statement instead of
    five (savepoints, a locking read, the write). One INSERT ... ON CONFLICT (the `unique`
    fields' constraint) DO UPDATE; a field stamped when the row is added (auto_now_add) keeps
    its stored value. Sets `obj`'s id and those stamps from what is stored; no signals."""
    meta, db = obj._meta, _db()
    quote = db.ops.quote_name
    columns = [field for field in meta.concrete_fields if field is not meta.auto_field]
    keys = {meta.get_field(name).column for name in unique}
    kept = [field for field in columns if getattr(field, "auto_now_add", False)]
    replaced = [field for field in columns if field.column not in keys and field not in kept]
    returned = [meta.auto_field, *kept]
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({', '.join(quote(column) for column in sorted(keys))}) DO UPDATE SET "
        + ", ".join(f"{quote(field.column)} = excluded.{quote(field.column)}" for field in replaced)
        + f" RETURNING {', '.join(quote(field.column) for field in returned)}"
    )
    params = [field.get_db_prep_save(field.pre_save(obj, add=True), db) for field in columns]
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        values = cursor.fetchone()
    for field, value in zip(returned, values, strict=True):
        converters = field.get_db_converters(db) + db.ops.get_db_converters(field.cached_col)
        setattr(obj, field.attname, _converted(value, converters, field, db))
    obj._state.adding, obj._state.db = False, db.alias
    return obj

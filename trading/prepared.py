"""Querysets built and compiled by the ORM once, then run many times with new values.

Django builds a queryset's SQL again at every evaluation: for a two-condition filter on SQLite
that is about 200 µs, against 15 µs to run the statement. A replay evaluates the same few
dozen querysets hundreds of thousands of times (a job's broker sync, the book's fills, the
risk gate), so building them was two fifths of its time.

A `Prepared` query is written as an ordinary queryset, with a `Param` wherever a value changes
from one run to the next:

    OPEN_TRADE_IDS = Prepared(
        lambda book: Trade.objects.filter(book_id=book, status=Trade.Status.OPEN).values_list("pk", flat=True)
    )
    OPEN_TRADE_IDS(book=book.pk)  # a list, as list(queryset) would be

The ORM builds and compiles it once per database (and, for a list value such as an `__in`
lookup's, once per length); each run only converts the values, executes the statement and
turns the rows into what the queryset gives: model instances, `values()` dicts or
`values_list()` tuples (flat or not), with the same database converters.

What it leaves out, and refuses when it is built: `select_related`, annotations on model
instances, related managers (`trade.orders.filter(...)`), `prefetch_related`. A value is
converted by its type, as its field would convert it (instance → id, aware datetime, date,
Decimal, UUID, a choice's value); `None` is refused: SQL's `= NULL` matches nothing, where the
ORM would have written `IS NULL`.
"""

import enum
import inspect
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Expression, Model, QuerySet
from django.db.models.query import FlatValuesListIterable, ModelIterable, ValuesIterable, ValuesListIterable
from django.db.models.sql import UpdateQuery


class Param(Expression):
    """A value of a prepared query, given by name at each run (one of a list's, by `index`)."""

    def __init__(self, name: str, index: int | None = None):
        super().__init__()
        self.name, self.index = name, index

    def as_sql(self, compiler, connection):
        return "%s", [self]

    def resolve_expression(self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False):
        return self

    def get_group_by_cols(self):
        return []


class ParamList(Param):
    """A list of values (an `__in` lookup's), as one expression: Django would otherwise prepare
    each item with its field, as a value, before it is compiled."""

    def __init__(self, name: str, length: int):
        super().__init__(name)
        self.length = length

    def as_sql(self, compiler, connection):
        if not self.length:
            raise EmptyResultSet
        return f"({', '.join(['%s'] * self.length)})", [Param(self.name, index) for index in range(self.length)]


@dataclass(frozen=True)
class _Compiled:
    sql: str | None  # None: the query can match nothing (an empty `__in` list)
    params: tuple  # constants, already converted, and Params to fill in
    shape: str  # "model", "dicts", "tuples" or "flat"
    converters: list  # (position, (converter functions, expression)), as the compiler gives them
    names: tuple = ()
    model: type[Model] | None = None
    model_columns: tuple[int, int] = (0, 0)
    init_list: tuple = ()
    for_update: bool = False


_SHAPES = {
    ModelIterable: "model",
    ValuesIterable: "dicts",
    ValuesListIterable: "tuples",
    FlatValuesListIterable: "flat",
}


class Prepared:
    """A queryset built by `build(**params)` with a `Param` (or a list of them) for each value;
    called with the values, it returns what `list(queryset)` would."""

    def __init__(self, build: Callable[..., QuerySet]):
        self._build = build
        self._compiled: dict = {}

    def __call__(self, **values) -> list:
        db = connections[DEFAULT_DB_ALIAS]
        compiled, params = _ready(self, db, values)
        if compiled.sql is None:
            return []
        if compiled.for_update and db.features.has_select_for_update and db.get_autocommit():
            # As the ORM: a lock taken outside a transaction would be released at once.
            raise transaction.TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        with db.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        return _shaped(compiled, rows, db)

    def _compile(self, db, lengths) -> _Compiled:
        arguments = {name: Param(name) if length is None else ParamList(name, length) for name, length in lengths}
        queryset = self._build(**arguments)
        shape = _SHAPES.get(queryset._iterable_class)
        query = queryset.query
        if shape is None or queryset._prefetch_related_lookups or queryset._known_related_objects:
            raise TypeError("a prepared query is a plain queryset, values() or values_list()")
        compiler = query.get_compiler(connection=db)
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:
            return _Compiled(None, (), shape, [])
        fields = [column[0] for column in compiler.select[: compiler.col_count]]
        details = {
            "sql": sql,
            "params": tuple(params),
            "shape": shape,
            "converters": list(compiler.get_converters(fields).items()),
            "for_update": query.select_for_update,
        }
        if shape == "model":
            if compiler.klass_info.get("related_klass_infos") or compiler.annotation_col_map:
                raise TypeError("a prepared query of instances selects one model's columns only")
            selected = compiler.klass_info["select_fields"]
            start, end = selected[0], selected[-1] + 1
            details |= {
                "model": compiler.klass_info["model"],
                "model_columns": (start, end),
                "init_list": tuple(column[0].target.attname for column in compiler.select[start:end]),
            }
        elif shape == "dicts":
            details["names"] = tuple(
                query.selected or [*query.extra_select, *query.values_select, *query.annotation_select]
            )
        return _Compiled(**details)


class PreparedUpdate:
    """`build(**params).update(**assignments)`, built once: `assignments` may hold Params too.
    Called with the values, it returns the number of rows updated. No signals, as update()."""

    def __init__(self, build: Callable[..., QuerySet], **assignments):
        self._build = build
        self._build_takes = set(inspect.signature(build).parameters)
        self._assignments = assignments
        self._compiled: dict = {}

    def __call__(self, **values) -> int:
        db = connections[DEFAULT_DB_ALIAS]
        compiled, params = _ready(self, db, values)
        if compiled.sql is None:
            return 0
        with transaction.mark_for_rollback_on_error(using=db.alias), db.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            return cursor.rowcount

    def _compile(self, db, lengths) -> _Compiled:
        # A value may be assigned, compared, or both: `build` is given those it names.
        arguments = {
            name: Param(name) if length is None else ParamList(name, length)
            for name, length in lengths
            if name in self._build_takes
        }
        query = self._build(**arguments).query.chain(UpdateQuery)
        query.add_update_values(self._assignments)
        if query.related_updates:  # update() would run a second statement for a parent model's fields
            raise TypeError("a prepared update writes one model's own fields")
        compiler = query.get_compiler(connection=db)
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:
            return _Compiled(None, (), "count", [])
        return _Compiled(sql or None, tuple(params), "count", [])


def _ready(prepared, db, values: dict) -> tuple[_Compiled, list]:
    """The statement compiled for these values' shape (compiled now if it is the first of its
    shape on this database), and its parameters."""
    lengths = tuple(
        (name, len(value) if isinstance(value, list | tuple | set | frozenset) else None)
        for name, value in values.items()
    )
    # By alias, not by connection object: each thread has its own connection to the same
    # database, and a server's threads come and go (a key per thread would keep each one's).
    compiled = prepared._compiled.get((db.alias, lengths))
    if compiled is None:
        compiled = prepared._compiled[(db.alias, lengths)] = prepared._compile(db, lengths)
    values = {
        name: list(value) if length is not None else value
        for (name, length), value in zip(lengths, values.values(), strict=True)
    }
    return compiled, [_value(values, param, db) if isinstance(param, Param) else param for param in compiled.params]


def _value(values: dict, param: Param, db):
    value = values[param.name] if param.index is None else values[param.name][param.index]
    return _to_db(value, db)


def _to_db(value, db):
    """A value as its field would give it to the database."""
    if value is None:
        raise ValueError("a prepared query compares with =; None would match nothing (the ORM writes IS NULL)")
    if isinstance(value, Model):
        return value.pk
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return db.ops.adapt_datetimefield_value(value)
    if isinstance(value, date):
        return db.ops.adapt_datefield_value(value)
    if isinstance(value, time):
        return db.ops.adapt_timefield_value(value)
    if isinstance(value, Decimal):
        return db.ops.adapt_decimalfield_value(value)
    if isinstance(value, uuid.UUID):
        return value if db.features.has_native_uuid_field else value.hex
    return value


def _converted(rows: list, converters: list, db) -> list:
    """The rows with each column's database converters applied (SQLCompiler.apply_converters),
    given this thread's connection."""
    converted = []
    for row in rows:
        row = list(row)
        for position, (functions, expression) in converters:
            value = row[position]
            for function in functions:
                value = function(value, expression, db)
            row[position] = value
        converted.append(row)
    return converted


def _shaped(compiled: _Compiled, rows: list, db) -> list:
    if compiled.converters:
        rows = _converted(rows, compiled.converters, db)
    if compiled.shape == "flat":
        return [row[0] for row in rows]
    if compiled.shape == "tuples":
        return [tuple(row) for row in rows]
    if compiled.shape == "dicts":
        names = compiled.names
        return [dict(zip(names, row, strict=False)) for row in rows]
    start, end = compiled.model_columns
    make, alias, init_list = compiled.model.from_db, db.alias, compiled.init_list
    return [make(alias, init_list, row[start:end]) for row in rows]

"""SQL expressions that indexes of the book are built on, so queries and indexes spell them alike.

A database uses an index on an expression only for the very same expression; defining it once
here, beside the models, keeps the index (`Trade.Meta.indexes`) and the queries that rely on it
(`reporting.metrics`) in step.
"""

from django.db import NotSupportedError
from django.db.models import BigIntegerField, F, Func


class HoldingSeconds(Func):
    """`exit_time - entry_time` in whole seconds, as an integer the database can sum, sort and index."""

    arity = 2
    output_field = BigIntegerField()

    def __init__(self, exit_time="exit_time", entry_time="entry_time"):
        super().__init__(F(exit_time), F(entry_time))

    def as_sqlite(self, compiler, connection, **extra_context):
        # Django stores aware datetimes in SQLite as UTC text, which julianday() reads.
        return self.as_sql(
            compiler,
            connection,
            template="CAST(ROUND((julianday(%(expressions)s)) * 86400) AS INTEGER)",
            arg_joiner=") - julianday(",
            **extra_context,
        )

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            template="CAST(ROUND(EXTRACT(EPOCH FROM (%(expressions)s))) AS BIGINT)",
            arg_joiner=" - ",
            **extra_context,
        )

    def as_sql(self, compiler, connection, **extra_context):
        if "template" not in extra_context:
            raise NotSupportedError(f"holding time is computed on SQLite and PostgreSQL, not {connection.vendor}")
        return super().as_sql(compiler, connection, **extra_context)

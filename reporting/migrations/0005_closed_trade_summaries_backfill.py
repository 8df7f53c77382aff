"""Sum the trades closed before the summaries existed, book by book."""

from django.db import migrations


def backfill(apps, schema_editor):
    from reporting.summaries import counted_rows, summary_fields

    Trade = apps.get_model("trading", "Trade")
    summaries = [apps.get_model("reporting", name) for name in ("ClosedTradeMonth", "ClosedTradeDay", "ClosedTradeHolding")]  # fmt: skip
    counted = Trade.objects.filter(status="closed", dry_run=False, realized_pnl__isnull=False, exit_time__isnull=False)
    for book_id in counted.order_by().values_list("book_id", flat=True).distinct():
        rows = counted_rows(counted.filter(book_id=book_id)).iterator(chunk_size=20_000)
        for model, fields in zip(summaries, summary_fields(book_id, rows), strict=True):
            model.objects.bulk_create([model(**values) for values in fields], batch_size=5_000)


def forget(apps, schema_editor):
    for name in ("ClosedTradeMonth", "ClosedTradeDay", "ClosedTradeHolding"):
        apps.get_model("reporting", name).objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reporting", "0004_closed_trade_summaries"),
        ("trading", "0015_alerts"),
    ]

    operations = [migrations.RunPython(backfill, forget)]

"""Sum the trades closed before the summaries existed, book by book."""

from django.db import migrations


def backfill(apps, schema_editor):
    from reporting.summaries import TRADE_COLUMNS, summary_fields

    Trade = apps.get_model("trading", "Trade")
    Month = apps.get_model("reporting", "ClosedTradeMonth")
    Day = apps.get_model("reporting", "ClosedTradeDay")
    counted = Trade.objects.filter(status="closed", dry_run=False, realized_pnl__isnull=False, exit_time__isnull=False)
    for book_id in counted.order_by().values_list("book_id", flat=True).distinct():
        rows = counted.filter(book_id=book_id).order_by("exit_time", "id").values_list(*TRADE_COLUMNS)
        months, days = summary_fields(book_id, rows.iterator(chunk_size=20_000))
        Month.objects.bulk_create([Month(**fields) for fields in months], batch_size=5_000)
        Day.objects.bulk_create([Day(**fields) for fields in days], batch_size=5_000)


def forget(apps, schema_editor):
    apps.get_model("reporting", "ClosedTradeMonth").objects.all().delete()
    apps.get_model("reporting", "ClosedTradeDay").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reporting", "0004_closed_trade_summaries"),
        ("trading", "0015_alerts"),
    ]

    operations = [migrations.RunPython(backfill, forget)]

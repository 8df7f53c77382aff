"""Every existing row joins a book: one book per configured broker alias, named after it.

Runs and trades name their alias (or, older still, their backend); orders, candidates and fills
follow their trade or run; a position follows the latest trade in its symbol; reports and
schedule slots (which had no owner) go to the book of TRADE_LABS_EXECUTION_BACKEND.
"""

from django.conf import settings
from django.db import migrations

BACKEND_NAMES = {"trading.brokers.sim.SimBroker": "sim", "trading.brokers.ib.IBBroker": "ib"}


def _aliases():
    return {alias: config for alias, config in settings.BROKERS.items() if alias != "default"}


def _default_books(apps):
    Book = apps.get_model("trading", "Book")
    Bar = apps.get_model("sim", "Bar")
    books = {}
    for alias, config in _aliases().items():
        options = config.get("OPTIONS", {})
        kind = BACKEND_NAMES.get(config.get("BACKEND", ""), alias)
        # Before books, any imported bar switched the whole SIM market to bars: keep that market.
        market = "imported" if kind == "sim" and Bar.objects.exists() else "synthetic"
        books[alias], _ = Book.objects.get_or_create(
            name=alias,
            defaults={"broker_alias": alias, "account_id": str(options.get("account", "")), "market": market},
        )
    return books


def forwards(apps, schema_editor):
    books = _default_books(apps)
    by_backend = {BACKEND_NAMES.get(config.get("BACKEND", ""), alias): books[alias] for alias, config in _aliases().items()}
    default = books.get(settings.TRADE_LABS_EXECUTION_BACKEND) or next(iter(books.values()))

    def book_of(alias, backend):
        return books.get(alias) or by_backend.get(backend) or default

    model = apps.get_model
    for Model in (model("trading", "PipelineRun"), model("trading", "Trade")):
        for alias, backend in Model.objects.filter(book=None).values_list("broker_alias", "backend").distinct():
            Model.objects.filter(book=None, broker_alias=alias, backend=backend).update(book=book_of(alias, backend))
    Order, Candidate, Fill, Trade = (model("trading", n) for n in ("Order", "Candidate", "Fill", "Trade"))
    for order in Order.objects.filter(book=None).select_related("trade", "run"):
        owner = order.trade or order.run
        order.book_id = owner.book_id if owner else book_of("", order.backend).pk
        order.save(update_fields=["book"])
    for candidate in Candidate.objects.filter(book=None).select_related("run"):
        candidate.book_id = candidate.run.book_id
        candidate.save(update_fields=["book"])
    for fill in Fill.objects.filter(book=None).select_related("order"):
        fill.book_id = fill.order.book_id
        fill.save(update_fields=["book"])
    for position in model("trading", "Position").objects.filter(book=None):
        latest = Trade.objects.filter(symbol=position.symbol, dry_run=False).order_by("-created_at").first()
        position.book_id = latest.book_id if latest else default.pk
        position.save(update_fields=["book"])
    for Model in (model("reconciliation", "ReconciliationRun"), model("reconciliation", "Discrepancy")):
        for backend in Model.objects.filter(book=None).values_list("backend", flat=True).distinct():
            Model.objects.filter(book=None, backend=backend).update(book=book_of("", backend))
    for Model in (model("reporting", "DailyReport"), model("schedule", "JobSlot")):
        Model.objects.filter(book=None).update(book=default)


class Migration(migrations.Migration):
    dependencies = [
        ("trading", "0007_books"),
        ("sim", "0002_bar_sets"),
        ("reporting", "0002_books_and_snapshots"),
        ("reconciliation", "0003_books"),
        ("schedule", "0002_books"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

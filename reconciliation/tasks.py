"""django-q2 entry point: a thin caller of the reconciliation service."""

from trading.services.books import book_named

from .services import reconciliation_run


def reconcile_task(book: str | None = None) -> str:
    """Reconcile the named book (default: the default book)."""
    return reconciliation_run(book=book_named(book), trigger="schedule").status

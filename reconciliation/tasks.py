"""django-q2 entry point: a thin caller of the reconciliation service."""

from .services import reconciliation_run


def reconcile_task(alias: str = "default") -> str:
    return reconciliation_run(alias=alias, trigger="schedule").status

"""django-q2 task functions: thin callers of `trading.schedule.services`.

Every schedule from `setup_schedules` calls `run_job(job, intended=<its next_run>)`;
django-q2 passes the time the firing was meant for, so a late firing (a cluster that was
down) is judged against its slot, not against the time it happens to run.
"""

from datetime import datetime

from trading.services.books import book_named

from .services import job_run


def run_job(job: str, intended: str | None = None, book: str | None = None) -> str:
    """Run `job` in `book` (a name; default: the default book) for its due slot at most once; the
    returned line is kept as the django-q2 task result."""
    outcome = job_run(job=job, book=book_named(book), intended=datetime.fromisoformat(intended) if intended else None)
    return str(outcome)

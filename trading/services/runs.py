"""Who holds a run: the process that started it, and whether it is still alive.

A run records its worker (host and pid) and renews a lease while it works. Anything that
would act on a run's orders from outside it (retry, recovery) asks here first: a run that
is alive owns its intents, and only it may send or release them.
"""

import os
import socket
from datetime import datetime

from django.utils import timezone

from trading.models import PipelineRun


def current_worker() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _process_state(worker: dict) -> str:
    """'alive' or 'gone' when we can be sure (same host, pid signalled), else 'unknown'."""
    if not worker or worker.get("host") != socket.gethostname():
        return "unknown"
    try:
        os.kill(int(worker["pid"]), 0)
    except ProcessLookupError:
        return "gone"
    except PermissionError:
        return "alive"  # it exists, under another user
    except (ValueError, KeyError, TypeError):
        return "unknown"
    return "alive"


def process_is_gone(worker: dict) -> bool:
    """True only when we can be sure: same host, and no process with that pid."""
    return _process_state(worker) == "gone"


def run_alive_reason(run: PipelineRun, *, now: datetime | None = None) -> str:
    """Why `run` must be taken as still working ('' when it is finished or provably dead):
    it is running and its process is alive, or its lease is current and its process is not
    provably gone (another host, where we cannot look)."""
    if run.status != PipelineRun.Status.RUNNING:
        return ""
    worker = run.parameters.get("worker", {}) if isinstance(run.parameters, dict) else {}
    state = _process_state(worker)
    if state == "gone":
        return ""
    if state == "alive":
        return f"its process {worker.get('host')}:{worker.get('pid')} is alive"
    now = now or timezone.now()
    if run.lease_expires_at is not None and run.lease_expires_at > now:
        until = timezone.localtime(run.lease_expires_at)
        return f"its lease runs until {until:%Y-%m-%d %H:%M:%S %Z}"
    return ""


def runs_alive(*, book, now: datetime | None = None) -> list[PipelineRun]:
    """The book's runs that still own their orders."""
    running = PipelineRun.objects.filter(book=book, status=PipelineRun.Status.RUNNING)
    return [run for run in running if run_alive_reason(run, now=now)]

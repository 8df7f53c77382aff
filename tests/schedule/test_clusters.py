"""Several clusters and workers against one due slot: exactly one execution."""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection
from django_q.models import Schedule, Task

from tests.schedule.conftest import new_york
from trading.models import PipelineRun
from trading.schedule.models import Job, JobSlot
from trading.schedule.selectors import schedule_name
from trading.schedule.services import job_run, schedules_pause, schedules_sync

ROOT = Path(__file__).resolve().parents[2]


def _qcluster_env(data_dir: Path) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.schedule.qcluster_settings",
        "TRADE_LABS_QCLUSTER_DB_NAME": connection.settings_dict["NAME"],
        "TRADE_LABS_TEST_DATA_DIR": str(data_dir),
        "TRADE_LABS_LOG_LEVEL": "WARNING",
        # The slot is Friday 09:30 and the clusters judge lateness by the real clock: let the scan run.
        "TRADE_LABS_SCHEDULE_SCAN_GRACE_MINUTES": str(10**8),
        "TRADE_LABS_SIM_UNIVERSE": "100",
    }
    env.pop("TRADE_LABS_FAILPOINT", None)
    return env


def _stop(clusters: list[subprocess.Popen]) -> list[str]:
    """End the clusters we started and return their error output.

    SIGTERM to each cluster's main process lets django-q2 stop its own workers; whatever
    is still alive a few seconds later (its whole process group) is killed.
    """
    for process in clusters:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 8
    for process in clusters:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
    for process in clusters:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # leftover children, if any
    return [process.communicate(timeout=10)[1] for process in clusters]


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
def test_two_clusters_run_a_due_scan_once(tmp_path, schedule_settings):
    """Two real `qcluster` processes (as on two machines) share the database and its due schedule.

    On PostgreSQL the scheduler's row locks let one cluster enqueue; on SQLite the database
    lock does. A hand-made copy of the schedule sends a second firing anyway: the slot
    table turns it away. Runs on whichever database the suite uses (both in CI).
    """
    schedules_sync(now=new_york(2026, 11, 19, 18, 0))
    schedules_pause(schedules=Schedule.objects.exclude(name=schedule_name(Job.OPENING_SCAN)))
    opening = Schedule.objects.get(name=schedule_name(Job.OPENING_SCAN))
    opening.next_run = new_york(2026, 11, 20, 9, 30)
    opening.save()
    # Someone copied the schedule by hand: two firings for one slot reach the workers.
    Schedule.objects.create(
        name="copy made in the admin",
        func=opening.func,
        args=opening.args,
        schedule_type=opening.schedule_type,
        next_run=opening.next_run,
        intended_date_kwarg=opening.intended_date_kwarg,
    )

    env = _qcluster_env(tmp_path)
    clusters = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 60
        while Task.objects.count() < 2 and time.monotonic() < deadline:
            assert all(c.poll() is None for c in clusters), "a cluster stopped early"
            time.sleep(0.2)
    finally:
        logs = _stop(clusters)

    results = sorted(Task.objects.values_list("result", flat=True))
    assert len(results) == 2, logs
    assert results[0].startswith("opening_scan: done") and results[1].startswith("opening_scan: taken"), results
    slot = JobSlot.objects.get()
    assert slot.status == JobSlot.Status.DONE and slot.session_date.isoformat() == "2026-11-20"
    assert PipelineRun.objects.count() == 1 and slot.pipeline_run == PipelineRun.objects.get()
    assert Schedule.objects.get(pk=opening.pk).next_run > opening.next_run


@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_the_same_slot_at_once_run_it_once(schedule_settings):
    start = threading.Barrier(2)
    outcomes = []

    def worker():
        start.wait()
        try:
            outcomes.append(
                job_run(
                    job=Job.OPENING_SCAN, intended=new_york(2026, 11, 20, 9, 30), now=new_york(2026, 11, 20, 9, 31)
                ).status
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["done", "taken"]
    assert JobSlot.objects.count() == 1 and PipelineRun.objects.count() == 1

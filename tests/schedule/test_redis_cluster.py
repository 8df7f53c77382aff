"""The scaled-out setup for real: two `qcluster` processes on the Redis broker and PostgreSQL.

Runs in .ci/run's PostgreSQL pass, with Redis on 127.0.0.1:6379 (database 13, this test's own,
flushed before and after). Where Redis or PostgreSQL cannot be reached it says so and skips,
except under CI=true, where that is a failure.
"""

import os
import signal
import subprocess
import sys
import time

import pytest
from django.db import connection
from django_q.models import Schedule, Task

from tests.schedule.conftest import new_york
from tests.schedule.test_clusters import ROOT, _qcluster_env, _stop
from trading.models import PipelineRun
from trading.schedule.models import Job, JobSlot
from trading.schedule.selectors import schedule_name
from trading.schedule.services import job_run, schedules_pause, schedules_sync, slots_expire_abandoned
from trading.services.books import book_default

REDIS_URL = os.environ.get("TRADE_LABS_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


def _unavailable(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the Redis cluster test cannot run under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
def redis_db():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        _unavailable(f"Redis is not reachable at {REDIS_URL}: {exc}")
    if connection.vendor != "postgresql":
        if not _postgres_reachable():
            _unavailable("PostgreSQL is not reachable on 127.0.0.1:5432")
        pytest.skip(
            "runs in the PostgreSQL pass (DATABASE_URL=postgres://…): the scaled-out setup is Redis + PostgreSQL"
        )
    client.flushdb()
    yield client
    client.flushdb()


def _postgres_reachable() -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=2).close()
    except OSError:
        return False
    return True


def _start(tmp_path, **extra) -> subprocess.Popen:
    env = {**_qcluster_env(tmp_path), "REDIS_URL": REDIS_URL, **extra}
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "qcluster"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip


def _wait(condition, clusters, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.2)
    return condition()


def _only_due(*jobs: str) -> dict[str, Schedule]:
    schedules_sync(now=new_york(2026, 11, 19, 18, 0))
    schedules_pause(schedules=Schedule.objects.exclude(name__in=[schedule_name(job) for job in jobs]))
    return {job: Schedule.objects.get(name=schedule_name(job)) for job in jobs}


def test_two_clusters_on_redis_run_each_slot_once(tmp_path, redis_db, schedule_settings):
    opening = _only_due(Job.OPENING_SCAN)[Job.OPENING_SCAN]
    opening.next_run = new_york(2026, 11, 20, 9, 30)
    opening.save()
    # A second firing for the same slot reaches the workers (a schedule copied by hand).
    Schedule.objects.create(
        name="copy made in the admin", func=opening.func, args=opening.args, schedule_type=opening.schedule_type,
        next_run=opening.next_run, intended_date_kwarg=opening.intended_date_kwarg,
    )  # fmt: skip
    clusters = [_start(tmp_path), _start(tmp_path)]
    try:
        done = _wait(lambda: Task.objects.count() >= 2, clusters, 60)
    finally:
        logs = _stop(clusters)
    assert done, logs
    results = sorted(Task.objects.values_list("result", flat=True))
    assert results[0].startswith("opening_scan: done") and results[1].startswith("opening_scan: taken"), results
    assert JobSlot.objects.get().status == JobSlot.Status.DONE and PipelineRun.objects.count() == 1


def test_a_worker_killed_mid_job_leaves_its_slot_failed_never_run_twice(tmp_path, redis_db, schedule_settings):
    opening = _only_due(Job.OPENING_SCAN)[Job.OPENING_SCAN]
    opening.next_run = new_york(2026, 11, 20, 9, 30)
    opening.save()
    # The worker SIGKILLs itself once the run's order intents are committed, before sending.
    clusters = [_start(tmp_path, TRADE_LABS_FAILPOINT="after_intent_recorded")]
    try:
        claimed = _wait(lambda: JobSlot.objects.exists() and PipelineRun.objects.exists(), clusters, 60)
        time.sleep(5)  # the guard replaces the dead worker; the task must not come back
    finally:
        logs = _stop(clusters)
    assert claimed, logs
    slot = JobSlot.objects.get()
    assert slot.status == JobSlot.Status.RUNNING and Task.objects.count() == 0
    assert PipelineRun.objects.count() == 1, "run once, never again"
    later = slot.claimed_at.replace(year=slot.claimed_at.year + 1)
    assert slots_expire_abandoned(book=book_default(), now=later) == 1
    slot.refresh_from_db()
    assert slot.status == JobSlot.Status.FAILED and slot.message.startswith("abandoned")
    again = job_run(job=Job.OPENING_SCAN, intended=new_york(2026, 11, 20, 9, 30), now=new_york(2026, 11, 20, 9, 31))
    assert again.status == "taken" and PipelineRun.objects.count() == 1


def test_when_one_cluster_dies_the_other_keeps_the_schedule(tmp_path, redis_db, schedule_settings):
    schedules = _only_due(Job.OPENING_SCAN, Job.MIDDAY_SCAN)
    schedules[Job.OPENING_SCAN].next_run = new_york(2026, 11, 20, 9, 30)
    schedules[Job.OPENING_SCAN].save()
    schedules[Job.MIDDAY_SCAN].next_run = new_york(2030, 1, 2, 12, 0)  # not yet
    schedules[Job.MIDDAY_SCAN].save()
    first, second = _start(tmp_path), _start(tmp_path)
    try:
        assert _wait(lambda: Task.objects.count() >= 1, [first, second], 60), "the opening scan never ran"
        os.killpg(first.pid, signal.SIGKILL)  # one machine gone, workers and all
        first.wait(timeout=10)
        midday = Schedule.objects.get(pk=schedules[Job.MIDDAY_SCAN].pk)
        midday.next_run = new_york(2026, 11, 20, 12, 0)
        midday.save()
        ran = _wait(
            lambda: JobSlot.objects.filter(job=Job.MIDDAY_SCAN, status=JobSlot.Status.DONE).exists(), [second], 75
        )
    finally:
        logs = _stop([first, second])
    assert ran, logs
    assert sorted(JobSlot.objects.values_list("job", "status")) == [("midday_scan", "done"), ("opening_scan", "done")]

"""A replay's next sessions built in a second process: the same paths to the last bit, and a
builder that never outlives its replay."""

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from trading import sessions
from trading.sim import ahead
from trading.sim.market import SyntheticMarket

ROOT = Path(__file__).resolve().parents[3]
DAYS = [s.day for s in sessions.sessions_between(date(2026, 11, 24), date(2026, 12, 2))]  # an early close among them


def _same_paths(built_here: dict, built_ahead: dict) -> bool:
    return built_here.keys() == built_ahead.keys() and all(
        np.array_equal(a.mid, b.mid)
        and np.array_equal(a.spread_bps, b.spread_bps)
        and np.array_equal(a.cumulative_volume, b.cumulative_volume)
        and np.array_equal(a.defects, b.defects)
        and a.prev_close == b.prev_close
        and a.session == b.session
        for a, b in ((built_here[symbol], built_ahead[symbol]) for symbol in built_here)
    )


@pytest.fixture
def every_replay_builds_ahead(monkeypatch):
    monkeypatch.setattr(ahead, "MIN_SESSIONS", 1)
    monkeypatch.setattr(ahead, "BUILT_HERE_FIRST", 0)
    monkeypatch.setattr(ahead, "second_core_available", lambda: True)


def test_sessions_built_ahead_are_the_paths_built_here(every_replay_builds_ahead):
    here = SyntheticMarket(seed=7, universe_size=60)
    there = SyntheticMarket(seed=7, universe_size=60)
    with there.building_ahead(DAYS):
        builder = there._ahead
        for day in DAYS:
            assert _same_paths(here.day_paths(here.symbols, day), there.day_paths(there.symbols, day))
    assert builder.received == len(DAYS)
    assert there._ahead is None and builder._process.poll() is not None


def test_a_session_skipped_or_never_asked_for_is_built_here(every_replay_builds_ahead):
    here = SyntheticMarket(seed=7, universe_size=30)
    there = SyntheticMarket(seed=7, universe_size=30)
    unlisted = sessions.sessions_between(date(2026, 12, 7), date(2026, 12, 7))[0].day
    with there.building_ahead(DAYS):
        for day in (DAYS[3], DAYS[1], unlisted, DAYS[4]):
            assert _same_paths(here.day_paths(here.symbols, day), there.day_paths(there.symbols, day))
        assert there._ahead.received == 1  # DAYS[4], asked for once the replay had skipped to DAYS[3]


def test_the_first_sessions_are_built_here_while_the_builder_starts(monkeypatch):
    monkeypatch.setattr(ahead, "MIN_SESSIONS", 1)
    monkeypatch.setattr(ahead, "second_core_available", lambda: True)
    here = SyntheticMarket(seed=7, universe_size=30)
    there = SyntheticMarket(seed=7, universe_size=30)
    with there.building_ahead(DAYS):
        for day in DAYS:
            assert _same_paths(here.day_paths(here.symbols, day), there.day_paths(there.symbols, day))
        assert there._ahead.received == len(DAYS) - ahead.BUILT_HERE_FIRST


def test_a_builder_that_stops_answering_is_killed_and_the_replay_builds_on(every_replay_builds_ahead, monkeypatch):
    monkeypatch.setattr(ahead, "ANSWER_TIMEOUT_SECONDS", 0.5)
    here = SyntheticMarket(seed=7, universe_size=30)
    there = SyntheticMarket(seed=7, universe_size=30)
    with there.building_ahead(DAYS):
        builder = there._ahead
        os.kill(builder.pid, signal.SIGSTOP)  # frozen before it answers anything
        for day in DAYS:
            assert _same_paths(here.day_paths(here.symbols, day), there.day_paths(there.symbols, day))
        assert builder.received == 0
        assert builder._process.wait(timeout=5) == -signal.SIGKILL, "killed by the watchdog, not by close()"


def test_a_short_replay_or_a_single_core_builds_here(monkeypatch):
    market = SyntheticMarket(seed=7, universe_size=30)
    with market.building_ahead(DAYS[:2]):
        assert market._ahead is None
    monkeypatch.setattr(ahead, "MIN_SESSIONS", 1)
    monkeypatch.setattr(ahead, "second_core_available", lambda: False)
    with market.building_ahead(DAYS):
        assert market._ahead is None


BUILDER_OWNER = """
import sys, time
from datetime import date
from trading import sessions
from trading.sim.ahead import PathsAhead
builder = PathsAhead(seed=7, universe_size=30, days=[s.day for s in sessions.sessions_between(date(2026, 11, 2), date(2026, 11, 30))])
print(builder.pid, flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT])
def test_the_builder_ends_when_its_replay_is_killed(how):
    owner = subprocess.Popen(
        [sys.executable, "-c", BUILDER_OWNER], cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tradelabs_site.settings.base"},
        # A suite started in the background ignores Ctrl-C, and its children would inherit that.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        builder_pid = int(owner.stdout.readline())
        assert _alive(builder_pid)
        owner.send_signal(how)
        owner.wait(timeout=30)
    finally:
        owner.kill()
    deadline = time.monotonic() + 30
    while _alive(builder_pid):
        assert time.monotonic() < deadline, "the builder outlived its replay"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False

"""Building the synthetic market's next sessions in a second process while a replay trades this one.

A replay's opening scan reads every symbol's minute path of the session. Building them is pure
arithmetic on the market's seed (no database, no book) and about a sixth of a replay's time. With
a second core, a builder process works a session or two ahead and the replay's process only
unpacks what it sends. Both call the same function on the same inputs, so the paths are the
same to the last bit whichever process built them.

The builder ends when its replay does, and by itself when the replay's process dies, even by
SIGKILL: its end of the pipe then reads end-of-file.
"""

import contextlib
import os
import pickle
import signal
import subprocess
import sys
import threading
from collections import deque
from datetime import date
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

# Below this many sessions the builder's start (a fresh interpreter importing numpy and the
# calendar, about a second of the other core) is not paid back.
MIN_SESSIONS = 10
SESSIONS_AHEAD = 2
# The replay builds its first sessions itself while the builder starts (about half a second).
BUILT_HERE_FIRST = 3
PIPE_BYTES = 1 << 20
# A session takes the builder about 20 ms; one not answered in this long never will be.
ANSWER_TIMEOUT_SECONDS = 30.0


def second_core_available() -> bool:
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
    return len(cores) > 1


class PathsAhead:
    """A builder process for one synthetic market, asked for whole sessions in the order a replay
    reads them; `take(day)` returns that session's arrays, or None when it was not asked for (or
    the builder failed: the caller then builds the session itself and meets the error there)."""

    def __init__(self, *, seed: int, universe_size: int, days: list[date]):
        # A fresh interpreter running this module, not multiprocessing: a fork would copy the
        # replay's database connections, and a spawn would run the caller's main script again.
        self._process = subprocess.Popen(
            [sys.executable, "-m", __name__, str(seed), str(universe_size)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=Path(__file__).resolve().parents[2],
        )
        _widen(self._process.stdout)
        self._days = list(days)
        self._next = min(BUILT_HERE_FIRST, len(self._days))
        self._asked: deque[date] = deque()
        self.received = 0  # sessions it built that were used
        self._ask_ahead()

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def take(self, day: date) -> object | None:
        if day not in self._asked:
            if day in self._days[self._next :]:  # the replay skipped ahead: what was asked is not needed
                self._receive_until(None)
                self._next = self._days.index(day) + 1
                self._ask_ahead()
            return None
        arrays = self._receive_until(day)
        self.received += arrays is not None
        self._ask_ahead()
        return arrays

    def _receive_until(self, day: date | None) -> object | None:
        """Receive the answers in the order asked, up to `day`'s (or all of them)."""
        while self._asked:
            asked = self._asked.popleft()
            # A builder that stops answering (stopped, stuck) is killed: its pipe then
            # ends, and the replay builds the rest itself rather than wait for ever.
            watchdog = threading.Timer(ANSWER_TIMEOUT_SECONDS, self._process.kill)
            watchdog.start()
            try:
                answer = pickle.load(self._process.stdout)
            except (EOFError, OSError, pickle.UnpicklingError):
                log.warning("paths_ahead_stopped", day=str(asked))
                self._asked.clear()
                self._next = len(self._days)
                return None
            finally:
                watchdog.cancel()
            if asked == day:
                return answer
        return None

    def _ask_ahead(self) -> None:
        while len(self._asked) < SESSIONS_AHEAD and self._next < len(self._days):
            day = self._days[self._next]
            self._next += 1
            try:
                pickle.dump(day, self._process.stdin)
                self._process.stdin.flush()
            except OSError:
                return
            self._asked.append(day)

    def close(self) -> None:
        """Stop the builder: closing its input tells it to end; it is killed if it does not."""
        for stream in (self._process.stdin, self._process.stdout):
            with contextlib.suppress(OSError):
                stream.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def _widen(pipe) -> None:
    """A session is about 5 MB: through a pipe of the default 64 KiB it would take eighty
    round trips between the two processes; Linux lets a pipe hold up to 1 MiB."""
    try:
        import fcntl
    except ImportError:  # Windows
        return
    if hasattr(fcntl, "F_SETPIPE_SZ"):  # Linux only
        with contextlib.suppress(OSError):
            fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)


def _serve(seed: int, universe_size: int) -> None:
    """The builder's loop: a session's day in, its arrays out (None when it cannot build it).
    Its stdout carries only the answers; anything printed goes to stderr. Ctrl-C at the terminal
    reaches the whole process group: the replay stops, and the builder ends on end-of-file."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    from trading.sim.market import SyntheticMarket

    market = SyntheticMarket(seed, universe_size)
    while True:
        try:
            day = pickle.load(sys.stdin.buffer)
        except (EOFError, OSError, pickle.UnpicklingError):
            return
        try:
            arrays = market._build_day_arrays(list(market.symbols), day)
        except Exception:  # the replay's own process builds the session and reports the error
            arrays = None
        try:
            pickle.dump(arrays, answers, protocol=pickle.HIGHEST_PROTOCOL)
            answers.flush()
        except OSError:
            return


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]))

"""Named crash points for the reliability suite.

`TRADE_LABS_FAILPOINT=<name>` makes the process stop when it reaches that point:
SIGKILL by default, or with `TRADE_LABS_FAILPOINT_ACTION=pause` it writes `paused` in
`TRADE_LABS_FAILPOINT_DIR` and waits (at most a minute) for a `release` file there, so a
test can take the database away mid-run. Unset (always, outside those tests), a
failpoint is one dictionary lookup.
"""

import os
import signal
import time
from pathlib import Path

POINTS = (
    "after_intent_recorded",  # intent committed, nothing sent
    "after_send",  # the broker holds the order, our book does not know
    "after_ack_recorded",  # order states recorded, fills not yet
    "after_fill_recorded",  # fills recorded, run not finished
)


def failpoint(name: str) -> None:
    if os.environ.get("TRADE_LABS_FAILPOINT") != name:
        return
    if os.environ.get("TRADE_LABS_FAILPOINT_ACTION") == "pause":
        _pause(Path(os.environ["TRADE_LABS_FAILPOINT_DIR"]))
    else:
        os.kill(os.getpid(), signal.SIGKILL)


def _pause(directory: Path) -> None:
    (directory / "paused").write_text(str(os.getpid()))
    deadline = time.monotonic() + 60
    while not (directory / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.05)

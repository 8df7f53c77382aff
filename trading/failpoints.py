"""Named crash points for the reliability suite.

`TRADE_LABS_FAILPOINT=<name>` makes the process kill itself with SIGKILL when it reaches
that point, so tests can prove that a crash at any step loses nothing and duplicates
nothing. Unset (always, outside those tests), a failpoint is one dictionary lookup.
"""

import os
import signal

POINTS = (
    "after_intent_recorded",  # intent committed, nothing sent
    "after_send",  # the broker holds the order, our book does not know
    "after_ack_recorded",  # order states recorded, fills not yet
    "after_fill_recorded",  # fills recorded, run not finished
)


def failpoint(name: str) -> None:
    if os.environ.get("TRADE_LABS_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)

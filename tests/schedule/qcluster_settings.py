"""Settings for the `qcluster` processes that test_clusters starts: the test database, a scheduler pass at once.

django-q2's guard runs the scheduler once every 30 seconds of guard cycles; with a 30 s
cycle the first pass happens as the cluster starts, so the test needs no waiting.
"""

import os

from tradelabs_site.settings.test import *  # noqa: F403
from tradelabs_site.settings.test import DATABASES, Q_CLUSTER

DATABASES["default"]["NAME"] = os.environ["TRADE_LABS_QCLUSTER_DB_NAME"]
Q_CLUSTER = {**Q_CLUSTER, "workers": 1, "guard_cycle": 30, "poll": 0.1}

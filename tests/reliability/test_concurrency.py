"""Eight run_pipeline processes for one slot at once: exactly one executes."""

import pytest

from trading.models import PipelineRun
from trading.sim.models import SimOrder


@pytest.mark.timeout(180)
def test_eight_runs_for_the_same_slot_execute_once(manage):
    processes = [
        manage("run_pipeline", "--at", "2026-11-20T10:30", "--slot", "crowd", background=True) for _ in range(8)
    ]
    outcomes = []
    for process in processes:
        out, err = process.communicate(timeout=150)
        outcomes.append((process.returncode, out + err))
    winners = [text for code, text in outcomes if code == 0]
    losers = [text for code, text in outcomes if code != 0]
    assert len(winners) == 1, outcomes
    assert len(losers) == 7
    assert all("already r" in text and "slot crowd" in text for text in losers), losers
    assert PipelineRun.objects.count() == 1
    assert SimOrder.objects.filter(parent=None).count() == 5

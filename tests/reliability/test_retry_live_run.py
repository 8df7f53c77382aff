"""`run_pipeline --retry` of a run that is still alive (paused between recording its intents and
sending them) is refused: releasing its intents would let the live run send orders the book
calls never sent."""

import pytest

from tests.reliability.conftest import paused_run
from trading.models import Order, PipelineRun, Trade
from trading.sim.models import SimOrder

pytestmark = pytest.mark.slow


def test_retry_of_a_live_run_is_refused_and_the_run_finishes_consistent(manage, tmp_path):
    live, pause_dir = paused_run(manage, tmp_path)
    try:
        run = PipelineRun.objects.get()

        retry = manage("run_pipeline", "--retry", str(run.run_id))

        assert retry.returncode != 0
        assert f"run {run.short_id} is still running (its process" in retry.stderr
        assert "Traceback" not in retry.stderr
        assert set(Order.objects.values_list("status", flat=True)) == {Order.Status.INTENT}
    finally:
        (pause_dir / "release").touch()
        live.communicate(timeout=60)
    assert live.returncode == 0
    trade = Trade.objects.get()
    assert trade.status == Trade.Status.OPEN
    book = dict(Order.objects.values_list("client_order_ref", "status"))
    broker = dict(SimOrder.objects.values_list("order_ref", "status"))
    assert set(book) == set(broker)
    assert {ref: ("filled" if s == "filled" else "working") for ref, s in book.items()} == broker

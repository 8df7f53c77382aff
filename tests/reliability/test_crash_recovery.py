"""SIGKILL the pipeline at every step between "intent recorded" and "fill recorded":
the next run leaves no duplicate order, no lost fill, and a book that matches the broker."""

import signal
from collections import Counter

import pytest

from trading.failpoints import POINTS
from trading.models import Fill, Order, PipelineRun, Position, Trade
from trading.sim.models import SimExecution, SimOrder, SimPosition

AT = "2026-11-20T10:30"


def _assert_book_matches_broker():
    ours = set(Order.objects.values_list("client_order_ref", flat=True))
    broker_refs = list(SimOrder.objects.values_list("order_ref", flat=True))
    assert not [ref for ref, n in Counter(broker_refs).items() if n > 1], "an order was sent twice"
    assert set(broker_refs) <= ours, "the broker holds an order the book never recorded"
    entries = Counter(SimOrder.objects.filter(parent=None, status="filled").values_list("symbol", flat=True))
    assert all(n == 1 for n in entries.values()), f"a symbol was bought twice: {entries}"
    assert set(Fill.objects.values_list("exec_id", flat=True)) == set(
        SimExecution.objects.values_list("exec_id", flat=True)
    ), "a fill was lost"
    held = {p.symbol: p.quantity for p in SimPosition.objects.exclude(quantity=0)}
    book = {p.symbol: p.quantity for p in Position.objects.exclude(quantity=0)}
    assert book == held
    for trade in Trade.objects.filter(status=Trade.Status.OPEN):
        assert held.get(trade.symbol) == trade.quantity
    assert not Order.objects.filter(status=Order.Status.INTENT).exists(), "an intent was left unresolved"


@pytest.mark.parametrize("point", POINTS)
def test_a_crash_at_any_step_is_recovered_by_the_next_run(manage, point):
    crashed = manage("run_pipeline", "--at", AT, "--top", "2", env={"TRADE_LABS_FAILPOINT": point})
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    assert PipelineRun.objects.get().status == PipelineRun.Status.RUNNING  # what a crash leaves behind

    follow_up = manage("run_pipeline", "--at", AT, "--top", "2")
    assert follow_up.returncode == 0, follow_up.stderr[-2000:]

    runs = list(PipelineRun.objects.order_by("started_at"))
    assert runs[0].status == PipelineRun.Status.FAILED and "abandoned" in runs[0].error
    assert runs[1].status == PipelineRun.Status.SUCCEEDED
    _assert_book_matches_broker()
    assert Trade.objects.filter(status=Trade.Status.OPEN).count() >= 2

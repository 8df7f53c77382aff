"""The SIM pipeline end to end: what a run records, and that it can be replayed exactly."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from trading.models import Candidate, Fill, Order, OrderEvent, PipelineRun, Position, Trade
from trading.services.books import book_create, book_default
from trading.services.pipeline import AlreadyRunning, RunOptions, pipeline_run, run_start
from trading.sim.models import SimAccount, SimExecution, SimOrder

pytestmark = pytest.mark.django_db


def test_sim_run_records_run_candidates_orders_and_trades(morning):
    run = pipeline_run(RunOptions(at=morning))

    assert run.status == PipelineRun.Status.SUCCEEDED, run.error
    assert run.backend == "sim" and run.mode == "PAPER" and run.armed is False and run.dry_run is False
    assert run.market_time == morning
    assert run.scanned_count == 50
    assert run.scored_count + run.rejected_count == run.scanned_count
    assert run.executed_count == 5
    assert Candidate.objects.filter(run=run).count() == 50
    trades = Trade.objects.filter(run=run)
    assert trades.count() == 5
    for trade in trades:
        assert trade.status == Trade.Status.OPEN
        assert trade.stop_price < trade.entry_price < trade.target_price
        legs = {o.leg: o for o in trade.orders.all()}
        assert set(legs) == {"entry", "stop", "target"}
        assert legs["entry"].status == Order.Status.FILLED
        assert legs["stop"].status == legs["target"].status == Order.Status.WORKING
        assert legs["stop"].parent == legs["entry"]
        assert legs["entry"].client_order_ref.startswith(f"TL-{run.run_id.hex[:16]}-{trade.symbol}-")
        assert OrderEvent.objects.filter(order=legs["entry"], status=Order.Status.INTENT).exists()
        position = Position.objects.get(symbol=trade.symbol)
        assert position.quantity == trade.quantity
        assert position.protective_stop == trade.stop_price
    assert Fill.objects.count() == 5


def test_executed_candidates_are_the_top_scores(morning):
    run = pipeline_run(RunOptions(at=morning, top_n=3))
    executed = list(run.candidates.filter(status=Candidate.Status.EXECUTED).values_list("score", flat=True))
    best_others = run.candidates.filter(status=Candidate.Status.ACCEPTED).order_by("-score").first()
    assert len(executed) == 3
    assert min(executed) >= best_others.score
    assert best_others.reason == "not in the top 3"


def test_broker_keeps_its_own_books(morning):
    pipeline_run(RunOptions(at=morning))
    account = SimAccount.objects.get()
    assert SimOrder.objects.count() == 15
    assert SimExecution.objects.count() == 5
    spent = sum(e.price * e.quantity + e.commission for e in SimExecution.objects.all())
    assert account.cash == 100_000 - spent


def _snapshot():
    candidates = list(
        Candidate.objects.order_by("scanner_rank").values_list(
            "symbol", "scanner_rank", "bid", "ask", "score", "status"
        )
    )
    fills = list(Fill.objects.order_by("symbol").values_list("symbol", "quantity", "price", "commission", "filled_at"))
    return candidates, fills


def _forget_everything():
    OrderEvent.objects.all().delete()
    Fill.objects.all().delete()
    Order.objects.exclude(parent=None).delete()
    Order.objects.all().delete()
    Trade.objects.all().delete()
    Candidate.objects.all().delete()
    PipelineRun.objects.all().delete()
    Position.objects.all().delete()
    SimAccount.objects.all().delete()


def test_same_seed_and_moment_give_same_candidates_and_fills(morning):
    pipeline_run(RunOptions(at=morning))
    first = _snapshot()
    _forget_everything()
    pipeline_run(RunOptions(at=morning))
    assert _snapshot() == first
    assert len(first[1]) == 5


def test_different_seed_gives_a_different_market(morning, settings):
    pipeline_run(RunOptions(at=morning))
    first = _snapshot()
    _forget_everything()
    pipeline_run(RunOptions(at=morning), book=book_create(name="seven", broker_alias="sim", seed=7))
    assert _snapshot()[0] != first[0]


def test_spy_only_scans_one_symbol(morning):
    run = pipeline_run(RunOptions(at=morning, spy_only=True))
    assert list(run.candidates.values_list("symbol", flat=True)) == ["SPY"]


def test_second_run_skips_symbols_already_held(morning):
    first = pipeline_run(RunOptions(at=morning))
    second = pipeline_run(RunOptions(at=morning))
    held = set(first.trades.values_list("symbol", flat=True))
    skipped = second.candidates.filter(status=Candidate.Status.SKIPPED)
    # The same minute ranks the same names first: every one of them is held, so each is skipped.
    assert {c.symbol for c in skipped} == held and len(held) == 5
    assert all("already has an open trade" in c.reason for c in skipped)
    assert not (set(second.trades.values_list("symbol", flat=True)) & held)


def test_a_running_run_blocks_a_second_one(morning):
    run_start(book=book_default(), backend="sim", armed=False, trigger="manual", parameters={})
    with pytest.raises(AlreadyRunning, match="already running"):
        pipeline_run(RunOptions(at=morning))


def test_a_slot_taken_by_a_finished_run_is_refused_naming_it(morning):
    first = pipeline_run(RunOptions(at=morning, slot="opening_scan:2026-11-20"))
    with pytest.raises(AlreadyRunning, match=f"already ran: slot opening_scan:2026-11-20 was taken by run {first.short_id}"):  # fmt: skip
        pipeline_run(RunOptions(at=morning, slot="opening_scan:2026-11-20"))
    assert PipelineRun.objects.count() == 1


def test_a_slot_taken_while_another_run_holds_the_book_names_the_slot(morning):
    first = pipeline_run(RunOptions(at=morning, slot="opening_scan:2026-11-20"))
    run_start(book=book_default(), backend="sim", armed=False, trigger="manual", parameters={})
    with pytest.raises(AlreadyRunning, match=f"slot opening_scan:2026-11-20 was taken by run {first.short_id}"):
        pipeline_run(RunOptions(at=morning, slot="opening_scan:2026-11-20"))


def test_a_dead_run_is_not_retired_by_a_claim_of_a_slot_already_taken(morning):
    pipeline_run(RunOptions(at=morning, slot="opening_scan:2026-11-20"))
    stale = run_start(book=book_default(), backend="sim", armed=False, trigger="manual", parameters={})
    stale.parameters["worker"]["pid"] = 2**22 + 12345  # no such process
    stale.save()
    with pytest.raises(AlreadyRunning, match="already ran"):
        pipeline_run(RunOptions(at=morning, slot="opening_scan:2026-11-20"))
    stale.refresh_from_db()
    assert stale.status == PipelineRun.Status.RUNNING  # the refused claim changed nothing


def test_a_run_whose_process_died_is_retired(morning):
    stale = run_start(book=book_default(), backend="sim", armed=False, trigger="manual", parameters={})
    stale.parameters["worker"]["pid"] = 2**22 + 12345  # no such process
    stale.save()
    run = pipeline_run(RunOptions(at=morning))
    stale.refresh_from_db()
    assert stale.status == PipelineRun.Status.FAILED and "abandoned" in stale.error
    assert run.status == PipelineRun.Status.SUCCEEDED


def test_without_at_a_closed_market_uses_a_labelled_session_moment():
    run = pipeline_run(RunOptions())
    assert run.market_time is not None
    assert run.market_time_label


def test_run_pipeline_command_prints_json(morning):
    out = StringIO()
    call_command("run_pipeline", "--at", "2026-11-20T10:30", "--json", "--top", "2", stdout=out)
    payload = json.loads(out.getvalue())
    assert payload["status"] == "succeeded"
    assert payload["backend"] == "sim" and payload["armed"] is False
    assert payload["market_time"] == morning.isoformat()
    assert set(payload["counts"]) == {"scanned", "scored", "rejected", "executed"}
    assert len(payload["orders"]) == 2
    order = payload["orders"][0]
    assert set(order) >= {"symbol", "side", "qty", "entry", "stop", "target", "status"}


def test_run_pipeline_command_prints_a_table():
    out = StringIO()
    call_command("run_pipeline", "--at", "2026-11-20T10:30", stdout=out)
    text = out.getvalue()
    assert "status=succeeded" in text and "Brackets:" in text and "armed=no" in text


def test_run_pipeline_rejects_a_bad_time():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="not an ISO time"):
        call_command("run_pipeline", "--at", "yesterday-ish", stdout=StringIO())
    assert not PipelineRun.objects.exists()


def test_every_log_line_of_a_run_carries_its_id(morning, tmp_path, settings):
    from tradelabs_site.logging import configure_logging

    log_file = tmp_path / "run.jsonl"
    configure_logging(log_file=str(log_file), level="INFO")
    try:
        run = pipeline_run(RunOptions(at=morning))
    finally:
        configure_logging(log_file=settings.TRADE_LABS_LOG_FILE, level=settings.TRADE_LABS_LOG_LEVEL)
    lines = [json.loads(line) for line in log_file.read_text().splitlines() if line.strip()]
    run_lines = [line for line in lines if line["event"] in ("run_started", "fill_recorded", "run_finished")]
    assert len(run_lines) == 7
    assert {line["run_id"] for line in run_lines} == {str(run.run_id)}
    assert all(line["timestamp"].endswith("Z") for line in run_lines)

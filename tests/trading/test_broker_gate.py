"""The safety gate, as a class: every method that changes broker state passes it, in every backend.

The IB half (nothing reaches the fake gateway) is in tests/ib/test_ib_gate.py.
"""

import inspect

import pytest

from tests.brokers_gate import STATE_CHANGING, call_state_changing
from tests.trading.conftest import LiveAccountBroker, RealLookingBroker
from trading.brokers import brokers
from trading.brokers.base import READ_ONLY_METHODS, STATE_CHANGING_METHODS, BaseBroker, SafetyError
from trading.brokers.ib import IBBroker
from trading.brokers.sim import SimBroker
from trading.sim.models import SimOrder

BACKENDS = [BaseBroker, SimBroker, IBBroker, RealLookingBroker, LiveAccountBroker]


def _public_methods(cls) -> set[str]:
    return {name for name, member in inspect.getmembers(cls, callable) if not name.startswith("_")}


def test_every_public_broker_method_is_declared_state_changing_or_read_only():
    unclassified = _public_methods(BaseBroker) - STATE_CHANGING_METHODS - READ_ONLY_METHODS
    assert not unclassified, f"classify in trading/brokers/base.py: {sorted(unclassified)}"
    assert not STATE_CHANGING_METHODS & READ_ONLY_METHODS


def test_backends_add_no_public_method_the_base_class_does_not_declare():
    for backend in BACKENDS:
        extra = _public_methods(backend) - _public_methods(BaseBroker)
        assert not extra, f"{backend.__name__} adds {sorted(extra)}: declare them on BaseBroker first"


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.__name__)
@pytest.mark.parametrize("method_name", STATE_CHANGING)
def test_every_state_changing_method_of_every_backend_passes_the_gate(backend, method_name):
    assert getattr(getattr(backend, method_name), "safety_gated", False)


def test_a_subclass_that_overrides_a_state_changing_method_is_still_gated():
    class Careless(SimBroker):
        def cancel_order(self, order_ref):
            raise AssertionError("the gate must run first")

    assert Careless.cancel_order.safety_gated


@pytest.mark.django_db
@pytest.mark.parametrize("method_name", STATE_CHANGING)
def test_sim_outside_paper_mode_changes_nothing(settings, method_name):
    settings.TRADE_LABS_MODE = "LIVE"
    with brokers.create("sim") as broker, pytest.raises(SafetyError, match="PAPER mode only"):
        call_state_changing(broker, method_name)
    assert not SimOrder.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("method_name", STATE_CHANGING)
@pytest.mark.parametrize(("alias", "armed", "refusal"), [("real", False, "ARMED"), ("live", True, "not a paper")])
def test_a_real_broker_unarmed_or_live_changes_nothing(real_broker, settings, method_name, alias, armed, refusal):
    settings.TRADE_LABS_ARMED = armed
    with brokers.create(alias) as broker, pytest.raises(SafetyError, match=refusal):
        call_state_changing(broker, method_name)
    assert real_broker.placed == [] and not SimOrder.objects.exists()

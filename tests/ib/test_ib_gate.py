"""The safety gate on IB: an unarmed or live-account call of any state-changing method sends
nothing at all to the gateway (counted on the gateway's side of the socket)."""

import pytest

from tests.brokers_gate import STATE_CHANGING, call_state_changing
from trading.brokers import brokers
from trading.brokers.base import SafetyError

pytestmark = [pytest.mark.ib, pytest.mark.django_db]


@pytest.mark.parametrize("method_name", STATE_CHANGING)
@pytest.mark.parametrize(
    ("account", "armed", "refusal"),
    [("DU1234567", False, "ARMED is not 1"), ("U7654321", True, "not a paper account"), ("U7654321", False, "ARMED")],
    ids=["unarmed", "live-armed", "live-unarmed"],
)
def test_refused_calls_send_no_message_to_the_gateway(ib_settings, gateway, method_name, account, armed, refusal):
    gateway.state.account = account
    ib_settings.TRADE_LABS_ARMED = armed
    with brokers.create("ib") as broker:
        before = len(gateway.state.requests)
        with pytest.raises(SafetyError, match=refusal):
            call_state_changing(broker, method_name)
        # A round trip behind it: whatever the call wrote to the socket has reached the gateway.
        broker.client.reqCurrentTime()
        sent = [name for name, _ in gateway.state.requests[before:]]
    assert sent == ["reqCurrentTime"]
    assert gateway.state.orders == []

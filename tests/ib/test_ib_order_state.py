"""How an IB trade object becomes one of our order states, for the moments between IB's messages."""

import pytest

from trading.brokers import ib_compat
from trading.brokers.ib import _order_state
from trading.models import Order


def _trade(*, perm_id: int, status: str, filled: float = 0) -> object:
    order = ib_compat.Order(orderId=7, permId=perm_id, action="SELL", totalQuantity=10, orderType="STP", orderRef="r1")
    return ib_compat.Trade(
        contract=ib_compat.Stock("AAPL", "SMART", "USD"),
        order=order,
        orderStatus=ib_compat.OrderStatus(orderId=7, status=status, filled=filled),
    )


@pytest.mark.parametrize(
    ("perm_id", "status", "expected"),
    [
        (0, "PendingSubmit", Order.Status.SUBMITTED),
        (0, "", Order.Status.SUBMITTED),
        # ib_insync has read IB's openOrder (the permId) but not yet the orderStatus after it.
        (123, "PendingSubmit", Order.Status.WORKING),
        (123, "PreSubmitted", Order.Status.WORKING),
        (123, "Submitted", Order.Status.WORKING),
        (123, "Filled", Order.Status.FILLED),
        (123, "Cancelled", Order.Status.CANCELLED),
        (123, "Inactive", Order.Status.REJECTED),
    ],
)
def test_an_order_ib_has_acknowledged_is_working_whatever_status_arrived_first(perm_id, status, expected):
    assert _order_state(_trade(perm_id=perm_id, status=status)).status == expected


def test_a_partly_filled_order_is_partly_filled_before_and_after_its_acknowledgement():
    assert _order_state(_trade(perm_id=0, status="PendingSubmit", filled=3)).status == Order.Status.PARTIALLY_FILLED
    assert _order_state(_trade(perm_id=5, status="Submitted", filled=3)).status == Order.Status.PARTIALLY_FILLED

"""What the safety-gate meta-tests share: an example call for every state-changing broker method.

The examples are built from each method's parameter names, so a new state-changing method
needs nothing here unless it takes a parameter never seen before; then `example_arguments`
fails and says which one to add.
"""

import inspect
from datetime import UTC, datetime

from trading.brokers.base import STATE_CHANGING_METHODS, BaseBroker, BracketRequest, OrderRequest

AT = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)


def _leg(leg: str, side: str, order_type: str, **prices) -> OrderRequest:
    return OrderRequest(f"TL-gate-AAPL-{leg}", leg, "AAPL", side, order_type, 1, **prices)


BRACKET = BracketRequest(
    entry=_leg("entry", "BUY", "MKT"),
    stop=_leg("stop", "SELL", "STP", stop_price=100),
    target=_leg("target", "SELL", "LMT", limit_price=300),
)
EXAMPLES = {
    "bracket": BRACKET,
    "brackets": [BRACKET],
    "order": _leg("exit", "SELL", "MKT"),
    "order_ref": "TL-gate-AAPL-stop",
    "at": AT,
}


def example_arguments(method_name: str) -> dict:
    parameters = inspect.signature(getattr(BaseBroker, method_name)).parameters
    missing = [name for name in parameters if name != "self" and name not in EXAMPLES]
    assert not missing, f"add an example for {method_name}({', '.join(missing)}) to tests/brokers_gate.py"
    return {name: EXAMPLES[name] for name in parameters if name != "self"}


def call_state_changing(broker: BaseBroker, method_name: str):
    """Call it as a caller would: a generator method is also iterated."""
    result = getattr(broker, method_name)(**example_arguments(method_name))
    if inspect.isgenerator(result):
        list(result)
    return result


STATE_CHANGING = sorted(STATE_CHANGING_METHODS)

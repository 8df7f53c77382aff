"""The one place that imports an Interactive Brokers client library.

ib_async (>=2.1,<3) is the maintained continuation of ib_insync and the dependency we
pin; ib_insync 0.9.86, its last release, offers the same API under another import name
and is still supported so an existing installation keeps working. Never install both in
one environment. Everything else in Trade Labs uses the names exported here, never the
libraries themselves.
"""

try:
    import ib_async as _lib
except ImportError:
    try:
        import ib_insync as _lib
    except ImportError:
        raise ImportError(
            "the IB backend needs an Interactive Brokers client library: pip install 'ib_async>=2.1,<3' "
            "(ib_insync 0.9.86 also works)"
        ) from None

LIBRARY = _lib.__name__
VERSION = getattr(_lib, "__version__", "")

IB = _lib.IB
Contract = _lib.Contract
Stock = _lib.Stock
Order = _lib.Order
ExecutionFilter = _lib.ExecutionFilter
ScannerSubscription = _lib.ScannerSubscription
Trade = _lib.Trade
OrderStatus = _lib.OrderStatus
# IB's "no value" for doubles (sys.float_info.max), the same in both libraries.
UNSET_DOUBLE = _lib.util.UNSET_DOUBLE

__all__ = [
    "IB",
    "LIBRARY",
    "UNSET_DOUBLE",
    "VERSION",
    "Contract",
    "ExecutionFilter",
    "Order",
    "OrderStatus",
    "ScannerSubscription",
    "Stock",
    "Trade",
]

"""A protocol-level fake IB Gateway for tests and for trying the IB path by hand:

python -m tests.fake_gateway --port 4002 [--account DU1234567] [--latency 0.05]
"""

from .server import FakeGateway

__all__ = ["FakeGateway"]

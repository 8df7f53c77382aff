"""IB tests: the real client library (ib_async, or ib_insync in CI's second environment)
over a real socket to the fake gateway running in a background thread."""

import pytest

from tests.fake_gateway import FakeGateway


def client_module():
    """The IB client library installed here: ib_async, or ib_insync where that is the one installed."""
    try:
        import ib_async as library
    except ImportError:
        import ib_insync as library
    return library


@pytest.fixture
def gateway():
    with FakeGateway.run_in_thread() as running:
        running.state.scanner_results = ["AAPL", "MSFT", "NVDA", "AMD", "SPY"]
        running.set_quote("AAPL", "189.98", "190.02", "190.00", volume=5_000_000, close="185.00")
        running.set_quote("MSFT", "410.10", "410.20", "410.15", volume=3_000_000, close="400.00")
        yield running


@pytest.fixture
def ib_client(gateway):
    library = client_module()
    ib = library.IB()
    ib.connect(gateway.host, gateway.port, clientId=7, timeout=5)
    yield ib
    ib.disconnect()


@pytest.fixture
def ib_settings(settings, gateway):
    settings.BROKERS = {
        **settings.BROKERS,
        "ib": {
            "BACKEND": "trading.brokers.ib.IBBroker",
            # Both waits end as soon as the gateway answers; short ones made a loaded CI machine
            # give up on acknowledgements or fills the gateway did send.
            "OPTIONS": {"host": gateway.host, "port": gateway.port, "client_id": 31, "timeout": 3, "fill_wait": 5},
        },
    }
    settings.TRADE_LABS_RISK = {**settings.TRADE_LABS_RISK, "top_n": 3}
    return settings

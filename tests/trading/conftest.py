"""Fixtures for the trading tests: SIM behind a broker that claims to send real orders."""

import pytest

from trading.brokers.base import AccountInfo
from trading.brokers.sim import SimBroker


class RealLookingBroker(SimBroker):
    """SIM's market behind a broker that claims to send real orders: it records any attempt."""

    name = "reallooking"
    sends_real_orders = True
    placed: list = []
    paper = True

    def account(self):
        return AccountInfo(account_id="DU111" if self.paper else "U222", is_paper=self.paper)

    def is_paper_account(self):
        return self.paper

    def place_bracket(self, bracket, *, at):
        type(self).placed.append(bracket)
        return super().place_bracket(bracket, at=at)


class LiveAccountBroker(RealLookingBroker):
    paper = False


@pytest.fixture
def real_broker(settings):
    RealLookingBroker.placed = []
    sim = settings.BROKERS["sim"]
    settings.BROKERS = {
        **settings.BROKERS,
        # Their own SIM accounts, so what reaches them is told apart from what reaches SIM.
        "real": {
            "BACKEND": "tests.trading.conftest.RealLookingBroker",
            "OPTIONS": {**sim["OPTIONS"], "account": "DU111"},
        },
        "live": {
            "BACKEND": "tests.trading.conftest.LiveAccountBroker",
            "OPTIONS": {**sim["OPTIONS"], "account": "U222"},
        },
    }
    return RealLookingBroker

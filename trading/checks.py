"""Start-up checks: the configuration must be safe before anything runs."""

from django.conf import settings
from django.core import checks


@checks.register()
def trade_labs_settings_check(app_configs=None, **kwargs):
    from trading.brokers import InvalidBrokerError, brokers

    errors = []
    if not settings.USE_TZ:
        errors.append(checks.Error("USE_TZ must be True: timestamps are stored in UTC.", id="trading.E001"))
    if str(settings.TRADE_LABS_MODE).strip().upper() != "PAPER":
        errors.append(
            checks.Error(
                f"TRADE_LABS_MODE={settings.TRADE_LABS_MODE!r}: only PAPER is accepted.",
                hint="Set TRADE_LABS_MODE=PAPER. Live trading is not supported.",
                id="trading.E002",
            )
        )
    for alias in settings.BROKERS:
        if alias == "ib" and settings.TRADE_LABS_EXECUTION_BACKEND != "ib":
            continue  # the IB client library is optional until IB is selected
        try:
            brokers.backend_class(alias)
        except InvalidBrokerError as exc:
            errors.append(checks.Error(str(exc), id="trading.E003"))
    return errors

from django.apps import AppConfig


class TradingConfig(AppConfig):
    name = "trading"
    verbose_name = "Trading"

    def ready(self) -> None:
        from django.conf import settings

        from tradelabs_site.logging import configure_logging

        from . import checks  # noqa: F401 - registers the system checks

        configure_logging(
            log_file=settings.TRADE_LABS_LOG_FILE,
            level=settings.TRADE_LABS_LOG_LEVEL,
            max_bytes=settings.TRADE_LABS_LOG_MAX_BYTES,
            backups=settings.TRADE_LABS_LOG_BACKUPS,
        )

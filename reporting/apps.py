from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "reporting"
    verbose_name = "Reporting"

    def ready(self) -> None:
        from . import signals  # noqa: F401 - keeps the closed-trade summaries in step with the trades

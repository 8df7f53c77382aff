from django.apps import AppConfig


class ScheduleConfig(AppConfig):
    name = "trading.schedule"
    label = "schedule"
    verbose_name = "Schedule"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the system checks

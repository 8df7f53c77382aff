from django.apps import AppConfig


class ScheduleConfig(AppConfig):
    name = "trading.schedule"
    label = "schedule"
    verbose_name = "Schedule"

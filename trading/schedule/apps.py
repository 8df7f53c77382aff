from django.apps import AppConfig


class ScheduleConfig(AppConfig):
    name = "trading.schedule"
    label = "schedule"
    verbose_name = "Schedule"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from . import checks  # noqa: F401 - registers the system checks
        from .models import ExtraClosure
        from .selectors import closures_changed

        post_save.connect(closures_changed, sender=ExtraClosure, dispatch_uid="schedule.closures_changed.saved")
        post_delete.connect(closures_changed, sender=ExtraClosure, dispatch_uid="schedule.closures_changed.deleted")

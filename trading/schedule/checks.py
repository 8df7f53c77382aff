"""Start-up checks for the schedule: readable times, and a django-q2 set-up that never runs a job twice."""

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured


@checks.register()
def schedule_settings_check(app_configs=None, **kwargs):
    from .plan import ScheduleConfig

    errors = []
    try:
        ScheduleConfig.from_settings()
    except ImproperlyConfigured as exc:
        errors.append(checks.Error(str(exc), id="schedule.E001"))
    q = settings.Q_CLUSTER
    timeout, retry = q.get("timeout"), q.get("retry")
    if not timeout or not retry or retry <= timeout:
        errors.append(
            checks.Error(
                f"Q_CLUSTER timeout={timeout!r}, retry={retry!r}: retry must exceed timeout.",
                hint="Otherwise the broker hands a job that is still running to a second worker.",
                id="schedule.E002",
            )
        )
    if q.get("max_attempts") != 1 or not q.get("ack_failures") or q.get("catch_up", True):
        errors.append(
            checks.Warning(
                "Q_CLUSTER should have max_attempts=1, ack_failures=True and catch_up=False.",
                hint="A failed or missed trading job is recorded on its slot, never replayed.",
                id="schedule.W003",
            )
        )
    zone = q.get("time_zone", settings.TIME_ZONE)
    if zone != settings.TRADE_LABS_EXCHANGE_TZ:
        errors.append(
            checks.Error(
                f"django-q2 computes daily schedules in {zone!r}, not {settings.TRADE_LABS_EXCHANGE_TZ!r}.",
                hint="Set Q_CLUSTER['time_zone'] to the exchange's zone so 09:30 stays 09:30 across DST.",
                id="schedule.E004",
            )
        )
    return errors

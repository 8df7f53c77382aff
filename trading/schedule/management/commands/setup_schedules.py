"""python manage.py setup_schedules — create or update the django-q2 schedules of the trading day (idempotent)."""

from django.core.management.base import BaseCommand

from trading.cli import ny, table
from trading.schedule.services import schedules_sync


class Command(BaseCommand):
    help = "Create or update one django-q2 schedule per job from TRADE_LABS_SCHEDULE. Safe to run on every deploy."

    def handle(self, *args, **options):
        changes = schedules_sync()
        rows = []
        for change in changes:
            schedule = change.schedule
            every = ""
            if schedule is not None:
                every = f"every {schedule.minutes} min" if schedule.minutes else "daily"
            rows.append(
                [
                    change.name,
                    every,
                    ny(schedule.next_run) if schedule else "",
                    "paused" if change.paused else "",
                    change.action,
                ]
            )
        self.stdout.write(table(["schedule", "repeats", "next run (New York)", "", "action"], rows))
        self.stdout.write(
            "\nEach firing checks the NYSE calendar itself; run `python manage.py qcluster` to start the scheduler."
        )

"""python manage.py schedule_plan --from YYYY-MM-DD --to YYYY-MM-DD [--job JOB] [--json]"""

import json
from datetime import UTC

from django.core.management.base import BaseCommand, CommandError

from trading.cli import parse_day, table
from trading.schedule.models import Job
from trading.schedule.selectors import plan_between


class Command(BaseCommand):
    help = "List every job occurrence the schedule will produce in a date range (NYSE sessions only)."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", required=True, help="First day, YYYY-MM-DD.")
        parser.add_argument("--to", dest="end", required=True, help="Last day (included), YYYY-MM-DD.")
        parser.add_argument("--job", choices=Job.values, help="Only this job.")
        parser.add_argument("--json", action="store_true", help="Print a JSON list instead of a table.")

    def handle(self, *args, **options):
        start, end = parse_day(options["start"], option="--from"), parse_day(options["end"], option="--to")
        if end < start:
            raise CommandError("--to is before --from")
        plan = plan_between(start=start, end=end)
        if options["job"]:
            plan = [o for o in plan if o.job == options["job"]]
        if options["json"]:
            payload = [
                {
                    "job": o.job,
                    "session": o.session_date.isoformat(),
                    "new_york": o.at_new_york.isoformat(),
                    "utc": o.at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                }
                for o in plan
            ]
            self.stdout.write(json.dumps(payload, indent=2))
            return
        rows = [
            [o.job, f"{o.at_new_york:%a %Y-%m-%d %H:%M %Z}", f"{o.at.astimezone(UTC):%Y-%m-%d %H:%M}Z"] for o in plan
        ]
        self.stdout.write(table(["job", "New York", "UTC"], rows))
        days = len({o.session_date for o in plan})
        self.stdout.write(f"\n{len(plan)} occurrences in {days} sessions from {start} to {end}.")

"""python manage.py schedule_plan --from YYYY-MM-DD --to YYYY-MM-DD [--job JOB] [--verbose] [--json]"""

import json
from collections import defaultdict
from datetime import UTC, date, timedelta

from django.core.management.base import BaseCommand, CommandError

from trading import sessions
from trading.cli import parse_day, table
from trading.schedule.models import ExtraClosure, Job
from trading.schedule.selectors import plan_between


class Command(BaseCommand):
    help = (
        "The schedule in a date range: one line per session (marks summarised) with holidays, early "
        "closes and extra closures named; --job or --verbose lists every occurrence."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", required=True, help="First day, YYYY-MM-DD.")
        parser.add_argument("--to", dest="end", required=True, help="Last day (included), YYYY-MM-DD.")
        parser.add_argument("--job", choices=Job.values, help="Only this job.")
        parser.add_argument("--verbose", action="store_true", help="List every occurrence, each mark included.")
        parser.add_argument("--json", action="store_true", help="Print a JSON list of every occurrence.")

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
        if not (options["job"] or options["verbose"]):
            self.stdout.write(_summary(plan, start=start, end=end))
            return
        rows = [
            [o.job, f"{o.at_new_york:%a %Y-%m-%d %H:%M %Z}", f"{o.at.astimezone(UTC):%Y-%m-%d %H:%M}Z"] for o in plan
        ]
        self.stdout.write(table(["job", "New York", "UTC"], rows))
        days = len({o.session_date for o in plan})
        self.stdout.write(f"\n{len(plan)} occurrences in {days} sessions from {start} to {end}.")


def _summary(plan, *, start: date, end: date) -> str:
    """One line per weekday: the session's jobs with the marks folded into one item, or why the
    market is closed; an early close says so."""
    by_day = defaultdict(list)
    for occurrence in plan:
        by_day[occurrence.session_date].append(occurrence)
    closures = dict(ExtraClosure.objects.filter(day__range=(start, end)).values_list("day", "reason"))
    lines = []
    day = start
    while day <= end:
        if day.weekday() < 5:
            lines.append(f"{day:%a %Y-%m-%d}  {_day_text(day, by_day.get(day, []), closures.get(day))}")
        day += timedelta(days=1)
    sessions_count = len(by_day)
    lines.append(
        f"\n{len(plan)} occurrences in {sessions_count} sessions from {start} to {end} (--verbose lists each)."
    )
    return "\n".join(lines) + "\n"


def _day_text(day: date, occurrences, closure_reason: str | None) -> str:
    if closure_reason is not None:
        return f"closed: extra closure ({closure_reason})"
    if not sessions.is_session(day):
        return "closed: NYSE holiday"
    session = sessions.session(day)
    marks = [o for o in occurrences if o.job == Job.MARK]
    # (New York time, text), so the folded marks sit at their first mark among the daily jobs.
    items = [
        (o.at_new_york, f"{o.at_new_york:%H:%M} {Job(o.job).label.lower()}") for o in occurrences if o.job != Job.MARK
    ]
    if marks:
        every = min((b.at - a.at for a, b in zip(marks, marks[1:], strict=False)), default=None)
        step = f" every {int(every.total_seconds() // 60)} min" if every else ""
        first, last = marks[0].at_new_york, marks[-1].at_new_york
        items.append((first, f"marks{step} {first:%H:%M}–{last:%H:%M} ({len(marks)})"))
    items.sort(key=lambda item: item[0])
    early = f"early close {sessions.to_new_york(session.close):%H:%M}: " if session.is_early_close else ""
    return early + (" · ".join(text for _, text in items) or "no job planned")

"""The schedule in the admin: today's plan with each slot's outcome, the slot ledger, extra closures,
and pause / resume on django-q2's own schedule list."""

from datetime import date, timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django_q.admin import ScheduleAdmin
from django_q.models import Schedule

from trading import sessions
from trading.admin import BookFilter

from .models import ExtraClosure, JobSlot
from .selectors import day_plan, schedules_out_of_step
from .services import schedules_pause, schedules_resume


def _ny(moment) -> str:
    return "" if moment is None else f"{sessions.to_new_york(moment):%Y-%m-%d %H:%M %Z}"


@admin.register(JobSlot)
class JobSlotAdmin(admin.ModelAdmin):
    """The ledger that makes each job run once per slot: people read it, nobody edits it."""

    list_display = ["scheduled_ny", "book", "job", "status", "short_message", "run_link", "claimed_ny", "worker"]
    list_filter = [BookFilter, "status", "job", "session_date"]
    list_select_related = ["book", "pipeline_run"]
    date_hierarchy = "session_date"
    search_fields = ["message", "worker"]
    readonly_fields = [
        "job",
        "session_date",
        "scheduled_ny",
        "status",
        "claimed_ny",
        "finished_ny",
        "message",
        "worker",
        "run_link",
        "details",
    ]
    fields = readonly_fields
    change_list_template = "admin/schedule/jobslot/change_list.html"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        plan_view = self.admin_site.admin_view(self.plan_view)
        return [path("plan/", plan_view, name="schedule_jobslot_plan"), *super().get_urls()]

    def plan_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        now = timezone.now()
        today = sessions.to_new_york(now).date()
        try:
            day = date.fromisoformat(request.GET.get("day", "")) if request.GET.get("day") else today
            sessions.check_known(day)
        except sessions.OutsideCalendar as exc:
            messages.error(request, f"{exc}; showing today.")
            day = today
        except ValueError:
            messages.error(request, f"{request.GET['day']!r} is not a date like 2026-11-27; showing today.")
            day = today
        plan = day_plan(day=day, now=now)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Trading day plan — {day:%A %Y-%m-%d} (New York)",
            "plan": plan,
            "rows": [
                {"row": row, "at_ny": _ny(row.at), "last_ny": _ny(row.last_at), "utc": f"{row.at:%H:%M}Z"}
                for row in plan.rows
            ],
            "session_open": _ny(plan.session.open) if plan.session else "",
            "session_close": _ny(plan.session.close) if plan.session else "",
            "is_today": day == today,
            "previous_day": (day - timedelta(days=1)).isoformat(),
            "next_day": (day + timedelta(days=1)).isoformat(),
            "today": today.isoformat(),
            "out_of_step": schedules_out_of_step(),
        }
        return TemplateResponse(request, "admin/schedule/plan.html", context)

    @admin.display(description="scheduled (New York)", ordering="scheduled_for")
    def scheduled_ny(self, obj):
        return _ny(obj.scheduled_for)

    @admin.display(description="claimed (New York)", ordering="claimed_at")
    def claimed_ny(self, obj):
        return _ny(obj.claimed_at)

    @admin.display(description="finished (New York)", ordering="finished_at")
    def finished_ny(self, obj):
        return _ny(obj.finished_at)

    @admin.display(description="message")
    def short_message(self, obj):
        return obj.message if len(obj.message) <= 120 else obj.message[:119] + "…"

    @admin.display(description="pipeline run")
    def run_link(self, obj):
        if obj.pipeline_run_id is None:
            return ""
        url = reverse("admin:trading_pipelinerun_change", args=[obj.pipeline_run_id])
        return format_html('<a href="{}">{}</a>', url, obj.pipeline_run.short_id)


@admin.register(ExtraClosure)
class ExtraClosureAdmin(admin.ModelAdmin):
    """Surprise market closings: a day here is treated like a holiday by every job."""

    list_display = ["day", "reason", "created_at"]
    search_fields = ["reason"]


class TradeLabsScheduleAdmin(ScheduleAdmin):
    """django-q2's schedule list, plus pause and resume (a paused schedule has repeats=0 and never fires)."""

    actions = ["pause", "resume"]
    list_display = [*ScheduleAdmin.list_display, "paused"]

    @admin.display(boolean=True, description="paused")
    def paused(self, obj):
        return obj.repeats == 0

    @admin.action(description="Pause selected schedules")
    def pause(self, request, queryset):
        count = schedules_pause(schedules=list(queryset))
        self.message_user(request, f"Paused {count} schedule(s).")

    @admin.action(description="Resume selected schedules (from their next time; nothing missed is replayed)")
    def resume(self, request, queryset):
        count = schedules_resume(schedules=list(queryset))
        self.message_user(request, f"Resumed {count} schedule(s).")


admin.site.unregister(Schedule)
admin.site.register(Schedule, TradeLabsScheduleAdmin)

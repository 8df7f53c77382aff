"""The schedule in the admin: the day's plan with outcomes, the slot ledger, extra closures, pause and resume."""

from datetime import date

import pytest
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from tests.schedule.conftest import new_york
from tests.schedule.factories import ExtraClosureFactory, JobSlotFactory
from trading import sessions
from trading.schedule.models import ExtraClosure, Job, JobSlot
from trading.schedule.selectors import day_plan, schedule_name
from trading.schedule.services import schedules_sync

pytestmark = pytest.mark.django_db

PLAN = reverse("admin:schedule_jobslot_plan")


def test_the_plan_is_for_staff_only(client, plain_client, staff_client, schedule_settings):
    for outsider in (client, plain_client):
        response = outsider.get(PLAN)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert staff_client.get(PLAN).status_code == 200


def test_todays_plan_is_linked_from_the_slot_list(staff_client):
    response = staff_client.get(reverse("admin:schedule_jobslot_changelist"))
    assert PLAN in response.content.decode()


def test_the_plan_shows_each_slots_outcome(staff_client, schedule_settings):
    JobSlotFactory()
    JobSlotFactory(job=Job.MIDDAY_SCAN, scheduled_for=new_york(2026, 11, 20, 12, 0), status=JobSlot.Status.MISSED)
    JobSlotFactory(job=Job.MARK, scheduled_for=new_york(2026, 11, 20, 9, 35), message="marked 5 positions")
    JobSlotFactory(job=Job.MARK, scheduled_for=new_york(2026, 11, 20, 9, 40), status=JobSlot.Status.FAILED)
    JobSlotFactory(job=Job.REPORT, scheduled_for=new_york(2026, 11, 20, 17, 0), status=JobSlot.Status.SKIPPED)

    response = staff_client.get(PLAN, {"day": "2026-11-20"})

    text = response.content.decode()
    assert response.status_code == 200
    assert "Friday 2026-11-20" in text and "2026-11-20 09:30 EST" in text and "14:30Z" in text
    for outcome in ("done", "missed", "skipped", "not run"):
        assert f">{outcome}<" in text
    assert "1 done, 1 failed, 76 not run" in text


def test_day_plan_outcomes_before_during_and_after_the_day(schedule_settings):
    JobSlotFactory()
    rows = {row.job: row for row in day_plan(day=date(2026, 11, 20), now=new_york(2026, 11, 20, 12, 5)).rows}
    assert rows[Job.OPENING_SCAN].outcome == "done"
    assert rows[Job.MIDDAY_SCAN].outcome == "due"
    assert rows[Job.RECONCILE].outcome == rows[Job.REPORT].outcome == "pending"
    assert rows[Job.MARK].counts == {"not run": 29, "due": 2, "pending": 47}


def test_the_plan_of_a_holiday_an_early_close_and_an_extra_closure(staff_client, schedule_settings):
    assert "Not an NYSE session" in staff_client.get(PLAN, {"day": "2026-04-03"}).content.decode()
    assert "(early close)" in staff_client.get(PLAN, {"day": "2026-11-27"}).content.decode()
    ExtraClosureFactory(day=date(2026, 11, 23), reason="Hurricane")
    assert "Market closed:</strong> Hurricane" in staff_client.get(PLAN, {"day": "2026-11-23"}).content.decode()


def test_a_bad_day_falls_back_to_today_with_a_message(staff_client, schedule_settings):
    response = staff_client.get(PLAN, {"day": "someday"}, follow=True)
    today = sessions.to_new_york(timezone.now()).date()
    assert "is not a date" in response.content.decode() and f"{today:%Y-%m-%d}" in response.content.decode()


def test_the_plan_warns_when_schedules_are_not_set_up(staff_client, schedule_settings):
    assert "run <code>python manage.py setup_schedules</code>" in staff_client.get(PLAN).content.decode()
    schedules_sync()
    assert "setup_schedules" not in staff_client.get(PLAN).content.decode()


def test_slots_can_be_read_but_never_edited(staff_client):
    slot = JobSlotFactory()
    assert staff_client.get(reverse("admin:schedule_jobslot_change", args=[slot.pk])).status_code == 200
    assert staff_client.get(reverse("admin:schedule_jobslot_add")).status_code == 403
    assert (
        staff_client.post(reverse("admin:schedule_jobslot_delete", args=[slot.pk]), {"post": "yes"}).status_code == 403
    )
    assert JobSlot.objects.count() == 1


def test_staff_enter_an_extra_closure_but_only_on_a_session(staff_client):
    url = reverse("admin:schedule_extraclosure_add")
    refused = staff_client.post(url, {"day": "2026-11-21", "reason": "Saturday"})
    assert refused.status_code == 200 and "not an NYSE session anyway" in refused.content.decode()
    staff_client.post(url, {"day": "2026-11-23", "reason": "National Day of Mourning"})
    assert ExtraClosure.objects.get().day == date(2026, 11, 23)


def test_a_day_outside_the_calendar_is_refused_on_the_form_and_the_plan(staff_client, schedule_settings):
    refused = staff_client.post(reverse("admin:schedule_extraclosure_add"), {"day": "2099-01-05", "reason": "Far"})
    assert refused.status_code == 200 and "is outside the NYSE calendar" in refused.content.decode()
    assert not ExtraClosure.objects.exists()
    plan = staff_client.get(PLAN, {"day": "1900-01-02"}, follow=True)
    assert plan.status_code == 200 and "is outside the NYSE calendar" in plan.content.decode()


def test_schedules_are_paused_and_resumed_from_the_django_q_admin(staff_client, schedule_settings):
    schedules_sync()
    midday = Schedule.objects.get(name=schedule_name(Job.MIDDAY_SCAN))
    url = reverse("admin:django_q_schedule_changelist")

    staff_client.post(url, {"action": "pause", "_selected_action": [midday.pk]})
    midday.refresh_from_db()
    assert midday.repeats == 0
    assert staff_client.get(url).status_code == 200

    staff_client.post(url, {"action": "resume", "_selected_action": [midday.pk]})
    midday.refresh_from_db()
    assert midday.repeats == -1 and midday.next_run > timezone.now()

"""Two-key arming: the environment makes arming possible, a person arms a book until a moment.

`TRADE_LABS_ARMED=1` is the master switch. Orders reach a real broker only while an unexpired
arm record also exists for the book (`arm_active`); the broker's safety gate asks at every
state-changing call, so an arm that expires mid-run stops the rest of that run's orders.
Every arm and disarm is recorded (who, when, until, why) and never deleted.
"""

from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from trading import sessions
from trading.alerts import alert_raise
from trading.models import Alert, ArmRecord, Book

log = structlog.get_logger(__name__)


class ArmingRefused(Exception):
    """This book cannot be armed now; the message says why."""


def arm_active(*, book: Book, now: datetime | None = None) -> ArmRecord | None:
    """The arm record in force for `book` at `now`, or None."""
    now = now or timezone.now()
    return (
        ArmRecord.objects.filter(book=book, disarmed_at__isnull=True, armed_at__lte=now, until__gt=now)
        .order_by("-armed_at", "-id")
        .first()
    )


def arming_possible() -> bool:
    return bool(settings.TRADE_LABS_ARMED)


def default_arm_until(*, now: datetime | None = None) -> datetime:
    """Today's session close; ArmingRefused when no session is open or still to come today."""
    now = now or timezone.now()
    today = sessions.to_new_york(now).date()
    if not sessions.is_session(today) or sessions.session(today).close <= now:
        raise ArmingRefused("no NYSE session left today: give --minutes or --until")
    return sessions.session(today).close


def book_arm(*, book: Book, by: str, until: datetime, reason: str = "", now: datetime | None = None) -> ArmRecord:
    """Arm `book` until `until` (replacing an arm in force). Refused unless the environment allows
    arming (TRADE_LABS_ARMED=1), the book trades a real broker, and `until` is in the future."""
    from trading.brokers import brokers

    now = now or timezone.now()
    if not arming_possible():
        raise ArmingRefused("arming is not possible: TRADE_LABS_ARMED is not 1 in this environment")
    if not brokers.backend_class(book.broker_alias).sends_real_orders:
        raise ArmingRefused(f"book {book.name!r} is simulated ({book.broker_alias}): it sends nothing to arm")
    if until <= now:
        raise ArmingRefused(f"--until {sessions.to_new_york(until):%Y-%m-%d %H:%M %Z} is not in the future")
    if until - now > timedelta(days=7):
        raise ArmingRefused("an arm lasts at most 7 days: arm again when it expires")
    with transaction.atomic():
        _disarm_in_force(book=book, by=by, reason="replaced by a new arm", now=now)
        record = ArmRecord.objects.create(book=book, armed_by=by, armed_at=now, until=until, reason=reason[:300])
    log.warning("book_armed", book=book.name, by=by, until=until.isoformat(), reason=reason)
    alert_raise(
        event=Alert.Event.ARMED, book=book, key=f"arm:{record.pk}", once=True, now=now,
        title=f"book {book.name} ARMED until {sessions.to_new_york(until):%Y-%m-%d %H:%M %Z} by {by}", body=reason,
    )  # fmt: skip
    return record


def book_disarm(*, book: Book, by: str, reason: str = "", now: datetime | None = None) -> list[ArmRecord]:
    """End every arm in force for `book` now; returns them (none: it was not armed). Safe twice."""
    now = now or timezone.now()
    with transaction.atomic():
        ended = _disarm_in_force(book=book, by=by, reason=reason, now=now)
    if ended:
        log.warning("book_disarmed", book=book.name, by=by, reason=reason)
        alert_raise(
            event=Alert.Event.DISARMED, book=book, key=f"disarm:{ended[0].pk}", once=True, now=now,
            title=f"book {book.name} disarmed by {by}", body=reason,
        )  # fmt: skip
    return ended


def alert_expired_arms(*, book: Book, now: datetime | None = None) -> None:
    """Tell, once each, of the book's arms that ran out (not disarmed) in the last day."""
    from trading.brokers import brokers

    if not brokers.backend_class(book.broker_alias).sends_real_orders:
        return  # a simulated book is never armed: nothing to look up at every job
    now = now or timezone.now()
    expired = ArmRecord.objects.filter(
        book=book, disarmed_at__isnull=True, until__lte=now, until__gt=now - timedelta(days=1)
    ).only("pk", "until", "armed_by")
    for record in expired:
        alert_raise(
            event=Alert.Event.ARM_EXPIRED, book=book, key=f"arm-expired:{record.pk}", once=True, now=now,
            title=f"book {book.name}: the arm by {record.armed_by} expired at "
            f"{sessions.to_new_york(record.until):%Y-%m-%d %H:%M %Z}; nothing more is sent",
        )  # fmt: skip


def _disarm_in_force(*, book: Book, by: str, reason: str, now: datetime) -> list[ArmRecord]:
    in_force = list(ArmRecord.objects.select_for_update().filter(book=book, disarmed_at__isnull=True, until__gt=now))
    for record in in_force:
        record.disarmed_at, record.disarmed_by, record.disarm_reason = now, by, reason[:300]
        record.save(update_fields=["disarmed_at", "disarmed_by", "disarm_reason"])
    return in_force

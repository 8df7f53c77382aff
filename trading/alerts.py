"""Alerts: tell a person when something needs them, through apprise and Django's mail.

`alert_raise` records the alert, then delivers it to every place configured
(`TRADE_LABS_ALERT_URLS`: apprise URLs such as mailto://, slack://, tgram://, discord://,
json:// and form:// webhooks; `TRADE_LABS_ALERT_EMAILS`: plain email through Django's mail
settings) and stores each place's outcome. It never raises: a delivery failure is recorded on
the alert, never breaks the job that raised it. Repeats of the same key are sent once within
`TRADE_LABS_ALERT_REPEAT_MINUTES` (or once ever with `once=True`) and counted.
"""

from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from trading.models import Alert, Book

log = structlog.get_logger(__name__)

Event = Alert.Event
_MUTED: ContextVar[str] = ContextVar("trade_labs_alerts_muted", default="")


@contextmanager
def alerts_muted(why: str):
    """Inside, nothing is alerted: a replay of history drives the same jobs, and a failed
    replayed scan or a replayed loss halt needs nobody now (the replay reports them itself)."""
    token = _MUTED.set(why)
    try:
        yield
    finally:
        _MUTED.reset(token)


def alert_raise(
    *,
    event: str,
    title: str,
    body: str = "",
    book: Book | None = None,
    key: str | None = None,
    once: bool = False,
    now: datetime | None = None,
) -> Alert | None:
    """Record and deliver one alert; None when it repeats one already sent (counted on that one),
    or when alerts are muted (a replay)."""
    if _MUTED.get():
        return None
    now = now or timezone.now()
    key = (key or f"{event}:{book.name if book else '-'}:{title}")[:200]
    try:
        earlier = Alert.objects.filter(key=key)
        if not once:
            earlier = earlier.filter(raised_at__gte=now - timedelta(minutes=settings.TRADE_LABS_ALERT_REPEAT_MINUTES))
        sent = earlier.order_by("-raised_at").first()
        if sent is not None:
            Alert.objects.filter(pk=sent.pk).update(repeats=F("repeats") + 1)
            return None
        alert = Alert.objects.create(event=event, book=book, key=key, title=title[:200], body=body, raised_at=now)
        outcomes = _deliver(alert)
        alert.delivered = bool(outcomes) and all(ok for ok, _ in outcomes)
        alert.outcome = "\n".join(line for _, line in outcomes) or "no place configured: recorded only"
        alert.save(update_fields=["delivered", "outcome"])
    except Exception:  # an alert must never break the job that raised it
        log.exception("alert_failed", event=event, title=title)
        return None
    log.info("alert_raised", alert_event=event, title=title, delivered=alert.delivered)
    return alert


def _deliver(alert: Alert) -> list[tuple[bool, str]]:
    subject = f"[Trade Labs] {alert.title}"
    text = alert.body or alert.title
    outcomes = [_apprise(url, subject, text) for url in settings.TRADE_LABS_ALERT_URLS]
    if settings.TRADE_LABS_ALERT_EMAILS:
        outcomes.append(_email(subject, text))
    return outcomes


def _apprise(url: str, subject: str, text: str) -> tuple[bool, str]:
    import apprise

    place = url.split("://", 1)[0] + "://…"  # the scheme only: URLs hold tokens and passwords
    notifier = apprise.Apprise()
    try:
        if not notifier.add(url):
            return False, f"{place} not a URL apprise understands"
        ok = notifier.notify(title=subject, body=text)
    except Exception as exc:
        return False, f"{place} failed: {type(exc).__name__}: {exc}"
    return bool(ok), f"{place} {'sent' if ok else 'not accepted (see the log)'}"


def _email(subject: str, text: str) -> tuple[bool, str]:
    from django.core.mail import send_mail

    recipients = settings.TRADE_LABS_ALERT_EMAILS
    try:
        send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=False)
    except Exception as exc:
        return False, f"email to {', '.join(recipients)} failed: {type(exc).__name__}: {exc}"
    return True, f"email to {', '.join(recipients)} sent"

"""A reviewer's annotations of a trade: notes, tags and review status, nothing else.

The API's PATCH and the admin's bulk action call this; each change is kept in the admin's
history of the trade, beside edits made on the trade's admin page.
"""

import structlog
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from trading.models import Trade

log = structlog.get_logger(__name__)

REVIEW_FIELDS = ("notes", "tags", "review_status")


def _normalized_tags(tags: str | list[str]) -> str:
    items = tags.split(",") if isinstance(tags, str) else tags
    seen: dict[str, None] = {}
    for item in items:
        tag = str(item).strip()
        if tag:
            seen.setdefault(tag, None)
    return ",".join(seen)


@transaction.atomic
def trade_review(
    *,
    trade: Trade,
    user: AbstractBaseUser,
    notes: str | None = None,
    tags: str | list[str] | None = None,
    review_status: str | None = None,
) -> Trade:
    """A reviewer's annotation of a trade: only notes, tags and review status ever change here.

    Each change is kept in the admin's history of the trade, beside edits made in the admin.
    """
    trade = Trade.objects.select_for_update().get(pk=trade.pk)
    changes = {}
    if notes is not None:
        changes["notes"] = notes
    if tags is not None:
        changes["tags"] = _normalized_tags(tags)
    if review_status is not None:
        if review_status not in Trade.ReviewStatus.values:
            raise ValueError(f"review_status must be one of {', '.join(Trade.ReviewStatus.values)}")
        changes["review_status"] = review_status
    changed = [name for name, value in changes.items() if getattr(trade, name) != value]
    if not changed:
        return trade
    for name in changed:
        setattr(trade, name, changes[name])
    trade.full_clean(exclude=[f.name for f in Trade._meta.fields if f.name not in changed], validate_constraints=False)
    trade.save(update_fields=[*changed, "updated_at"])
    LogEntry.objects.log_actions(
        user_id=user.pk,
        queryset=[trade],
        action_flag=CHANGE,
        change_message=[{"changed": {"fields": [Trade._meta.get_field(n).verbose_name for n in changed]}}],
        single_object=True,
    )
    log.info("trade_reviewed", trade=trade.pk, fields=changed, user=user.pk)
    return trade

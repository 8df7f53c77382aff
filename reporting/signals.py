"""Keeping the closed-trade summaries in step with the trades (see `reporting.summaries`)."""

from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from trading.models import Trade
from trading.signals import trades_closed

from .summaries import COUNTED_FIELDS, summaries_add, summaries_recompute


@receiver(trades_closed, dispatch_uid="reporting.summaries.trades_closed")
def _add_closed(sender, *, trades, reclosed=(), **kwargs) -> None:
    summaries_add(trades=trades)
    for trade, exit_time_before in reclosed:
        summaries_recompute(book_id=trade.book_id, exit_times=[t for t in (exit_time_before, trade.exit_time) if t])


def _counted_change(update_fields) -> bool:
    return update_fields is None or bool(COUNTED_FIELDS & set(update_fields))


@receiver(pre_save, sender=Trade, dispatch_uid="reporting.summaries.trade_saving")
def _trade_saving(sender, *, instance: Trade, update_fields=None, **kwargs) -> None:
    # Where the trade was counted before this save: a changed exit time moves it to another day.
    instance._summaries_counted_at = None
    if instance.pk is not None and _counted_change(update_fields):
        instance._summaries_counted_at = (
            Trade.objects.filter(pk=instance.pk).values_list("book_id", "exit_time").first()
        )


@receiver(post_save, sender=Trade, dispatch_uid="reporting.summaries.trade_saved")
def _trade_saved(sender, *, instance: Trade, update_fields=None, **kwargs) -> None:
    if not _counted_change(update_fields):
        return
    before = getattr(instance, "_summaries_counted_at", None)
    if (
        before is not None
        and before[1] is not None
        and (before[0], before[1]) != (instance.book_id, instance.exit_time)
    ):
        summaries_recompute(book_id=before[0], exit_times=[before[1]])
    if instance.exit_time is not None:
        summaries_recompute(book_id=instance.book_id, exit_times=[instance.exit_time])


@receiver(post_delete, sender=Trade, dispatch_uid="reporting.summaries.trade_deleted")
def _trade_deleted(sender, *, instance: Trade, **kwargs) -> None:
    if instance.exit_time is not None:
        summaries_recompute(book_id=instance.book_id, exit_times=[instance.exit_time])

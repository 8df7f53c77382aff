"""Keeping the closed-trade summaries in step with the trades (see `reporting.summaries`)."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from trading.models import Trade
from trading.signals import trades_closed

from .summaries import COUNTED_FIELDS, summaries_add, summaries_recompute


@receiver(trades_closed, dispatch_uid="reporting.summaries.trades_closed")
def _add_closed(sender, *, trades, reclosed=(), **kwargs) -> None:
    summaries_add(trades=trades)
    for trade, exit_time_before in reclosed:
        summaries_recompute(book_id=trade.book_id, exit_times=[t for t in (exit_time_before, trade.exit_time) if t])


@receiver(post_save, sender=Trade, dispatch_uid="reporting.summaries.trade_saved")
def _trade_saved(sender, *, instance: Trade, update_fields=None, **kwargs) -> None:
    if instance.exit_time is None or (update_fields is not None and not COUNTED_FIELDS & set(update_fields)):
        return
    summaries_recompute(book_id=instance.book_id, exit_times=[instance.exit_time])


@receiver(post_delete, sender=Trade, dispatch_uid="reporting.summaries.trade_deleted")
def _trade_deleted(sender, *, instance: Trade, **kwargs) -> None:
    if instance.exit_time is not None:
        summaries_recompute(book_id=instance.book_id, exit_times=[instance.exit_time])

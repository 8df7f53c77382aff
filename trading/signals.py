"""Signals for what other apps keep in step with the book of record."""

from django.dispatch import Signal

# Sent inside the transaction that closed them, with `trades`: the trades that have just closed
# through their fills (written with bulk updates, so Django's post_save is not sent for them).
trades_closed = Signal()

"""Broker backends by alias, the way Django resolves caches and storages.

    from trading.brokers import brokers
    with brokers.create("default") as broker:
        broker.scan(...)

`settings.BROKERS = {"alias": {"BACKEND": "dotted.path.Class", "OPTIONS": {...}}}`.
A new broker is one module with one `BaseBroker` subclass and one settings entry.
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.functional import cached_property
from django.utils.module_loading import import_string

from .base import BaseBroker


class InvalidBrokerError(ImproperlyConfigured):
    """A broker alias is unknown or its BACKEND cannot be imported."""


class BrokerHandler:
    @cached_property
    def settings(self) -> dict:
        return settings.BROKERS

    def backend_class(self, alias: str) -> type[BaseBroker]:
        try:
            config = self.settings[alias]
        except KeyError:
            raise InvalidBrokerError(
                f"Could not find broker alias {alias!r} in settings.BROKERS (have: {', '.join(self.settings)})."
            ) from None
        path = config.get("BACKEND", "")
        try:
            backend = import_string(path)
        except ImportError as exc:
            raise InvalidBrokerError(f"Could not import broker backend {path!r} for alias {alias!r}: {exc}") from exc
        if not (isinstance(backend, type) and issubclass(backend, BaseBroker)):
            raise InvalidBrokerError(f"Broker backend {path!r} for alias {alias!r} is not a BaseBroker subclass.")
        return backend

    def create(self, alias: str = "default") -> BaseBroker:
        """A new, unconnected broker instance: connections belong to one job, never shared."""
        options = dict(self.settings[alias].get("OPTIONS", {})) if alias in self.settings else {}
        return self.backend_class(alias)(alias, **options)

    def create_for(self, book) -> BaseBroker:
        """A new, unconnected broker bound to `book`: its alias's OPTIONS with the book's own
        (account, and for SIM its market). How a service reaches the broker of a book."""
        options = (
            dict(self.settings[book.broker_alias].get("OPTIONS", {})) if book.broker_alias in self.settings else {}
        )
        backend = self.backend_class(book.broker_alias)
        broker = backend(book.broker_alias, **{**options, **backend.options_for_book(book)})
        broker.book = book
        return broker

    def canonical_alias(self, alias: str) -> str:
        """The alias to record on rows: "default" is a second name for one of the others, and a
        trade must keep naming its broker after TRADE_LABS_EXECUTION_BACKEND changes."""
        if alias != "default" or alias not in self.settings:
            return alias
        config = self.settings["default"]
        for other, other_config in self.settings.items():
            if other != "default" and (other_config is config or other_config == config):
                return other
        return alias

    def alias_of_record(self, recorded_alias: str, backend_name: str) -> str:
        """The alias a stored row (a run, a trade) must be handled through: the one it recorded,
        if that alias is still configured with the same kind of backend; for rows from before the
        alias was recorded, `alias_for_backend`. Never the default. InvalidBrokerError otherwise."""
        if not recorded_alias:
            return self.alias_for_backend(backend_name)
        configured = self._name_or_none(recorded_alias) if recorded_alias in self.settings else None
        if configured != backend_name:
            now = f"is now a {configured!r} backend" if configured else "is no longer configured in BROKERS"
            raise InvalidBrokerError(
                f"recorded through broker alias {recorded_alias!r} ({backend_name}), which {now}; "
                "restore that alias to act on it"
            )
        return recorded_alias

    def alias_for_backend(self, backend_name: str) -> str:
        """The one alias (not "default") whose backend is named `backend_name`; for rows recorded
        before the alias was. InvalidBrokerError when none or several could be meant."""
        matches = [alias for alias in self.settings if alias != "default" and self._name_or_none(alias) == backend_name]
        if len(matches) != 1:
            found = ", ".join(matches) or "none"
            raise InvalidBrokerError(
                f"cannot tell which broker alias holds {backend_name!r} rows (matching aliases: {found})"
            )
        return matches[0]

    def _name_or_none(self, alias: str) -> str | None:
        try:
            return self.name_of(alias)
        except InvalidBrokerError:
            return None

    def name_of(self, alias: str) -> str:
        return self.backend_class(alias).name

    def reset(self) -> None:
        """Forget cached settings (tests that override BROKERS)."""
        self.__dict__.pop("settings", None)


brokers = BrokerHandler()


def _forget_settings_on_change(*, setting, **kwargs) -> None:
    if setting == "BROKERS":
        brokers.reset()


setting_changed.connect(_forget_settings_on_change)

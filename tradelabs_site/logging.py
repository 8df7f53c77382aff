"""Structured logging: JSON lines to a file and readable console lines, both from structlog.

Events carry whatever context was bound with `structlog.contextvars.bind_contextvars`
(the pipeline binds `run_id`), so every line of a run can be found by its id.
"""

import logging
import logging.config
import logging.handlers
import os
import sys
from pathlib import Path

import structlog

_SECRET_KEYS = {"password", "secret", "token", "api_key", "secret_key"}


def _drop_secrets(_logger, _method, event_dict):
    """Never let a credential reach a log line, whatever a caller passed."""
    for key in list(event_dict):
        if key.lower() in _SECRET_KEYS:
            event_dict[key] = "***"
    return event_dict


class SharedRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Size-based rotation for a file several processes append to (web, qcluster workers).

    Whichever process finds the file over `maxBytes` rotates it; the others notice the rename
    at their next line (the file at the path is no longer the one they hold, as
    WatchedFileHandler checks) and reopen, so every process writes to the current file and at
    most `backupCount` old ones are kept. The size is read from the file, not from this
    process's own writes."""

    def _reopen_if_moved(self) -> None:
        try:
            current = os.stat(self.baseFilename)
        except FileNotFoundError:
            current = None
        if self.stream is not None:
            held = os.fstat(self.stream.fileno())
            if current is not None and (current.st_dev, current.st_ino) == (held.st_dev, held.st_ino):
                return
            self.stream.close()
        self.stream = self._open()

    def shouldRollover(self, record) -> bool:  # noqa: N802 - the stdlib's name
        self._reopen_if_moved()
        if self.maxBytes <= 0:
            return False
        return os.fstat(self.stream.fileno()).st_size + len(self.format(record)) + 1 > self.maxBytes


def configure_logging(*, log_file: str, level: str = "INFO", max_bytes: int = 0, backups: int = 0) -> None:
    """`max_bytes` > 0 rotates the JSON file at that size, keeping `backups` old files."""
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _drop_secrets,
    ]
    handlers = {
        "console": {
            "class": "logging.StreamHandler",
            "stream": sys.stderr,
            "formatter": "console",
        },
    }
    try:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers["json_file"] = {
            "()": SharedRotatingFileHandler,
            "filename": log_file,
            "maxBytes": max_bytes,
            "backupCount": backups,
            "formatter": "json",
        }
    except OSError:
        pass  # read-only data directory: console logging still works
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "json": {
                    "()": structlog.stdlib.ProcessorFormatter,
                    "processors": [
                        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        structlog.processors.format_exc_info,
                        structlog.processors.JSONRenderer(),
                    ],
                    "foreign_pre_chain": shared,
                },
                "console": {
                    "()": structlog.stdlib.ProcessorFormatter,
                    "processors": [
                        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        structlog.dev.ConsoleRenderer(colors=False),
                    ],
                    "foreign_pre_chain": shared,
                },
            },
            "handlers": handlers,
            "root": {"handlers": list(handlers), "level": level},
            "loggers": {
                "django": {"level": "WARNING"},
                "django-q": {"level": "WARNING"},
                "ib_async": {"level": "WARNING"},
                "ib_insync": {"level": "WARNING"},
            },
        }
    )
    structlog.configure(
        # Filter first: an event below the level costs a level check, not the whole chain.
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )

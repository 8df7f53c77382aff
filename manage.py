#!/usr/bin/env python
"""Django's command-line utility for Trade Labs."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradelabs_site.settings.base")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        # A bad setting (TRADE_LABS_ARMED=2, a weak production SECRET_KEY, ...) is one line that
        # names it, not a traceback through the settings module.
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()

"""Start-up guard shared by every entry point (manage.py, ASGI, Celery)."""

from __future__ import annotations

import sys

from .env import ConfigurationError


def exit_on_configuration_error() -> None:
    """Load the settings now; a bad value ends the process with one clear line, not a traceback."""
    from django.conf import settings

    try:
        settings.INSTALLED_APPS  # noqa: B018 - forces the settings module to load
    except ConfigurationError as error:
        sys.stderr.write(f"configuration error: {error}\n")
        sys.exit(2)

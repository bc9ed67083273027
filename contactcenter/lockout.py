"""The answer to a login refused because of too many failures (django-axes)."""

from __future__ import annotations

import math

from django.conf import settings
from django.shortcuts import render


def lockout_minutes() -> int:
    return math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60)


def lockout_response(request, original_response=None, credentials=None):
    """The lock-out page in the person's language, 429 with Retry-After. Our own instead of
    axes' default, which answers scripted requests with `Access-Control-Allow-Origin: *`."""
    response = render(
        request,
        "registration/locked_out.html",
        {"minutes": lockout_minutes()},
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response

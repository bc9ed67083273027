"""Dates and times in the user's own time zone; API server errors in the API's shape."""

from __future__ import annotations

import logging
import zoneinfo

from django.conf import settings
from django.utils import timezone


def user_time_zone(user) -> zoneinfo.ZoneInfo | None:
    """The agent's own time zone; None (the default zone) for anyone else or an unknown name.
    API views that read dates call this too: a token is authenticated in the view, after
    the middleware has run."""
    if user is None or not user.is_authenticated:
        return None
    profile = getattr(user, "agent_profile", None)
    zone_name = getattr(profile, "time_zone", None)
    if not zone_name:
        return None
    try:
        return zoneinfo.ZoneInfo(zone_name)
    except zoneinfo.ZoneInfoNotFoundError:
        return None


class UserTimeZoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone = user_time_zone(getattr(request, "user", None))
        if zone is not None:
            timezone.activate(zone)
        else:
            timezone.deactivate()
        return self.get_response(request)


class ApiServerErrorMiddleware:
    """An unexpected exception under /api/ answers in the API's error shape (docs/api.md),
    not with the HTML error page; it is logged as Django logs any server error."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not request.path.startswith("/api/"):
            return None
        from django.http import JsonResponse
        from django.utils.translation import gettext as _

        logging.getLogger("django.request").exception("Internal Server Error: %s", request.path)
        body = {"error": "server_error", "message": _("Something went wrong on our side. Please try again.")}
        return JsonResponse(body, status=500)


class ContentSecurityPolicyMiddleware:
    """Every page gets CONTENT_SECURITY_POLICY (settings): scripts only from our own files,
    never inline, so a stored payload that slips through escaping still cannot run."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response

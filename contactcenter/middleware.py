"""Dates and times in the user's own time zone."""

from __future__ import annotations

import zoneinfo

from django.utils import timezone


class UserTimeZoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone_name = None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            profile = getattr(user, "agent_profile", None)
            zone_name = getattr(profile, "time_zone", None)
        if zone_name:
            try:
                timezone.activate(zoneinfo.ZoneInfo(zone_name))
            except zoneinfo.ZoneInfoNotFoundError:
                timezone.deactivate()
        else:
            timezone.deactivate()
        return self.get_response(request)

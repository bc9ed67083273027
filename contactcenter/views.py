from django.conf import settings
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render

from .throttling import hit, parse_rate


def home(request):
    if request.user.is_authenticated:
        return redirect("workspace")
    return redirect("login")


class LoginView(auth_views.LoginView):
    """Django's login page with the API's per-address login limit (CC_THROTTLE_LOGIN): one
    address trying many usernames is slowed down; django-axes locks one username tried too
    often from one address."""

    template_name = "registration/login.html"

    def post(self, request, *args, **kwargs):
        limit, seconds = parse_rate(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["login"])
        allowed, wait = hit(
            scope="login", ident=request.META.get("REMOTE_ADDR") or "unknown", limit=limit, seconds=seconds
        )
        if not allowed:
            response = render(request, "registration/login_throttled.html", status=429)
            response["Retry-After"] = str(max(1, round(wait)))
            return response
        return super().post(request, *args, **kwargs)

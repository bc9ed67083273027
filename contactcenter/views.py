from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render

from .throttling import LoginThrottle


def home(request):
    if request.user.is_authenticated:
        return redirect("workspace")
    return redirect("login")


class LoginView(auth_views.LoginView):
    """Django's login page under the API login's own per-address limit (LoginThrottle,
    CC_THROTTLE_LOGIN; one count for both): one address trying many usernames is slowed
    down; django-axes locks one username tried too often from one address."""

    template_name = "registration/login.html"

    def post(self, request, *args, **kwargs):
        throttle = LoginThrottle()
        if not throttle.allow_request(request, self):
            response = render(request, "registration/login_throttled.html", status=429)
            response["Retry-After"] = str(max(1, round(throttle.wait() or 1)))
            return response
        return super().post(request, *args, **kwargs)

"""Server-rendered pages: the agent workspace and the widget's chat frame."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.views.decorators.clickjacking import xframe_options_exempt

from routing.models import AgentProfile
from routing.selectors import agent_queues, can_serve, is_supervisor

from . import canned
from .api import request_locale
from .models import CannedResponse, Widget
from .services import ChatError
from .texts import widget_texts, workspace_texts


@login_required
def workspace(request):
    profile = AgentProfile.objects.filter(user=request.user).first()
    return render(
        request,
        "chat/workspace.html",
        {
            "memberships": profile.memberships.select_related("queue").filter(queue__is_active=True) if profile else [],
            "supervising": is_supervisor(request.user),
            "profile": profile,
            "can_serve": profile is not None and can_serve(request.user),
            "texts": {**workspace_texts(), "me": request.user.pk},
            "presence_choices": AgentProfile.Presence.choices,
            "search_queues": agent_queues(user=request.user).order_by("name"),
        },
    )


@xframe_options_exempt
def widget_frame(request, widget_key: str):
    """The chat itself, inside the iframe the loader adds to the customer's page."""
    widget = get_object_or_404(Widget.objects.select_related("queue"), key=widget_key, is_active=True)
    locale = request_locale(request, request.GET.get("locale"))
    with translation.override(locale):
        response = render(
            request,
            "chat/widget.html",
            {
                "widget": widget,
                "locale": locale,
                "texts": widget_texts(),
                "config": {
                    "key": widget.key,
                    "locale": locale,
                    "color": widget.color,
                    "voice_processing": settings.CC_CALL_VOICE_PROCESSING,
                },
            },
        )
    origins = widget.origins()
    ancestors = " ".join(["'self'", *origins]) if origins else "*"
    response["Content-Security-Policy"] = (
        f"default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
        f"style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
        f"frame-ancestors {ancestors}"
    )
    response["Content-Language"] = locale
    return response


def demo_page(request):
    """A sample website that embeds widget `demo` (demo mode only)."""
    return render(request, "chat/demo.html", {"widget_key": request.GET.get("widget", "demo")})


@login_required
def my_canned_responses(request):
    """An agent's own canned responses (A5): add, change, remove. Team and global ones are
    the console's."""
    if not can_serve(request.user):
        raise PermissionDenied
    errors, values, form_error = {}, {}, ""
    if request.method == "POST":
        action = request.POST.get("action")
        values = {key: request.POST.get(key, "") for key in ("shortcut", "title", "text", "language")}
        try:
            if action == "delete":
                canned.own_delete(user=request.user, response_id=_int(request.POST.get("id")))
                messages.success(request, translation.gettext("Removed."))
            elif action == "save" and request.POST.get("id"):
                canned.own_update(user=request.user, response_id=_int(request.POST.get("id")), **values)
                messages.success(request, translation.gettext("Saved."))
            else:
                canned.own_create(user=request.user, **values)
                messages.success(request, translation.gettext("Added."))
            return redirect("my-canned-responses")
        except ChatError as error:
            errors, form_error = error.fields, error.message
    own = CannedResponse.objects.filter(scope=CannedResponse.Scope.PERSONAL, owner=request.user).order_by("shortcut")
    return render(
        request,
        "chat/canned_responses.html",
        {
            "own": own,
            "errors": errors,
            "form_error": form_error,
            "values": values,
            "language_choices": settings.LANGUAGES,
            "placeholders": canned.PLACEHOLDERS,
        },
        status=400 if form_error else 200,
    )


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ChatError("not_found", translation.gettext("No such canned response of yours.")) from None

"""Canned responses (A5): which an agent may use in a chat, filled for that chat, and the
agent's own to manage. Admins manage team and global ones in the console."""

from __future__ import annotations

import zoneinfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from routing.hours import hours_text
from routing.selectors import agent_queues

from . import selectors
from .models import CannedResponse, Conversation, Participant
from .placeholders import fill
from .services import ChatError, shown_agent_name

PLACEHOLDERS = ("customer_name", "agent_name", "queue", "opening_hours", "date")
MAX_LISTED = 200


def usable_by(*, user, queue_ids=None) -> QuerySet[CannedResponse]:
    """The user's own, their queues' and everyone's; the own first, then the team's."""
    team_queues = list(agent_queues(user=user).values_list("pk", flat=True)) if queue_ids is None else queue_ids
    return (
        CannedResponse.objects.filter(
            Q(scope=CannedResponse.Scope.PERSONAL, owner=user)
            | Q(scope=CannedResponse.Scope.TEAM, queue_id__in=team_queues)
            | Q(scope=CannedResponse.Scope.GLOBAL)
        )
        .select_related("queue")
        .annotate(
            scope_rank=Case(
                When(scope=CannedResponse.Scope.PERSONAL, then=Value(0)),
                When(scope=CannedResponse.Scope.TEAM, then=Value(1)),
                default=Value(2),
                output_field=IntegerField(),
            )
        )
    )


def for_conversation(*, user, conversation_id, q: str = "") -> list[dict]:
    """Responses the agent may insert in this chat, with placeholders filled for it: this
    queue's team responses (not other queues'), the chat's language first."""
    try:
        conversation = selectors.conversation_for_agent(user=user, conversation_id=conversation_id)
    except Conversation.DoesNotExist:
        raise ChatError("not_found", _("No such conversation.")) from None
    responses = usable_by(user=user, queue_ids=[conversation.queue_id])
    if q:
        responses = responses.filter(Q(shortcut__istartswith=q) | Q(title__icontains=q))
    language_rank = Case(
        When(language=conversation.locale, then=Value(0)),
        When(language="", then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    responses = responses.annotate(language_rank=language_rank).order_by("language_rank", "scope_rank", "shortcut")
    values = placeholder_values(conversation=conversation, user=user)
    return [
        {
            "id": response.pk,
            "shortcut": response.shortcut,
            "title": response.title,
            "scope": response.scope,
            "language": response.language,
            "text": fill(response.text, **values),
        }
        for response in responses[:MAX_LISTED]
    ]


def placeholder_values(*, conversation: Conversation, user) -> dict[str, str]:
    participant = Participant.objects.filter(conversation=conversation, agent=user, left_at__isnull=True).first()
    name = (conversation.prechat or {}).get("name") or conversation.contact.name
    now = timezone.now()
    with translation.override(conversation.locale):
        return {
            "customer_name": str(name or ""),
            "agent_name": participant.shown_name if participant else shown_agent_name(conversation.widget, user),
            "queue": conversation.queue.name,
            "opening_hours": hours_text(queue=conversation.queue, at=now) or _("closed today"),
            "date": formats.date_format(
                now.astimezone(zoneinfo.ZoneInfo(conversation.queue.time_zone)).date(), "SHORT_DATE_FORMAT"
            ),
        }


# --- the agent's own --------------------------------------------------------------------


def _clean(*, shortcut, title, text, language) -> dict:
    errors = {}
    values = {"shortcut": shortcut, "title": title, "text": text, "language": language or ""}
    candidate = CannedResponse(scope=CannedResponse.Scope.PERSONAL, **values)
    try:
        candidate.clean_fields(exclude=["owner", "queue", "scope"])
    except ValidationError as error:
        errors = error.message_dict
    if errors:
        raise ChatError("invalid", _("Please check the form."), fields={k: " ".join(v) for k, v in errors.items()})
    return values


@transaction.atomic
def own_create(*, user, shortcut, title, text, language="") -> CannedResponse:
    return CannedResponse.objects.create(
        scope=CannedResponse.Scope.PERSONAL,
        owner=user,
        **_clean(shortcut=shortcut, title=title, text=text, language=language),
    )


@transaction.atomic
def own_update(*, user, response_id, **changes) -> CannedResponse:
    response = _own(user=user, response_id=response_id)
    current = {
        "shortcut": response.shortcut,
        "title": response.title,
        "text": response.text,
        "language": response.language,
    }
    current.update({k: v for k, v in changes.items() if k in current and v is not None})
    for field, value in _clean(**current).items():
        setattr(response, field, value)
    response.save()
    return response


@transaction.atomic
def own_delete(*, user, response_id) -> None:
    _own(user=user, response_id=response_id).delete()


def _own(*, user, response_id) -> CannedResponse:
    response = (
        CannedResponse.objects.select_for_update()
        .filter(pk=response_id, scope=CannedResponse.Scope.PERSONAL, owner=user)
        .first()
    )
    if response is None:
        raise ChatError("not_found", _("No such canned response of yours."))
    return response

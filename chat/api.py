"""REST edges of chat (PROTOCOL.md): the widget's status and start, offline messages, and the
agent's conversation and message endpoints. One view per operation; services do the work."""

from __future__ import annotations

import datetime
import uuid

from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.db.models import F
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from contactcenter.api_errors import error_response, error_responses
from contactcenter.api_lists import LimitOffsetPagination, query
from contactcenter.lockout import lockout_minutes
from contactcenter.middleware import user_time_zone
from contactcenter.throttling import LoginThrottle, VisitorThrottle
from routing import services as routing
from routing.hours import is_open
from routing.models import AgentProfile, Channel, Queue
from routing.selectors import can_serve

from . import canned, handover, prechat, search, selectors, services, wrapup
from .frames import conversation_summary, message_frame
from .models import Conversation, Participant, PrechatChoice, Widget
from .services import ChatError

SUPPORTED_LOCALES = ("en", "fi", "sv", "nb", "da", "ru")
# What an agent may set themselves; offline and wrap-up come from the system (or a supervisor).
AGENT_PRESENCE_STATES = ("ready", "not_ready", "away")


def widget_or_404(key: str) -> Widget:
    return get_object_or_404(Widget.objects.select_related("queue"), key=key, is_active=True)


def request_locale(request, wanted: str | None = None) -> str:
    if wanted:
        base = wanted.split("-")[0].lower()
        if base in ("no", "nn"):
            base = "nb"
        if base in SUPPORTED_LOCALES:
            return base
    return translation.get_language_from_request(request)[:2] if request else "en"


def widget_status(*, widget: Widget, locale: str) -> dict:
    queue = widget.queue
    now = timezone.now()
    open_now = is_open(queue=queue, at=now)
    snapshot = selectors.queue_snapshot(queue=queue)
    with translation.override(locale):
        closed_default = _("We are closed right now.")
        button_label = _("Chat with us") if open_now else _("Leave us a message")
    return {
        "open": open_now,
        "message": "" if open_now else (queue.closed_message or closed_default),
        "agents_available": snapshot["agents_available"],
        "queue_length": snapshot["queue_length"],
        "estimated_wait_seconds": selectors.estimated_wait_seconds(queue=queue, position=snapshot["queue_length"] + 1)
        if snapshot["agents_available"] == 0
        else 0,
        "prechat_fields": prechat.describe(queue),
        "locale": locale,
        "offline_form": (not open_now) and queue.offline_form_enabled,
        "title": widget.title or widget.name,
        "button_label": button_label,
        "color": widget.color,
        # A "Call us" button: the widget's queue takes calls and is open (docs/protocol.md, "Calls").
        "calls": open_now and queue.is_active and queue.serves(Channel.VOICE),
    }


ERROR_STATUS = {
    "invalid": status.HTTP_400_BAD_REQUEST,
    "too_long": status.HTTP_400_BAD_REQUEST,
    "forbidden": status.HTTP_403_FORBIDDEN,
    "not_found": status.HTTP_404_NOT_FOUND,
}


def chat_error_response(error: ChatError, *, status_code: int | None = None) -> Response:
    """A refused chat verb in the API's error shape; conflicts of state are 409."""
    return error_response(
        error.code,
        error.message,
        fields=error.fields,
        status=status_code or ERROR_STATUS.get(error.code, status.HTTP_409_CONFLICT),
    )


class WidgetStatusApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(operation_id="widget_status", responses={200: dict, **error_responses(404)})
    def get(self, request, widget_key: str):
        widget = widget_or_404(widget_key)
        response = Response(widget_status(widget=widget, locale=request_locale(request, request.GET.get("locale"))))
        # The loader reads this from the embedding page: only allowed origins may (W1).
        origin = request.headers.get("Origin", "").rstrip("/")
        allowed = widget.origins()
        if not allowed:
            response["Access-Control-Allow-Origin"] = "*"
        elif origin in allowed:
            response["Access-Control-Allow-Origin"] = origin
            response["Vary"] = "Origin"
        return response


class ConversationStartApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [VisitorThrottle]

    class ConversationStartInput(serializers.Serializer):
        prechat = serializers.DictField(required=False, default=dict)
        locale = serializers.CharField(required=False, allow_blank=True, max_length=16)
        context = serializers.DictField(required=False, default=dict)
        visitor_id = serializers.UUIDField(required=False, allow_null=True)

    @extend_schema(
        operation_id="conversation_start",
        request=ConversationStartInput,
        responses={
            201: inline_serializer(
                "ConversationStarted",
                {
                    "conversation_id": serializers.UUIDField(),
                    "customer_token": serializers.CharField(),
                    "ws_url": serializers.CharField(),
                },
            ),
            **error_responses(400, 404, 409, 429),
        },
    )
    def post(self, request, widget_key: str):
        widget = widget_or_404(widget_key)
        data = self.ConversationStartInput(data=request.data)
        data.is_valid(raise_exception=True)
        locale = request_locale(request, data.validated_data.get("locale"))
        try:
            with translation.override(locale):
                conversation, token = services.conversation_start(
                    widget=widget,
                    prechat=data.validated_data["prechat"],
                    locale=locale,
                    context=data.validated_data["context"],
                    visitor_id=data.validated_data.get("visitor_id"),
                )
        except ChatError as error:
            conflict = error.code in ("closed", "full")
            return chat_error_response(
                error, status_code=status.HTTP_409_CONFLICT if conflict else status.HTTP_400_BAD_REQUEST
            )
        return Response(
            {"conversation_id": str(conversation.pk), "customer_token": token, "ws_url": "/ws/chat/"},
            status=status.HTTP_201_CREATED,
        )


class CustomerTokenRefreshApi(APIView):
    """An app swaps its customer token for a new one; the old one stops working (W10)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [VisitorThrottle]

    class TokenRefreshInput(serializers.Serializer):
        customer_token = serializers.CharField(max_length=500)

    @extend_schema(
        operation_id="customer_token_refresh",
        request=TokenRefreshInput,
        responses={
            200: inline_serializer(
                "CustomerTokenRefreshed",
                {"conversation_id": serializers.UUIDField(), "customer_token": serializers.CharField()},
            ),
            **error_responses(400, 401, 429),
        },
    )
    def post(self, request):
        data = self.TokenRefreshInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            conversation, token = services.customer_token_refresh(token=data.validated_data["customer_token"])
        except ChatError as error:
            return chat_error_response(error, status_code=status.HTTP_401_UNAUTHORIZED)
        return Response({"conversation_id": str(conversation.pk), "customer_token": token})


class OfflineMessageCreateApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [VisitorThrottle]

    class OfflineMessageCreateInput(serializers.Serializer):
        name = serializers.CharField(required=False, allow_blank=True, max_length=120)
        email = serializers.EmailField(required=False, allow_blank=True)
        phone = serializers.RegexField(r"^\+?[0-9 ()\-]{5,25}$", required=False, allow_blank=True)
        text = serializers.CharField(max_length=4000)

        def validate(self, attrs):
            if not attrs.get("email") and not attrs.get("phone"):
                raise serializers.ValidationError({"email": _("Give an e-mail address or a phone number.")})
            return attrs

    @extend_schema(
        operation_id="offline_message_create",
        request=OfflineMessageCreateInput,
        responses={
            201: inline_serializer("OfflineMessageCreated", {"id": serializers.IntegerField()}),
            **error_responses(400, 404, 429),
        },
    )
    def post(self, request, widget_key: str):
        widget = widget_or_404(widget_key)
        with translation.override(request_locale(request)):
            data = self.OfflineMessageCreateInput(data=request.data)
            data.is_valid(raise_exception=True)
        message = services.offline_message_leave(widget=widget, **data.validated_data)
        return Response({"id": message.pk}, status=status.HTTP_201_CREATED)


# --- agents -----------------------------------------------------------------------------


class TokenObtainApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginThrottle]

    class TokenObtainInput(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=256)

    @extend_schema(
        operation_id="auth_token",
        request=TokenObtainInput,
        responses={
            200: inline_serializer("AuthToken", {"token": serializers.CharField()}),
            **error_responses(400, 401, 429),
        },
    )
    def post(self, request):
        data = self.TokenObtainInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(request, **data.validated_data)
        if getattr(request, "axes_locked_out", False):  # set by django-axes' backend
            return error_response(
                "locked_out",
                ngettext(
                    "Too many failed logins: locked for %(minutes)d minute.",
                    "Too many failed logins: locked for %(minutes)d minutes.",
                    lockout_minutes(),
                )
                % {"minutes": lockout_minutes()},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
            )
        if user is None or not user.is_active:
            return error_response("unauthorized", _("Wrong username or password."), status=status.HTTP_401_UNAUTHORIZED)
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


# Ids arrive from the query string; anything beyond a bigint is simply not an id.
MAX_ID = 2**63 - 1


class ConversationQueueOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ConversationCustomerOutput(serializers.Serializer):
    contact_id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.CharField()
    phone = serializers.CharField()


class ConversationSummaryOutput(serializers.Serializer):
    """The conversation summary of docs/protocol.md (`frames.conversation_summary`), the same
    the workspace's socket sends."""

    conversation_id = serializers.UUIDField()
    state = serializers.ChoiceField(choices=Conversation.State.choices)
    queue = ConversationQueueOutput()
    customer = ConversationCustomerOutput()
    prechat = serializers.DictField()
    context = serializers.DictField()
    locale = serializers.CharField()
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    last_seq = serializers.IntegerField()
    agent_read_seq = serializers.IntegerField()


class HistoryItemOutput(serializers.Serializer):
    id = serializers.UUIDField()
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    queue = ConversationQueueOutput()
    agent = serializers.CharField(allow_null=True)
    customer = serializers.CharField(allow_null=True)
    snippet = serializers.CharField(help_text="Plain text; the words found are between « and ».")
    locale = serializers.CharField()


class ConversationDetailOutput(ConversationSummaryOutput):
    history = HistoryItemOutput(many=True)
    rating = serializers.IntegerField(allow_null=True)


class HistoryListOutput(serializers.Serializer):
    results = HistoryItemOutput(many=True)


class MessageListOutput(serializers.Serializer):
    results = serializers.ListField(
        child=serializers.DictField(), help_text="Stored `message` and `event` frames (docs/protocol.md), notes too."
    )
    last_seq = serializers.IntegerField()


CONVERSATION_ORDERINGS = {
    "-started_at": (F("created_at").desc(), F("pk").desc()),
    "started_at": (F("created_at").asc(), F("pk").asc()),
    "ended_at": (F("ended_at").asc(nulls_last=True), F("pk").asc()),
    "-ended_at": (F("ended_at").desc(nulls_last=True), F("pk").desc()),
}


class DayRangeQuery(serializers.Serializer):
    """`from` and `to`: days the conversation started, inclusive, in the caller's time zone."""

    def get_fields(self):
        # "from" is a Python keyword, so these two cannot be class attributes.
        fields = super().get_fields()
        fields["from"] = serializers.DateField(
            required=False, input_formats=["%Y-%m-%d"], help_text="Started on or after this day (caller's zone)."
        )
        fields["to"] = serializers.DateField(
            required=False, input_formats=["%Y-%m-%d"], help_text="Started on or before this day (caller's zone)."
        )
        return fields

    def validate(self, attrs):
        if "from" in attrs and "to" in attrs and attrs["from"] > attrs["to"]:
            raise serializers.ValidationError({"to": [_("The end date is before the start date.")]})
        return attrs


class ConversationListApi(generics.GenericAPIView):
    """Conversations the caller may see, as in the workspace (`conversations_for_agent`): of
    the agent's queues and those the agent took part in; supervisors and admins see all."""

    permission_classes = [IsAuthenticated]
    pagination_class = LimitOffsetPagination
    serializer_class = ConversationSummaryOutput

    class ConversationListQuery(DayRangeQuery):
        state = serializers.ChoiceField(choices=Conversation.State.choices, required=False)
        queue = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
        agent = serializers.IntegerField(
            required=False, min_value=1, max_value=MAX_ID, help_text="The answering agent's user id."
        )
        mine = serializers.BooleanField(required=False, help_text="Only conversations the caller took part in.")
        ordering = serializers.ChoiceField(choices=list(CONVERSATION_ORDERINGS), required=False, default="-started_at")

    @extend_schema(
        operation_id="conversation_list",
        parameters=[ConversationListQuery],
        responses={200: ConversationSummaryOutput(many=True), **error_responses(400, 401, 429)},
    )
    def get(self, request):
        params = query(request, self.ConversationListQuery)
        conversations = selectors.conversations_for_agent(user=request.user)
        if params.get("mine"):
            took_part = Participant.objects.filter(agent=request.user).values("conversation_id")
            conversations = conversations.filter(pk__in=took_part)
        if "state" in params:
            conversations = conversations.filter(state=params["state"])
        if "queue" in params:
            conversations = conversations.filter(queue_id=params["queue"])
        if "agent" in params:
            conversations = conversations.filter(agent_id=params["agent"])
        # Days in the caller's time zone, also for a token (authenticated after the middleware).
        with timezone.override(user_time_zone(request.user)):
            zone = timezone.get_current_timezone()
        if "from" in params:
            start = datetime.datetime.combine(params["from"], datetime.time(), tzinfo=zone)
            conversations = conversations.filter(created_at__gte=start)
        if "to" in params:
            end = datetime.datetime.combine(params["to"] + datetime.timedelta(days=1), datetime.time(), tzinfo=zone)
            conversations = conversations.filter(created_at__lt=end)
        page = self.paginate_queryset(conversations.order_by(*CONVERSATION_ORDERINGS[params["ordering"]]))
        return self.get_paginated_response([conversation_summary(c) for c in page])


class ConversationDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="conversation_detail", responses={200: ConversationDetailOutput, **error_responses(401, 404, 429)}
    )
    def get(self, request, conversation_id):
        conversation = _visible_conversation(request.user, conversation_id)
        summary = conversation_summary(conversation)
        summary["history"] = [
            history_item(c) for c in search.contact_history(user=request.user, conversation_id=conversation.pk)
        ]
        summary["rating"] = conversation.rating
        return Response(summary)


class ConversationSearchApi(APIView):
    """Search the history of the queues the agent sees (A11): words (stemmed in each
    conversation's language), queue, answering agent (a user id) and days of the start."""

    permission_classes = [IsAuthenticated]

    class ConversationSearchInput(DayRangeQuery):
        q = serializers.CharField(required=False, allow_blank=True, max_length=search.MAX_QUERY_LENGTH, default="")
        queue = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
        agent = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)

    @extend_schema(
        operation_id="conversation_search",
        parameters=[ConversationSearchInput],
        responses={200: HistoryListOutput, **error_responses(400, 401, 429)},
    )
    def get(self, request):
        data = self.ConversationSearchInput(data=request.GET)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        # Days in the agent's time zone, also for a token (authenticated after the middleware).
        with timezone.override(user_time_zone(request.user)):
            found = search.conversations_search(
                user=request.user,
                q=values["q"],
                queue_id=values.get("queue"),
                agent_id=values.get("agent"),
                date_from=values.get("from"),
                date_to=values.get("to"),
            )
        return Response({"results": [history_item(c, snippet=c.snippet) for c in found]})


class ConversationHistoryApi(APIView):
    """The contact's other conversations that the agent may see (A4)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="conversation_history", responses={200: HistoryListOutput, **error_responses(401, 404, 429)}
    )
    def get(self, request, conversation_id):
        try:
            others = search.contact_history(user=request.user, conversation_id=conversation_id)
        except Conversation.DoesNotExist:
            raise Http404 from None
        return Response({"results": [history_item(c) for c in others]})


def history_item(conversation: Conversation, *, snippet: str = "") -> dict:
    """A conversation in search results and contact history. `snippet` is plain text (to be
    shown as text, never as HTML) with the found words between « and »."""
    contact, agent = conversation.contact, conversation.agent
    return {
        "id": str(conversation.pk),
        "started_at": conversation.created_at.isoformat(),
        "ended_at": conversation.ended_at.isoformat() if conversation.ended_at else None,
        "queue": {"id": conversation.queue_id, "name": conversation.queue.name},
        "agent": (agent.get_full_name() or agent.get_username()) if agent else None,
        "customer": contact.name or contact.email or contact.phone or None,
        "snippet": snippet,
        "locale": conversation.locale,
    }


class MessageListCreateApi(APIView):
    permission_classes = [IsAuthenticated]

    class MessageListCreateInput(serializers.Serializer):
        client_id = serializers.UUIDField(required=False, allow_null=True)
        text = serializers.CharField(max_length=4000, trim_whitespace=False, required=False, allow_blank=True)
        internal = serializers.BooleanField(required=False, default=False)
        link_url = serializers.CharField(max_length=2000, required=False, allow_null=True, default=None)

    class MessageListQuery(serializers.Serializer):
        after_seq = serializers.IntegerField(required=False, min_value=0, max_value=MAX_ID, default=0)

    @extend_schema(
        operation_id="message_list",
        parameters=[MessageListQuery],
        responses={200: MessageListOutput, **error_responses(400, 401, 404, 429)},
    )
    def get(self, request, conversation_id):
        conversation = _visible_conversation(request.user, conversation_id)
        params = query(request, self.MessageListQuery, paged=False)
        frames = selectors.items_after(conversation_id=conversation.pk, after_seq=params["after_seq"], for_agent=True)
        return Response({"results": frames, "last_seq": conversation.last_seq})

    @extend_schema(
        operation_id="message_create",
        request=MessageListCreateInput,
        responses={201: dict, 200: dict, **error_responses(400, 401, 403, 404, 409, 429)},
    )
    def post(self, request, conversation_id):
        conversation = _visible_conversation(request.user, conversation_id)
        data = self.MessageListCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            message, created = services.message_post_by_agent(
                conversation_id=conversation.pk,
                user=request.user,
                client_id=data.validated_data.get("client_id"),
                text=data.validated_data.get("text", ""),
                internal=data.validated_data["internal"],
                link_url=data.validated_data["link_url"],
            )
        except ChatError as error:
            return chat_error_response(error)
        return Response(message_frame(message, for_agent=True), status=201 if created else 200)


class PresenceApi(APIView):
    permission_classes = [IsAuthenticated]

    class PresenceInput(serializers.Serializer):
        state = serializers.ChoiceField(choices=AGENT_PRESENCE_STATES)
        reason = serializers.CharField(required=False, allow_blank=True, max_length=120, default="")

    @extend_schema(
        operation_id="presence_set",
        request=PresenceInput,
        responses={
            200: inline_serializer(
                "PresenceSet",
                {
                    "state": serializers.CharField(),
                    "reason": serializers.CharField(),
                    "since": serializers.DateTimeField(),
                },
            ),
            **error_responses(400, 401, 404, 429),
        },
    )
    def post(self, request):
        agent = get_object_or_404(AgentProfile, user=request.user)
        data = self.PresenceInput(data=request.data)
        data.is_valid(raise_exception=True)
        agent = routing.presence_set(
            agent=agent, presence=data.validated_data["state"], reason=data.validated_data["reason"]
        )
        return Response({"state": agent.presence, "reason": agent.presence_reason, "since": agent.presence_since})


class QueueLogOnApi(APIView):
    """Log on to or off from some queues, or all with queue_ids null (A1)."""

    permission_classes = [IsAuthenticated]

    class QueueLogOnInput(serializers.Serializer):
        queue_ids = serializers.ListField(child=serializers.IntegerField(), allow_null=True, required=False)
        logged_on = serializers.BooleanField()

    @extend_schema(
        operation_id="queues_log_on",
        request=QueueLogOnInput,
        responses={
            200: inline_serializer(
                "QueuesLoggedOn",
                {
                    "changed": serializers.IntegerField(),
                    "queues": serializers.ListField(
                        child=inline_serializer(
                            "QueueLogOnState",
                            {"queue_id": serializers.IntegerField(), "logged_on": serializers.BooleanField()},
                        )
                    ),
                },
            ),
            **error_responses(400, 401, 404, 429),
        },
    )
    def post(self, request):
        agent = get_object_or_404(AgentProfile, user=request.user)
        data = self.QueueLogOnInput(data=request.data)
        data.is_valid(raise_exception=True)
        changed = routing.queue_log_on(
            agent=agent, queue_ids=data.validated_data.get("queue_ids"), logged_on=data.validated_data["logged_on"]
        )
        memberships = agent.memberships.values("queue_id", "logged_on")
        return Response({"changed": changed, "queues": list(memberships)})


class OfflineMessageListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="offline_message_list", responses={200: dict, **error_responses(401, 429)})
    def get(self, request):
        messages = selectors.offline_messages_for_agent(user=request.user)
        return Response(
            {
                "results": [
                    {
                        "id": m.pk,
                        "queue": m.queue.name,
                        "name": m.name,
                        "email": m.email,
                        "phone": m.phone,
                        "text": m.text,
                        "created_at": m.created_at.isoformat(),
                        "handled": m.handled_at is not None,
                    }
                    for m in messages[:200]
                ]
            }
        )


class OfflineMessageHandleApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="offline_message_handle",
        request=None,
        responses={
            200: inline_serializer(
                "OfflineMessageHandled", {"id": serializers.IntegerField(), "handled": serializers.BooleanField()}
            ),
            **error_responses(401, 404, 429),
        },
    )
    def post(self, request, message_id: int):
        message = get_object_or_404(selectors.offline_messages_for_agent(user=request.user), pk=message_id)
        services.offline_message_handle(message=message, user=request.user)
        return Response({"id": message.pk, "handled": True})


def _visible_conversation(user, conversation_id) -> Conversation:
    try:
        return selectors.conversation_for_agent(user=user, conversation_id=conversation_id)
    except (Conversation.DoesNotExist, ValueError, ValidationError):
        raise Http404 from None


class CannedResponseListApi(APIView):
    """Canned responses (A5): for a chat, filled and ordered for it; or the agent's own list.
    POST adds one of the agent's own."""

    permission_classes = [IsAuthenticated]

    class CannedResponseInput(serializers.Serializer):
        shortcut = serializers.CharField(max_length=40)
        title = serializers.CharField(max_length=120)
        text = serializers.CharField(max_length=4000, trim_whitespace=False)
        language = serializers.CharField(max_length=8, required=False, allow_blank=True, default="")

    @extend_schema(operation_id="canned_response_list", responses={200: dict, **error_responses(401, 404, 429)})
    def get(self, request):
        q = request.GET.get("q", "")[:40]
        conversation_id = request.GET.get("conversation")
        if conversation_id:
            try:
                results = canned.for_conversation(user=request.user, conversation_id=_uuid(conversation_id), q=q)
            except ChatError as error:
                return chat_error_response(error)
            return Response({"results": results})
        responses = canned.usable_by(user=request.user).order_by("scope_rank", "shortcut")
        if request.GET.get("mine") in ("1", "true"):
            responses = responses.filter(scope="personal")
        return Response({"results": [canned_response_data(r) for r in responses[: canned.MAX_LISTED]]})

    @extend_schema(
        operation_id="canned_response_create",
        request=CannedResponseInput,
        responses={201: dict, **error_responses(400, 401, 403, 429)},
    )
    def post(self, request):
        if not can_serve(request.user):
            return error_response("forbidden", _("Agents only."), status=status.HTTP_403_FORBIDDEN)
        data = self.CannedResponseInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            response = canned.own_create(user=request.user, **data.validated_data)
        except ChatError as error:
            return chat_error_response(error)
        return Response(canned_response_data(response), status=status.HTTP_201_CREATED)


class CannedResponseDetailApi(APIView):
    """Change or remove one of the agent's own canned responses."""

    permission_classes = [IsAuthenticated]

    class CannedResponseChange(serializers.Serializer):
        shortcut = serializers.CharField(max_length=40, required=False)
        title = serializers.CharField(max_length=120, required=False)
        text = serializers.CharField(max_length=4000, trim_whitespace=False, required=False)
        language = serializers.CharField(max_length=8, required=False, allow_blank=True)

    @extend_schema(
        operation_id="canned_response_update",
        request=CannedResponseChange,
        responses={200: dict, **error_responses(400, 401, 404, 429)},
    )
    def patch(self, request, response_id: int):
        data = self.CannedResponseChange(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            response = canned.own_update(user=request.user, response_id=response_id, **data.validated_data)
        except ChatError as error:
            return chat_error_response(error)
        return Response(canned_response_data(response))

    @extend_schema(operation_id="canned_response_delete", responses={204: None, **error_responses(401, 404, 429)})
    def delete(self, request, response_id: int):
        try:
            canned.own_delete(user=request.user, response_id=response_id)
        except ChatError as error:
            return chat_error_response(error)
        return Response(status=status.HTTP_204_NO_CONTENT)


def canned_response_data(response) -> dict:
    return {
        "id": response.pk,
        "scope": response.scope,
        "queue": {"id": response.queue_id, "name": response.queue.name} if response.queue_id else None,
        "shortcut": response.shortcut,
        "title": response.title,
        "text": response.text,
        "language": response.language,
        "updated_at": response.updated_at.isoformat(),
    }


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ChatError("not_found", _("No such conversation.")) from None


class TransferTargetsApi(APIView):
    """Whom and where an agent can hand a chat to (A6, A7): logged-on colleagues with their
    free chat slots, chat queues, and pre-chat categories that lead to a queue."""

    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="transfer_targets", responses={200: dict, **error_responses(401, 403, 429)})
    def get(self, request):
        if not can_serve(request.user):
            return error_response("forbidden", _("Agents only."), status=status.HTTP_403_FORBIDDEN)
        queues = Queue.objects.filter(is_active=True, channels__contains=["chat"]).order_by("name")
        choices = (
            PrechatChoice.objects.filter(route_to__is_active=True, route_to__channels__contains=["chat"])
            .select_related("route_to")
            .order_by("label")
        )
        return Response(
            {
                "colleagues": handover.colleagues_for(user=request.user),
                "queues": [{"id": queue.pk, "name": queue.name} for queue in queues],
                "categories": [
                    {"id": choice.pk, "label": choice.label, "queue": choice.route_to.name} for choice in choices
                ],
            }
        )


class WrapUpApi(APIView):
    """The agent's wrap-up of a chat they served: disposition code and note."""

    permission_classes = [IsAuthenticated]

    class WrapUpInput(serializers.Serializer):
        disposition_id = serializers.IntegerField(required=False, allow_null=True, default=None)
        note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")

    @extend_schema(operation_id="wrap_up_get", responses={200: dict, **error_responses(401, 404, 429)})
    def get(self, request, conversation_id):
        try:
            return Response(wrapup.wrap_up_form(conversation_id=conversation_id, user=request.user))
        except ChatError as error:
            return chat_error_response(error)

    @extend_schema(
        operation_id="wrap_up_set",
        request=WrapUpInput,
        responses={200: dict, **error_responses(400, 401, 404, 409, 429)},
    )
    def post(self, request, conversation_id):
        data = self.WrapUpInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            wrapup.wrap_up_set(conversation_id=conversation_id, user=request.user, **data.validated_data)
            return Response(wrapup.wrap_up_form(conversation_id=conversation_id, user=request.user))
        except ChatError as error:
            return chat_error_response(error)

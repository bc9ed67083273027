"""REST edges of chat (PROTOCOL.md): the widget's status and start, offline messages, and the
agent's conversation and message endpoints. One view per operation; services do the work."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, ScopedRateThrottle
from rest_framework.views import APIView

from routing import services as routing
from routing.hours import is_open
from routing.models import AgentProfile
from routing.selectors import is_supervisor

from . import prechat, selectors, services
from .frames import conversation_summary, message_frame
from .models import Conversation, Widget
from .services import ChatError

SUPPORTED_LOCALES = ("en", "fi", "sv", "nb", "da", "ru")


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
    }


class CustomerThrottle(AnonRateThrottle):
    scope = "customer"


class WidgetStatusApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(operation_id="widget_status", responses={200: dict})
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
    throttle_classes = [CustomerThrottle]

    class ConversationStartInput(serializers.Serializer):
        prechat = serializers.DictField(required=False, default=dict)
        locale = serializers.CharField(required=False, allow_blank=True, max_length=16)
        context = serializers.DictField(required=False, default=dict)
        visitor_id = serializers.UUIDField(required=False, allow_null=True)

    @extend_schema(
        operation_id="conversation_start", request=ConversationStartInput, responses={201: dict, 400: dict, 409: dict}
    )
    def post(self, request, widget_key: str):
        widget = widget_or_404(widget_key)
        data = self.ConversationStartInput(data=request.data)
        if not data.is_valid():
            return Response({"error": "invalid", "fields": data.errors}, status=status.HTTP_400_BAD_REQUEST)
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
            if error.code in ("closed", "full"):
                return Response({"error": error.code, "message": error.message}, status=status.HTTP_409_CONFLICT)
            return Response(
                {"error": error.code, "message": error.message, "fields": error.fields},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(
            {"conversation_id": str(conversation.pk), "customer_token": token, "ws_url": "/ws/chat/"},
            status=status.HTTP_201_CREATED,
        )


class OfflineMessageCreateApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [CustomerThrottle]

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
        operation_id="offline_message_create", request=OfflineMessageCreateInput, responses={201: dict, 400: dict}
    )
    def post(self, request, widget_key: str):
        widget = widget_or_404(widget_key)
        with translation.override(request_locale(request)):
            data = self.OfflineMessageCreateInput(data=request.data)
            if not data.is_valid():
                return Response({"error": "invalid", "fields": data.errors}, status=status.HTTP_400_BAD_REQUEST)
        message = services.offline_message_leave(widget=widget, **data.validated_data)
        return Response({"id": message.pk}, status=status.HTTP_201_CREATED)


# --- agents -----------------------------------------------------------------------------


class TokenObtainApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    class TokenObtainInput(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=256)

    @extend_schema(operation_id="auth_token", request=TokenObtainInput, responses={200: dict, 401: dict})
    def post(self, request):
        data = self.TokenObtainInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(request, **data.validated_data)
        if user is None or not user.is_active:
            return Response(
                {"error": "unauthorized", "message": "Wrong username or password."},
                status=status.HTTP_401_UNAUTHORIZED,
            )
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


class ConversationListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="conversation_list", responses={200: dict})
    def get(self, request):
        state = request.GET.get("state")
        queue = request.GET.get("queue")
        conversations = selectors.conversations_for_agent(user=request.user)
        if request.GET.get("mine") in ("1", "true"):
            conversations = conversations.filter(participants__agent=request.user).distinct()
        if state:
            if state not in Conversation.State.values:
                return Response({"error": "invalid", "fields": {"state": ["Unknown state."]}}, status=400)
            conversations = conversations.filter(state=state)
        if queue:
            if not queue.isdigit():
                return Response({"error": "invalid", "fields": {"queue": ["A queue id."]}}, status=400)
            conversations = conversations.filter(queue_id=int(queue))
        return Response({"results": [conversation_summary(c) for c in conversations[:200]]})


class ConversationDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="conversation_detail", responses={200: dict})
    def get(self, request, conversation_id):
        conversation = _visible_conversation(request.user, conversation_id)
        summary = conversation_summary(conversation)
        summary["history"] = selectors.contact_history(conversation=conversation, user=request.user)
        summary["rating"] = conversation.rating
        return Response(summary)


class MessageListCreateApi(APIView):
    permission_classes = [IsAuthenticated]

    class MessageListCreateInput(serializers.Serializer):
        client_id = serializers.UUIDField(required=False, allow_null=True)
        text = serializers.CharField(max_length=4000, trim_whitespace=False)
        internal = serializers.BooleanField(required=False, default=False)

    @extend_schema(operation_id="message_list", responses={200: dict})
    def get(self, request, conversation_id):
        conversation = _visible_conversation(request.user, conversation_id)
        after = request.GET.get("after_seq", "0")
        if not after.isdigit():
            return Response({"error": "invalid", "fields": {"after_seq": ["A whole number."]}}, status=400)
        frames = selectors.items_after(conversation_id=conversation.pk, after_seq=int(after), for_agent=True)
        return Response({"results": frames, "last_seq": conversation.last_seq})

    @extend_schema(operation_id="message_create", request=MessageListCreateInput, responses={201: dict, 200: dict})
    def post(self, request, conversation_id):
        conversation = _visible_conversation(request.user, conversation_id)
        data = self.MessageListCreateInput(data=request.data)
        if not data.is_valid():
            return Response({"error": "invalid", "fields": data.errors}, status=status.HTTP_400_BAD_REQUEST)
        try:
            message, created = services.message_post_by_agent(
                conversation_id=conversation.pk,
                user=request.user,
                client_id=data.validated_data.get("client_id"),
                text=data.validated_data["text"],
                internal=data.validated_data["internal"],
            )
        except ChatError as error:
            code = status.HTTP_403_FORBIDDEN if error.code == "forbidden" else status.HTTP_409_CONFLICT
            return Response({"error": error.code, "message": error.message}, status=code)
        return Response(message_frame(message, for_agent=True), status=201 if created else 200)


class PresenceApi(APIView):
    permission_classes = [IsAuthenticated]

    class PresenceInput(serializers.Serializer):
        state = serializers.ChoiceField(choices=["ready", "not_ready", "away"])
        reason = serializers.CharField(required=False, allow_blank=True, max_length=120, default="")

    @extend_schema(operation_id="presence_set", request=PresenceInput, responses={200: dict})
    def post(self, request):
        agent = get_object_or_404(AgentProfile, user=request.user)
        data = self.PresenceInput(data=request.data)
        if not data.is_valid():
            return Response({"error": "invalid", "fields": data.errors}, status=status.HTTP_400_BAD_REQUEST)
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

    @extend_schema(operation_id="queues_log_on", request=QueueLogOnInput, responses={200: dict})
    def post(self, request):
        agent = get_object_or_404(AgentProfile, user=request.user)
        data = self.QueueLogOnInput(data=request.data)
        if not data.is_valid():
            return Response({"error": "invalid", "fields": data.errors}, status=status.HTTP_400_BAD_REQUEST)
        changed = routing.queue_log_on(
            agent=agent, queue_ids=data.validated_data.get("queue_ids"), logged_on=data.validated_data["logged_on"]
        )
        memberships = agent.memberships.values("queue_id", "logged_on")
        return Response({"changed": changed, "queues": list(memberships)})


class SupervisedAgentApi(APIView):
    """Supervisors log agents on and off queues and set their presence, live (S2)."""

    permission_classes = [IsAuthenticated]

    class SupervisedAgentInput(serializers.Serializer):
        queue_ids = serializers.ListField(child=serializers.IntegerField(), allow_null=True, required=False)
        logged_on = serializers.BooleanField(required=False)
        state = serializers.ChoiceField(choices=["ready", "not_ready", "away", "offline"], required=False)
        reason = serializers.CharField(required=False, allow_blank=True, max_length=120, default="")

    @extend_schema(operation_id="agent_supervise", request=SupervisedAgentInput, responses={200: dict})
    def post(self, request, agent_id: int):
        if not is_supervisor(request.user):
            return Response({"error": "forbidden", "message": "Supervisors only."}, status=status.HTTP_403_FORBIDDEN)
        agent = get_object_or_404(AgentProfile, pk=agent_id)
        data = self.SupervisedAgentInput(data=request.data)
        if not data.is_valid():
            return Response({"error": "invalid", "fields": data.errors}, status=status.HTTP_400_BAD_REQUEST)
        values = data.validated_data
        if "logged_on" in values:
            routing.queue_log_on(agent=agent, queue_ids=values.get("queue_ids"), logged_on=values["logged_on"])
        if "state" in values:
            reason = values["reason"] or _("set by %(name)s") % {"name": request.user.get_username()}
            agent = routing.presence_set(agent=agent, presence=values["state"], reason=reason)
        memberships = agent.memberships.values("queue_id", "logged_on")
        return Response({"state": agent.presence, "reason": agent.presence_reason, "queues": list(memberships)})


class OfflineMessageListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="offline_message_list", responses={200: dict})
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

    @extend_schema(operation_id="offline_message_handle", request=None, responses={200: dict})
    def post(self, request, message_id: int):
        message = get_object_or_404(selectors.offline_messages_for_agent(user=request.user), pk=message_id)
        services.offline_message_handle(message=message, user=request.user)
        return Response({"id": message.pk, "handled": True})


def _visible_conversation(user, conversation_id) -> Conversation:
    try:
        return selectors.conversation_for_agent(user=user, conversation_id=conversation_id)
    except (Conversation.DoesNotExist, ValueError, ValidationError):
        raise Http404 from None

"""Voice's REST edge: a caller in the widget (or an app) starts a call."""

from __future__ import annotations

from django.utils import translation
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from chat.api import request_locale, widget_or_404
from contactcenter.api_errors import error_response, error_responses
from contactcenter.throttling import VisitorThrottle

from . import services
from .services import VoiceError


class CallStartApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [VisitorThrottle]

    class CallStartInput(serializers.Serializer):
        name = serializers.CharField(required=False, allow_blank=True, max_length=120, default="")
        locale = serializers.CharField(required=False, allow_blank=True, max_length=16)
        visitor_id = serializers.UUIDField(required=False, allow_null=True)

    @extend_schema(
        operation_id="call_start",
        request=CallStartInput,
        responses={
            201: inline_serializer(
                "CallStarted",
                {
                    "call_id": serializers.UUIDField(),
                    "customer_token": serializers.CharField(),
                    "ws_url": serializers.CharField(),
                },
            ),
            **error_responses(400, 404, 409, 429),
        },
    )
    def post(self, request, widget_key: str):
        widget = widget_or_404(widget_key)
        data = self.CallStartInput(data=request.data)
        data.is_valid(raise_exception=True)
        locale = request_locale(request, data.validated_data.get("locale"))
        try:
            with translation.override(locale):
                call, token = services.call_start(
                    queue=widget.queue,
                    locale=locale,
                    caller_name=data.validated_data["name"],
                    visitor_id=data.validated_data.get("visitor_id"),
                )
        except VoiceError as error:
            return error_response(error.code, error.message, status=status.HTTP_409_CONFLICT)
        return Response(
            {"call_id": str(call.pk), "customer_token": token, "ws_url": "/ws/call/"},
            status=status.HTTP_201_CREATED,
        )

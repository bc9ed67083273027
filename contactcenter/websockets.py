"""All WebSocket routes in one list; each consumer checks its own origin and credentials."""

from django.urls import path

from chat.consumers import CustomerConsumer
from voice.consumers import CallerConsumer, SupervisionConsumer, WorkspaceConsumer

websocket_urlpatterns = [
    path("ws/chat/", CustomerConsumer.as_asgi()),
    path("ws/agent/", WorkspaceConsumer.as_asgi()),
    path("ws/call/", CallerConsumer.as_asgi()),
    path("ws/supervisor/", SupervisionConsumer.as_asgi()),
]

"""All WebSocket routes in one list; each consumer checks its own origin and credentials."""

from django.urls import path

from chat.consumers import CustomerConsumer
from supervision.consumers import SupervisorConsumer
from voice.consumers import CallerConsumer, WorkspaceConsumer

websocket_urlpatterns = [
    path("ws/chat/", CustomerConsumer.as_asgi()),
    path("ws/agent/", WorkspaceConsumer.as_asgi()),
    path("ws/call/", CallerConsumer.as_asgi()),
    path("ws/supervisor/", SupervisorConsumer.as_asgi()),
]

"""All WebSocket routes in one list; each consumer checks its own origin and credentials."""

from django.urls import path

from chat.consumers import AgentConsumer, CustomerConsumer
from supervision.consumers import SupervisorConsumer

websocket_urlpatterns = [
    path("ws/chat/", CustomerConsumer.as_asgi()),
    path("ws/agent/", AgentConsumer.as_asgi()),
    path("ws/supervisor/", SupervisorConsumer.as_asgi()),
]

"""All WebSocket routes in one list; each consumer checks its own origin and credentials."""

from django.urls import path

from chat.consumers import AgentConsumer, CustomerConsumer

websocket_urlpatterns = [
    path("ws/chat/", CustomerConsumer.as_asgi()),
    path("ws/agent/", AgentConsumer.as_asgi()),
]

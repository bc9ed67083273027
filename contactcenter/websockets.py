"""All WebSocket routes in one list; each consumer checks its own origin and credentials."""

websocket_urlpatterns: list = []

"""All WebSocket routes in one list; each consumer checks its own origin and credentials."""

from channels.sessions import InstanceSessionWrapper, SessionMiddleware
from django.urls import path

from chat.consumers import CustomerConsumer
from voice.consumers import CallerConsumer, SupervisionConsumer, WorkspaceConsumer

websocket_urlpatterns = [
    path("ws/chat/", CustomerConsumer.as_asgi()),
    path("ws/agent/", WorkspaceConsumer.as_asgi()),
    path("ws/call/", CallerConsumer.as_asgi()),
    path("ws/supervisor/", SupervisionConsumer.as_asgi()),
]


class SocketSessionMiddleware(SessionMiddleware):
    """Channels' session middleware without its wrapper around every frame sent. A socket
    reads the session when it opens (the workspace signs in with it) and never saves it; the
    wrapper saves only on an HTTP response, yet looked at the session on every send: 1.5 % of
    a worker's CPU at 1,500 messages/s (docs/performance.md, change 25)."""

    async def __call__(self, scope, receive, send):
        wrapper = InstanceSessionWrapper(scope, send)
        await wrapper.resolve_session()
        return await self.inner(wrapper.scope, receive, send)

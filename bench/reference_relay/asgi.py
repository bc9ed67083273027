"""uvicorn reference_relay.asgi:application, with bench/ on the path and
DJANGO_SETTINGS_MODULE=reference_relay.settings."""

import django

django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402


class RelayConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        route = self.scope["url_route"]["kwargs"]
        self.group, self.side = f"pair.{route['pair']}", route["side"]
        # Joined before the handshake completes, so a client that is connected is also reachable.
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        await self.channel_layer.group_send(self.group, {"type": "relay", "side": self.side, "text": text_data})

    async def relay(self, event):
        if event["side"] != self.side:
            await self.send(text_data=event["text"])


application = ProtocolTypeRouter(
    {"websocket": URLRouter([path("pair/<str:pair>/<str:side>", RelayConsumer.as_asgi())])}
)

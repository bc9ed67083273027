"""Cross-site WebSocket hijacking: which page origins may open which socket.

The workspace and supervisor sockets ride on the session cookie, which a browser sends from
any page: only our own origin — scheme, host and port — may use them. The customer socket
takes a token, and a widget may list the sites allowed to embed it."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from chat import services
from contactcenter.asgi import application
from tests.chat.test_consumers import send, until

pytestmark = pytest.mark.django_db(transaction=True)

HOST = b"localhost:8000"
REFUSED = 4403

# (origin sent, socket scheme) -> opened?
AGENT_ORIGINS = {
    ("http://localhost:8000", "ws"): True,
    ("HTTP://LOCALHOST:8000", "ws"): True,  # the same origin, spelled in capitals
    ("https://localhost:8000", "wss"): True,  # behind TLS (the proxy's X-Forwarded-Proto)
    ("https://evil.example.com", "ws"): False,  # a foreign site
    ("null", "ws"): False,  # a sandboxed frame, a file: page
    (None, "ws"): False,  # no Origin: not a browser page of ours
    ("http://localhost.evil.example.com:8000", "ws"): False,  # look-alike host
    ("http://evil-localhost:8000", "ws"): False,
    ("https://localhost:8000", "ws"): False,  # wrong scheme
    ("http://localhost:8000", "wss"): False,  # plain http page on a TLS socket
    ("http://localhost:8001", "ws"): False,  # wrong port
    ("http://localhost", "ws"): False,  # the default port is another origin
    ("http://127.0.0.1:8000", "ws"): False,  # another allowed host is still another origin
}


def communicator(path, *, origin, scheme="ws", host=HOST, cookie=None):
    headers = [(b"host", host)]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if cookie is not None:
        headers.append((b"cookie", cookie))
    socket = WebsocketCommunicator(application, path, headers=headers)
    socket.scope["scheme"] = scheme  # set before the application first runs
    return socket


async def session_socket_opens(path, cookie, *, origin, scheme="ws", host=HOST) -> bool:
    socket = communicator(path, origin=origin, scheme=scheme, host=host, cookie=cookie)
    connected, code = await socket.connect()
    if not connected:
        assert code == REFUSED
        return False
    await socket.disconnect()
    return True


async def session_cookie(client, user) -> bytes:
    await sync_to_async(client.force_login)(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


@pytest.mark.parametrize(("path", "person"), [("/ws/agent/", "agent"), ("/ws/supervisor/", "supervisor")])
async def test_session_sockets_open_only_from_our_own_origin(path, person, client, request):
    user = await sync_to_async(request.getfixturevalue)(person)
    cookie = await session_cookie(client, getattr(user, "user", user))
    opened = {case: await session_socket_opens(path, cookie, origin=case[0], scheme=case[1]) for case in AGENT_ORIGINS}
    assert opened == AGENT_ORIGINS


async def test_a_host_that_is_not_ours_is_refused_even_from_its_own_origin(agent, client):
    """DNS rebinding: evil.example.com pointed at our address sends matching Host and Origin."""
    cookie = await session_cookie(client, agent.user)
    assert not await session_socket_opens(
        "/ws/agent/", cookie, origin="http://evil.example.com:8000", host=b"evil.example.com:8000"
    )


async def test_a_trusted_origin_of_the_settings_is_ours(agent, client, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://workspace.example.fi"]
    cookie = await session_cookie(client, agent.user)
    assert await session_socket_opens("/ws/agent/", cookie, origin="https://workspace.example.fi")


# The widget allows https://asunnot.example.fi: origin sent -> the customer gets in?
CUSTOMER_ORIGINS = {
    "https://asunnot.example.fi": True,
    "https://ASUNNOT.example.fi": True,
    None: True,  # the mobile app's socket: no browser, no Origin
    "http://localhost:8000": True,  # our own pages (the widget preview)
    "https://evil.example.com": False,
    "null": False,
    "https://asunnot.example.fi.evil.example.com": False,
    "http://asunnot.example.fi": False,
    "https://asunnot.example.fi:8443": False,
    "https://example.fi": False,
}


async def test_the_customer_socket_opens_only_from_the_widgets_sites(widget):
    widget.allowed_origins = "https://Asunnot.example.fi/\n"  # as an admin may type it
    await sync_to_async(widget.save)()
    _conversation, token = await sync_to_async(services.conversation_start)(widget=widget, prechat={})
    opened = {}
    for origin in CUSTOMER_ORIGINS:
        socket = communicator("/ws/chat/", origin=origin)
        connected, _ = await socket.connect()
        assert connected  # the token comes in the first frame
        await send(socket, {"type": "auth", "token": token})
        first = await socket.receive_output(timeout=2)
        if first["type"] == "websocket.close":
            assert first["code"] == REFUSED
            opened[origin] = False
            continue
        assert first["type"] == "websocket.send"  # a frame of the chat: the customer is in
        await socket.disconnect()
        opened[origin] = True
    assert opened == CUSTOMER_ORIGINS


async def test_a_widget_without_a_list_lets_any_site_embed_it(widget):
    _conversation, token = await sync_to_async(services.conversation_start)(widget=widget, prechat={})
    socket = communicator("/ws/chat/", origin="https://any.example.org")
    await socket.connect()
    await send(socket, {"type": "auth", "token": token})
    assert (await until(socket, lambda frame: frame["type"] == "event"))["event"] == "queued"
    await socket.disconnect()

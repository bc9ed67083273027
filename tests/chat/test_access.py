"""Revoked access closes the staff sockets at once (chat/access.py)."""

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token

from contactcenter.asgi import application
from tests.chat.test_consumers import send, until

pytestmark = pytest.mark.django_db(transaction=True)

UNAUTHORIZED = 4401
WITHIN_SECONDS = 5


async def token_socket(user, path="/ws/agent/"):
    token, _ = await sync_to_async(Token.objects.get_or_create)(user=user)
    socket = WebsocketCommunicator(application, path)
    connected, _ = await socket.connect()
    assert connected
    await send(socket, {"type": "auth", "token": token.key})
    await until(socket, lambda frame: frame["type"] in ("presence", "overview"))
    return socket, token


async def session_socket(client, user, path="/ws/agent/"):
    await sync_to_async(client.force_login)(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    headers = [(b"cookie", cookie), (b"origin", b"http://localhost"), (b"host", b"localhost")]
    socket = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await socket.connect()
    assert connected
    await until(socket, lambda frame: frame["type"] in ("presence", "overview"))
    return socket


async def closed_within(socket, seconds=WITHIN_SECONDS) -> float:
    """Seconds until the socket closed with 4401 (frames before the close are skipped)."""
    started = time.monotonic()
    while True:
        output = await socket.receive_output(timeout=seconds)
        if output["type"] == "websocket.close":
            assert output["code"] == UNAUTHORIZED
            return time.monotonic() - started


async def still_open(socket, seconds=1.0) -> bool:
    """No close within `seconds` (other frames may come and go)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await socket.receive_nothing(timeout=deadline - time.monotonic()):
            return True
        if (await socket.receive_output())["type"] == "websocket.close":
            return False
    return True


async def test_a_deactivated_agent_loses_every_socket(agent, client):
    by_token, _ = await token_socket(agent.user)
    by_session = await session_socket(client, agent.user)
    agent.user.is_active = False
    await sync_to_async(agent.user.save)()
    assert await closed_within(by_token) < WITHIN_SECONDS
    assert await closed_within(by_session) < WITHIN_SECONDS
    # …and cannot come back with the same token.
    again = WebsocketCommunicator(application, "/ws/agent/")
    await again.connect()
    await send(again, {"type": "auth", "token": (await sync_to_async(Token.objects.get)(user=agent.user)).key})
    assert (await again.receive_output(timeout=2))["code"] == UNAUTHORIZED


async def test_a_deleted_token_closes_only_the_sockets_it_opened(agent, client):
    by_token, token = await token_socket(agent.user)
    by_session = await session_socket(client, agent.user)
    await sync_to_async(token.delete)()
    assert await closed_within(by_token) < WITHIN_SECONDS
    assert await still_open(by_session)
    await by_session.disconnect()


async def test_a_new_password_closes_the_sockets(agent, client):
    socket, _ = await token_socket(agent.user)
    agent.user.set_password("a whole new passphrase 2026")
    await sync_to_async(agent.user.save)()
    assert await closed_within(socket) < WITHIN_SECONDS


async def test_a_login_elsewhere_closes_nothing(agent, client):
    socket, _ = await token_socket(agent.user)
    await sync_to_async(client.force_login)(agent.user)  # stamps last_login only
    agent.user.first_name = "Aino-Maria"
    await sync_to_async(agent.user.save)()  # nor does a change of name
    assert await still_open(socket)
    await socket.disconnect()


async def test_a_removed_role_closes_the_supervisors_view(supervisor, client):
    socket, _ = await token_socket(supervisor, path="/ws/supervisor/")
    role = await sync_to_async(Group.objects.get)(name="Supervisor")
    await sync_to_async(role.user_set.remove)(supervisor)
    assert await closed_within(socket) < WITHIN_SECONDS


async def test_a_deleted_user_loses_the_socket(agent):
    socket, _ = await token_socket(agent.user)
    await sync_to_async(agent.user.delete)()
    assert await closed_within(socket) < WITHIN_SECONDS
    await asyncio.sleep(0)

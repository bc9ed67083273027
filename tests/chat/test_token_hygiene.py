"""Credentials stay out of addresses and logs, and are long enough not to be guessed.

A real server with its access log and DEBUG logging on: an agent signs in to the API and
opens the workspace socket; a customer starts a chat, talks, rotates the token, and someone
tries a made-up token. Afterwards no token appears in any address we handed out or in the
server's log, in any spelling."""

import base64
import json
import math
import string
import urllib.parse
import uuid

import httpx
import pytest
import websockets
from channels.db import database_sync_to_async as sync_to_async

from chat import services
from chat.models import Conversation
from tests.chat.test_two_workers import until
from tests.factories import PASSWORD
from tests.processes import start_daphne

pytestmark = pytest.mark.django_db(transaction=True)


def spellings(secret: str) -> set[str]:
    return {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret), json.dumps(secret)[1:-1]}


def entropy_bits(alphabet_size: int, length: int) -> float:
    return length * math.log2(alphabet_size)


@pytest.fixture
def server(tmp_path):
    process = start_daphne(tmp_path, daphne_args=("--access-log", "-"), LOG_LEVEL="DEBUG")
    yield process
    process.stop()


async def test_no_token_reaches_an_address_or_a_log(server, widget, agent):
    ws_base = server.url.replace("http", "ws", 1)
    secrets: list[str] = []
    addresses: list[str] = []
    async with httpx.AsyncClient(base_url=server.url) as http:
        login = await http.post("/api/v1/auth/token", json={"username": "aino", "password": PASSWORD})
        api_token = login.json()["token"]
        secrets.append(api_token)
        assert (await http.get("/api/v1/conversations", headers={"Authorization": f"Token {api_token}"})).is_success

        started = (await http.post(f"/api/v1/widget/{widget.key}/conversations", json={"prechat": {}})).json()
        secrets.append(started["customer_token"])
        addresses += [value for value in started.values() if isinstance(value, str) and "/" in value]
        async with (
            websockets.connect(ws_base + "/ws/agent/") as agent_ws,
            websockets.connect(ws_base + started["ws_url"]) as customer_ws,
        ):
            await agent_ws.send(json.dumps({"type": "auth", "token": api_token}))
            await until(agent_ws, lambda frame: frame["type"] == "presence")
            await customer_ws.send(json.dumps({"type": "auth", "token": started["customer_token"]}))
            await customer_ws.send(json.dumps({"type": "message", "client_id": str(uuid.uuid4()), "text": "Hei"}))
            await until(customer_ws, lambda frame: frame["type"] == "message")

        refreshed = await http.post(
            "/api/v1/customer/token/refresh", json={"customer_token": started["customer_token"]}
        )
        secrets.append(refreshed.json()["customer_token"])
        addresses += [value for value in refreshed.json().values() if isinstance(value, str) and "/" in value]

        made_up = base64.urlsafe_b64encode(uuid.uuid4().bytes * 2).decode()
        secrets.append(made_up)
        async with websockets.connect(ws_base + "/ws/chat/") as stranger:
            await stranger.send(json.dumps({"type": "auth", "token": made_up}))
            with pytest.raises(websockets.ConnectionClosed):
                await until(stranger, lambda frame: False, within=5)
        bad = await http.get("/api/v1/conversations", headers={"Authorization": f"Token {made_up}"})
        assert bad.status_code == 401
    server.stop()

    log = server.log()
    assert "GET /api/v1/conversations" in log  # the access log was on: the scan can see addresses
    for secret in secrets:
        for spelling in spellings(secret):
            assert spelling not in log
            assert all(spelling not in address for address in addresses)

    # At least 128 bits each: the API token is 40 hex digits; the customer token is signed
    # (HMAC-SHA256) over a 144-bit random nonce.
    assert entropy_bits(16, len(api_token)) >= 160
    conversation = await sync_to_async(Conversation.objects.get)(pk=started["conversation_id"])
    assert entropy_bits(64, len(conversation.customer_token_nonce)) >= 128


def test_a_rotated_customer_token_keeps_its_144_random_bits(widget):
    """A refresh or a revocation draws the nonce the start drew: 24 characters of the whole
    URL-safe base64 alphabet. (They once drew 24 hex digits: 96 bits.)"""
    conversation, token = services.conversation_start(widget=widget, prechat={})
    nonces = []
    for _ in range(4):
        conversation, token = services.customer_token_refresh(token=token)
        nonces.append(conversation.customer_token_nonce)
    services.customer_token_revoke(conversation_id=conversation.pk)
    conversation.refresh_from_db()
    nonces.append(conversation.customer_token_nonce)
    assert all(len(nonce) == 24 for nonce in nonces)
    assert len(set(nonces)) == len(nonces)
    # Hex digits are 16 of the 64 characters: a 24-character nonce of hex digits alone is a
    # chance of (1/4) ** 24 (about 4e-15), and a hex nonce always is one.
    assert all(set(nonce) - set(string.hexdigits.lower()) for nonce in nonces)
    assert entropy_bits(64, 24) >= 128

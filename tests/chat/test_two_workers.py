"""Two real ASGI worker processes: the customer on one, the agent on the other, chatting."""

import asyncio
import json
import uuid

import httpx
import pytest
import websockets
from channels.db import database_sync_to_async as sync_to_async  # closes its DB connections
from rest_framework.authtoken.models import Token

from tests.processes import start_daphne

pytestmark = pytest.mark.django_db(transaction=True)


async def until(ws, predicate, within=10.0):
    async with asyncio.timeout(within):
        while True:
            frame = json.loads(await ws.recv())
            if predicate(frame):
                return frame


@pytest.fixture
def two_workers(tmp_path):
    first, second = start_daphne(tmp_path), start_daphne(tmp_path)
    yield first, second
    first.stop()
    second.stop()


async def test_customer_on_one_worker_and_agent_on_another(two_workers, widget, agent):
    customer_worker, agent_worker = two_workers
    key = await sync_to_async(lambda: Token.objects.create(user=agent.user).key)()
    ws = lambda server: server.url.replace("http", "ws", 1)  # noqa: E731

    async with (
        httpx.AsyncClient(base_url=customer_worker.url) as http,
        websockets.connect(ws(agent_worker) + "/ws/agent/") as agent_ws,
    ):
        await agent_ws.send(json.dumps({"type": "auth", "token": key}))
        await agent_ws.send(json.dumps({"type": "presence", "state": "ready"}))
        await until(agent_ws, lambda f: f["type"] == "presence" and f["state"] == "ready")

        started = (await http.post(f"/api/v1/widget/{widget.key}/conversations", json={"prechat": {}})).json()
        cid = started["conversation_id"]
        async with websockets.connect(ws(customer_worker) + started["ws_url"]) as customer_ws:
            await customer_ws.send(json.dumps({"type": "auth", "token": started["customer_token"]}))
            await until(agent_ws, lambda f: f["type"] == "offer" and f["conversation_id"] == cid)
            await agent_ws.send(json.dumps({"type": "accept", "conversation_id": cid}))
            await until(customer_ws, lambda f: f["type"] == "event" and f["event"] == "agent_joined")

            for n in range(5):
                await customer_ws.send(json.dumps({"type": "message", "client_id": str(uuid.uuid4()), "text": f"c{n}"}))
                await until(agent_ws, lambda f, n=n: f["type"] == "message" and f["text"] == f"c{n}")
                await agent_ws.send(
                    json.dumps(
                        {"type": "message", "conversation_id": cid, "client_id": str(uuid.uuid4()), "text": f"a{n}"}
                    )
                )
                await until(customer_ws, lambda f, n=n: f["type"] == "message" and f["text"] == f"a{n}")

            await agent_ws.send(json.dumps({"type": "end", "conversation_id": cid}))
            ended = await until(customer_ws, lambda f: f["type"] == "event" and f["event"] == "ended")
            assert ended["data"]["by"] == "agent"

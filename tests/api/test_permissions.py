"""The permission matrix: every /api/v1/ endpoint × every persona, with the status each
gets. Whoever may not see an object gets 404, never 403, and no response ever carries
another side's customer or words. A new endpoint without a row here fails
`test_every_api_endpoint_has_a_row`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from tests.api.personas import (
    FORBIDDEN,
    PERSONAS,
    SECRETS_A,
    SECRETS_B,
    World,
    assert_error_shape,
    client_for,
    customer_token_of,
)
from tests.factories import PASSWORD

METHODS = ("get", "post", "put", "patch", "delete")


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(PERSONAS, status)


def staff(agent: int, outsider: int, supervisor: int, admin: int) -> dict[str, int]:
    """Agent endpoints: a customer's token is no API token, so customers are anonymous (401)."""
    return {
        "agent": agent,
        "outsider": outsider,
        "supervisor": supervisor,
        "admin": admin,
        "customer": 401,
        "other_customer": 401,
        "anonymous": 401,
    }


@dataclass(frozen=True)
class Row:
    path: Callable[[World], str]
    expected: dict[str, int]
    body: Callable[[World, str], dict] | None = None


def conversation(suffix: str = "") -> Callable[[World], str]:
    return lambda w: f"/api/v1/conversations/{w.conversation.pk}{suffix}"


MATRIX: dict[tuple[str, str], Row] = {
    # The customer's side: open to everyone; a customer token refreshes only itself.
    ("api-widget-status", "GET"): Row(lambda w: f"/api/v1/widget/{w.widget_key}/status", everyone(200)),
    ("api-conversation-start", "POST"): Row(
        lambda w: f"/api/v1/widget/{w.widget_key}/conversations", everyone(201), lambda w, p: {"prechat": {}}
    ),
    # Open to everyone alike; this world's queue takes no calls, so everyone gets the same 409.
    ("api-call-start", "POST"): Row(lambda w: f"/api/v1/widget/{w.widget_key}/calls", everyone(409), lambda w, p: {}),
    ("api-offline-message-create", "POST"): Row(
        lambda w: f"/api/v1/widget/{w.widget_key}/offline-messages",
        everyone(201),
        lambda w, p: {"email": "kysyja@example.invalid", "text": "Soittakaa"},
    ),
    ("api-customer-token-refresh", "POST"): Row(
        lambda w: "/api/v1/customer/token/refresh",
        {**everyone(401), "customer": 200, "other_customer": 200},
        lambda w, p: {"customer_token": customer_token_of(w, p)},
    ),
    ("api-auth-token", "POST"): Row(
        lambda w: "/api/v1/auth/token", everyone(200), lambda w, p: {"username": "aino", "password": PASSWORD}
    ),
    # Conversations: the agent of the queue (who serves chat A) sees it; supervisors and
    # admins see all; the outsider's view of A is 404.
    ("api-conversation-list", "GET"): Row(lambda w: "/api/v1/conversations", staff(200, 200, 200, 200)),
    ("api-conversation-search", "GET"): Row(
        lambda w: "/api/v1/conversations/search?q=SALAINEN", staff(200, 200, 200, 200)
    ),
    ("api-conversation", "GET"): Row(conversation(), staff(200, 404, 200, 200)),
    ("api-conversation-history", "GET"): Row(conversation("/history"), staff(200, 404, 200, 200)),
    ("api-conversation-messages", "GET"): Row(conversation("/messages"), staff(200, 404, 200, 200)),
    # Writing needs a place in the chat: those who only see it get 403.
    ("api-conversation-messages", "POST"): Row(
        conversation("/messages"), staff(201, 404, 403, 403), lambda w, p: {"text": "Hei"}
    ),
    # Wrap-up is the serving agent's own: to anyone else the chat is none of theirs. Chat A
    # is still open, so its agent hears 409.
    ("api-conversation-wrap-up", "GET"): Row(conversation("/wrap-up"), staff(200, 404, 404, 404)),
    ("api-conversation-wrap-up", "POST"): Row(
        conversation("/wrap-up"), staff(409, 404, 404, 404), lambda w, p: {"note": "Hoidettu"}
    ),
    ("api-offline-messages", "GET"): Row(lambda w: "/api/v1/offline-messages", staff(200, 200, 200, 200)),
    ("api-offline-message-handle", "POST"): Row(
        lambda w: f"/api/v1/offline-messages/{w.offline_message.pk}/handle", staff(200, 404, 200, 200)
    ),
    ("api-canned-responses", "GET"): Row(
        lambda w: f"/api/v1/canned-responses?conversation={w.conversation.pk}", staff(200, 404, 200, 200)
    ),
    ("api-canned-responses", "POST"): Row(
        lambda w: "/api/v1/canned-responses",
        staff(201, 201, 201, 201),
        lambda w, p: {"shortcut": "kiitos", "title": "Kiitos", "text": "Kiitos yhteydenotosta!"},
    ),
    # Personal canned responses are their owner's only.
    ("api-canned-response", "PATCH"): Row(
        lambda w: f"/api/v1/canned-responses/{w.canned.pk}", staff(200, 404, 404, 404), lambda w, p: {"title": "Moi"}
    ),
    ("api-canned-response", "DELETE"): Row(
        lambda w: f"/api/v1/canned-responses/{w.canned.pk}", staff(204, 404, 404, 404)
    ),
    ("api-transfer-targets", "GET"): Row(lambda w: "/api/v1/transfer-targets", staff(200, 200, 200, 200)),
    # The agent's own state: the admin has no agent profile.
    ("api-presence", "POST"): Row(
        lambda w: "/api/v1/agents/me/presence", staff(200, 200, 200, 404), lambda w, p: {"state": "away"}
    ),
    ("api-queues-log-on", "POST"): Row(
        lambda w: "/api/v1/agents/me/queues",
        staff(200, 200, 200, 404),
        lambda w, p: {"queue_ids": None, "logged_on": True},
    ),
    # Queues, skills, agents.
    ("api-queue-list", "GET"): Row(lambda w: "/api/v1/queues", staff(200, 200, 200, 200)),
    ("api-queue", "GET"): Row(lambda w: f"/api/v1/queues/{w.queue.pk}", staff(200, 404, 200, 200)),
    ("api-skill-list", "GET"): Row(lambda w: "/api/v1/skills", staff(200, 200, 200, 200)),
    ("api-agent-list", "GET"): Row(lambda w: "/api/v1/agents", staff(200, 200, 200, 200)),
    ("api-agent", "GET"): Row(lambda w: f"/api/v1/agents/{w.agent.pk}", staff(200, 404, 200, 200)),
    # An agent sees themselves but may not supervise themselves.
    ("api-agent", "POST"): Row(
        lambda w: f"/api/v1/agents/{w.agent.pk}", staff(403, 404, 200, 200), lambda w, p: {"state": "away"}
    ),
    # Reports: everyone who works here, each their own figures (test_reports.py).
    ("api-report-kpis", "GET"): Row(lambda w: "/api/v1/reports/kpis", staff(200, 200, 200, 200)),
    ("api-report-table", "GET"): Row(lambda w: "/api/v1/reports/tables/agent_month", staff(200, 200, 200, 200)),
    # Anything else under /api/v1/.
    ("api-not-found", "GET"): Row(lambda w: "/api/v1/no-such-thing", everyone(404)),
}


def api_endpoints() -> set[tuple[str, str]]:
    """(url name, method) of every route under /api/v1/ in the URLconf."""
    found: set[tuple[str, str]] = set()

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern).lstrip("^")
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith("api/v1/"):
                view = getattr(pattern.callback, "cls", None)
                methods = [m for m in METHODS if view is not None and hasattr(view, m)] or ["get"]
                found.update((pattern.name, method.upper()) for method in methods)

    walk(get_resolver().url_patterns, "")
    return found


def test_every_api_endpoint_has_a_row():
    assert api_endpoints() == set(MATRIX)


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("endpoint", sorted(MATRIX), ids=lambda endpoint: f"{endpoint[1]} {endpoint[0]}")
def test_permission_matrix(world, endpoint, persona):
    name, method = endpoint
    row = MATRIX[endpoint]
    path = row.path(world)
    assert resolve(urlsplit(path).path).url_name == name
    client = client_for(world, persona)
    if row.body is None:
        response = getattr(client, method.lower())(path)
    else:
        response = getattr(client, method.lower())(path, row.body(world, persona), format="json")
    expected = row.expected[persona]
    assert response.status_code == expected, response.content[:300]
    content = response.content.decode()
    for secret in FORBIDDEN[persona]:
        assert secret not in content
    if expected >= 400:
        assert_error_shape(response)


@pytest.mark.django_db
def test_the_secrets_are_there_for_those_who_may_see_them(world):
    """So the matrix's search for them means something."""
    agent, outsider, supervisor = (client_for(world, p) for p in ("agent", "outsider", "supervisor"))
    assert SECRETS_A[0] in agent.get(f"/api/v1/conversations/{world.conversation.pk}").content.decode()
    assert SECRETS_A[2] in agent.get(f"/api/v1/conversations/{world.conversation.pk}/messages").content.decode()
    assert SECRETS_A[3] in agent.get("/api/v1/offline-messages").content.decode()
    assert SECRETS_B[0] in outsider.get("/api/v1/conversations").content.decode()
    listed = supervisor.get("/api/v1/conversations").content.decode()
    assert SECRETS_A[0] in listed
    assert SECRETS_B[0] in listed

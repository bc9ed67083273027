"""The API's world: two queues, each with an agent serving a chat whose customer and words
are secrets to the other side; a supervisor; an admin; two customers with their chats' tokens.

Personas call with what they would really hold: agents and the supervisor an API token, the
admin the workspace's session, customers their conversation's customer token (as an
`Authorization: Token` header on agent endpoints, in the body where a customer sends it).
"""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from chat import services
from chat.models import CannedResponse, Conversation, OfflineMessage
from routing import services as routing
from routing.models import AgentProfile, Queue, WorkItem
from tests.factories import WidgetFactory

PERSONAS = ("agent", "outsider", "supervisor", "admin", "customer", "other_customer", "anonymous")

# What each side's customers said and are called: no one outside that side may read them.
SECRETS_A = ("Matti Asiakas-A", "matti.a@example.invalid", "SALAINEN-A-viesti", "Liisa Offline-A", "SALAINEN-A-offline")
SECRETS_B = ("Bertta Asiakas-B", "bertta.b@example.invalid", "SALAINEN-B-viesti")
FORBIDDEN = {
    "agent": SECRETS_B,
    "outsider": SECRETS_A,
    "supervisor": (),
    "admin": (),
    "customer": SECRETS_A + SECRETS_B,
    "other_customer": SECRETS_A + SECRETS_B,
    "anonymous": SECRETS_A + SECRETS_B,
}
# The keys of the one error shape (docs/api.md).
ERROR_KEYS = {"error", "message", "fields", "retry_after"}


@dataclass
class World:
    queue: Queue
    other_queue: Queue
    widget_key: str
    agent: AgentProfile
    outsider: AgentProfile
    supervisor: object
    admin: object
    conversation: Conversation
    other_conversation: Conversation
    customer_token: str
    other_customer_token: str
    offline_message: OfflineMessage
    canned: CannedResponse


def served_chat(*, widget, agent: AgentProfile, name: str, email: str, text: str) -> tuple[Conversation, str]:
    """A chat whose customer wrote `text`, picked by `agent`."""
    conversation, token = services.conversation_start(widget=widget, prechat={})
    conversation.contact.name, conversation.contact.email = name, email
    conversation.contact.save(update_fields=["name", "email"])
    services.message_post_by_customer(conversation_id=conversation.pk, client_id=None, text=text)
    item = WorkItem.objects.get(reference=str(conversation.pk))
    routing.work_item_pick(agent=agent, item_id=item.pk)
    conversation.refresh_from_db()
    return conversation, token


def build_world(*, widget, agent, outsider_agent, supervisor, admin_user) -> World:
    other_queue = outsider_agent.queues.get()
    conversation, customer_token = served_chat(
        widget=widget, agent=agent, name=SECRETS_A[0], email=SECRETS_A[1], text=SECRETS_A[2]
    )
    other_conversation, other_customer_token = served_chat(
        widget=WidgetFactory(queue=other_queue),
        agent=outsider_agent,
        name=SECRETS_B[0],
        email=SECRETS_B[1],
        text=SECRETS_B[2],
    )
    return World(
        queue=widget.queue,
        other_queue=other_queue,
        widget_key=widget.key,
        agent=agent,
        outsider=outsider_agent,
        supervisor=supervisor,
        admin=admin_user,
        conversation=conversation,
        other_conversation=other_conversation,
        customer_token=customer_token,
        other_customer_token=other_customer_token,
        offline_message=services.offline_message_leave(
            widget=widget, name=SECRETS_A[3], email="liisa@example.invalid", text=SECRETS_A[4]
        ),
        canned=CannedResponse.objects.create(
            scope=CannedResponse.Scope.PERSONAL, owner=agent.user, shortcut="hei", title="Tervehdys", text="Hei!"
        ),
    )


def client_for(world: World, persona: str) -> APIClient:
    client = APIClient()
    users = {"agent": world.agent.user, "outsider": world.outsider.user, "supervisor": world.supervisor}
    if persona in users:
        token, _created = Token.objects.get_or_create(user=users[persona])
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    elif persona == "admin":
        client.force_login(world.admin)
    elif persona == "customer":
        client.credentials(HTTP_AUTHORIZATION=f"Token {world.customer_token}")
    elif persona == "other_customer":
        client.credentials(HTTP_AUTHORIZATION=f"Token {world.other_customer_token}")
    return client


def customer_token_of(world: World, persona: str) -> str:
    """What a persona holds as a customer token; staff hold none that is valid."""
    return {"customer": world.customer_token, "other_customer": world.other_customer_token}.get(persona, "none")


def assert_error_shape(response) -> None:
    body = response.json()
    assert set(body) <= ERROR_KEYS, body
    assert isinstance(body["error"], str), body
    assert body["error"], body
    assert isinstance(body["message"], str), body
    assert body["message"], body
    for name, texts in body.get("fields", {}).items():
        assert isinstance(name, str), body
        assert isinstance(texts, list), body
        assert texts, body
        assert all(isinstance(text, str) and text for text in texts), body

"""Webhooks to a real local HTTP server: signed, retried with back-off, never for a rolled-back
change, never carrying a hidden note."""

import datetime
import hashlib
import hmac
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction
from django.utils import timezone

from chat import services as chat
from routing import services as routing
from routing.models import WorkItem
from webhooks import services as webhooks
from webhooks.models import Event, WebhookDelivery, WebhookEndpoint


class Receiver:
    """An HTTP server that records what it gets and answers with the next planned status."""

    def __init__(self):
        self.received: list[tuple[dict, bytes]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's hook name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def endpoint(receiver):
    webhooks.forget_endpoints()
    events = [event for event in Event.values if event != Event.PUSH_AGENT_MESSAGE]
    yield WebhookEndpoint.objects.create(name="CRM", url=receiver.url, events=events, secret="s3cret")
    webhooks.forget_endpoints()


def send_all():
    now = timezone.now()
    pending = WebhookDelivery.objects.filter(state="pending").order_by("created_at")
    return [webhooks.deliver(delivery_id=d.pk, now=now) for d in pending]


@pytest.mark.django_db
def test_a_chat_sends_signed_events_in_order_and_no_notes(widget, ready_agent, endpoint, receiver):
    conversation, _ = chat.conversation_start(widget=widget, prechat={}, context={"app_version": "5.1"})
    routing.work_item_pick(agent=ready_agent, item_id=WorkItem.objects.get(reference=str(conversation.pk)).pk)
    chat.message_post_by_customer(conversation_id=conversation.pk, client_id=str(uuid.uuid4()), text="Hei")
    chat.message_post_by_agent(
        conversation_id=conversation.pk, user=ready_agent.user, client_id=None, text="secret", internal=True
    )
    chat.message_post_by_agent(conversation_id=conversation.pk, user=ready_agent.user, client_id=None, text="Moi")
    chat.conversation_end(conversation_id=conversation.pk, ended_by="customer")
    chat.rating_give(conversation_id=conversation.pk, score=5, comment="Kiitos")
    assert set(send_all()) == {"delivered"}

    events = []
    for headers, body in receiver.received:
        expected = hmac.new(b"s3cret", headers["x-cc-timestamp"].encode() + b"." + body, hashlib.sha256).hexdigest()
        assert headers["x-cc-signature"] == "v1=" + expected
        payload = json.loads(body)
        assert payload["event"] == headers["x-cc-event"]
        assert payload["id"] == headers["x-cc-delivery"]
        events.append((payload["event"], payload["data"].get("text")))
    assert [event for event, _ in events] == [
        "conversation.started", "conversation.assigned", "message.created", "message.created", "conversation.ended",
        "conversation.rated",
    ]  # fmt: skip
    assert ("message.created", "secret") not in events
    assert "secret" not in b"".join(body for _, body in receiver.received).decode()
    started = json.loads(receiver.received[0][1])
    assert started["data"]["context"] == {"app_version": "5.1"}


@pytest.mark.django_db
def test_a_failing_receiver_is_retried_with_back_off(widget, endpoint, receiver):
    receiver.statuses = [500, 503]
    chat.conversation_start(widget=widget, prechat={})
    [delivery] = WebhookDelivery.objects.all()
    first = timezone.now()
    assert webhooks.deliver(delivery_id=delivery.pk, now=first) == "pending"
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_status) == (1, 500)
    assert delivery.next_attempt_at == first + datetime.timedelta(seconds=10)
    assert webhooks.deliver_due(now=first + datetime.timedelta(seconds=5)) == 0  # not due yet
    assert webhooks.deliver_due(now=first + datetime.timedelta(seconds=11)) == 1
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_status) == (2, 503)
    assert delivery.next_attempt_at == first + datetime.timedelta(seconds=11 + 20)
    assert webhooks.deliver_due(now=first + datetime.timedelta(seconds=40)) == 1
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("delivered", 3, 200)
    assert len(receiver.received) == 3


@pytest.mark.django_db
def test_a_receiver_down_for_good_is_given_up_on(widget, endpoint, receiver):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url="http://127.0.0.1:9/nothing-listens")
    chat.conversation_start(widget=widget, prechat={})
    moment = timezone.now()
    for _ in range(webhooks.MAX_ATTEMPTS):
        moment += datetime.timedelta(hours=2)
        webhooks.deliver_due(now=moment)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts) == ("failed", webhooks.MAX_ATTEMPTS)
    assert delivery.last_error


@pytest.mark.django_db
def test_nothing_is_sent_for_a_rolled_back_change(widget, endpoint, receiver, django_capture_on_commit_callbacks):
    def start_then_fail():
        with transaction.atomic():
            chat.conversation_start(widget=widget, prechat={})
            raise RuntimeError("the caller's transaction fails")

    with django_capture_on_commit_callbacks(execute=False) as callbacks, pytest.raises(RuntimeError):
        start_then_fail()
    assert callbacks == []  # nothing was queued to send
    assert not WebhookDelivery.objects.exists()
    assert webhooks.deliver_due() == 0
    assert receiver.received == []


@pytest.mark.django_db
def test_a_delivery_is_sent_once_when_two_workers_race(widget, endpoint, receiver):
    chat.conversation_start(widget=widget, prechat={})
    [delivery] = WebhookDelivery.objects.all()
    now = timezone.now()
    assert webhooks.deliver(delivery_id=delivery.pk, now=now) == "delivered"
    assert webhooks.deliver(delivery_id=delivery.pk, now=now) == "skipped"
    assert len(receiver.received) == 1


@pytest.mark.django_db
def test_only_subscribed_active_endpoints_get_events(widget, receiver):
    webhooks.forget_endpoints()
    WebhookEndpoint.objects.create(name="Ends only", url=receiver.url, events=[Event.CONVERSATION_ENDED])
    WebhookEndpoint.objects.create(name="Off", url=receiver.url, events=list(Event.values), is_active=False)
    conversation, _ = chat.conversation_start(widget=widget, prechat={})
    assert not WebhookDelivery.objects.exists()
    chat.conversation_end(conversation_id=conversation.pk, ended_by="customer")
    assert list(WebhookDelivery.objects.values_list("event", flat=True)) == ["conversation.ended"]
    webhooks.forget_endpoints()


@pytest.mark.django_db
def test_an_agent_reply_to_an_away_customer_pushes_through_the_apps_backend(widget, ready_agent, receiver):
    webhooks.forget_endpoints()
    WebhookEndpoint.objects.create(name="App backend", url=receiver.url, events=[Event.PUSH_AGENT_MESSAGE])
    conversation, _ = chat.conversation_start(
        widget=widget, prechat={}, context={"client_id": "device-42", "app_version": "5.1", "os": "Android 17"}
    )
    routing.work_item_pick(agent=ready_agent, item_id=WorkItem.objects.get(reference=str(conversation.pk)).pk)

    chat.customer_socket_opened(conversation_id=conversation.pk)  # the app is open
    chat.customer_seen(conversation_id=conversation.pk)
    chat.message_post_by_agent(conversation_id=conversation.pk, user=ready_agent.user, client_id=None, text="Hetki")
    assert not WebhookDelivery.objects.exists()

    chat.customer_socket_closed(conversation_id=conversation.pk)  # the app went to the background
    chat.message_post_by_agent(conversation_id=conversation.pk, user=ready_agent.user, client_id=None, text="Valmista!")
    chat.message_post_by_agent(
        conversation_id=conversation.pk, user=ready_agent.user, client_id=None, text="only agents", internal=True
    )
    assert send_all() == ["delivered"]
    push = json.loads(receiver.received[0][1])
    assert push["event"] == "push.agent_message"
    assert push["data"]["client_id"] == "device-42"
    assert (push["data"]["preview"], push["data"]["author"]) == ("Valmista!", "Aino")
    webhooks.forget_endpoints()


@pytest.mark.django_db
def test_an_app_refreshes_its_customer_token(client, widget):
    conversation, token = chat.conversation_start(widget=widget, prechat={})
    response = client.post("/api/v1/customer/token/refresh", {"customer_token": token}, content_type="application/json")
    assert response.status_code == 200
    fresh = response.json()["customer_token"]
    assert fresh != token
    assert chat.conversation_for_customer_token(fresh).pk == conversation.pk
    again = client.post("/api/v1/customer/token/refresh", {"customer_token": token}, content_type="application/json")
    assert again.status_code == 401  # the old token stopped working
    bad = client.post("/api/v1/customer/token/refresh", {}, content_type="application/json")
    assert bad.status_code == 400

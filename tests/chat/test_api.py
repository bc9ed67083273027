"""The REST edges: widget status and start, offline messages, tokens, agent endpoints."""

import uuid

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from chat import services
from chat.models import Conversation, OfflineMessage, PrechatField
from routing.models import OpeningException, WeeklySlot
from tests.factories import PASSWORD


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def agent_api(agent):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + Token.objects.create(user=agent.user).key)
    return client


@pytest.mark.django_db
def test_status_describes_the_widget(api, widget, ready_agent):
    PrechatField.objects.create(queue=widget.queue, name="topic", label="Aihe", type="text", required=True)
    body = api.get(f"/api/v1/widget/{widget.key}/status?locale=fi").json()
    assert body["open"] is True
    assert (body["agents_available"], body["queue_length"], body["estimated_wait_seconds"]) == (1, 0, 0)
    assert body["prechat_fields"] == [{"name": "topic", "label": "Aihe", "type": "text", "required": True}]
    assert body["locale"] == "fi"
    assert body["button_label"] == "Chattaa kanssamme"
    assert api.get("/api/v1/widget/no-such-widget/status").status_code == 404


@pytest.mark.django_db
def test_status_is_readable_only_from_allowed_origins(api, widget):
    widget.allowed_origins = "https://asunnot.example.fi\nhttps://www.example.fi/"
    widget.save()
    allowed = api.get(f"/api/v1/widget/{widget.key}/status", HTTP_ORIGIN="https://www.example.fi")
    assert allowed["Access-Control-Allow-Origin"] == "https://www.example.fi"
    foreign = api.get(f"/api/v1/widget/{widget.key}/status", HTTP_ORIGIN="https://evil.example.com")
    assert "Access-Control-Allow-Origin" not in foreign


@pytest.mark.django_db
def test_start_answers_201_409_and_400(api, widget):
    url = f"/api/v1/widget/{widget.key}/conversations"
    response = api.post(url, {"prechat": {}, "context": {"os": "iOS 26", "device": "iPhone"}}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["ws_url"] == "/ws/chat/"
    assert services.conversation_for_customer_token(body["customer_token"]).context == {
        "os": "iOS 26",
        "device": "iPhone",
    }

    assert api.post(url, {"prechat": "not a dict"}, format="json").status_code == 400
    response = api.post(url, {"prechat": {"nope": "x"}}, format="json")
    assert (response.status_code, response.json()["error"]) == (400, "invalid")
    assert "nope" in response.json()["fields"]

    WeeklySlot.objects.filter(queue=widget.queue).delete()
    widget.queue.closed_message = "Suljettu."
    widget.queue.save()
    response = api.post(url, {"prechat": {}}, format="json")
    assert response.status_code == 409
    assert response.json() == {"error": "closed", "message": "Suljettu."}
    assert Conversation.objects.count() == 1


@pytest.mark.django_db
def test_closed_status_offers_the_offline_form_and_agents_see_what_was_left(api, widget, agent, outsider_agent):
    WeeklySlot.objects.filter(queue=widget.queue).delete()
    OpeningException.objects.all().delete()
    status = api.get(f"/api/v1/widget/{widget.key}/status").json()
    assert (status["open"], status["offline_form"]) == (False, True)

    url = f"/api/v1/widget/{widget.key}/offline-messages"
    bad = api.post(url, {"name": "Liisa", "text": "Soittakaa"}, format="json")
    assert bad.status_code == 400
    assert "email" in bad.json()["fields"]
    good = api.post(url, {"name": "Liisa", "email": "liisa@example.fi", "text": "Soittakaa"}, format="json")
    assert good.status_code == 201

    api.force_authenticate(agent.user)
    [listed] = api.get("/api/v1/offline-messages").json()["results"]
    assert (listed["name"], listed["handled"]) == ("Liisa", False)
    assert api.post(f"/api/v1/offline-messages/{listed['id']}/handle").json()["handled"] is True
    assert OfflineMessage.objects.get().handled_by == agent.user
    api.force_authenticate(outsider_agent.user)
    assert api.get("/api/v1/offline-messages").json()["results"] == []


@pytest.mark.django_db
def test_token_login(api, agent):
    response = api.post("/api/v1/auth/token", {"username": "aino", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    assert Token.objects.get(user=agent.user).key == response.json()["token"]
    assert api.post("/api/v1/auth/token", {"username": "aino", "password": "x"}, format="json").status_code == 401


@pytest.mark.django_db
def test_agent_endpoints_see_only_their_queues(agent_api, widget, ready_agent, outsider_agent):
    conversation, _ = services.conversation_start(widget=widget, prechat={})
    cid = str(conversation.pk)
    listed = agent_api.get("/api/v1/conversations?state=queued").json()["results"]
    assert [c["conversation_id"] for c in listed] == [cid]
    assert agent_api.get(f"/api/v1/conversations/{cid}/messages?after_seq=0").json()["last_seq"] >= 1
    assert agent_api.get("/api/v1/conversations?state=bogus").status_code == 400

    outsider = APIClient()
    outsider.force_authenticate(outsider_agent.user)
    assert outsider.get("/api/v1/conversations").json()["results"] == []
    assert outsider.get(f"/api/v1/conversations/{cid}").status_code == 404
    assert outsider.get(f"/api/v1/conversations/{cid}/messages").status_code == 404

    # Posting needs the agent to be in the chat; peeking does not.
    response = agent_api.post(f"/api/v1/conversations/{cid}/messages", {"text": "Hei"}, format="json")
    assert response.status_code == 403


@pytest.mark.django_db
def test_agent_posts_through_rest_idempotently(agent_api, widget, ready_agent, django_capture_on_commit_callbacks):
    from routing import services as routing
    from routing.models import WorkItem

    with django_capture_on_commit_callbacks(execute=True):
        conversation, _ = services.conversation_start(widget=widget, prechat={})
    item = WorkItem.objects.get(reference=str(conversation.pk))
    routing.offer_accept(agent=ready_agent, item_id=item.pk)
    url = f"/api/v1/conversations/{conversation.pk}/messages"
    client_id = str(uuid.uuid4())
    first = agent_api.post(url, {"client_id": client_id, "text": "Moi"}, format="json")
    again = agent_api.post(url, {"client_id": client_id, "text": "Moi"}, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["seq"] == again.json()["seq"]
    note = agent_api.post(url, {"text": "sisäinen", "internal": True}, format="json")
    assert note.json()["internal"] is True
    assert agent_api.post(url, {"text": "x" * 4001}, format="json").status_code == 400


@pytest.mark.django_db
def test_presence_and_queue_log_on(agent_api, agent):
    assert (
        agent_api.post("/api/v1/agents/me/presence", {"state": "away", "reason": "Lunch"}, format="json").json()[
            "state"
        ]
        == "away"
    )
    assert agent_api.post("/api/v1/agents/me/presence", {"state": "asleep"}, format="json").status_code == 400
    body = agent_api.post("/api/v1/agents/me/queues", {"queue_ids": None, "logged_on": False}, format="json").json()
    assert body["changed"] == 1
    assert [q["logged_on"] for q in body["queues"]] == [False]


@pytest.mark.django_db
def test_the_widget_frame_may_be_embedded_only_where_allowed(client, widget):
    response = client.get(reverse("widget-frame", args=[widget.key]) + "?locale=sv")
    assert response.status_code == 200
    assert "frame-ancestors *" in response["Content-Security-Policy"]
    assert "X-Frame-Options" not in response
    assert response["Content-Language"] == "sv"
    assert "Starta chatt" in response.content.decode()
    widget.allowed_origins = "https://asunnot.example.fi"
    widget.save()
    response = client.get(reverse("widget-frame", args=[widget.key]))
    assert "frame-ancestors 'self' https://asunnot.example.fi" in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_the_console_pages_render(admin_client, widget, agent):
    for url in [
        reverse("admin:routing_queue_change", args=[widget.queue_id]),
        reverse("admin:chat_widget_change", args=[widget.pk]),
        reverse("admin:routing_agentprofile_change", args=[agent.pk]),
        reverse("admin:chat_conversation_changelist"),
        reverse("admin:routing_workitem_changelist"),
    ]:
        assert admin_client.get(url).status_code == 200, url

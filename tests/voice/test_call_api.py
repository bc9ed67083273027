"""Starting a call over REST: the widget's queue must take calls and be open; the answer is
the caller's token for /ws/call/."""

import pytest
from rest_framework.test import APIClient

from routing.models import WeeklySlot
from voice.models import Call

pytestmark = pytest.mark.django_db


@pytest.fixture
def client():
    return APIClient()


def test_a_call_starts_on_a_queue_that_takes_calls(client, widget, voice_queue):
    status = client.get(f"/api/v1/widget/{widget.key}/status").json()
    assert status["calls"] is True
    response = client.post(f"/api/v1/widget/{widget.key}/calls", {"name": "Liisa", "locale": "fi"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["ws_url"] == "/ws/call/"
    call = Call.objects.get(pk=body["call_id"])
    assert (call.caller_name, call.locale, call.state, call.queue) == ("Liisa", "fi", "connecting", voice_queue)
    assert call.record  # the queue records, and a recordings certificate is set up


def test_no_call_on_a_chat_only_queue_nor_when_closed_nor_with_bad_input(client, widget, queue):
    assert client.get(f"/api/v1/widget/{widget.key}/status").json()["calls"] is False
    response = client.post(f"/api/v1/widget/{widget.key}/calls", {}, format="json")
    assert (response.status_code, response.json()["error"]) == (409, "no_calls")

    queue.channels = ["chat", "voice"]
    queue.closed_message = "Closed until Monday."
    queue.save()
    WeeklySlot.objects.filter(queue=queue).delete()
    response = client.post(f"/api/v1/widget/{widget.key}/calls", {}, format="json", HTTP_ACCEPT_LANGUAGE="fi")
    assert (response.status_code, response.json()["error"], response.json()["message"]) == (
        409,
        "closed",
        "Closed until Monday.",
    )
    assert client.get(f"/api/v1/widget/{widget.key}/status").json()["calls"] is False

    response = client.post(f"/api/v1/widget/{widget.key}/calls", {"name": "x" * 121}, format="json")
    assert response.status_code == 400
    assert client.post("/api/v1/widget/nope/calls", {}, format="json").status_code == 404
    assert not Call.objects.exists()

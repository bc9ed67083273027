"""Rate limits per token and per visitor address, counted atomically in Redis."""

import threading
import uuid

import pytest
from rest_framework.authtoken.models import Token

from contactcenter import throttling


def test_concurrent_hits_never_slip_past_the_limit():
    ident = str(uuid.uuid4())
    allowed = []

    def hammer():
        for _ in range(10):
            allowed.append(throttling.hit(scope="test", ident=ident, limit=50, seconds=60)[0])

    threads = [threading.Thread(target=hammer) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed.count(True) == 50
    assert len(allowed) == 200


def test_rates_are_parsed():
    assert throttling.parse_rate("120/minute") == (120, 60)
    assert throttling.parse_rate("10/s") == (10, 1)
    assert throttling.parse_rate("1000000/hour") == (1000000, 3600)


def _rates(settings, **rates):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    }


@pytest.mark.django_db
def test_the_api_limit_is_per_token(client, settings, agent, supervisor):
    _rates(settings, api="3/minute")
    mine = Token.objects.create(user=agent.user).key
    theirs = Token.objects.create(user=supervisor).key
    codes = [client.get("/api/v1/conversations", HTTP_AUTHORIZATION=f"Token {mine}").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    refused = client.get("/api/v1/conversations", HTTP_AUTHORIZATION=f"Token {mine}")
    assert 0 < int(refused["Retry-After"]) <= 60
    assert client.get("/api/v1/conversations", HTTP_AUTHORIZATION=f"Token {theirs}").status_code == 200


@pytest.mark.django_db
def test_chat_starts_are_limited_per_visitor_address(client, settings, widget):
    _rates(settings, customer="2/minute")
    url = f"/api/v1/widget/{widget.key}/conversations"
    address = f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    codes = [client.post(url, {}, content_type="application/json", REMOTE_ADDR=address).status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    other = client.post(url, {}, content_type="application/json", REMOTE_ADDR="10.8.0.1")
    assert other.status_code == 201


@pytest.mark.django_db
def test_an_unexpected_api_error_answers_in_the_error_shape(client, agent, monkeypatch):
    from chat import api

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(api.TransferTargetsApi, "get", broken)
    client.raise_request_exception = False
    client.force_login(agent.user)
    response = client.get("/api/v1/transfer-targets")
    assert response.status_code == 500
    assert response.json() == {
        "error": "server_error",
        "message": "Something went wrong on our side. Please try again.",
    }

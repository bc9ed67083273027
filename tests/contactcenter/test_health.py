import json
import urllib.error
import urllib.request

import pytest
from channels import layers
from django.test import override_settings

from contactcenter.redis_client import get_redis, key
from tests.processes import start_celery_worker, start_daphne


def get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.django_db(transaction=True)
def test_asgi_app_boots_and_is_ready_with_a_worker(tmp_path):
    # Workers of earlier tests stopped, but their heartbeats would count for a while yet.
    get_redis().delete(key("celery", "heartbeats"))
    server = start_daphne(tmp_path)
    try:
        status, body = get_json(server.url + "/healthz")
        assert (status, body) == (200, {"status": "ok"})

        # Before any worker has written a heartbeat, readiness names the missing worker.
        status, body = get_json(server.url + "/readyz")
        assert status == 503
        assert "celery" in body["reason"]
        assert body["checks"]["postgresql"]["ok"]
        assert body["checks"]["redis"]["ok"]
        assert body["checks"]["channel_layer"]["ok"]

        worker = start_celery_worker(tmp_path)
        try:
            status, body = get_json(server.url + "/readyz")
            assert status == 200, body
            assert body["status"] == "ok"
            assert body["checks"]["celery"]["detail"] == "1 worker(s)"
        finally:
            worker.stop()
    finally:
        server.stop()


@pytest.fixture
def unreachable_redis():
    url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    with override_settings(
        REDIS_URL=url,
        CHANNEL_LAYERS={
            "default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": {"hosts": [url]}}
        },
    ):
        layers.channel_layers.backends.clear()
        yield
    layers.channel_layers.backends.clear()


@pytest.mark.django_db
def test_readyz_is_503_with_a_reason_when_redis_is_unreachable(client, unreachable_redis):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["reason"].startswith("redis:")
    assert "ConnectionError" in body["checks"]["redis"]["error"]
    assert not body["checks"]["channel_layer"]["ok"]
    assert body["checks"]["postgresql"]["ok"]


def test_healthz_needs_no_database(client):
    assert client.get("/healthz").json() == {"status": "ok"}

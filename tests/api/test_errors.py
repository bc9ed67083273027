"""One error shape for every refusal (docs/api.md), the OpenAPI schema, and the docs page
served from our own static files."""

from __future__ import annotations

import json

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.utils import translation
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.test import APIClient

from contactcenter.api_errors import error_body, exception_handler, field_errors
from tests.api.personas import assert_error_shape


def test_field_errors_are_lists_of_texts_with_dotted_names_for_nested_ones():
    assert field_errors({"email": "Give one.", "queue_ids": {0: ["A valid integer is required."]}}) == {
        "email": ["Give one."],
        "queue_ids.0": ["A valid integer is required."],
    }
    assert field_errors({"items": [{}, {"score": ["Too high."]}]}) == {"items.1.score": ["Too high."]}
    assert error_body("closed", "Suljettu.", fields={}) == {"error": "closed", "message": "Suljettu."}


def test_validation_errors_without_a_field_become_the_message():
    response = exception_handler(ValidationError({"non_field_errors": ["Too early."], "to": ["Before from."]}), {})
    assert response.data == {"error": "invalid", "message": "Too early.", "fields": {"to": ["Before from."]}}
    assert exception_handler(ValidationError("Nope."), {}).data == {"error": "invalid", "message": "Nope."}
    assert exception_handler(NotFound(), {}).data == {"error": "not_found", "message": "Not found."}
    assert exception_handler(KeyError("not ours"), {}) is None


@pytest.mark.django_db
def test_every_kind_of_refusal_has_the_shape(agent, staff, widget):
    anonymous = APIClient()
    response = anonymous.get("/api/v1/queues")
    assert (response.status_code, response.json()["error"]) == (401, "unauthorized")
    assert response["WWW-Authenticate"] == "Token"
    assert_error_shape(response)

    bad_token = APIClient()
    bad_token.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert bad_token.get("/api/v1/conversations").json() == {"error": "unauthorized", "message": "Invalid token."}

    no_role = APIClient()
    no_role.force_authenticate(staff)
    assert no_role.get("/api/v1/queues").json()["error"] == "forbidden"

    client = APIClient()
    client.force_authenticate(agent.user)
    cases = [
        (client.get("/api/v1/queues/999999"), 404, "not_found"),
        (client.delete("/api/v1/queues"), 405, "method_not_allowed"),
        (client.post("/api/v1/agents/me/presence", {"state": "asleep"}, format="json"), 400, "invalid"),
        (client.post("/api/v1/agents/me/presence", "{", content_type="application/json"), 400, "invalid"),
        (client.post("/api/v1/agents/me/presence", "state=ready", content_type="text/plain"), 415, None),
        (client.get("/api/v1/conversations?colour=red"), 400, "invalid"),
        (client.get("/api/v1/conversations/not-a-uuid"), 404, "not_found"),
        (client.post("/api/v1/no/such/thing", {}), 404, "not_found"),
        (anonymous.get("/api/v1/widget/no-such-widget/status"), 404, "not_found"),
        (anonymous.post("/api/v1/auth/token", {"username": "aino", "password": "x"}, format="json"), 401, None),
        (anonymous.post("/api/v1/auth/token", {}, format="json"), 400, "invalid"),
        (anonymous.post(f"/api/v1/widget/{widget.key}/conversations", {"prechat": "x"}, format="json"), 400, None),
        (anonymous.post("/api/v1/customer/token/refresh", {}, format="json"), 400, "invalid"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.content
        assert_error_shape(response)
        if code:
            assert response.json()["error"] == code
    # Django's own texts (such as "No Widget matches the given query.") stay inside.
    assert cases[8][0].json() == {"error": "not_found", "message": "Not found."}
    assert cases[2][0].json()["fields"]["state"] == ['"asleep" is not a valid choice.']
    assert cases[3][0].json()["message"].startswith("JSON parse error")
    assert list(cases[5][0].json()["fields"]) == ["colour"]
    strict = APIClient(enforce_csrf_checks=True)
    strict.force_login(agent.user)
    assert strict.post("/api/v1/no/such/thing", {}).json()["error"] == "not_found"


@pytest.mark.django_db
def test_a_chat_errors_fields_are_lists_too(widget):
    response = APIClient().post(f"/api/v1/widget/{widget.key}/conversations", {"prechat": {"nope": "x"}}, format="json")
    assert response.status_code == 400
    assert_error_shape(response)
    assert list(response.json()["fields"]) == ["nope"]


@pytest.mark.django_db
def test_messages_speak_the_requests_language(agent):
    client = APIClient()
    client.force_authenticate(agent.user)
    response = client.get("/api/v1/queues/999999", HTTP_ACCEPT_LANGUAGE="fi")
    with translation.override("fi"):
        finnish = str(NotFound.default_detail)
    assert finnish != "Not found."
    assert response.json() == {"error": "not_found", "message": finnish}


@pytest.mark.django_db
def test_rate_limited_callers_hear_when_to_come_back(settings, agent):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "api": "2/minute"},
    }
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + Token.objects.create(user=agent.user).key)
    codes = [client.get("/api/v1/skills").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    refused = client.get("/api/v1/skills")
    assert_error_shape(refused)
    body = refused.json()
    assert body["error"] == "rate_limited"
    assert 0 < body["retry_after"] <= 60
    assert int(refused["Retry-After"]) == body["retry_after"]


@pytest.mark.django_db
def test_the_docs_page_loads_nothing_from_elsewhere(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    for foreign in ("cdn", "unpkg", "jsdelivr", "cloudflare", "validator.swagger.io", "//fonts."):
        assert foreign not in html
    for asset in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css", "favicon-32x32.png"):
        assert f"/static/drf_spectacular_sidecar/swagger-ui-dist/{asset}" in html
        assert finders.find(f"drf_spectacular_sidecar/swagger-ui-dist/{asset}"), asset
    # The page's own script is a file (the Content-Security-Policy allows no inline script).
    assert '"validatorUrl": null' in client.get("/api/docs/?script=").content.decode()
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = json.loads(schema.content)["paths"]
    assert {"/api/v1/queues", "/api/v1/agents/{agent_id}", "/api/v1/reports/tables/{table}"} <= set(paths)


@pytest.mark.django_db
def test_the_schema_is_valid_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    schema = (tmp_path / "schema.yaml").read_text()
    assert "#/components/schemas/Error" in schema

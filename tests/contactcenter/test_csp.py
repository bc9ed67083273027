"""Every page carries a Content-Security-Policy that allows no inline or foreign script."""

import pytest
from django.urls import reverse


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "path"),
    [
        (None, "/accounts/login/"),
        ("agent", "/workspace/"),
        ("supervisor", "/supervision/"),
        ("admin", "/admin/"),
        ("agent", "/api/docs/"),
        (None, "/widget/housing/"),
    ],
)
def test_pages_forbid_inline_and_foreign_scripts(client, widget, agent, supervisor, admin_user, who, path):
    users = {"agent": agent.user, "supervisor": supervisor, "admin": admin_user}
    if who is not None:
        client.force_login(users[who])
    response = client.get(path)
    assert response.status_code == 200, path
    policy = directives(response["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["default-src"] == ["'self'"]
    assert "<script>" not in response.content.decode()  # nothing the policy would block


@pytest.mark.django_db
def test_the_api_docs_load_their_script_from_a_file(client, agent):
    client.force_login(agent.user)
    script = client.get(reverse("api-docs") + "?script=")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()

"""Login, logout, the language switcher and the configuration console."""

import pytest
from django.urls import reverse

from tests.factories import PASSWORD


@pytest.mark.django_db
def test_login_page_renders_in_the_apps_own_look(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b'<label for="id_username">Username</label>' in response.content
    assert b"css/app.css" in response.content


@pytest.mark.django_db
def test_agent_logs_in_lands_in_the_workspace_and_logs_out(client, agent):
    response = client.post(reverse("login"), {"username": "aino", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("workspace")
    assert b"Housing advice" in response.content
    response = client.post(reverse("logout"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("login")


@pytest.mark.django_db
def test_bad_password_gets_a_clear_error(client, agent):
    response = client.post(reverse("login"), {"username": "aino", "password": "wrong"})
    assert response.status_code == 200
    assert b'role="alert"' in response.content
    assert b"Please enter a correct username and password" in response.content


@pytest.mark.django_db
def test_workspace_needs_a_login(client):
    response = client.get(reverse("workspace"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_workspace_lists_the_agents_own_queues(client, agent, outsider_agent):
    client.force_login(agent.user)
    content = client.get(reverse("workspace")).content.decode()
    assert "Housing advice" in content
    assert outsider_agent.queues.get().name not in content


@pytest.mark.django_db
def test_a_user_without_the_agent_role_gets_an_explanation(client, roles):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="visitor"))
    content = client.get(reverse("workspace")).content.decode()
    assert "not set up to serve customers" in content
    assert "workspace.js" not in content


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "log_in"),
    [("fi", "Kirjaudu sisään"), ("sv", "Logga in"), ("nb", "Logg inn"), ("da", "Log ind"), ("ru", "Войти")],
)
def test_language_switcher_translates_the_pages(client, language, log_in):
    response = client.post(reverse("set_language"), {"language": language, "next": reverse("login")}, follow=True)
    assert response.status_code == 200
    assert f'<html lang="{language}">' in response.content.decode()
    assert log_in in response.content.decode()


@pytest.mark.django_db
def test_browser_language_is_used_without_a_choice(client):
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="fi-FI,fi;q=0.9")
    assert "Kirjaudu sisään" in response.content.decode()


@pytest.mark.django_db
def test_admin_is_the_configuration_console(admin_client):
    response = admin_client.get(reverse("admin:index"))
    assert "Contact center configuration console" in response.content.decode()


@pytest.mark.django_db
def test_the_console_sets_the_channels_a_queue_serves(admin_client, rf, admin_user):
    from django.contrib import admin

    from routing.models import Queue

    page = admin_client.get(reverse("admin:routing_queue_add")).content.decode()
    assert 'type="checkbox" name="channels" value="voice"' in page
    request = rf.get("/")
    request.user = admin_user
    form_class = admin.site._registry[Queue].get_form(request)
    base = {
        "name": "Phones", "assignment_mode": "offer", "offer_timeout_seconds": 30, "priority": 5,
        "service_level_target_seconds": 60, "time_zone": "Europe/Oslo", "customer_grace_seconds": 120,
        "wrap_up_seconds": 0,
    }  # fmt: skip
    form = form_class(data={**base, "channels": ["chat", "voice"]})
    assert form.is_valid(), form.errors
    assert form.save().channels == ["chat", "voice"]
    assert "channels" in form_class(data={**base, "name": "None", "channels": []}).errors
    assert "channels" in form_class(data={**base, "name": "Fax", "channels": ["fax"]}).errors

"""Login lock-out (django-axes) and the per-address login limit, on the page and the API."""

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from tests.factories import PASSWORD

LOGIN = "/api/v1/auth/token"


def log_in(client, password, *, address="10.0.0.1", username="aino"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


@pytest.mark.django_db
def test_five_failures_lock_the_account_for_that_address_only(client, agent, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, "wrong").status_code == 200  # the usual "enter a correct…" form
    locked = log_in(client, "wrong")
    assert locked.status_code == 429
    assert locked["Retry-After"] == "900"
    assert b"Too many failed logins" in locked.content
    assert b"Try again in 15 minutes" in locked.content
    assert b"Access-Control-Allow-Origin" not in locked.serialize_headers()
    # Even the right password is refused while the lock holds…
    assert log_in(client, PASSWORD).status_code == 429
    # …but not from another address: a stranger cannot lock an agent out.
    assert log_in(client, PASSWORD, address="10.0.0.2").status_code == 302
    client.logout()
    # An admin unlocks by deleting the attempt in the console.
    AccessAttempt.objects.filter(username="aino").delete()
    assert log_in(client, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_a_successful_login_forgets_earlier_failures(client, agent, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "wrong")
    assert log_in(client, PASSWORD).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, "wrong").status_code == 200
    assert log_in(client, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_the_lock_out_page_speaks_the_persons_language(client, agent, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post(
            reverse("login"),
            {"username": "aino", "password": "wrong"},
            REMOTE_ADDR="10.0.0.3",
            HTTP_ACCEPT_LANGUAGE="fi",
        )
    assert response.status_code == 429
    assert b"Too many failed logins" not in response.content


@pytest.mark.django_db
def test_the_api_token_login_locks_out_too(agent, settings):
    from rest_framework.test import APIClient

    api = APIClient(REMOTE_ADDR="10.0.0.4")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = api.post(LOGIN, {"username": "aino", "password": "wrong"}, format="json")
        assert response.status_code == 401
    response = api.post(LOGIN, {"username": "aino", "password": PASSWORD}, format="json")
    assert response.status_code == 200  # the right password in time resets the count
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = api.post(LOGIN, {"username": "aino", "password": "wrong"}, format="json")
    assert response.status_code == 429
    assert response.json()["error"] == "locked_out"
    assert "15 minutes" in response.json()["message"]
    assert api.post(LOGIN, {"username": "aino", "password": PASSWORD}, format="json").status_code == 429


@pytest.mark.django_db
def test_one_address_trying_many_usernames_is_slowed_down(client, agent):
    answers = [log_in(client, "guess", username=f"user{n}", address="10.0.0.5").status_code for n in range(11)]
    assert answers == [200] * 10 + [429]
    assert int(log_in(client, "guess", username="user99", address="10.0.0.5")["Retry-After"]) > 0
    assert log_in(client, PASSWORD, address="10.0.0.6").status_code == 302  # other addresses are not

"""The supervisor's page: for supervisors only, linked from the top bar, texts for its script."""

import json

import pytest
from django.utils import translation

pytestmark = pytest.mark.django_db


def test_supervisors_get_the_page_and_the_link(client, supervisor):
    client.force_login(supervisor)
    response = client.get("/supervision/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'href="/supervision/"' in page
    assert "supervision/supervision.js" in page
    texts = json.loads(page.split('<script id="cc-texts" type="application/json">')[1].split("</script>")[0])
    assert texts["reasons"]["missed offers"] == "Missed offers"
    assert texts["alarm_waiting"] == "%(queue)s: %(value)s waiting (alarm at %(threshold)s)"


def test_agents_get_neither(client, agent):
    client.force_login(agent.user)
    assert client.get("/supervision/").status_code == 403
    assert 'href="/supervision/"' not in client.get("/workspace/").content.decode()


def test_strangers_log_in_first(client, roles):
    response = client.get("/supervision/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_page_speaks_finnish(client, supervisor):
    client.force_login(supervisor)
    with translation.override("en"):  # the middleware switches this thread to Finnish; switch back after
        response = client.get("/supervision/", headers={"accept-language": "fi"})
    assert response.status_code == 200
    assert '<html lang="fi">' in response.content.decode()

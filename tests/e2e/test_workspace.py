"""The agent workspace in Chromium: what routing does to the agent shows up live."""

import datetime
import re

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from chat import services as chat
from chat.models import Widget
from routing import services as routing
from tests.e2e.pages import become_ready

pytestmark = pytest.mark.browser


def test_an_agent_who_lets_an_offer_pass_is_told_why_they_are_not_ready(asgi_server, page):
    call_command("load_demo")
    page.goto(asgi_server.url + "/accounts/login/")
    page.get_by_label("Username").fill("agent1")
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/workspace/$"))
    expect(page.locator("#connection")).to_have_text("Connected")
    become_ready(page, "agent1")
    expect(page.locator("#presence-notice")).to_be_hidden()

    chat.conversation_start(widget=Widget.objects.get(key="demo"), prechat={})
    expect(page.get_by_role("button", name="Accept")).to_be_visible()

    # Nobody answers: the time-out passes (the beat task, run here at a later clock).
    routing.offers_expire(now=timezone.now() + datetime.timedelta(minutes=5))
    expect(page.get_by_role("button", name="Accept")).to_have_count(0)
    expect(page.locator("#presence")).to_have_value("not_ready")
    expect(page.locator("#presence-notice")).to_have_text(re.compile("You let an offer pass"))

    # Choosing ready again clears the notice.
    page.locator("#presence").select_option("ready")
    expect(page.locator("#presence-notice")).to_be_hidden()

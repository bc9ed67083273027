"""A real Chromium against a real daphne: the login page renders and a demo agent logs in."""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_login_page_renders_and_a_demo_agent_logs_in(asgi_server, page):
    call_command("load_demo")
    page.goto(asgi_server.url + "/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("Username").fill("agent1")
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/workspace/$"))
    expect(page.get_by_role("region", name="Your queues").get_by_text("Demo support")).to_be_visible()
    expect(page.get_by_text("Aino Virtanen")).to_be_visible()


def test_the_language_menu_switches_the_page_under_the_content_security_policy(asgi_server, page):
    page.goto(asgi_server.url + "/accounts/login/")
    page.get_by_label("Language").select_option("fi")
    expect(page.locator("html")).to_have_attribute("lang", "fi")
    expect(page.get_by_role("button", name="Kirjaudu sisään")).to_be_visible()

"""Helpers the browser tests share."""

import re

from playwright.sync_api import expect


def log_in(context, url: str, username: str, lands_on: str | None = "/workspace/", *, timeout: float = 15_000):
    """A new page of `context`, logged in with the demo password. With `lands_on`, it waits
    for that page and its live connection."""
    page = context.new_page()
    page.set_default_timeout(timeout)
    page.goto(url + "/accounts/login/" + (f"?next={lands_on}" if lands_on else ""))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Log in").click()
    if lands_on:
        expect(page).to_have_url(re.compile(re.escape(lands_on) + "$"))
        expect(page.locator("#connection")).to_have_text("Connected")
    else:
        page.wait_for_load_state()
    return page


def become_ready(page, username: str) -> None:
    """Choose "ready" in the workspace and wait until the router sees it: an offer made
    before the frame is stored would find nobody ready."""
    from routing.models import AgentProfile

    page.locator("#presence").select_option("ready")
    agent = AgentProfile.objects.get(user__username=username)
    for _ in range(50):
        agent.refresh_from_db()
        if agent.presence == "ready":
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"{username} did not become ready")

"""Browser tests: a real daphne process on the test database, driven by Debian's Chromium."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.processes import start_daphne

CHROMIUM = os.environ.get("CC_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(autouse=True)
def _sync_database_beside_playwright(monkeypatch):
    # Playwright's sync API keeps an event loop running in this thread; the test's own
    # database calls are still plain synchronous calls, between browser steps.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def asgi_server(transactional_db, tmp_path):
    server = start_daphne(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def chromium():
    # Function scope: Playwright's sync API keeps an event loop running in the main thread
    # while it is open, which would break later tests that call async_to_sync.
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; CI must run the browser tests (.ci/run installs chromium)")
        pytest.skip(f"browser tests skipped: {CHROMIUM} is missing (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-features=LocalNetworkAccessChecks",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(locale="en-US")
    # Every page runs under our Content-Security-Policy: anything it blocks is a defect.
    violations: list[str] = []
    context.on("console", lambda message: _csp_violation(message.text, violations))
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert violations == [], "the Content-Security-Policy blocked something"


def _csp_violation(text: str, violations: list[str]) -> None:
    if "Content Security Policy" in text:
        violations.append(text)

"""The toolkit in Chromium: a canned response by shortcut, then a transfer to a colleague
who accepts it, while the customer watches the hand-over."""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from chat.models import Conversation, Message
from tests.e2e.pages import log_in

pytestmark = pytest.mark.browser


def test_canned_response_by_shortcut_then_transfer_to_a_colleague(asgi_server, chromium):
    call_command("load_demo")
    contexts = [chromium.new_context(locale="en-US") for _ in range(3)]
    try:
        aino = log_in(contexts[0], asgi_server.url, "agent1")
        lars = log_in(contexts[1], asgi_server.url, "agent2")
        lars.locator("#presence").select_option("not_ready")  # logged on, but gets no offers
        aino.locator("#presence").select_option("ready")

        customer = contexts[2].new_page()
        customer.set_default_timeout(15_000)
        customer.goto(asgi_server.url + "/widget/demo/?locale=en")
        customer.get_by_role("button", name="Start chat").click()
        expect(customer.get_by_role("log")).to_contain_text("Welcome!")
        aino.get_by_role("button", name="Accept").click()
        expect(customer.get_by_role("log")).to_contain_text("Aino joined the chat.")

        # "/hel" offers the greeting, Enter puts it in the field filled for this chat, editable.
        expect(aino.locator("#text")).to_have_attribute("lang", "en")
        aino.locator("#text").press_sequentially("/hel")
        expect(aino.locator("#canned .canned-item").first).to_contain_text("/hello")
        aino.locator("#text").press("Enter")
        expect(aino.locator("#text")).to_have_value(re.compile(r"^Hello , my name is Aino\. How can I help you\?$"))
        aino.locator("#text").fill(aino.locator("#text").input_value().replace("Hello ,", "Hello,"))
        aino.locator("#text").press("Enter")
        expect(customer.get_by_role("log")).to_contain_text("Hello, my name is Aino. How can I help you?")

        # Aino asks Lars to take over, with a note only agents see.
        for closed in ("#handover", "#link-form", "#wrap-up", "#canned"):
            expect(aino.locator(closed)).to_be_hidden()
        aino.get_by_role("button", name="Transfer or invite").click()
        expect(aino.locator("#colleague option", has_text="Lars")).to_have_count(1)
        aino.locator("#colleague").select_option(
            aino.locator("#colleague option", has_text="Lars").get_attribute("value")
        )
        aino.get_by_label("Note for the colleague").fill("Asks about rent arrears")
        aino.get_by_role("button", name="Ask", exact=True).click()

        invitation = lars.locator(".offer.invitation")
        expect(invitation).to_contain_text("Aino Virtanen asks you to take over a chat")
        expect(invitation).to_contain_text("Asks about rent arrears")
        invitation.get_by_role("button", name="Accept").click()

        # Lars has the chat with its history and the note; the customer sees the hand-over.
        expect(lars.locator("#log")).to_contain_text("Hello, my name is Aino.")
        expect(lars.locator("#log .line.internal")).to_contain_text("Asks about rent arrears")
        expect(customer.get_by_role("log")).to_contain_text("Your chat is being transferred.")
        expect(customer.get_by_role("log")).to_contain_text("Lars joined the chat.")
        expect(customer.get_by_role("log")).not_to_contain_text("rent arrears")
        expect(aino.locator("#recent .chat-item")).to_have_count(1)
        expect(aino.locator("#invite-state")).to_have_text("Lars Hansen accepted.")

        lars.locator("#text").fill("Lars here, I can help with that.")
        lars.locator("#text").press("Enter")
        expect(customer.get_by_role("log")).to_contain_text("Lars here, I can help with that.")
        conversation = Conversation.objects.get()
        assert conversation.agent.username == "agent2"
        assert Message.objects.filter(conversation=conversation, internal=True, text__contains="rent arrears").exists()
    finally:
        for context in contexts:
            context.close()

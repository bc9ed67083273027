"""The supervisor's live view in Chromium: what the supervisor does to an agent shows up in the
agent's open workspace at once, an agent the router set not ready stands out, and a whisper
reaches the agent in the chat."""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from chat import services as chat
from chat.models import Widget
from routing import services as routing
from routing.models import AgentProfile, Queue, WorkItem
from tests.e2e.pages import log_in

pytestmark = pytest.mark.browser


def test_a_supervisor_logs_an_agent_off_and_sets_them_not_ready_live(asgi_server, chromium):
    call_command("load_demo")
    queue = Queue.objects.get(name="Demo support")
    contexts = [chromium.new_context(locale="en-US") for _ in range(2)]
    try:
        aino = log_in(contexts[0], asgi_server.url, "agent1", "/workspace/")
        aino.locator("#presence").select_option("ready")
        expect(aino.locator(f'[data-queue="{queue.pk}"]')).to_be_checked()

        boss = log_in(contexts[1], asgi_server.url, "supervisor", "/supervision/")
        expect(boss.get_by_role("link", name="Supervision")).to_be_visible()
        row = boss.get_by_role("row").filter(has=boss.get_by_role("rowheader", name="Aino Virtanen"))
        expect(row.locator(".state")).to_have_text("Ready")
        queues = boss.locator("#queues")
        expect(queues.get_by_role("row").filter(has_text="Demo support")).to_be_visible()

        boss.get_by_role("checkbox", name="Aino Virtanen logged on to Demo support").uncheck()
        expect(aino.locator(f'[data-queue="{queue.pk}"]')).not_to_be_checked()
        expect(boss.get_by_role("checkbox", name="Aino Virtanen logged on to Demo support")).not_to_be_checked()

        boss.get_by_role("button", name="Set Aino Virtanen not ready").click()
        expect(aino.locator("#presence")).to_have_value("not_ready")
        expect(aino.locator("#presence-reason")).to_have_value("set by supervisor")
        expect(row.locator(".state")).to_have_text("Not ready")
        expect(row.locator(".reason")).to_have_text("set by supervisor")
        expect(boss.get_by_role("button", name="Set Aino Virtanen not ready")).to_be_disabled()

        # The router sets an agent not ready after missed offers: the row stands out.
        lars = AgentProfile.objects.get(user__username="agent2")
        routing.presence_set(agent=lars, presence="not_ready", reason="missed offers")
        lars_row = boss.get_by_role("row").filter(has=boss.get_by_role("rowheader", name="Lars Hansen"))
        expect(lars_row).to_have_class(re.compile(r"\bmissed\b"))
        expect(lars_row).to_contain_text("Missed offers")
        expect(boss.locator("#missed-summary")).to_have_text(re.compile("Lars Hansen"))

        # Aino takes a chat; the supervisor listens and whispers, and Aino reads the note.
        conversation, _ = chat.conversation_start(widget=Widget.objects.get(key="demo"), prechat={})
        item = WorkItem.objects.get(reference=str(conversation.pk))
        routing.work_item_pick(agent=AgentProfile.objects.get(user__username="agent1"), item_id=item.pk)
        expect(aino.locator("#active .chat-item")).to_have_count(1)
        boss.get_by_role("button", name=re.compile(r"^Listen to the chat of .* with Aino Virtanen$")).click()
        expect(boss.locator("#watch-title")).to_contain_text("Listening to")
        expect(aino.get_by_role("log")).to_contain_text("Sanna Supervisor is listening.")
        boss.get_by_label(re.compile("^Whisper to the agents")).fill("Offer the payment plan")
        boss.get_by_role("button", name="Whisper", exact=True).click()
        expect(aino.get_by_role("log")).to_contain_text("Offer the payment plan")
        expect(boss.get_by_role("log")).to_contain_text("Offer the payment plan")
        boss.get_by_role("button", name="Stop listening").click()
        expect(boss.locator("#watch")).to_be_hidden()
        expect(aino.get_by_role("log")).to_contain_text("Sanna Supervisor stopped consulting.")
    finally:
        for context in contexts:
            context.close()

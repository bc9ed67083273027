"""A customer on another website and an agent in the workspace chat through real Chromium."""

import re
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from chat import services as chat_services
from chat.models import Conversation, Message, Widget
from tests.e2e.pages import become_ready, log_in
from tests.netproxy import CuttableProxy

pytestmark = pytest.mark.browser

XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


@pytest.fixture
def host_site(tmp_path):
    """A customer's website on its own origin, serving a page with the one-tag embed."""
    servers = []

    def serve(loader_base: str) -> str:
        (tmp_path / "index.html").write_text(
            "<!doctype html><html><head><meta charset=utf-8><title>City housing advice</title></head>"
            "<body><h1>City housing advice</h1>"
            f'<script src="{loader_base}/static/widget/loader.js" data-widget="demo" data-locale="en" async></script>'
            "</body></html>"
        )
        server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(tmp_path)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/index.html"

    yield serve
    for server in servers:
        server.shutdown()


def test_customer_and_agent_chat_through_drops_to_the_end(asgi_server, chromium, host_site):
    call_command("load_demo")
    proxy = CuttableProxy(target_port=int(asgi_server.url.rsplit(":", 1)[1]))
    agent_proxy = CuttableProxy(target_port=int(asgi_server.url.rsplit(":", 1)[1]))
    customer_context = chromium.new_context(locale="en-US")
    agent_context = chromium.new_context(locale="en-US")
    try:
        agent = agent_context.new_page()
        agent.set_default_timeout(15_000)
        agent.goto(agent_proxy.url + "/accounts/login/")
        agent.get_by_label("Username").fill("agent1")
        agent.get_by_label("Password").fill("demo")
        agent.get_by_role("button", name="Log in").click()
        expect(agent).to_have_url(re.compile(r"/workspace/$"))
        expect(agent.locator("#connection")).to_have_text("Connected")
        agent.locator("#presence").select_option("ready")

        customer = customer_context.new_page()
        customer.set_default_timeout(15_000)
        customer.goto(host_site(proxy.url))
        customer.get_by_role("button", name="Chat with us").click()
        chat = customer.frame_locator("iframe[data-cc-widget]")
        chat.get_by_role("button", name="Start chat").click()
        expect(chat.get_by_role("log")).to_contain_text("Welcome!")

        # The agent is offered the chat and accepts it; the customer sees who joined.
        agent.get_by_role("button", name="Accept").click()
        expect(chat.get_by_role("log")).to_contain_text("Aino joined the chat.")

        # Typing both ways, then messages both ways.
        chat.get_by_label("Your message").press_sequentially("Hei")
        expect(agent.locator("#typing")).to_have_text("The customer is typing…")
        chat.get_by_label("Your message").press("Enter")
        expect(agent.locator("#log")).to_contain_text("Hei")
        agent.locator("#text").press_sequentially("Päivää")
        expect(chat.locator("#typing")).to_have_text("Aino is typing…")
        agent.locator("#text").press("Enter")
        expect(chat.get_by_role("log")).to_contain_text("Päivää")

        # Markup in a message is shown as text, never run.
        chat.get_by_label("Your message").fill(XSS)
        chat.get_by_label("Your message").press("Enter")
        expect(agent.locator("#log .line.customer").last).to_have_text(re.compile(re.escape(XSS)))
        assert agent.evaluate("window.__xss") is None
        assert customer.frame_locator("iframe").locator("body").evaluate("() => window.__xss") is None

        # The customer's network drops: the agent writes meanwhile, the customer writes too.
        proxy.cut()
        expect(chat.locator("#status")).to_have_text("Connection lost. Reconnecting…")
        for text in ("Are you still there?", "I found the answer"):
            agent.locator("#text").fill(text)
            agent.locator("#text").press("Enter")
        chat.get_by_label("Your message").fill("Written while offline")
        chat.get_by_label("Your message").press("Enter")
        proxy.restore()
        expect(chat.get_by_role("log")).to_contain_text("I found the answer", timeout=20_000)
        expect(agent.locator("#log")).to_contain_text("Written while offline", timeout=20_000)
        expect(chat.locator(".line.sending")).to_have_count(0)

        # Nothing lost, nothing doubled, on either side.
        conversation = Conversation.objects.get()
        texts = list(Message.objects.filter(conversation=conversation).values_list("text", flat=True))
        assert texts.count("Written while offline") == 1
        assert texts.count("Are you still there?") == 1
        expect(chat.locator(".line", has_text="Are you still there?")).to_have_count(1)
        expect(chat.locator(".line", has_text="Written while offline")).to_have_count(1)
        expect(agent.locator("#log .line", has_text="Written while offline")).to_have_count(1)

        # The agent's network drops while they answer: the workspace sends it on reconnect.
        agent_proxy.cut()
        expect(agent.locator("#connection")).not_to_have_text("Connected")
        agent.locator("#text").fill("Answered while offline")
        agent.locator("#text").press("Enter")
        agent_proxy.restore()
        expect(agent.locator("#connection")).to_have_text("Connected", timeout=20_000)
        expect(chat.get_by_role("log")).to_contain_text("Answered while offline", timeout=20_000)
        expect(agent.locator("#log .line.sending")).to_have_count(0)
        expect(agent.locator("#log .line", has_text="Answered while offline")).to_have_count(1)
        expect(chat.locator(".line", has_text="Answered while offline")).to_have_count(1)

        # The agent ends the chat; the customer is told and may rate it.
        agent.once("dialog", lambda dialog: dialog.accept())
        agent.get_by_role("button", name="End chat").click()
        expect(chat.get_by_role("log")).to_contain_text("The chat has ended.")
        chat.get_by_role("button", name="4 of 5").click()
        expect(chat.locator("#status")).to_have_text("Thank you for your feedback!")
        for _ in range(50):
            conversation.refresh_from_db()
            if conversation.rating:
                break
            agent.wait_for_timeout(100)
        assert (conversation.state, conversation.ended_by, conversation.rating) == ("ended", "agent", 4)
    finally:
        customer_context.close()
        agent_context.close()
        proxy.close()
        agent_proxy.close()


def test_widget_on_a_phone_by_keyboard_minimise_keeps_close_ends(asgi_server, chromium, host_site):
    call_command("load_demo")
    context = chromium.new_context(viewport={"width": 390, "height": 740}, locale="fi-FI", has_touch=True)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(host_site(asgi_server.url))
        button = page.locator("[data-cc-button]")
        expect(button).to_be_visible()
        page.keyboard.press("Tab")
        expect(button).to_be_focused()
        page.keyboard.press("Enter")
        frame = page.locator("iframe[data-cc-widget]")
        expect(frame).to_be_visible()
        box = frame.bounding_box()
        assert (box["width"], box["height"]) == (390, 740)  # the whole phone screen

        chat = page.frame_locator("iframe[data-cc-widget]")
        chat.get_by_role("button", name="Start chat").click()
        expect(chat.get_by_role("log")).to_contain_text("Welcome!")
        chat.get_by_label("Your message").fill("Minimoin hetkeksi")
        chat.get_by_label("Your message").press("Enter")
        expect(chat.locator(".line.customer:not(.sending)")).to_have_count(1)

        chat.get_by_role("button", name="Minimise chat").click()
        expect(frame).to_be_hidden()
        expect(button).to_be_visible()
        button.click()
        expect(chat.get_by_role("log")).to_contain_text("Minimoin hetkeksi")  # same chat, kept
        assert Conversation.objects.get().state == "queued"

        chat.get_by_role("button", name="Close chat").click()
        expect(frame).to_have_count(0)
        for _ in range(50):
            if Conversation.objects.get().state == "ended":
                break
            page.wait_for_timeout(100)
        conversation = Conversation.objects.get()
        assert (conversation.state, conversation.ended_by) == ("ended", "customer")
    finally:
        context.close()


def test_messages_typed_faster_than_the_rate_limit_are_all_sent_once(asgi_server, chromium, host_site):
    """Over the socket's rate limit the server refuses a message by its client_id; the widget
    sends it again a second later instead of leaving it "sending" until a reconnect."""
    call_command("load_demo")
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto(host_site(asgi_server.url))
        page.locator("[data-cc-button]").click()
        chat = page.frame_locator("iframe[data-cc-widget]")
        chat.get_by_role("button", name="Start chat").click()
        expect(chat.get_by_role("log")).to_contain_text("Welcome!")
        box = chat.get_by_label("Your message")
        texts = [f"Line {n}" for n in range(40)]  # each also sends a typing frame: 80 frames
        for text in texts:
            box.fill(text)
            box.press("Enter")
        expect(chat.locator(".line.customer:not(.sending)")).to_have_count(40)
        expect(chat.locator(".line.failed")).to_have_count(0)
        stored = Message.objects.filter(author_role=Message.Role.CUSTOMER).values_list("text", flat=True)
        assert sorted(stored) == sorted(texts)
    finally:
        context.close()


def test_an_agent_writing_faster_than_the_rate_limit_has_every_line_sent_once(asgi_server, chromium):
    """The workspace, like the widget, sends a message refused as rate_limited again a
    second later: every line is stored once and none is left "sending" or shown as failed."""
    call_command("load_demo")
    context = chromium.new_context(locale="en-US")
    try:
        agent = log_in(context, asgi_server.url, "agent1", timeout=20_000)
        refused = []  # the server's rate_limited errors: the test means nothing without them
        agent.on(
            "websocket",
            lambda ws: ws.on("framereceived", lambda text: refused.append(text) if "rate_limited" in text else None),
        )
        agent.reload()  # the socket log_in opened was there before the listener
        expect(agent.locator("#connection")).to_have_text("Connected")
        become_ready(agent, "agent1")
        conversation, _token = chat_services.conversation_start(widget=Widget.objects.get(key="demo"), prechat={})
        agent.get_by_role("button", name="Accept").click()
        expect(agent.locator("#text")).to_be_editable()
        texts = [f"Answer {n}" for n in range(40)]  # each also sends a typing frame: over 80 frames
        for text in texts:
            agent.locator("#text").fill(text)
            agent.locator("#text").press("Enter")
        # The refused ones go again a second later, some more than once: 10 frames a second pass.
        expect(agent.locator("#log .line.agent:not(.sending)")).to_have_count(40, timeout=20_000)
        expect(agent.locator("#log .line.failed")).to_have_count(0)
        assert refused, "no frame was refused as rate_limited"
        stored = Message.objects.filter(conversation=conversation, author_role=Message.Role.AGENT)
        assert sorted(stored.values_list("text", flat=True)) == sorted(texts)
    finally:
        context.close()

"""Stored XSS: over 500 payloads as the customer's name and as messages both ways, viewed in
the widget and in the workspace in real Chromium. Nothing runs: no dialog, no marker set by a
payload, no Content-Security-Policy violation (which an injected handler would cause before
the policy stopped it), and every payload is shown as the text it is."""

import itertools
import re
import uuid

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from chat import services
from chat.models import Conversation
from routing.models import Contact

pytestmark = pytest.mark.browser

# Each vector, if it ran, would set window.__xss or open a dialog.
VECTORS = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=1">',
    "<svg onload=window.__xss=1>",
    "<svg><script>window.__xss=1</script></svg>",
    '<iframe srcdoc="<script>parent.__xss=1</script>"></iframe>',
    '<a href="javascript:window.__xss=1">x</a>',
    "<details open ontoggle=window.__xss=1>",
    "<body onload=window.__xss=1>",
    '<input autofocus onfocus="window.__xss=1">',
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__xss=1>",
    '<object data="javascript:window.__xss=1"></object>',
    '<embed src="javascript:window.__xss=1">',
    '<form><button formaction="javascript:window.__xss=1">x</button></form>',
    "<marquee onstart=window.__xss=1>x</marquee>",
    '<video><source onerror="window.__xss=1"></video>',
    "<style>@import 'javascript:window.__xss=1';</style>",
    "{{constructor.constructor('window.__xss=1')()}}",
    "${window.__xss=1}",
    "javascript:window.__xss=1",
    "<img src=x onerror=alert(document.domain)>",
    "<scr<script>ipt>window.__xss=1</scr</script>ipt>",
    "<IMG SRC=x OnErRoR=window.__xss=1>",
    "&lt;img src=x onerror=window.__xss=1&gt;",
    "<img src=x onerror=&#119;indow.__xss=1>",
    "\u202e<img src=x onerror=window.__xss=1>",
    '<noscript><p title="</noscript><img src=x onerror=window.__xss=1>">',
]
# The contexts a payload may try to break out of.
WRAPPERS = [
    "{}",
    '">{}',
    "'>{}",
    "</p>{}",
    "</textarea>{}",
    "</title>{}",
    "<!--{}-->",
    "]]>{}",
    "`{}`",
    "\\{}",
    "</script>{}",
    "{}<!--",
    "%3C{}",
    "a{}b",
    "\n{}\n",
    "</div></div>{}",
    "<b>{}</b>",
    "</style>{}",
    "-->{}",
    "{}{}",
    "*/{}",
    "</option></select>{}",
]


def corpus() -> list[str]:
    payloads = [wrapper.replace("{}", vector) for wrapper, vector in itertools.product(WRAPPERS, VECTORS)]
    return list(dict.fromkeys(payloads))


def test_five_hundred_payloads_show_as_text_and_never_run(asgi_server, page, chromium):
    payloads = corpus()
    assert len(payloads) >= 500
    call_command("load_demo")
    customer_context = chromium.new_context(locale="en-US")
    customer_violations: list[str] = []
    customer_context.on(
        "console",
        lambda message: "Content Security Policy" in message.text and customer_violations.append(message.text),
    )
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        page.goto(asgi_server.url + "/accounts/login/")
        page.get_by_label("Username").fill("agent1")
        page.get_by_label("Password").fill("demo")
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(re.compile(r"/workspace/$"))
        page.locator("#presence").select_option("ready")

        customer = customer_context.new_page()
        customer.set_default_timeout(30_000)
        customer.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        customer.goto(asgi_server.url + "/widget/demo/?locale=en")
        customer.get_by_role("button", name="Start chat").click()
        expect(customer.get_by_role("log")).to_contain_text("Welcome!")
        page.get_by_role("button", name="Accept").click()
        expect(customer.get_by_role("log")).to_contain_text("joined the chat")

        conversation = Conversation.objects.exclude(state="ended").latest("created_at")
        Contact.objects.filter(pk=conversation.contact_id).update(name=payloads[1])
        agent_user = conversation.participants.get(left_at__isnull=True).agent
        for number, payload in enumerate(payloads):
            if number % 2:
                services.message_post_by_agent(
                    conversation_id=conversation.pk, user=agent_user, client_id=uuid.uuid4(), text=payload
                )
            else:
                services.message_post_by_customer(conversation_id=conversation.pk, client_id=uuid.uuid4(), text=payload)
        services.message_post_by_agent(
            conversation_id=conversation.pk, user=agent_user, client_id=uuid.uuid4(), text="END OF CORPUS"
        )
        expect(customer.get_by_role("log")).to_contain_text("END OF CORPUS")
        expect(page.locator("#log")).to_contain_text("END OF CORPUS")
        # Reloaded, both render the whole history from the server once more.
        page.reload()
        expect(page.locator("#log")).to_contain_text("END OF CORPUS")

        for side in (page, customer):
            assert side.evaluate("window.__xss") is None
            shown = side.evaluate("() => document.body.innerText")
            missing = [p for p in payloads if p.strip() and " ".join(p.split()) not in " ".join(shown.split())]
            assert len(missing) == 0, missing[:3]
        assert dialogs == []
        assert customer_violations == []
    finally:
        customer_context.close()

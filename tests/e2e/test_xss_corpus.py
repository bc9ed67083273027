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
from tests.e2e.pages import log_in

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


def post_alternately(conversation, agent_user, payloads: list[str]) -> None:
    """Each payload as a message, by the customer and the agent in turn."""
    for number, payload in enumerate(payloads):
        if number % 2:
            services.message_post_by_agent(
                conversation_id=conversation.pk, user=agent_user, client_id=uuid.uuid4(), text=payload
            )
        else:
            services.message_post_by_customer(conversation_id=conversation.pk, client_id=uuid.uuid4(), text=payload)


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
        expect(page.locator("#connection")).to_have_text("Connected")  # else the change of presence is not sent
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
        post_alternately(conversation, agent_user, payloads)
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


def _watched_context(chromium, dialogs: list[str], violations: list[str]):
    context = chromium.new_context(locale="en-US")
    context.on("console", lambda message: "Content Security Policy" in message.text and violations.append(message.text))

    def dismissed(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    context.on("page", lambda page: page.on("dialog", dismissed))
    return context


def _shows_all(page, payloads: list[str]) -> list[str]:
    """The payloads the page does not show as text (whitespace folded)."""
    shown = " ".join(page.evaluate("() => document.body.innerText").split())
    return [p for p in payloads if p.strip() and " ".join(p.split()) not in shown]


def test_payloads_in_answers_names_canned_responses_admin_reports_and_transcripts(asgi_server, page, chromium):
    """The rest of the places a customer's or a colleague's text reaches: pre-chat answers,
    names (customer, queue, agent), canned responses, the console, the supervisor's pages,
    the review transcript and the transcript e-mail."""
    from django.contrib.auth import get_user_model
    from django.core import mail

    from chat.models import CannedResponse, Widget

    payloads = corpus()
    call_command("load_demo")
    agent_user = get_user_model().objects.get(username="agent1")
    get_user_model().objects.filter(pk=agent_user.pk).update(first_name=payloads[5][:150], last_name=payloads[40][:150])
    widget = Widget.objects.get(key="demo")
    widget.queue.name = payloads[27][:80]
    widget.queue.save(update_fields=["name"])
    CannedResponse.objects.bulk_create(
        CannedResponse(
            scope=CannedResponse.Scope.PERSONAL,
            owner=agent_user,
            shortcut=f"x{number}",
            title=payload[:120],
            text=payload,
        )
        for number, payload in enumerate(payloads)
    )
    dialogs: list[str] = []
    violations: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    # The agent sees a waiting chat whose pre-chat answers (and their labels) are payloads.
    page.goto(asgi_server.url + "/accounts/login/")
    page.get_by_label("Username").fill("agent1")
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/workspace/$"))
    conversation, _token = services.conversation_start(widget=widget, prechat={}, locale="en")
    answers = {f"{number} {payload[:60]}": payload for number, payload in enumerate(payloads)}
    Conversation.objects.filter(pk=conversation.pk).update(prechat=answers)
    Contact.objects.filter(pk=conversation.contact_id).update(name=payloads[1])
    page.reload()
    expect(page.locator("#connection")).to_have_text("Connected")  # else the change of presence is not sent
    page.locator("#presence").select_option("ready")
    expect(page.get_by_role("button", name="Accept")).to_be_visible()
    page.get_by_role("button", name="Accept").click()
    expect(page.locator("#customer-prechat")).to_contain_text(payloads[-1][:20])
    assert _shows_all(page, list(answers.values())) == []

    # Canned responses: the picker in the workspace, and the agent's own page of them.
    post_alternately(conversation, agent_user, payloads)
    page.locator("#text").fill("/x")
    expect(page.locator("#canned .canned-item")).to_have_count(12)
    page.goto(asgi_server.url + "/workspace/canned-responses/")
    # Shown for editing: in the fields' values, which must hold each text exactly as stored.
    fields = page.evaluate(
        "() => Array.from(document.querySelectorAll('[name=title], [name=text]'))"
        ".map(f => [f.name, f.value.trim().split(/\\s+/).join(' ')])"
    )
    titles = {value for name, value in fields if name == "title"}
    texts = {value for name, value in fields if name == "text"}
    assert [p for p in payloads if " ".join(p.split()) not in texts] == []
    assert [p for p in payloads if " ".join(p[:120].split()) not in titles] == []
    assert page.evaluate("window.__xss") is None

    services.conversation_end(conversation_id=conversation.pk, ended_by="customer")
    request = services.transcript_request(conversation_id=conversation.pk, email="liisa@example.fi")
    assert services.transcript_send(transcript_email_id=request.pk) is True

    # The supervisor's pages: live view, reports, the review list and the review transcript.
    supervisor_context = _watched_context(chromium, dialogs, violations)
    admin_context = _watched_context(chromium, dialogs, violations)
    mail_context = _watched_context(chromium, dialogs, violations)
    try:
        supervisor = log_in(supervisor_context, asgi_server.url, "supervisor", None, timeout=30_000)
        for path in ("/supervision/", "/reports/", "/quality/"):
            supervisor.goto(asgi_server.url + path)
            supervisor.wait_for_load_state("networkidle")
            assert supervisor.evaluate("window.__xss") is None, path
        supervisor.goto(f"{asgi_server.url}/quality/conversations/{conversation.pk}/")
        assert _shows_all(supervisor, payloads) == []
        assert supervisor.evaluate("window.__xss") is None

        # The console: the chat with its answers, the canned responses, queues and agents.
        admin = log_in(admin_context, asgi_server.url, "admin", None, timeout=30_000)
        for path in (
            f"/admin/chat/conversation/{conversation.pk}/change/",
            "/admin/chat/cannedresponse/?all=",
            "/admin/routing/queue/",
            "/admin/routing/agentprofile/",
            "/admin/auth/user/",
        ):
            admin.goto(asgi_server.url + path)
            assert admin.evaluate("window.__xss") is None, path
            assert "Server Error" not in admin.title(), path

        # The transcript e-mail as a mail reader would show it, without our CSP to help.
        [sent] = mail.outbox
        html = next(body for body, kind in sent.alternatives if kind == "text/html")
        reader = mail_context.new_page()
        reader.set_content(html)
        assert _shows_all(reader, payloads) == []
        assert reader.evaluate("window.__xss") is None
    finally:
        supervisor_context.close()
        admin_context.close()
        mail_context.close()
    assert dialogs == []
    assert violations == []

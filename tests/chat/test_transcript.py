"""The transcript by e-mail (W9): requested after the end, sent once over real SMTP."""

import uuid

import pytest

from chat import services
from chat.models import TranscriptEmail
from chat.services import ChatError
from routing import services as routing
from routing.models import WorkItem
from tests.smtp import SmtpServer


@pytest.fixture
def smtp(settings):
    with SmtpServer() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        yield server


@pytest.mark.django_db
def test_the_transcript_goes_out_once_and_holds_what_the_customer_saw(widget, ready_agent, smtp, settings):
    conversation, _ = services.conversation_start(widget=widget, prechat={}, locale="fi")
    item = WorkItem.objects.get(reference=str(conversation.pk))
    routing.work_item_pick(agent=ready_agent, item_id=item.pk)
    services.message_post_by_customer(conversation_id=conversation.pk, client_id=str(uuid.uuid4()), text="Hei <b>x</b>")
    services.message_post_by_agent(
        conversation_id=conversation.pk, user=ready_agent.user, client_id=None, text="secret note", internal=True
    )
    services.message_post_by_agent(
        conversation_id=conversation.pk,
        user=ready_agent.user,
        client_id=None,
        text="Vuokralaisen opas",
        link_url="https://www.example.fi/opas?a=1&b=<2>",
    )
    with pytest.raises(ChatError) as error:
        services.transcript_request(conversation_id=conversation.pk, email="liisa@example.fi")
    assert error.value.code == "not_ended"
    services.conversation_end(conversation_id=conversation.pk, ended_by="customer")
    with pytest.raises(ChatError):
        services.transcript_request(conversation_id=conversation.pk, email="not an address")

    request = services.transcript_request(conversation_id=conversation.pk, email="liisa@example.fi")
    assert services.transcript_send(transcript_email_id=request.pk) is True
    assert services.transcript_send(transcript_email_id=request.pk) is False  # claimed once

    [mail] = smtp.inbox.messages
    assert mail["X-Envelope-To"] == "liisa@example.fi"
    assert mail["Subject"].startswith("Keskustelusi")  # in the customer's language
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in mail.walk() if not p.is_multipart()}
    text, html = parts["text/plain"], parts["text/html"]
    assert "Hei <b>x</b>" in text
    assert "Vuokralaisen opas <https://www.example.fi/opas?a=1&b=<2>>" in text
    assert "Hei &lt;b&gt;x&lt;/b&gt;" in html  # escaped, never markup
    assert '<a href="https://www.example.fi/opas?a=1&amp;b=&lt;2&gt;">Vuokralaisen opas</a>' in html
    assert "secret note" not in text
    assert "secret note" not in html
    assert TranscriptEmail.objects.get().sent_at is not None

    for _ in range(2):
        services.transcript_request(conversation_id=conversation.pk, email="liisa@example.fi")
    with pytest.raises(ChatError) as error:
        services.transcript_request(conversation_id=conversation.pk, email="liisa@example.fi")
    assert error.value.code == "rate_limited"

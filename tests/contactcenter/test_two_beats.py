"""Two beat processes by mistake: every periodic job, run by several workers at the same
instant over the same due work, acts on each item once (docs/reliability.md).

The chat timers (warnings, closes, automatic replies) have their own test of this in
tests/chat/test_timers.py; here are the router's offer time-outs, the contact records and
the monthly report."""

import datetime
import threading

import pytest
from django.db import connection
from django.utils import timezone

from chat import services as chat
from chat.models import Conversation
from reports import monthly
from reports.models import ContactRecord, MonthlyReportSent
from reports.services import record_ended_conversations
from routing import services as routing
from routing.models import AgentProfile, QueueMembership, WorkItem, WorkItemEvent
from tests.factories import AgentProfileFactory, QueueFactory, passwordless_user
from tests.smtp import SmtpServer

pytestmark = pytest.mark.django_db(transaction=True)

BEATS = 4


def at_once(job, *, times=BEATS) -> list:
    """Run `job` in `times` threads released together, each on its own connection."""
    barrier = threading.Barrier(times)
    results, errors = [], []

    def run() -> None:
        try:
            barrier.wait(10)
            results.append(job())
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    return results


def test_an_expired_offer_is_taken_back_once(roles, stand_ins, settings):
    settings.CC_MISSED_OFFERS_BEFORE_NOT_READY = 99  # count the misses, keep everyone ready
    queue = QueueFactory()
    agents = [
        AgentProfileFactory(user=passwordless_user(f"beat-{n}"), chat_capacity=8, presence="not_ready")
        for n in range(6)
    ]
    for agent in agents:
        QueueMembership.objects.create(agent=agent, queue=queue)
    long_ago = timezone.now() - datetime.timedelta(minutes=5)
    items = [
        WorkItem.objects.create(
            channel="chat",
            reference=f"offer-{n}",
            queue=queue,
            enqueued_at=long_ago,
            state="offered",
            agent=agents[n % len(agents)],
            offer_expires_at=long_ago,
        )  # fmt: skip
        for n in range(60)
    ]
    handled = sum(sum(at_once(routing.offers_expire)) for _ in range(3))
    assert handled == len(items)
    expired = WorkItemEvent.objects.filter(kind="expired")
    assert expired.count() == len(items)
    assert sorted(expired.values_list("work_item_id", flat=True)) == sorted(item.pk for item in items)
    assert {agent.missed_offers for agent in AgentProfile.objects.all()} == {10}  # each of their 10, once
    assert set(WorkItem.objects.values_list("state", flat=True)) == {"waiting"}


def test_each_ended_chat_gets_one_contact_record(roles, widget, agent):
    for _ in range(25):
        conversation, _token = chat.conversation_start(widget=widget, prechat={})
        chat.conversation_end(conversation_id=conversation.pk, ended_by=Conversation.EndedBy.CUSTOMER)
    done = sum(at_once(record_ended_conversations))
    assert ContactRecord.objects.count() == 25
    assert done == 25  # each chat is taken by one beat; the other finds it recorded
    assert sorted(ContactRecord.objects.values_list("reference", flat=True)) == sorted(
        str(pk) for pk in Conversation.objects.values_list("pk", flat=True)
    )


def test_the_monthly_report_goes_out_once(roles, settings, supervisor):
    supervisor.email = "sanna@example.fi"
    supervisor.save()
    with SmtpServer() as smtp:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        sent = at_once(lambda: monthly.monthly_report_send(today=datetime.date(2026, 11, 1)))
        assert sorted(sent) == [False] * (BEATS - 1) + [True]
        assert len(smtp.inbox.messages) == 1
    assert MonthlyReportSent.objects.count() == 1

"""Transcript retention (S6): what a purge removes and keeps, per queue, once, even when two
purges run at once; the command, the task and its schedule."""

from __future__ import annotations

import io
import threading

import pytest
from django.core.management import call_command
from django.db import connection

from chat.models import Conversation, ConversationEvent, Message
from chat.services import conversation_start, message_post_by_customer
from contactcenter.celery import app as celery_app
from quality import services, tasks
from quality.models import PurgedTranscript, QueueRetention, Review
from routing.models import WorkItem
from tests.factories import QueueFactory, WidgetFactory
from tests.quality.conftest import all_scores, ended_chat


def keep(queue, days):
    QueueRetention.objects.update_or_create(queue=queue, defaults={"transcript_days": days})


@pytest.mark.django_db
def test_purge_removes_messages_and_notes_and_keeps_the_conversation_events_and_work_items(widget, agent):
    keep(widget.queue, 30)
    old = ended_chat(widget, agent, ended_days_ago=31)
    Conversation.objects.filter(pk=old.pk).update(prechat={"name": "Maija"})
    events_before = list(ConversationEvent.objects.filter(conversation=old).values_list("seq", "kind"))
    assert Message.objects.filter(conversation=old, internal=True).exists()
    assert old.search is not None
    assert old.rating_comment

    assert services.transcripts_purge() == 1

    old.refresh_from_db()
    assert not Message.objects.filter(conversation=old).exists()
    assert (old.prechat, old.context, old.search, old.search_config, old.rating_comment) == ({}, {}, None, "", "")
    assert (old.state, old.rating, old.agent_id) == ("ended", 4, agent.user_id)
    assert list(ConversationEvent.objects.filter(conversation=old).values_list("seq", "kind")) == events_before
    assert WorkItem.objects.get(reference=str(old.pk)).state == WorkItem.State.DONE
    purged = PurgedTranscript.objects.get(conversation=old)
    assert (purged.retention_days, purged.messages_deleted) == (30, 3)  # the customer's line, the answer, the note


@pytest.mark.django_db
def test_purge_keeps_recent_chats_and_open_ones(widget, agent):
    keep(widget.queue, 30)
    recent = ended_chat(widget, agent, ended_days_ago=29)
    open_one, _ = conversation_start(widget=widget, prechat={}, locale="en")
    message_post_by_customer(conversation_id=open_one.pk, client_id=None, text="Still waiting")
    Conversation.objects.filter(pk=open_one.pk).update(created_at=recent.created_at.replace(year=2000))
    assert services.transcripts_purge() == 0
    assert Message.objects.filter(conversation=recent).count() == 3
    assert Message.objects.filter(conversation=open_one).exists()


@pytest.mark.django_db
def test_each_queue_keeps_its_own_time_and_none_keeps_forever(widget, agent):
    short, forever, unset = (WidgetFactory(queue=QueueFactory(name=name)) for name in ("Short", "Forever", "Unset"))
    keep(widget.queue, 90)
    keep(short.queue, 7)
    keep(forever.queue, None)
    chats = {w.queue.name: ended_chat(w, agent, ended_days_ago=40) for w in (widget, short, forever, unset)}

    assert services.transcripts_purge() == 1
    assert set(PurgedTranscript.objects.values_list("conversation_id", flat=True)) == {chats["Short"].pk}
    for name in ("Housing advice", "Forever", "Unset"):
        assert Message.objects.filter(conversation=chats[name]).exists(), name


@pytest.mark.django_db
def test_purge_is_idempotent_and_works_in_batches(widget, agent):
    keep(widget.queue, 1)
    chats = [ended_chat(widget, agent, ended_days_ago=2) for _ in range(5)]
    assert services.transcripts_purge(batch_size=2) == 5
    assert services.transcripts_purge(batch_size=2) == 0
    assert PurgedTranscript.objects.filter(conversation__in=chats).count() == 5
    first = PurgedTranscript.objects.get(conversation=chats[0]).purged_at
    services.transcripts_purge()
    assert PurgedTranscript.objects.get(conversation=chats[0]).purged_at == first


@pytest.mark.django_db
def test_reviews_keep_their_scores_after_a_purge(widget, agent, supervisor, checklist):
    keep(widget.queue, 30)
    conversation = ended_chat(widget, agent, ended_days_ago=31)
    services.review_submit(
        conversation_id=conversation.pk,
        reviewer=supervisor,
        form_id=checklist.pk,
        scores=all_scores(checklist, 1, 1, 4),
        comment="Good",
    )
    services.transcripts_purge()
    review = Review.objects.get(conversation=conversation)
    assert (review.total_score, review.max_score, str(review.percent), review.comment) == (6, 7, "85.7", "Good")
    assert review.scores.count() == 3


@pytest.mark.django_db
def test_command_dry_run_counts_and_removes_nothing_then_removes(widget, agent):
    keep(widget.queue, 30)
    ended_chat(widget, agent, ended_days_ago=31)
    ended_chat(widget, agent, ended_days_ago=32, note=None)
    out = io.StringIO()
    call_command("purge_transcripts", "--dry-run", stdout=out)
    assert "Housing advice: 2 transcripts (5 messages) older than 30 days" in out.getvalue()
    assert "Dry run: 2 transcripts (5 messages) would be removed." in out.getvalue()
    assert not PurgedTranscript.objects.exists()

    out = io.StringIO()
    call_command("purge_transcripts", stdout=out)
    assert "Transcripts removed: 2" in out.getvalue()
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_the_task_purges_and_beat_runs_it_hourly(widget, agent):
    keep(widget.queue, 30)
    ended_chat(widget, agent, ended_days_ago=31)
    assert tasks.purge_transcripts() == 1
    entry = next(e for e in celery_app.conf.beat_schedule.values() if e["task"] == "quality.tasks.purge_transcripts")
    assert entry["schedule"] == 3600.0


@pytest.mark.django_db(transaction=True)
def test_two_purges_at_once_purge_each_conversation_once(widget, agent):
    keep(widget.queue, 1)
    chats = [ended_chat(widget, agent, ended_days_ago=3) for _ in range(12)]
    barrier = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def purge():
        try:
            barrier.wait()
            results.append(services.transcripts_purge(batch_size=2))
        except BaseException as error:  # reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=purge) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sum(results) == 12
    assert PurgedTranscript.objects.filter(conversation__in=chats).count() == 12
    assert not Message.objects.filter(conversation__in=chats).exists()

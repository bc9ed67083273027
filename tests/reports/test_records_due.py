"""Which chats are due a contact record: written by reports in the chat's own transaction
(chat.signals), read by the beat, and made due by the migration for what an older system
left unrecorded."""

import pytest
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor

from chat import services as chat
from reports import services
from reports.models import ContactRecord, ContactRecordDue


def due() -> list:
    return list(ContactRecordDue.objects.order_by("pk").values_list("conversation_id", flat=True))


def ended_chat(widget):
    conversation, _token = chat.conversation_start(widget=widget, prechat={})
    chat.conversation_end(conversation_id=conversation.pk, ended_by="customer")
    return conversation


@pytest.mark.django_db
def test_a_record_is_due_with_the_end_and_the_rating_themselves(widget):
    conversation, _token = chat.conversation_start(widget=widget, prechat={})

    @transaction.atomic
    def end_then_fail():
        chat.conversation_end(conversation_id=conversation.pk, ended_by="customer")
        raise RuntimeError("the end rolls back")

    with pytest.raises(RuntimeError):
        end_then_fail()
    assert due() == []  # nothing due for an end that did not happen

    chat.conversation_end(conversation_id=conversation.pk, ended_by="customer")
    chat.conversation_end(conversation_id=conversation.pk, ended_by="customer")  # twice is a no-op
    assert due() == [conversation.pk]
    assert services.record_ended_conversations() == 1
    assert due() == []
    assert ContactRecord.objects.get(reference=str(conversation.pk)).rating is None

    chat.rating_give(conversation_id=conversation.pk, score=4)
    assert due() == [conversation.pk]
    assert services.record_ended_conversations() == 1
    assert ContactRecord.objects.get(reference=str(conversation.pk)).rating == 4
    assert services.record_ended_conversations() == 0


@pytest.mark.django_db(transaction=True)
def test_the_migration_makes_due_what_an_older_system_left_unrecorded(roles, widget):
    unrecorded, recorded, rated_later = ended_chat(widget), ended_chat(widget), ended_chat(widget)
    chat.conversation_start(widget=widget, prechat={})  # still open: nothing due
    chat.rating_give(conversation_id=rated_later.pk, score=5)
    services.record_ended_conversations()
    # As an older system left them: one record never made, one made before the rating.
    ContactRecord.objects.filter(reference=str(unrecorded.pk)).delete()
    ContactRecord.objects.filter(reference=str(rated_later.pk)).update(rating=None)

    executor = MigrationExecutor(connection)
    executor.migrate([("reports", "0001_contact_records")])
    executor.loader.build_graph()
    executor.migrate([("reports", "0002_contact_record_due")])

    assert sorted(due()) == sorted([unrecorded.pk, rated_later.pk])
    assert recorded.pk not in due()

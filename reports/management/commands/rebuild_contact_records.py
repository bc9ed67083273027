"""python manage.py rebuild_contact_records: derive every live contact record again from the
stored history (after a fix to the derivation, or to fill records of older chats)."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from chat.models import Conversation
from reports.services import record_conversation


class Command(BaseCommand):
    help = "Recompute the contact records of all ended chats from their history."

    def handle(self, *args, **options):
        done = 0
        ended = Conversation.objects.filter(state=Conversation.State.ENDED).order_by("ended_at")
        for conversation_id in ended.values_list("pk", flat=True).iterator(chunk_size=2000):
            with transaction.atomic():
                done += record_conversation(conversation_id=conversation_id) is not None
        self.stdout.write(f"Contact records rebuilt: {done}")

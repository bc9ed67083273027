"""Index ended conversations for search (A11): those never indexed (after an upgrade, or a
restore), or all of them with --all (after a change of what is indexed). Active
conversations are not indexed; they are when they end."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from chat import search
from chat.models import Conversation


class Command(BaseCommand):
    help = "Index ended conversations for search: those not indexed yet, or all with --all."

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="Reindex every ended conversation.")
        parser.add_argument("--batch-size", type=int, default=500, help="Conversations per UPDATE and transaction.")

    def handle(self, *args, batch_size: int, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        pending = Conversation.objects.filter(state=Conversation.State.ENDED).order_by("pk")
        if not options["all"]:
            pending = pending.filter(search__isnull=True)
        indexed, after = 0, None
        while True:
            # Keyset pages in short transactions. The rows are locked before the UPDATE, so
            # its snapshot holds every note committed so far, and none comes in between
            # (adding a note takes the conversation's lock too).
            with transaction.atomic():
                page = pending if after is None else pending.filter(pk__gt=after)
                ids = list(page.select_for_update(no_key=True).values_list("pk", flat=True)[:batch_size])
                if not ids:
                    break
                indexed += search.conversations_index(conversation_ids=ids)
            after = ids[-1]
        self.stdout.write(f"Conversations indexed: {indexed}")

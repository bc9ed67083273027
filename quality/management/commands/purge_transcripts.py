"""Remove the transcripts kept longer than their queue's retention (what beat does every hour),
or with --dry-run only tell what would be removed."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from quality import selectors, services


class Command(BaseCommand):
    help = "Remove transcripts older than their queue's retention; --dry-run only counts them."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count what would be removed; remove nothing.")
        parser.add_argument(
            "--batch-size", type=int, default=services.PURGE_BATCH_SIZE, help="Conversations per transaction."
        )

    def handle(self, *args, dry_run: bool, batch_size: int, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        now = timezone.now()
        due = selectors.transcripts_due_by_queue(now=now)
        for row in due:
            self.stdout.write(
                f"{row['queue']}: {row['conversations']} transcripts ({row['messages']} messages) "
                f"older than {row['days']} days"
            )
        if dry_run:
            conversations = sum(row["conversations"] for row in due)
            messages = sum(row["messages"] for row in due)
            self.stdout.write(f"Dry run: {conversations} transcripts ({messages} messages) would be removed.")
            return
        purged = services.transcripts_purge(now=now, batch_size=batch_size)
        self.stdout.write(f"Transcripts removed: {purged}")

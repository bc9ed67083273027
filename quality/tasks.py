"""Quality's background work; beat runs the purge every hour (contactcenter/celery.py)."""

from celery import shared_task

from . import services


@shared_task(ignore_result=True)
def purge_transcripts() -> int:
    return services.transcripts_purge()

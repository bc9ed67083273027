"""Voice's periodic work, scheduled by Celery beat (contactcenter/celery.py)."""

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def remove_expired_recordings() -> int:
    """Recordings past their queue's retention (1, 6 or 12 months) are deleted, file and row;
    files left without a row (a failed commit) go too."""
    return services.recordings_remove_expired() + services.recordings_sweep_orphans()

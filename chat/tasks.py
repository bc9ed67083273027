"""Chat's background work; tasks take ids and call services."""

from celery import shared_task

from . import services, timers


@shared_task(ignore_result=True, autoretry_for=(OSError, services.TranscriptBusy), retry_backoff=True, max_retries=5)
def send_transcript(transcript_email_id: int) -> bool:
    return services.transcript_send(transcript_email_id=transcript_email_id)


@shared_task(ignore_result=True)
def end_chats_of_gone_customers() -> int:
    return services.conversations_end_gone_customers()


@shared_task(ignore_result=True)
def watch_inactivity() -> dict[str, int]:
    return timers.conversations_watch_inactivity()


@shared_task(ignore_result=True)
def send_auto_replies() -> int:
    return timers.conversations_auto_reply()

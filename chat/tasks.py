"""Chat's background work; tasks take ids and call services."""

from celery import shared_task

from . import services


@shared_task(ignore_result=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_transcript(transcript_email_id: int) -> bool:
    return services.transcript_send(transcript_email_id=transcript_email_id)


@shared_task(ignore_result=True)
def end_chats_of_gone_customers() -> int:
    return services.conversations_end_gone_customers()

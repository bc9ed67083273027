"""Reports' background work; beat runs it (contactcenter/celery.py)."""

from celery import shared_task

from . import monthly, services


@shared_task(ignore_result=True)
def record_contacts() -> int:
    return services.record_ended_conversations()


@shared_task(ignore_result=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_monthly_report() -> bool:
    return monthly.monthly_report_send()

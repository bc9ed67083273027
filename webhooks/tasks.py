"""Webhook sending; beat runs `deliver_due` as the retry loop (contactcenter/celery.py)."""

from celery import shared_task

from . import services


@shared_task(ignore_result=True, acks_late=True)
def deliver(delivery_id: str) -> str:
    return services.deliver(delivery_id=delivery_id)


@shared_task(ignore_result=True)
def deliver_due() -> int:
    return services.deliver_due()

"""Periodic routing chores; beat runs them every few seconds (contactcenter/celery.py)."""

from celery import shared_task

from . import alarms, services


@shared_task(ignore_result=True)
def expire_offers() -> int:
    return services.offers_expire()


@shared_task(ignore_result=True)
def route_waiting_work() -> int:
    return services.route_all()


@shared_task(ignore_result=True)
def offline_agents_without_sockets() -> int:
    return services.agents_without_sockets_offline()


@shared_task(ignore_result=True)
def offline_if_no_socket(agent_id: int) -> bool:
    return services.agent_offline_if_no_socket(agent_id=agent_id)


@shared_task(ignore_result=True)
def end_wrap_ups() -> int:
    return services.wrap_ups_end()


@shared_task(ignore_result=True)
def check_queue_alarms() -> dict[str, int]:
    return alarms.queue_alarms_check()

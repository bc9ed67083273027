"""The Celery app: Redis broker, tasks discovered in each app, one beat schedule."""

from __future__ import annotations

import os

from celery import Celery, bootsteps
from celery.fixups import django as celery_django
from celery.schedules import crontab
from django.db import close_old_connections, connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")


class _WorkerFixup(celery_django.DjangoWorkerFixup):
    """Between tasks, give connections back to the process's pool instead of closing the pool.

    Celery's own fix-up closes a prefork child's whole Django pool before and after every task
    (celery/celery#10554), so each task opened new PostgreSQL sessions (45 in 10 s at rest):
    backends forked and warmed while the relay writes, the relay's tail under beat's bursts.
    A pool inherited across fork is still closed when a child starts (`on_worker_process_init`)."""

    def install(self) -> _WorkerFixup:
        # A kept session that PostgreSQL ended (a restart) would fail the next task, which
        # a fresh session per task never did: the pool tests each one it hands out.
        for alias in connections:
            connections.settings[alias]["CONN_HEALTH_CHECKS"] = True
        super().install()
        self._close_database()  # as Celery's does before forking: children inherit no pool
        return self

    def close_database(self, **kwargs) -> None:
        close_old_connections()


class _Fixup(celery_django.DjangoFixup):
    @property
    def worker_fixup(self) -> celery_django.DjangoWorkerFixup:
        if self._worker_fixup is None:
            self._worker_fixup = _WorkerFixup(self.app)
        return self._worker_fixup

    @worker_fixup.setter
    def worker_fixup(self, value: celery_django.DjangoWorkerFixup) -> None:
        self._worker_fixup = value


def _django_fixup(app: Celery) -> _Fixup | None:
    if os.environ.get("DJANGO_SETTINGS_MODULE") and "django" not in app.loader_cls.lower():
        return _Fixup(app).install()
    return None


app = Celery("contactcenter", fixups=[_django_fixup])


@app.on_configure.connect
def _check_settings(sender=None, **kwargs) -> None:
    from contactcenter.bootstrap import exit_on_configuration_error

    exit_on_configuration_error()


app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Periodic schedules are declared here, in one place.
app.conf.beat_schedule = {
    "routing-expire-offers": {"task": "routing.tasks.expire_offers", "schedule": 2.0},
    "routing-end-wrap-ups": {"task": "routing.tasks.end_wrap_ups", "schedule": 2.0},
    "routing-route-waiting-work": {"task": "routing.tasks.route_waiting_work", "schedule": 5.0},
    "routing-offline-agents-without-sockets": {
        "task": "routing.tasks.offline_agents_without_sockets",
        "schedule": 30.0,
    },
    "routing-check-queue-alarms": {"task": "routing.tasks.check_queue_alarms", "schedule": 5.0},
    "chat-end-chats-of-gone-customers": {"task": "chat.tasks.end_chats_of_gone_customers", "schedule": 10.0},
    "chat-watch-inactivity": {"task": "chat.tasks.watch_inactivity", "schedule": 5.0},
    "chat-send-auto-replies": {"task": "chat.tasks.send_auto_replies", "schedule": 5.0},
    "quality-purge-transcripts": {"task": "quality.tasks.purge_transcripts", "schedule": 3600.0},
    "reports-record-contacts": {"task": "reports.tasks.record_contacts", "schedule": 5.0},
    "voice-remove-expired-recordings": {"task": "voice.tasks.remove_expired_recordings", "schedule": 3600.0},
    "webhooks-deliver-due": {"task": "webhooks.tasks.deliver_due", "schedule": 10.0},
    # Hourly on the first of the month: sent once (MonthlyReportSent), retried if mail fails.
    "reports-send-monthly-report": {
        "task": "reports.tasks.send_monthly_report",
        "schedule": crontab(minute=5, day_of_month=1),
    },
}


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Writes this worker's heartbeat to Redis so /readyz can tell a worker is alive."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        self.timer_ref = None

    def start(self, worker):
        from django.conf import settings

        from contactcenter.health import record_worker_heartbeat

        record_worker_heartbeat(worker.hostname)
        self.timer_ref = worker.timer.call_repeatedly(
            settings.CC_WORKER_HEARTBEAT_SECONDS, record_worker_heartbeat, (worker.hostname,), priority=10
        )

    def stop(self, worker):
        if self.timer_ref is not None:
            self.timer_ref.cancel()
            self.timer_ref = None


app.steps["worker"].add(WorkerHeartbeat)

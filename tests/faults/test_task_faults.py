"""A Celery worker killed in the middle of a task (issue 10): the work happens exactly once.

The worker runs as `make run` runs it, a main process with a pool child; the child is killed
with SIGKILL mid-task, as the kernel's OOM killer would. Tasks are acknowledged late and
rejected when their worker is lost, so the main process puts the task back at once; the
work is claimed in PostgreSQL, so whatever the dead child had begun is rolled back and done
once by whoever comes next.
"""

from __future__ import annotations

import time

import psutil
import psycopg
import pytest
from django.db import connection

from chat import services
from chat.models import TranscriptEmail
from routing import tasks as routing_tasks
from routing.models import AgentProfile, WorkItem, WorkItemEvent
from routing.services import presence_set
from tests import processes
from tests.factories import QueueMembershipFactory
from tests.processes import ServerProcess, start_celery_worker, tasks_succeeded, wait_for
from tests.smtp import SmtpServer

pytestmark = pytest.mark.django_db(transaction=True)


def kill_pool_child(worker: ServerProcess) -> int:
    [child] = psutil.Process(worker.process.pid).children()
    child.kill()
    psutil.wait_procs([child], timeout=5)
    return child.pid


def test_a_transcript_mail_cut_off_by_a_killed_worker_goes_out_once(tmp_path, widget, ready_agent):
    with SmtpServer() as smtp:
        worker = start_celery_worker(tmp_path, prefork=True, EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}")
        try:
            conversation, _ = services.conversation_start(widget=widget, prechat={}, locale="fi")
            services.message_post_by_customer(conversation_id=conversation.pk, client_id=None, text="Kiitos!")
            services.conversation_end(conversation_id=conversation.pk, ended_by="customer")

            smtp.inbox.stall_next.set()
            request = services.transcript_request(conversation_id=conversation.pk, email="liisa@example.fi")
            wait_for(smtp.inbox.stalled.is_set, 30, "the worker reaching the mail server")
            killed = kill_pool_child(worker)

            wait_for(lambda: smtp.inbox.messages, 30, "the transcript after the worker was killed")
            wait_for(lambda: tasks_succeeded(worker, "chat.tasks.send_transcript"), 10, "the task finishing")
            time.sleep(1)  # room for a second copy, if there were going to be one
        finally:
            worker.stop()

    [mail] = smtp.inbox.messages
    assert mail["X-Envelope-To"] == "liisa@example.fi"
    assert mail["Message-ID"] == f"<transcript-{request.pk}.{conversation.pk}@localhost>"
    assert TranscriptEmail.objects.get().sent_at is not None
    assert f"Process 'ForkPoolWorker-1' pid:{killed} exited with 'signal 9 (SIGKILL)'" in worker.log()


def test_offer_timeouts_cut_off_by_a_killed_worker_expire_each_offer_once(tmp_path, queue, widget, ready_agent):
    agents = [ready_agent]
    for name in ("bo", "cai"):
        agent = QueueMembershipFactory(queue=queue, agent__user__username=name).agent
        presence_set(agent=agent, presence="ready")
        agents.append(agent)
    for _ in agents:
        services.conversation_start(widget=widget, prechat={})
    offered = WorkItem.objects.filter(state=WorkItem.State.OFFERED)
    assert offered.count() == 3
    offered.update(offer_expires_at="2000-01-01T00:00:00Z")

    worker = start_celery_worker(tmp_path, prefork=True)
    # Our own transaction holds the agents' rows: the time-out takes its offers, then waits on
    # these rows in the middle of its transaction, where its child is killed.
    holder = psycopg.connect(processes.test_database_url())
    try:
        holder.execute("SELECT 1 FROM routing_agentprofile WHERE id = ANY(%s) FOR UPDATE", [[a.pk for a in agents]])
        routing_tasks.expire_offers.delay()

        def waiting_on_our_lock() -> bool:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND pid <> %s",
                    [holder.info.backend_pid],
                )
                return cursor.fetchone()[0] > 0

        wait_for(waiting_on_our_lock, 30, "the offer time-out blocking mid-transaction")
        kill_pool_child(worker)
        # Put back at once and run again by a new child: the dead child's offers are still
        # locked by its orphaned transaction, so this run finds nothing to take.
        wait_for(lambda: tasks_succeeded(worker, "routing.tasks.expire_offers"), 30, "the redelivered time-out")
        assert WorkItemEvent.objects.filter(kind="expired").count() == 0
    finally:
        holder.rollback()  # the orphan now fails at its client and rolls back
        holder.close()
    try:
        # The next beat: now every offer is taken back, once.
        def all_expired() -> bool:
            routing_tasks.expire_offers.delay()
            time.sleep(0.5)
            return WorkItemEvent.objects.filter(kind="expired").count() >= 3

        wait_for(all_expired, 30, "the offers expiring after the orphan rolled back")
        routing_tasks.expire_offers.delay()
        wait_for(lambda: tasks_succeeded(worker, "routing.tasks.expire_offers") >= 3, 10, "a last time-out run")
    finally:
        worker.stop()

    expired = WorkItemEvent.objects.filter(kind="expired")
    assert sorted(expired.values_list("work_item_id", flat=True)) == sorted({e.work_item_id for e in expired})
    assert expired.count() == 3
    assert sorted(AgentProfile.objects.values_list("missed_offers", flat=True)) == [1, 1, 1]
    assert set(WorkItem.objects.values_list("state", flat=True)) == {WorkItem.State.WAITING}

"""Roles, demo data, logging format, time zones and languages."""

import asyncio
import json
import logging
import zoneinfo

import pytest
from channels.db import database_sync_to_async as sync_to_async  # closes its DB connections
from channels.layers import get_channel_layer
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import RequestFactory
from django.utils import timezone

from contactcenter import realtime
from contactcenter.logs import JsonFormatter
from contactcenter.middleware import UserTimeZoneMiddleware
from contactcenter.realtime import publish_on_commit
from routing.models import AgentProfile, QueueMembership


@pytest.mark.django_db
def test_roles_are_groups_with_permissions():
    agent, supervisor, admin = (Group.objects.get(name=name) for name in ("Agent", "Supervisor", "Admin"))
    agent_perms = {p.codename for p in agent.permissions.all()}
    supervisor_perms = {p.codename for p in supervisor.permissions.all()}
    admin_perms = {p.codename for p in admin.permissions.all()}
    assert agent_perms == {"serve_customers"}
    assert {"serve_customers", "supervise", "view_queue", "view_widget"} <= supervisor_perms
    assert "change_queue" not in supervisor_perms
    assert {"add_queue", "change_widget", "change_user", "change_agentprofile"} <= admin_perms


@pytest.mark.django_db
def test_demo_data_loads_and_loads_again_without_duplicates(settings):
    call_command("load_demo")
    call_command("load_demo")
    memberships = QueueMembership.objects.filter(queue__widgets__key="demo", logged_on=True)
    assert sorted(m.agent.user.username for m in memberships) == [f"agent{n}" for n in range(1, 6)]
    assert {m.agent.chat_capacity for m in memberships} == {3}
    assert AgentProfile.objects.get(user__username="agent1").user.check_password("demo")
    assert AgentProfile.objects.get(user__username="supervisor").user.has_perm("routing.supervise")


@pytest.mark.django_db
def test_demo_data_refuses_outside_demo_mode(settings):
    settings.DEMO_MODE = False
    with pytest.raises(CommandError, match="CC_DEMO_MODE=true"):
        call_command("load_demo")


def test_json_log_lines():
    record = logging.LogRecord("chat", logging.WARNING, __file__, 1, "queue %s is full", ("Housing",), None)
    line = json.loads(JsonFormatter().format(record))
    assert (line["level"], line["logger"]) == ("WARNING", "chat")
    assert line["message"] == "queue Housing is full"
    assert line["time"].endswith("+00:00")


@pytest.mark.django_db
def test_times_are_shown_in_the_agents_time_zone(agent):
    agent.time_zone = "Europe/Helsinki"
    agent.save(update_fields=["time_zone"])
    request = RequestFactory().get("/")
    request.user = agent.user
    seen = {}

    def view(request):
        seen["zone"] = timezone.get_current_timezone()
        return None

    UserTimeZoneMiddleware(view)(request)
    assert seen["zone"] == zoneinfo.ZoneInfo("Europe/Helsinki")


@pytest.mark.django_db(transaction=True)
async def test_events_are_published_only_after_commit():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("conv.test", channel)

    def rolled_back():
        try:
            with transaction.atomic():
                publish_on_commit(groups=["conv.test"], event={"type": "event", "event": "lost"})
                raise RuntimeError("rollback")
        except RuntimeError:
            pass

    def committed():
        with transaction.atomic():
            publish_on_commit(groups=["conv.test"], event={"type": "event", "event": "ended"})

    await sync_to_async(rolled_back)()
    await sync_to_async(committed)()
    message = await asyncio.wait_for(layer.receive(channel), 5)
    assert message == {"type": "realtime.event", "event": {"type": "event", "event": "ended"}}
    await layer.group_discard("conv.test", channel)


@pytest.mark.django_db(transaction=True)
async def test_events_from_outside_a_server_arrive_in_the_order_they_were_published():
    # Celery tasks and scripts hand events to the process's background loop without waiting
    # for Redis; they still arrive in order, and flush() waits for them (as at exit).
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("conv.order", channel)

    def publish_from_a_plain_thread():
        for n in range(50):
            realtime.publish_now(groups=["conv.order"], event={"type": "event", "n": n})
        realtime.flush()

    await asyncio.get_running_loop().run_in_executor(None, publish_from_a_plain_thread)
    received = [(await asyncio.wait_for(layer.receive(channel), 5))["event"]["n"] for _ in range(50)]
    assert received == list(range(50))
    await layer.group_discard("conv.order", channel)

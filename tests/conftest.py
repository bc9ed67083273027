"""Shared fixtures: personas (agent, supervisor, outsider agent) and the roles they hold."""

from __future__ import annotations

import asyncio
import inspect
import warnings

import pytest
from django.apps import apps

from routing.roles import sync_roles
from routing.services import presence_set
from tests.factories import AgentProfileFactory, QueueFactory, QueueMembershipFactory, UserFactory, WidgetFactory


@pytest.fixture
def roles(db):
    # Transactional tests flush the data migrations' rows; put the roles back.
    sync_roles(apps)


@pytest.fixture
def queue(db):
    """A queue open around the clock."""
    return QueueFactory(name="Housing advice", always_open=True)


@pytest.fixture
def widget(queue):
    return WidgetFactory(key="housing", queue=queue, title="Housing advice")


@pytest.fixture
def ready_agent(agent):
    """`agent`, ready for chats."""
    presence_set(agent=agent, presence="ready")
    agent.refresh_from_db()
    return agent


@pytest.fixture
def agent(roles, queue):
    """An agent logged on to `queue`."""
    return QueueMembershipFactory(queue=queue, agent__user__username="aino", agent__user__first_name="Aino").agent


@pytest.fixture
def outsider_agent(roles):
    """An agent of another queue: must never see `queue`'s work."""
    return QueueMembershipFactory(agent__user__username="olli").agent


@pytest.fixture
def supervisor(roles):
    user = UserFactory(username="sanna", roles=["Supervisor"])
    AgentProfileFactory(user=user)
    return user


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    yield
    # Connections opened in sync_to_async threads outlive their tests; end them so the test
    # database can be dropped.
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def fresh_rate_counts():
    """Rate-limit counts are Redis keys shared by the whole run, and every test client calls
    from one address: each test starts with none, so no test is refused for another's calls."""
    from contactcenter.redis_client import get_redis
    from contactcenter.redis_client import key as redis_key

    yield
    client = get_redis()
    for name in client.scan_iter(match=redis_key("rate", "*")):
        client.delete(name)


@pytest.fixture
def stand_ins():
    """Every channel's handler records what the router told it instead of acting: for tests
    that need work items only, not the conversations behind them."""
    from routing import handlers
    from routing.models import Channel
    from tests.routing.voice_stand_in import RecordingVoice

    previous = {channel: handlers.register(channel, RecordingVoice()) for channel in Channel.values}
    yield
    for channel, handler in previous.items():
        handlers.register(channel, handler)


@pytest.fixture
def own_redis(settings, tmp_path):
    """A Redis of the test's own behind the channel layer, so that it can be crashed."""
    from tests.processes import RedisServer

    redis = RedisServer(tmp_path)
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "contactcenter.channel_layer.RealtimeChannelLayer",
            "CONFIG": {"hosts": [redis.url], "prefix": "own-redis"},
        }
    }
    yield redis
    redis.stop()


def pytest_collection_modifyitems(items):
    # First set up, so last torn down: after every other fixture of an async test.
    for item in items:
        if inspect.iscoroutinefunction(getattr(item, "obj", None)) and "leftover_tasks_ended" not in item.fixturenames:
            item.fixturenames.insert(0, "leftover_tasks_ended")


@pytest.fixture
async def leftover_tasks_ended():
    """End the tasks an async test leaves behind (consumers, channel-layer receivers, the
    publishers) while its loop still runs. The loop's own close cancels each task once and
    waits for ever; a task that swallows that one cancel (a cleanup that awaits Redis inside
    `except CancelledError`) hung a whole CI run. Here a task is cancelled again until it ends."""
    yield
    current = asyncio.current_task()
    stubborn = []
    for attempt in range(20):
        pending = [task for task in asyncio.all_tasks() if task is not current and not task.done()]
        if not pending:
            break
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=0.5)
        if attempt == 1:
            stubborn = [task for task in pending if not task.done()]
    if stubborn:
        warnings.warn(f"tasks needed more than one cancel: {[t.get_coro() for t in stubborn]}", stacklevel=1)

"""Lists: limit/offset pages, filters and orderings on an allowlist, and queries that do
not grow with the page."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat import services
from chat.models import Conversation
from routing.models import AgentSkill, QueueSkill, Skill
from routing.services import presence_set
from tests.api.personas import assert_error_shape
from tests.factories import QueueFactory, QueueMembershipFactory, WidgetFactory

HELSINKI = zoneinfo.ZoneInfo("Europe/Helsinki")


def started(widget, *, day: int, hour: int = 12, ended: bool = False) -> Conversation:
    conversation, _token = services.conversation_start(widget=widget, prechat={})
    at = datetime.datetime(2026, 3, day, hour, tzinfo=HELSINKI)
    changes = {"created_at": at}
    if ended:
        changes.update(state=Conversation.State.ENDED, ended_at=at + datetime.timedelta(minutes=10))
    Conversation.objects.filter(pk=conversation.pk).update(**changes)
    return conversation


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["conversation_id"] for item in response.json()["results"]]


@pytest.mark.django_db
def test_conversations_come_in_pages(api_for, supervisor, widget):
    made = [str(started(widget, day=day).pk) for day in range(1, 6)]
    newest_first = made[::-1]
    client = api_for(supervisor)
    first = client.get("/api/v1/conversations?limit=2").json()
    assert [c["conversation_id"] for c in first["results"]] == newest_first[:2]
    assert first["previous"] is None
    assert "offset=2" in first["next"]
    second = client.get(first["next"]).json()
    assert [c["conversation_id"] for c in second["results"]] == newest_first[2:4]
    assert second["previous"]
    last = client.get(second["next"]).json()
    assert [c["conversation_id"] for c in last["results"]] == newest_first[4:]
    assert last["next"] is None
    assert set(client.get("/api/v1/conversations").json()) == {"results", "next", "previous"}
    for bad in ("limit=0", "limit=201", "offset=-1", "limit=many"):
        response = client.get(f"/api/v1/conversations?{bad}")
        assert response.status_code == 400, bad
        assert_error_shape(response)
        assert list(response.json()["fields"]) == [bad.split("=")[0]]


@pytest.mark.django_db
def test_conversations_are_ordered_only_as_allowed(api_for, supervisor, widget):
    early = started(widget, day=1, ended=True)
    middle = started(widget, day=2)
    late = started(widget, day=3, ended=True)
    client = api_for(supervisor)
    assert ids(client.get("/api/v1/conversations")) == [str(c.pk) for c in (late, middle, early)]
    assert ids(client.get("/api/v1/conversations?ordering=-started_at")) == [str(c.pk) for c in (late, middle, early)]
    assert ids(client.get("/api/v1/conversations?ordering=started_at")) == [str(c.pk) for c in (early, middle, late)]
    # Open chats have no end yet: last either way.
    assert ids(client.get("/api/v1/conversations?ordering=ended_at")) == [str(c.pk) for c in (early, late, middle)]
    assert ids(client.get("/api/v1/conversations?ordering=-ended_at")) == [str(c.pk) for c in (late, early, middle)]
    for refused in ("ordering=customer__name", "ordering=state", "sort=started_at", "order_by=-pk"):
        response = client.get(f"/api/v1/conversations?{refused}")
        assert response.status_code == 400, refused
        assert_error_shape(response)


@pytest.mark.django_db
def test_conversations_are_filtered_only_as_allowed(api_for, supervisor, agent, widget):
    other_widget = WidgetFactory(queue=QueueFactory())
    first = started(widget, day=1, ended=True)
    second = started(widget, day=2)
    elsewhere = started(other_widget, day=3)
    Conversation.objects.filter(pk=first.pk).update(agent=agent.user)
    client = api_for(supervisor)
    assert ids(client.get("/api/v1/conversations?state=ended")) == [str(first.pk)]
    assert ids(client.get(f"/api/v1/conversations?queue={other_widget.queue_id}")) == [str(elsewhere.pk)]
    assert ids(client.get(f"/api/v1/conversations?agent={agent.user_id}")) == [str(first.pk)]
    assert ids(client.get("/api/v1/conversations?from=2026-03-02&to=2026-03-02")) == [str(second.pk)]
    assert ids(client.get("/api/v1/conversations?from=2026-03-02")) == [str(elsewhere.pk), str(second.pk)]
    assert ids(client.get("/api/v1/conversations?mine=1")) == []
    for refused, field in [
        ("state=lost", "state"),
        ("queue=x", "queue"),
        ("from=2026-03-03&to=2026-03-01", "to"),
        ("from=3.3.2026", "from"),
        ("customer=Matti", "customer"),
        ("contact__name=Matti", "contact__name"),
    ]:
        response = client.get(f"/api/v1/conversations?{refused}")
        assert response.status_code == 400, refused
        assert_error_shape(response)
        assert field in response.json()["fields"], refused


@pytest.mark.django_db
def test_the_conversation_list_costs_the_same_for_ten_as_for_two(api_for, agent, widget):
    client = api_for(agent.user)
    for day in (1, 2):
        started(widget, day=day)
    client.get("/api/v1/conversations")  # the user's permissions are read once, then kept
    with CaptureQueriesContext(connection) as few:
        assert len(ids(client.get("/api/v1/conversations"))) == 2
    for day in range(3, 11):
        started(widget, day=day)
    with CaptureQueriesContext(connection) as many:
        assert len(ids(client.get("/api/v1/conversations"))) == 10
    assert len(many) == len(few)


@pytest.mark.django_db
def test_queues_show_their_state_now(api_for, agent, outsider_agent, supervisor, queue):
    closed = QueueFactory(name="Closed queue", always_open=False, priority=9, channels=["chat", "voice"])
    QueueMembershipFactory(agent=agent, queue=closed, logged_on=False)
    skill = Skill.objects.create(name="Finnish")
    QueueSkill.objects.create(queue=queue, skill=skill, min_level=3)
    body = api_for(agent.user).get("/api/v1/queues").json()
    assert [(q["name"], q["open_now"], q["logged_on"]) for q in body["results"]] == [
        ("Closed queue", False, False),
        ("Housing advice", True, True),
    ]
    housing = body["results"][1]
    assert housing["required_skills"] == [{"id": skill.pk, "name": "Finnish", "min_level": 3}]
    assert {"channels", "priority", "service_level_target_seconds", "time_zone"} <= set(housing)
    by_priority = api_for(agent.user).get("/api/v1/queues?ordering=-priority").json()["results"]
    assert [q["name"] for q in by_priority] == ["Closed queue", "Housing advice"]
    voice = api_for(agent.user).get("/api/v1/queues?channel=voice").json()["results"]
    assert [q["name"] for q in voice] == ["Closed queue"]
    assert api_for(agent.user).get("/api/v1/queues?ordering=time_zone").status_code == 400
    # Supervisors see every queue; the outsider only their own.
    everyone = {q["name"] for q in api_for(supervisor).get("/api/v1/queues?limit=200").json()["results"]}
    assert {"Closed queue", "Housing advice", outsider_agent.queues.get().name} <= everyone
    assert [q["name"] for q in api_for(outsider_agent.user).get("/api/v1/queues").json()["results"]] == [
        outsider_agent.queues.get().name
    ]
    detail = api_for(agent.user).get(f"/api/v1/queues/{closed.pk}").json()
    assert (detail["open_now"], detail["logged_on"], detail["channels"]) == (False, False, ["chat", "voice"])


@pytest.mark.django_db
def test_agents_see_themselves_and_supervisors_everyone(api_for, agent, outsider_agent, supervisor, queue):
    skill = Skill.objects.create(name="Swedish")
    AgentSkill.objects.create(agent=agent, skill=skill, level=7)
    presence_set(agent=agent, presence="away", reason="Lunch")
    mine = api_for(agent.user).get("/api/v1/agents").json()["results"]
    assert [a["username"] for a in mine] == ["aino"]
    [me] = mine
    assert (me["presence"], me["reason"], me["chat_capacity"]) == ("away", "Lunch", 3)
    assert me["queues"] == [
        {"id": queue.pk, "name": "Housing advice", "logged_on": True, "chat_priority": 1, "call_priority": 1}
    ]
    assert me["skills"] == [{"id": skill.pk, "name": "Swedish", "level": 7}]
    assert me["user_id"] == agent.user_id
    client = api_for(supervisor)
    assert [a["username"] for a in client.get("/api/v1/agents").json()["results"]] == ["aino", "olli", "sanna"]
    assert [a["username"] for a in client.get("/api/v1/agents?presence=away").json()["results"]] == ["aino"]
    assert [a["username"] for a in client.get(f"/api/v1/agents?queue={queue.pk}").json()["results"]] == ["aino"]
    assert [a["username"] for a in client.get("/api/v1/agents?ordering=-username&limit=1").json()["results"]] == [
        "sanna"
    ]
    for refused in ("ordering=password", "user__is_superuser=true", "presence=sleeping"):
        response = client.get(f"/api/v1/agents?{refused}")
        assert response.status_code == 400, refused
        assert_error_shape(response)
    assert api_for(agent.user).get(f"/api/v1/agents/{outsider_agent.pk}").status_code == 404
    assert client.get(f"/api/v1/agents/{outsider_agent.pk}").json()["username"] == "olli"


@pytest.mark.django_db
def test_agent_and_queue_lists_cost_the_same_for_many(api_for, supervisor, queue):
    client = api_for(supervisor)

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    queries("/api/v1/skills")  # the user's permissions are read once, then kept
    before = (queries("/api/v1/agents"), queries("/api/v1/queues"))
    skill = Skill.objects.create(name="Russian")
    for _n in range(4):
        membership = QueueMembershipFactory(queue=QueueFactory())
        AgentSkill.objects.create(agent=membership.agent, skill=skill)
        QueueSkill.objects.create(queue=membership.queue, skill=skill)
    assert (queries("/api/v1/agents"), queries("/api/v1/queues")) == before


@pytest.mark.django_db
def test_skills_are_listed_by_name(api_for, agent):
    for name in ("Swedish", "Finnish", "English"):
        Skill.objects.create(name=name)
    body = api_for(agent.user).get("/api/v1/skills?limit=2").json()
    assert [s["name"] for s in body["results"]] == ["English", "Finnish"]
    assert body["next"]
    assert api_for(agent.user).get("/api/v1/skills?ordering=name").status_code == 400

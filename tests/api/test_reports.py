"""Report figures as JSON: the page's filters and its rule, agents see only their own."""

from __future__ import annotations

import datetime
import uuid
import zoneinfo

import pytest

from reports import tables
from reports.forms import ReportFilterForm
from reports.models import ContactRecord
from tests.api.personas import assert_error_shape

HELSINKI = zoneinfo.ZoneInfo("Europe/Helsinki")
PERIOD = "from=2026-03-01&to=2026-03-31&tz=Europe/Helsinki"


def record(queue, agent=None, *, day: int, hour: int = 10) -> ContactRecord:
    started = datetime.datetime(2026, 3, day, hour, tzinfo=HELSINKI)
    answered = started + datetime.timedelta(seconds=30) if agent else None
    return ContactRecord.objects.create(
        queue=queue,
        channel="chat",
        reference=str(uuid.uuid4()),
        agent=agent,
        started_at=started,
        answered_at=answered,
        ended_at=started + datetime.timedelta(minutes=5),
        abandoned=agent is None,
        target_seconds=60,
    )


@pytest.fixture
def history(agent, outsider_agent, queue):
    other_queue = outsider_agent.queues.get()
    for day in (2, 3, 3):
        record(queue, agent.user, day=day)
    record(queue, None, day=4)
    for day in (5, 6):
        record(other_queue, outsider_agent.user, day=day)
    return other_queue


def kpi(body: dict, key: str):
    return {figure["key"]: figure["value"] for figure in body["kpis"]}[key]


@pytest.mark.django_db
def test_an_agent_gets_their_own_figures_and_a_supervisor_anyones(api_for, agent, outsider_agent, supervisor, history):
    mine = api_for(agent.user).get(f"/api/v1/reports/kpis?{PERIOD}").json()
    assert mine["filters"]["agent"] == agent.user_id
    assert (kpi(mine, "offered"), kpi(mine, "answered")) == (3, 3)
    assert {"key", "label", "value", "unit"} == set(mine["kpis"][0])

    every = api_for(supervisor).get(f"/api/v1/reports/kpis?{PERIOD}").json()
    assert every["filters"]["agent"] is None
    assert (kpi(every, "offered"), kpi(every, "answered"), kpi(every, "abandoned")) == (6, 5, 1)
    olli = api_for(supervisor).get(f"/api/v1/reports/kpis?{PERIOD}&agent={outsider_agent.user_id}").json()
    assert kpi(olli, "offered") == 2

    # Asking for someone else's figures is no filter an agent has.
    refused = api_for(agent.user).get(f"/api/v1/reports/kpis?{PERIOD}&agent={outsider_agent.user_id}")
    assert refused.status_code == 400
    assert_error_shape(refused)
    assert list(refused.json()["fields"]) == ["agent"]


@pytest.mark.django_db
def test_tables_as_json_with_totals(api_for, agent, outsider_agent, supervisor, history):
    mine = api_for(agent.user).get(f"/api/v1/reports/tables/agent_month?{PERIOD}").json()
    assert mine["key"] == "agent_month"
    assert mine["columns"] == ["03.26"]
    assert mine["rows"] == [{"label": "aino", "cells": [3], "total": 3}]
    assert (mine["column_totals"], mine["total"]) == ([3], 3)

    every = api_for(supervisor).get(f"/api/v1/reports/tables/agent_month?{PERIOD}").json()
    assert [row["label"] for row in every["rows"]] == ["aino", "olli"]
    assert every["total"] == 5

    days = api_for(supervisor).get(f"/api/v1/reports/tables/hour_day?{PERIOD}").json()
    assert days["columns"] == ["2.3", "3.3", "4.3", "5.3", "6.3"]
    assert days["rows"] == [{"label": "10", "cells": [1, 2, 1, 1, 1], "total": 6}]
    queue_rows = api_for(supervisor).get(f"/api/v1/reports/tables/queue_month?{PERIOD}").json()["rows"]
    assert sorted(row["total"] for row in queue_rows) == [2, 4]

    # The same figures as the report page's own table for the same filters.
    form = ReportFilterForm(
        {"date_from": "2026-03-01", "date_to": "2026-03-31", "tz": "Europe/Helsinki"}, user=supervisor
    )
    assert form.is_valid()
    page = tables.build("hour_month", form.filters())
    body = api_for(supervisor).get(f"/api/v1/reports/tables/hour_month?{PERIOD}").json()
    assert body["rows"] == [{"label": label, "cells": cells, "total": total} for label, cells, total in page.body()]


@pytest.mark.django_db
def test_report_filters_are_checked(api_for, client, agent, outsider_agent, staff, history):
    client = api_for(outsider_agent.user)
    for query, field in [
        (f"queue={agent.queues.get().pk}", "queue"),  # not one of theirs
        ("from=2026-13-01", "from"),
        ("tz=Mars/Olympus", "tz"),
        ("channel=fax", "channel"),
        ("group_by=agent", "group_by"),
    ]:
        response = client.get(f"/api/v1/reports/kpis?{query}")
        assert response.status_code == 400, query
        assert_error_shape(response)
        assert field in response.json()["fields"], query
    backwards = client.get("/api/v1/reports/kpis?from=2026-03-10&to=2026-03-01")
    assert backwards.status_code == 400
    assert backwards.json()["message"] == "The end date is before the start date."
    unknown = client.get("/api/v1/reports/tables/per_weekday")
    assert (unknown.status_code, unknown.json()["error"]) == (404, "not_found")
    # Someone signed in who does not work here gets no figures (as on the page).
    assert api_for(staff).get("/api/v1/reports/kpis").status_code == 403
    client.force_login(staff)
    assert client.get("/reports/").status_code == 403

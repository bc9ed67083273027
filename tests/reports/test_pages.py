"""The report page, its exports, the console's history import, the command-line tables and
the monthly e-mail over real SMTP."""

import datetime
import io
import zoneinfo

import openpyxl
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from reports import monthly
from reports.importer import HEADER
from reports.models import ContactRecord, MonthlyReportSent
from tests.factories import AgentProfileFactory
from tests.smtp import SmtpServer

HELSINKI = zoneinfo.ZoneInfo("Europe/Helsinki")


def contact(queue, agent=None, *, day=datetime.date(2026, 10, 5), hour=10, **values):
    started = datetime.datetime(day.year, day.month, day.day, hour, 0, tzinfo=HELSINKI)
    answered = None if values.get("abandoned") else started + datetime.timedelta(seconds=20)
    return ContactRecord.objects.create(
        queue=queue, agent=agent, channel="chat", reference=f"{queue.pk}-{ContactRecord.objects.count()}",
        started_at=started, answered_at=answered, ended_at=started + datetime.timedelta(minutes=5),
        target_seconds=60, **values,
    )  # fmt: skip


@pytest.fixture
def october(queue, agent):
    other = AgentProfileFactory(user__username="bo")
    for hour in (9, 10, 10, 11):
        contact(queue, agent.user, hour=hour)
    contact(queue, other.user, hour=13)
    contact(queue, hour=14, abandoned=True)
    return {"date_from": "2026-10-01", "date_to": "2026-10-31", "tz": "Europe/Helsinki"}


@pytest.mark.django_db
def test_supervisors_see_every_table_kpi_and_chart(client, supervisor, october):
    client.force_login(supervisor)
    page = client.get(reverse("reports"), october).content.decode()
    assert page.count('<svg class="chart"') == 3
    assert "Contacts per hour and day" in page
    assert "Answered per agent and month" in page
    assert '<td class="total">6</td>' in page  # every contact in the grand total
    assert "aino" in page
    assert "bo" in page


@pytest.mark.django_db
def test_agents_see_only_their_own_figures(client, agent, october):
    client.force_login(agent.user)
    page = client.get(reverse("reports"), october).content.decode()
    assert '<td class="total">4</td>' in page
    assert '<td class="total">6</td>' not in page
    assert ">bo<" not in page
    assert 'name="agent"' not in page  # no choosing other agents


@pytest.mark.django_db
def test_bad_filters_are_refused_with_a_clear_error(client, supervisor, october):
    client.force_login(supervisor)
    for bad in ({"date_to": "2026-09-01"}, {"tz": "Mars/Olympus"}, {"date_from": "yesterday"}, {"queue": "999999"}):
        response = client.get(reverse("reports"), {**october, **bad})
        assert response.status_code == 400, bad
        assert 'class="error"' in response.content.decode()
    assert client.get(reverse("reports"), {**october, "export": "pdf", "table": "hour_day"}).status_code == 400
    assert client.get(reverse("reports"), {**october, "export": "csv", "table": "secrets"}).status_code == 400


@pytest.mark.django_db
def test_tables_and_kpis_export_to_csv_and_excel(client, supervisor, october):
    client.force_login(supervisor)
    csv_response = client.get(reverse("reports"), {**october, "export": "csv", "table": "hour_day"})
    assert csv_response["Content-Disposition"] == 'attachment; filename="hour_day-20261001-20261031.csv"'
    lines = csv_response.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "Hour,5.10,Total"
    assert lines[-1] == "Total,6,6"
    xlsx = client.get(reverse("reports"), {**october, "export": "xlsx", "table": "agent_month"})
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0] == ["Agent", "10.26", "Total"]
    assert rows[1:] == [["aino", 4, 4], ["bo", 1, 1], ["Total", 5, 5]]
    kpis = client.get(reverse("reports"), {**october, "export": "csv", "table": "kpis"}).content.decode("utf-8-sig")
    assert "Offered,6," in kpis
    assert "Abandoned,1," in kpis


@pytest.mark.django_db
def test_the_console_imports_history_all_or_nothing(admin_client):
    url = reverse("admin:reports_contactrecord_import_history")
    good = ",".join(HEADER) + "\n2026-10-05T10:00:00+03:00,2026-10-05T10:00:30+03:00,,Old queue,old.agent,chat,false\n"
    bad = good + "2026-10-05T10:00:00,,,Old queue,,chat,true\n"
    response = admin_client.post(url, {"file": io.BytesIO(bad.encode()), "dry_run": ""}, format="multipart")
    assert response.status_code == 400
    assert "Line 3" in response.content.decode()
    assert not ContactRecord.objects.exists()
    response = admin_client.post(url, {"file": io.BytesIO(good.encode())})
    assert response.status_code == 302
    assert ContactRecord.objects.get().agent.username == "old.agent"
    assert admin_client.get(reverse("admin:reports_contactrecord_changelist")).status_code == 200


@pytest.mark.django_db
def test_the_report_command_writes_csv_and_excel(tmp_path, capsys, october, queue):
    call_command("report", "hour_month", "--from", "2026-10-01", "--to", "2026-10-31", "--tz", "Europe/Helsinki")
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Hour,10.26,Total"
    assert out[-1] == "Total,6,6"
    target = tmp_path / "agents.xlsx"
    call_command("report", "agent_month", "--from", "2026-10-01", "--to", "2026-10-31", "--queue", queue.name,
                 "--format", "xlsx", "--output", str(target))  # fmt: skip
    assert openpyxl.load_workbook(target).active["A2"].value == "aino"
    with pytest.raises(CommandError):
        call_command("report", "hour_day", "--from", "2026-10-31", "--to", "2026-10-01")
    with pytest.raises(CommandError):
        call_command("report", "hour_day", "--from", "2026-10-01", "--to", "2026-10-31", "--queue", "Nope")


@pytest.mark.django_db
def test_the_import_command_reports_bad_lines(tmp_path, capsys):
    path = tmp_path / "history.csv"
    path.write_text(",".join(HEADER) + "\nnot a time,,,Q,,chat,false\n")
    with pytest.raises(CommandError):
        call_command("import_history", str(path))
    assert "history.csv:2:" in capsys.readouterr().err
    path.write_text(",".join(HEADER) + "\n2026-10-05T10:00:00+03:00,,2026-10-05T10:01:00+03:00,Q,,voice,true\n")
    call_command("import_history", str(path))
    assert ContactRecord.objects.get().channel == "voice"


@pytest.mark.django_db
def test_the_monthly_report_goes_to_supervisors_once(settings, supervisor, queue, agent):
    supervisor.email = "sanna@example.fi"
    supervisor.save()
    contact(queue, agent.user, day=datetime.date(2026, 10, 20))
    with SmtpServer() as smtp:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        assert monthly.monthly_report_send(today=datetime.date(2026, 11, 1)) is True
        assert monthly.monthly_report_send(today=datetime.date(2026, 11, 1)) is False  # once
        [mail] = smtp.inbox.messages
    assert mail["X-Envelope-To"] == "sanna@example.fi"
    assert "10/2026" in mail["Subject"]
    [attachment] = [part for part in mail.walk() if part.get_filename()]
    book = openpyxl.load_workbook(io.BytesIO(attachment.get_payload(decode=True)))
    assert len(book.sheetnames) == 5
    assert MonthlyReportSent.objects.get().recipients == 1
    assert monthly.previous_month(datetime.date(2026, 1, 1)) == datetime.date(2025, 12, 1)


@pytest.mark.django_db
def test_quality_scores_appear_in_the_agent_reports(client, supervisor, widget, agent):
    from django.utils import timezone

    from quality import services as quality
    from quality.models import ReviewForm, ReviewItem
    from routing import services as routing
    from tests.quality.conftest import ended_chat

    routing.presence_set(agent=agent, presence="ready")
    form = ReviewForm.objects.create(name="Basics")
    item = ReviewItem.objects.create(form=form, order=1, text="Greets the customer", max_score=5, pass_score=3)
    conversation = ended_chat(widget, agent)
    quality.review_submit(conversation_id=conversation.pk, reviewer=supervisor, form_id=form.pk,
                          scores={item.pk: 4}, notes={}, comment="Good")  # fmt: skip
    today = timezone.localdate().isoformat()
    client.force_login(supervisor)
    page = client.get(reverse("reports"), {"date_from": today, "date_to": today}).content.decode()
    assert "Quality reviews per agent" in page
    assert "<td>80.0</td>" in page
    client.force_login(agent.user)
    own = client.get(reverse("reports"), {"date_from": today, "date_to": today, "export": "csv", "table": "quality"})
    assert own.content.decode("utf-8-sig").splitlines()[1] == "aino,1,80.0,0"

"""The report page in Chromium: a supervisor sees the chart and downloads the Excel file."""

import datetime
import io
import re
import zoneinfo

import openpyxl
import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from reports.models import ContactRecord
from routing.models import Queue

pytestmark = pytest.mark.browser


def test_a_supervisor_sees_the_charts_and_downloads_excel(asgi_server, page):
    call_command("load_demo")
    queue = Queue.objects.get(name="Demo support")
    helsinki = zoneinfo.ZoneInfo("Europe/Helsinki")
    for n, hour in enumerate((9, 10, 10, 13)):
        started = datetime.datetime(2026, 10, 5 + n, hour, 15, tzinfo=helsinki)
        ContactRecord.objects.create(
            queue=queue, channel="chat", reference=f"e2e-{n}", started_at=started, target_seconds=60,
            answered_at=started + datetime.timedelta(seconds=30), ended_at=started + datetime.timedelta(minutes=6),
        )  # fmt: skip

    page.goto(asgi_server.url + "/accounts/login/")
    page.get_by_label("Username").fill("supervisor")
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/workspace/$"))
    page.get_by_role("link", name="Reports").click()
    page.get_by_label("From").fill("2026-10-01")
    page.get_by_label("To").fill("2026-10-31")
    page.get_by_label("Time zone").fill("Europe/Helsinki")
    page.get_by_role("button", name="Show").click()

    expect(page.get_by_role("img", name="Contacts per day")).to_be_visible()
    expect(page.get_by_role("img", name="Contacts by weekday and hour")).to_be_visible()
    hour_day = page.get_by_role("region", name="Contacts per hour and day")
    expect(hour_day.locator("tfoot .total")).to_have_text("4")

    with page.expect_download() as download_info:
        page.locator('[data-export="hour_month"]').click()
    download = download_info.value
    assert download.suggested_filename == "hour_month-20261001-20261031.xlsx"
    sheet = openpyxl.load_workbook(io.BytesIO(open(download.path(), "rb").read())).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0] == ["Hour", "10.26", "Total"]
    assert rows[1:] == [["09", 1, 1], ["10", 2, 2], ["11", 0, 0], ["12", 0, 0], ["13", 1, 1], ["Total", 4, 4]]

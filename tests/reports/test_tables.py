"""The Helsinki deck's three tables (../shared/seeds/000_*.txt), rebuilt cell by cell and
total by total from imported rows; time zones, DST and midnight; the importer's checks."""

import csv
import datetime
import io
import zoneinfo
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from reports import tables
from reports.importer import HEADER, import_history
from reports.models import ContactRecord
from routing.models import Queue

HELSINKI = zoneinfo.ZoneInfo("Europe/Helsinki")

# Copied from the deck, tabs and all: hours (or agents) × days (or months), then "Yht".
JULY_2018, MONTHS_2017_2018, AGENTS = (
    (Path(__file__).parent / "data" / "helsinki_tables.tsv").read_text().strip("\n").split("\n\n")
)


def parse(text):
    lines = text.split("\n")
    columns = lines[0].split("\t")[1:-1]
    body = {}
    for line in lines[1:-1]:
        cells = line.split("\t")
        body[cells[0]] = ([int(c) if c.strip() else 0 for c in cells[1:-1]], int(cells[-1]))
    totals = [int(c) for c in lines[-1].split("\t")[1:]]
    return columns, body, totals[:-1], totals[-1]


def month_of(label):
    month, year = label.split(".")
    return 2000 + int(year), int(month)


def rows_for(queue, at_times, agent=""):
    for started in at_times:
        answered = started + datetime.timedelta(seconds=40)
        ended = answered + datetime.timedelta(minutes=7)
        yield [started.isoformat(), answered.isoformat(), ended.isoformat(), queue, agent, "chat", "false"]


def deck_csv():
    """Contacts that make the deck's tables: July 2018 by day, other months on the 15th."""
    lines = [HEADER]
    columns, body, _, _ = parse(JULY_2018)
    for hour, (cells, _total) in body.items():
        for day_label, count in zip(columns, cells, strict=True):
            day, month = (int(x) for x in day_label.split("."))
            times = [datetime.datetime(2018, month, day, int(hour), 5 + n, tzinfo=HELSINKI) for n in range(count)]
            lines += rows_for("Asumisneuvonta", times)
    columns, body, _, _ = parse(MONTHS_2017_2018)
    for hour, (cells, _total) in body.items():
        for label, count in zip(columns, cells, strict=True):
            if label == "07.18":
                continue  # July 2018 is in the daily table above
            year, month = month_of(label)
            times = [datetime.datetime(year, month, 15, int(hour), n, tzinfo=HELSINKI) for n in range(count)]
            lines += rows_for("Asumisneuvonta", times)
    columns, body, _, _ = parse(AGENTS)
    for agent, (cells, _total) in body.items():
        for label, count in zip(columns, cells, strict=True):
            year, month = month_of(label)
            times = [datetime.datetime(year, month, 3, 10, n, tzinfo=HELSINKI) for n in range(count)]
            lines += rows_for("Asumisneuvonta, agentit", times, agent=agent)
    out = io.StringIO()
    csv.writer(out).writerows(lines)
    return out.getvalue()


def filters(date_from, date_to, queue, tz=HELSINKI):
    return tables.Filters(date_from=date_from, date_to=date_to, tz=tz, queue_ids=(Queue.objects.get(name=queue).pk,))


def assert_same(table, text, *, columns=None):
    deck_columns, body, column_totals, total = parse(text)
    shown = table.columns
    picked = [shown.index(c) for c in (columns or deck_columns)]
    ours = {label: cells for label, cells in table.rows}
    for label, (cells, row_total) in body.items():
        if label not in ours:
            assert sum(cells) == 0, label  # the deck lists a row of zeros; we list rows with contacts
            continue
        assert [ours[label][i] for i in picked] == cells, label
        assert sum(ours[label]) == row_total, label
    assert [table.column_totals[i] for i in picked] == column_totals
    assert table.total == total


@pytest.mark.django_db
def test_the_helsinki_tables_come_out_exactly():
    result = import_history(io.StringIO(deck_csv()))
    assert result.ok, result.errors[:3]
    assert result.created == 932 + 74
    assert set(result.new_queues) == {"Asumisneuvonta", "Asumisneuvonta, agentit"}
    assert not Queue.objects.get(name="Asumisneuvonta").is_active  # created inactive

    july = tables.hour_day(
        filters(datetime.date(2018, 7, 1), datetime.date(2018, 7, 31), "Asumisneuvonta"), hours=(9, 15)
    )
    assert july.columns == parse(JULY_2018)[0]
    assert_same(july, JULY_2018)

    months = tables.hour_month(filters(datetime.date(2017, 1, 1), datetime.date(2018, 7, 31), "Asumisneuvonta"))
    assert months.columns == parse(MONTHS_2017_2018)[0]
    assert_same(months, MONTHS_2017_2018)

    agents = tables.agent_month(
        filters(datetime.date(2016, 10, 1), datetime.date(2018, 8, 31), "Asumisneuvonta, agentit")
    )
    assert_same(agents, AGENTS, columns=["10.16", "11.16", "12.16", "08.18"])
    assert {user.is_active for user in get_user_model().objects.filter(username__startswith="ASUMIS")} == {False}

    exported = july.dataset()
    assert exported.headers[0] == "Hour"
    assert exported.headers[-1] == "Total"
    assert exported[-1][-1] == 14

    again = import_history(io.StringIO(deck_csv()))  # the same file twice changes nothing
    assert (again.created, again.already_there) == (0, 932 + 74)


@pytest.mark.django_db
def test_hours_follow_the_viewers_time_zone_through_dst_and_midnight():
    text = "\n".join([
        ",".join(HEADER),
        # The night clocks went forward in Finland: 02:30 (+02:00) and 04:30 (+03:00) local.
        "2018-03-25T02:30:00+02:00,2018-03-25T02:31:00+02:00,2018-03-25T02:40:00+02:00,Night,,chat,false",
        "2018-03-25T04:30:00+03:00,2018-03-25T04:31:00+03:00,2018-03-25T04:40:00+03:00,Night,,chat,false",
        # A chat from 23:50 to 00:20 counts at 23 on the day it started.
        "2018-03-26T23:50:00+03:00,2018-03-26T23:51:00+03:00,2018-03-27T00:20:00+03:00,Night,,chat,false",
        # Left before an agent answered.
        "2018-03-26T23:55:00+03:00,,2018-03-26T23:58:00+03:00,Night,,chat,true",
    ]) + "\n"  # fmt: skip
    assert import_history(io.StringIO(text)).ok
    local = tables.hour_day(filters(datetime.date(2018, 3, 25), datetime.date(2018, 3, 27), "Night"))
    assert local.columns == ["25.3", "26.3"]
    assert dict(local.rows)["02"] == [1, 0]
    assert dict(local.rows)["04"] == [1, 0]
    assert dict(local.rows)["23"] == [0, 2]
    assert "03" in dict(local.rows)
    assert dict(local.rows)["03"] == [0, 0]
    utc = tables.hour_day(filters(datetime.date(2018, 3, 25), datetime.date(2018, 3, 27), "Night", tz=datetime.UTC))
    assert dict(utc.rows)["00"] == [1, 0]
    assert dict(utc.rows)["01"] == [1, 0]
    assert dict(utc.rows)["20"] == [0, 2]
    assert ContactRecord.objects.filter(abandoned=True).count() == 1


@pytest.mark.django_db
def test_bad_rows_are_reported_by_line_and_nothing_is_imported():
    text = "\n".join([
        ",".join(HEADER),
        "2018-03-25T10:00:00+02:00,2018-03-25T10:01:00+02:00,2018-03-25T10:09:00+02:00,Good,aino,chat,false",
        "2018-03-25T10:00:00,2018-03-25T10:01:00+02:00,,Bad,,chat,false",
        "yesterday,,,Bad,,chat,true",
        "2018-03-25T10:00:00+02:00,2018-03-25T09:00:00+02:00,,Bad,,chat,false",
        "2018-03-25T10:00:00+02:00,,,Bad,,fax,true",
        "2018-03-25T10:00:00+02:00,,,Bad,,chat,maybe",
        "2018-03-25T10:00:00+02:00,2018-03-25T10:01:00+02:00,,Bad,olli,chat,true",
        "2018-03-25T10:00:00+02:00,,,Bad,,chat,false",
        "2018-03-25T10:00:00+02:00,,,,,chat,true",
        "2018-03-25T10:00:00+02:00,,chat,true",
    ]) + "\n"  # fmt: skip
    result = import_history(io.StringIO(text))
    assert [line for line, _ in result.errors] == [3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert "UTC offset" in result.errors[0][1]
    assert not ContactRecord.objects.exists()
    assert not Queue.objects.filter(name__in=["Good", "Bad"]).exists()
    assert not get_user_model().objects.filter(username="aino").exists()
    wrong_header = import_history(io.StringIO("start,end\n1,2\n"))
    assert wrong_header.errors[0][0] == 1

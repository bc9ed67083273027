"""bench_setup, the data of bench/chat_load.py: between two loads it vacuums what PostgreSQL's
autovacuum would have, on a server that runs without it."""

import io
import json

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection

from chat.management.commands.bench_setup import autovacuum_due

# PostgreSQL's defaults: vacuum over 50 + 20 % dead rows, or 1,000 + 20 % inserted since the
# last vacuum; analyze over 50 + 10 % changed.
DEFAULTS = (50.0, 0.2, 1000.0, 0.2, 50.0, 0.1)


def table(dead=0, inserted=0, modified=0, tuples=0.0, thresholds=DEFAULTS):
    return ("chat_conversation", dead, inserted, modified, tuples, *thresholds)


def test_a_table_is_vacuumed_at_the_servers_thresholds():
    # What a step search left in chat_conversation: 17,926 dead rows beside 4,750 live ones.
    assert autovacuum_due(table(dead=17926, modified=17926, tuples=4750)) == "vacuum"
    assert autovacuum_due(table(dead=1000, tuples=4750)) is None  # under 50 + 950
    assert autovacuum_due(table(inserted=1500, tuples=1000)) == "vacuum"  # chat_message: inserts only
    assert autovacuum_due(table(inserted=1500, tuples=1000, thresholds=(50, 0.2, -1, 0.2, 50, 0.1))) is None
    assert autovacuum_due(table(modified=200, tuples=1000)) == "analyze"
    assert autovacuum_due(table(dead=40, modified=40)) is None


def dead_rows_in_auth_group(count: int) -> None:
    Group.objects.bulk_create([Group(name=f"dead-{n}") for n in range(count)])
    Group.objects.filter(name__startswith="dead-").delete()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")  # counted now, not in up to a second


def last_vacuum(relname: str):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT last_vacuum FROM pg_stat_user_tables WHERE relname = %s", [relname])
        return cursor.fetchone()[0]


def bench_setup(*args: str) -> dict:
    out = io.StringIO()
    call_command("bench_setup", "--agents", "1", *args, stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.django_db(transaction=True)  # VACUUM runs outside a transaction
def test_bench_setup_vacuums_the_tables_with_dead_rows(settings):
    settings.DEMO_MODE = True
    dead_rows_in_auth_group(200)
    before = last_vacuum("auth_group")

    setup = bench_setup("--vacuum", "always")

    assert setup["vacuumed"]["auth_group"] == "vacuum"
    assert last_vacuum("auth_group") not in (None, before)
    assert len(setup["tokens"]) == 1


@pytest.mark.django_db(transaction=True)
def test_bench_setup_can_leave_vacuuming_to_the_server(settings):
    settings.DEMO_MODE = True
    dead_rows_in_auth_group(200)
    before = last_vacuum("auth_group")

    assert bench_setup("--vacuum", "never")["vacuumed"] == {}
    assert last_vacuum("auth_group") == before


@pytest.mark.django_db(transaction=True)
def test_bench_setup_vacuums_by_default_only_where_the_server_does_not(settings):
    settings.DEMO_MODE = True
    dead_rows_in_auth_group(200)
    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        server_vacuums = cursor.fetchone()[0] == "on"  # the embedded server does; CI's does not

    vacuumed = bench_setup()["vacuumed"]

    assert ("auth_group" in vacuumed) is not server_vacuums
    assert vacuumed == {} if server_vacuums else vacuumed["auth_group"] == "vacuum"
